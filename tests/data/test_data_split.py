"""Splits: partitions, reproducibility, per-method rules, cold users and cold items."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_core.data import DataError, load, split_dataset


def make(n_users: int = 60, n_items: int = 80, per_user: tuple[int, int] = (1, 30), seed: int = 0,
         times: bool = True):
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        k = int(rng.integers(per_user[0], per_user[1] + 1))
        for i in rng.choice(n_items, size=k, replace=False):
            rows.append((f"u{u}", f"i{i}", float(rng.integers(1, 6)), float(rng.integers(0, 10**6))))
    frame = pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"])
    if not times:
        frame = frame.drop(columns="timestamp")
    return load(frame, name="toy")


def pairs(frame: pd.DataFrame) -> set[tuple[int, int]]:
    return set(zip(frame["user"].tolist(), frame["item"].tolist()))


def assert_partition(ds) -> None:
    parts = [pairs(ds.train), pairs(ds.valid), pairs(ds.test)]
    assert not parts[0] & parts[2] and not parts[0] & parts[1] and not parts[1] & parts[2]
    total = len(ds.train) + len(ds.valid) + len(ds.test) + ds.split_info["dropped"]
    assert total == ds.n_interactions
    assert ds.split_info["train"] == len(ds.train) and ds.split_info["test"] == len(ds.test)
    assert ds.split_info["valid"] == len(ds.valid)
    # No one is evaluated without training data (default cold_users='drop').
    trained = set(ds.train["user"].tolist())
    assert set(ds.test["user"].tolist()) <= trained
    assert set(ds.valid["user"].tolist()) <= trained


def test_random_split_counts_per_user():
    ds = make()
    split = ds.split("random", test=0.2, valid=0.1, seed=3)
    assert_partition(split)
    per_user = ds.interactions.groupby("user").size()
    test_n = split.test.groupby("user").size().reindex(per_user.index, fill_value=0)
    valid_n = split.valid.groupby("user").size().reindex(per_user.index, fill_value=0)
    # round-half-up of n * fraction, capped so one training interaction stays
    expect_test = np.minimum(np.floor(per_user * 0.2 + 0.5), per_user - 1)
    expect_valid = np.minimum(np.floor(per_user * 0.1 + 0.5), per_user - 1 - expect_test)
    assert (test_n.to_numpy() == expect_test.to_numpy()).all()
    assert (valid_n.to_numpy() == expect_valid.to_numpy()).all()
    assert split.train.groupby("user").size().min() >= 1
    assert split.split_info["method"] == "random" and split.split_info["seed"] == 3


def test_hand_worked_random_split():
    frame = pd.DataFrame({"user": ["a"] * 10 + ["b"], "item": list(range(10)) + [0]})
    split = load(frame).split("random", test=0.2, valid=0.1, seed=0)
    assert (len(split.train), len(split.valid), len(split.test)) == (8, 1, 2)
    assert split.test["user"].tolist() == [0, 0]  # b has one interaction: it stays in train


def test_split_is_reproducible_from_method_params_seed():
    ds = make()
    a = ds.split("random", seed=7)
    b = make().split("random", seed=7)
    c = ds.split("random", seed=8)
    assert a.test.equals(b.test) and a.valid.equals(b.valid) and a.train.equals(b.train)
    assert not a.test.equals(c.test)
    again = split_dataset(ds, "cold_items", seed=1, fraction=0.25)
    assert again.test.equals(ds.split("cold_items", seed=1, fraction=0.25).test)


def test_temporal_split_takes_each_users_latest():
    ds = make()
    split = ds.split("temporal", test=0.2, valid=0.1)
    assert_partition(split)
    last_train = split.train.groupby("user")["timestamp"].max()
    first_valid = split.valid.groupby("user")["timestamp"].min()
    first_test = split.test.groupby("user")["timestamp"].min()
    last_valid = split.valid.groupby("user")["timestamp"].max()
    for u, t in first_test.items():
        assert t >= last_train[u]
        if u in last_valid:
            assert t >= last_valid[u]
    for u, t in first_valid.items():
        assert t >= last_train[u]
    loo = ds.split("temporal", n_test=1, n_valid=1)
    sizes = ds.interactions.groupby("user").size()
    assert len(loo.test) == int((sizes >= 2).sum())
    assert len(loo.valid) == int((sizes >= 3).sum())


def test_time_cut_split():
    ds = make()
    split = ds.split("time_cut", cut="1970-01-11", valid_cut=700_000)  # 864,000 s
    assert split.split_info["cut"] == 864_000.0
    assert (split.test["timestamp"] >= 864_000).all()
    assert ((split.valid["timestamp"] >= 700_000) & (split.valid["timestamp"] < 864_000)).all()
    assert (split.train["timestamp"] < 700_000).all()
    assert_partition(split)
    by_quantile = ds.split("time_cut", test=0.2, valid=0.1)
    assert by_quantile.split_info["cut"] == pytest.approx(
        np.quantile(ds.interactions["timestamp"], 0.8))


def test_cold_items_split_holds_out_whole_items():
    ds = make(n_items=50)
    split = ds.split("cold_items", fraction=0.2, seed=2, cold_users="keep")
    held = set(split.test["item"].tolist()) - set(split.train["item"].tolist())
    assert split.split_info["held_out_items"] == 10  # round(50 * 0.2)
    assert len(held) >= 10
    assert set(split.cold_items.tolist()) == held
    # Every interaction of a held-out item is in test, none in train or valid.
    train_items = set(split.train["item"].tolist()) | set(split.valid["item"].tolist())
    assert not train_items & held
    per_item = ds.interactions.groupby("item").size()
    test_per_item = split.test.groupby("item").size()
    designated = [i for i in held if per_item[i] == test_per_item[i]]
    assert len(designated) >= 10
    drop = ds.split("cold_items", fraction=0.2, seed=2)
    assert_partition(drop)


def test_given_split_with_valid_carved_from_train(tmp_path):
    (tmp_path / "train.txt").write_text("0 0 1 2 3 4\n1 1 2 3\n2 4\n")
    (tmp_path / "test.txt").write_text("0 5\n1 0\n2 1\n")
    ds = load(tmp_path / "train.txt", test=tmp_path / "test.txt")
    again = ds.split("given", valid=0.25, seed=0)
    assert again.test.equals(ds.test)
    assert len(again.valid) == 2  # user 0: round(5 * .25) = 1; user 1: round(.75) = 1; user 2: 0
    assert pairs(again.valid) <= pairs(ds.train)
    assert pairs(again.train) | pairs(again.valid) == pairs(ds.train)


def test_split_errors():
    ds = make(times=False)
    with pytest.raises(DataError, match="split 'temporal' needs timestamps; the data has no "
                                        "timestamp column"):
        ds.split("temporal")
    with pytest.raises(DataError, match="unknown split method 'kfold'"):
        ds.split("kfold")
    with pytest.raises(DataError, match="test \\+ valid = 1.0 must be < 1"):
        ds.split("random", test=0.5, valid=0.5)
    with pytest.raises(DataError, match="split 'random' takes test, valid; unknown: fraction"):
        ds.split("random", fraction=0.3)
    with pytest.raises(DataError, match="split 'given' needs a dataset loaded with a test file"):
        ds.split("given")
