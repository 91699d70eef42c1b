"""Evaluation metrics: hand-worked tables, and cross-checks against PyG and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score, roc_curve
from torch_geometric.metrics import (
    LinkPredHitRatio,
    LinkPredMAP,
    LinkPredMRR,
    LinkPredNDCG,
    LinkPredPrecision,
    LinkPredRecall,
)

from recsys_core import evaluate as ev
from recsys_core.data.dataset import Dataset


def frame(pairs) -> pd.DataFrame:
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return pd.DataFrame({
        "user": pairs[:, 0], "item": pairs[:, 1],
        "rating": np.ones(len(pairs), np.float32), "timestamp": np.full(len(pairs), np.nan),
    })


def make_dataset(n_users, n_items, train, valid, test) -> Dataset:
    parts = [frame(train), frame(valid), frame(test)]
    return Dataset(
        interactions=pd.concat(parts, ignore_index=True),
        user_ids=np.array([f"u{u}" for u in range(n_users)]),
        item_ids=np.array([f"i{i}" for i in range(n_items)]),
        train=parts[0], valid=parts[1], test=parts[2], explicit=False,
    )


class FixedScores:
    """A stand-in recommender whose scores are a fixed [n_users, n_items] matrix."""

    name = "fixed"

    def __init__(self, scores):
        self.scores_ = torch.as_tensor(np.asarray(scores, dtype=np.float32))

    def score(self, users, items=None):
        out = self.scores_[torch.as_tensor(users, dtype=torch.long)]
        return out if items is None else out[:, torch.as_tensor(items, dtype=torch.long)]


LOG2_3 = math.log2(3)


# ---------------------------------------------------------------- pure top-K functions

HITS = torch.tensor([
    [1, 0, 1, 0, 0],  # 3 relevant items
    [0, 0, 0, 0, 1],  # 1 relevant item
    [0, 0, 0, 0, 0],  # 2 relevant items, none found
], dtype=torch.bool)
N_REL = torch.tensor([3, 1, 2])


def test_top_k_metrics_by_hand_k5():
    m = ev.top_k_metrics(HITS, N_REL, 5)
    idcg3 = 1 + 1 / LOG2_3 + 1 / 2
    assert m["recall"].tolist() == pytest.approx([2 / 3, 1.0, 0.0])
    assert m["precision"].tolist() == pytest.approx([2 / 5, 1 / 5, 0.0])
    assert m["hit_rate"].tolist() == [1.0, 1.0, 0.0]
    assert m["mrr"].tolist() == pytest.approx([1.0, 1 / 5, 0.0])
    assert m["ndcg"].tolist() == pytest.approx([1.5 / idcg3, 1 / math.log2(6), 0.0])
    assert m["map"].tolist() == pytest.approx([(1 + 2 / 3) / 3, (1 / 5) / 1, 0.0])


def test_top_k_metrics_by_hand_k2_idcg_uses_min_of_relevant_and_k():
    m = ev.top_k_metrics(HITS, N_REL, 2)
    assert m["recall"].tolist() == pytest.approx([1 / 3, 0.0, 0.0])
    assert m["precision"].tolist() == pytest.approx([1 / 2, 0.0, 0.0])
    assert m["ndcg"][0].item() == pytest.approx(1 / (1 + 1 / LOG2_3))
    assert m["map"][0].item() == pytest.approx(1 / 2)  # one hit at rank 1, divided by min(3, 2)


def test_top_k_metrics_k_beyond_list_length():
    # A list shorter than k (fewer items than k): precision still divides by k.
    m = ev.top_k_metrics(HITS, N_REL, 50)
    assert m["precision"].tolist() == pytest.approx([2 / 50, 1 / 50, 0.0])
    assert m["recall"].tolist() == pytest.approx([2 / 3, 1.0, 0.0])


def test_top_k_metrics_user_without_relevant_items_scores_zero():
    m = ev.top_k_metrics(torch.zeros(1, 3, dtype=torch.bool), torch.tensor([0]), 3)
    assert all(v.item() == 0.0 for v in m.values())


# ---------------------------------------------------------------- ranking a model

# 3 users x 5 items. u0: train {0}, valid {1}, test {2, 3}; u1: train {1}, test {4}; u2: train {0, 1}.
TRAIN = [(0, 0), (1, 1), (2, 0), (2, 1)]
VALID = [(0, 1)]
TEST = [(0, 2), (0, 3), (1, 4)]
SCORES = [
    [9, 8, 7, 1, 5],  # test ranking after masking 0, 1: 2, 4, 3
    [1, 9, 2, 3, 0],  # test ranking after masking 1: 3, 2, 0, 4
    [5, 4, 3, 2, 1],
]


def small():
    return make_dataset(3, 5, TRAIN, VALID, TEST), FixedScores(SCORES)


def test_ranking_metrics_test_part_by_hand():
    ds, model = small()
    r = ev.ranking_metrics(model, ds, part="test", ks=(2,))
    # u0: top-2 [2, 4], one hit of 2; u1: top-2 [3, 2], no hit; u2 has no test items (skipped).
    assert r["recall@2"] == pytest.approx((1 / 2 + 0) / 2)
    assert r["precision@2"] == pytest.approx((1 / 2 + 0) / 2)
    assert r["ndcg@2"] == pytest.approx((1 / (1 + 1 / LOG2_3)) / 2)
    assert r["map@2"] == pytest.approx((1 / 2) / 2)
    assert r["mrr@2"] == pytest.approx(1 / 2)
    assert r["hit_rate@2"] == pytest.approx(1 / 2)
    assert set(r) == {f"{m}@2" for m in ev.TOP_K_METRICS}


def test_ranking_metrics_valid_part_masks_train_only():
    ds, model = small()
    r = ev.ranking_metrics(model, ds, part="valid", ks=(1, 2))
    # Only u0 has a valid item (1); with train item 0 masked, item 1 ranks first.
    assert r["recall@1"] == 1.0 and r["ndcg@1"] == 1.0 and r["precision@2"] == 0.5


def test_ranking_metrics_k_larger_than_items():
    ds, model = small()
    r = ev.ranking_metrics(model, ds, part="test", ks=(10,))
    # u0 lists 2, 4, 3 (masked 0, 1 are not hits); u1 lists 3, 2, 0, 4.
    ndcg_u0 = (1 + 1 / 2) / (1 + 1 / LOG2_3)
    ndcg_u1 = 1 / math.log2(5)
    assert r["recall@10"] == pytest.approx(1.0)
    assert r["precision@10"] == pytest.approx((2 / 10 + 1 / 10) / 2)
    assert r["ndcg@10"] == pytest.approx((ndcg_u0 + ndcg_u1) / 2)
    assert r["mrr@10"] == pytest.approx((1 + 1 / 4) / 2)


def test_masked_item_never_counts_as_a_hit():
    # Item 0 is both a training and a test item of u0: it is masked, so recall is 0.
    ds = make_dataset(1, 2, [(0, 0)], [], [(0, 0)])
    r = ev.ranking_metrics(FixedScores([[9, 1]]), ds, part="test", ks=(5,))
    assert r["recall@5"] == 0.0 and r["hit_rate@5"] == 0.0


def test_ranking_metrics_users_argument_restricts_and_skips_users_without_items():
    ds, model = small()
    only_u1 = ev.ranking_metrics(model, ds, part="test", ks=(10,), users=[1, 2])
    assert only_u1["mrr@10"] == pytest.approx(1 / 4)


def test_ranking_metrics_batches_agree():
    ds, model = small()
    assert ev.ranking_metrics(model, ds, "test", (1, 3), batch_size=1) == pytest.approx(
        ev.ranking_metrics(model, ds, "test", (1, 3), batch_size=1000))


def test_ranking_metrics_does_not_modify_model_state():
    ds, _ = small()

    class ReturnsItsOwnMatrix(FixedScores):
        def score(self, users, items=None):
            return self.scores_[: len(users)]  # a view of the model's state (users 0, 1)

    model = ReturnsItsOwnMatrix(SCORES)
    before = model.scores_.clone()
    ev.ranking_metrics(model, ds, "test", (2,), users=[0, 1])
    assert torch.equal(model.scores_, before)


def test_wrong_score_shape_is_reported():
    ds, _ = small()

    class Wrong(FixedScores):
        def score(self, users, items=None):
            return self.scores_[:, :4]

    with pytest.raises(ValueError, match=r"Wrong.score returned shape \(3, 4\); expected \(2, 5\)"):
        ev.ranking_metrics(Wrong(SCORES), ds, "test", (2,))


def test_bad_part_and_unsplit_dataset_errors():
    ds, model = small()
    with pytest.raises(ValueError, match="part must be 'valid' or 'test', got 'train'"):
        ev.ranking_metrics(model, ds, part="train")
    unsplit = ds.replace(train=None, valid=None, test=None)
    with pytest.raises(ValueError, match="has no test split"):
        ev.ranking_metrics(model, unsplit, part="test")
    with pytest.raises(ValueError, match="ks must be positive"):
        ev.ranking_metrics(model, ds, part="test", ks=(0,))


# ---------------------------------------------------------------- cross-check with PyG


def _reference_topk(scores, train_mask, k):
    """Plain reference: argsort each row with training items pushed to the end."""
    s = scores.clone()
    s[train_mask] = -1e30
    return torch.argsort(s, dim=1, descending=True, stable=True)[:, :k]


@pytest.mark.parametrize("seed", [0, 1])
def test_top_k_metrics_match_torch_geometric(seed):
    rng = np.random.default_rng(seed)
    n_users, n_items = 60, 35
    train_mask = rng.random((n_users, n_items)) < 0.2
    test_mask = (rng.random((n_users, n_items)) < 0.15) & ~train_mask
    test_mask[:5] = False  # some users without test items: skipped by both
    train = np.argwhere(train_mask)
    test = np.argwhere(test_mask)
    ds = make_dataset(n_users, n_items, train, [], test)
    # Distinct scores so both sides rank identically.
    scores = torch.as_tensor(rng.permutation(n_users * n_items).reshape(n_users, n_items),
                             dtype=torch.float32)
    ks = (1, 5, 10, 20, 50)  # 50 > n_items
    ours = ev.ranking_metrics(FixedScores(scores), ds, part="test", ks=ks, batch_size=16)
    edge_label_index = torch.as_tensor(test.T, dtype=torch.long)
    pairs = {"recall": LinkPredRecall, "precision": LinkPredPrecision, "ndcg": LinkPredNDCG,
             "map": LinkPredMAP, "mrr": LinkPredMRR, "hit_rate": LinkPredHitRatio}
    for k in ks:
        pred = _reference_topk(scores, torch.as_tensor(train_mask), min(k, n_items))
        for name, cls in pairs.items():
            metric = cls(k)
            metric.update(pred, edge_label_index)
            assert ours[f"{name}@{k}"] == pytest.approx(float(metric.compute()), abs=1e-6), (name, k)


# ---------------------------------------------------------------- classification metrics


def test_binary_classification_metrics_by_hand():
    y = np.array([1, 1, 1, 0, 0, 0])
    p = np.array([1, 0, 0, 1, 1, 0])
    m = ev.binary_classification_metrics(y, p)
    assert m == pytest.approx({"accuracy": 2 / 6, "precision": 1 / 3, "recall": 1 / 3, "f1": 1 / 3})
    none = ev.binary_classification_metrics(np.array([1, 0]), np.array([0, 0]))
    assert none == {"accuracy": 0.5, "precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_binary_classification_metrics_shape_mismatch():
    with pytest.raises(ValueError, match="y_true has shape"):
        ev.binary_classification_metrics(np.ones(3), np.ones(2))


def test_roc_auc_by_hand_with_ties():
    # Positive scores 3, 2; negatives 2, 1: pairs (3>2, 3>1, 2=2 -> 1/2, 2>1) = 3.5 / 4.
    assert ev.roc_auc([1, 1, 0, 0], [3, 2, 2, 1]) == pytest.approx(3.5 / 4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.random(500) < 0.3
    s = np.round(rng.normal(size=500) + y, 1)  # rounded: many ties
    assert ev.roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    curve = ev.roc_curve_points(y, s)
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(curve["fpr"], fpr)
    np.testing.assert_allclose(curve["tpr"], tpr)
    assert curve["threshold"].iloc[0] == np.inf
    assert curve["threshold"].is_monotonic_decreasing


def test_roc_curve_points_thinning_and_errors():
    rng = np.random.default_rng(0)
    y, s = rng.random(1000) < 0.5, rng.random(1000)
    thin = ev.roc_curve_points(y, s, max_points=50)
    assert len(thin) <= 50
    assert thin.iloc[0][["fpr", "tpr"]].tolist() == [0.0, 0.0]
    assert thin.iloc[-1][["fpr", "tpr"]].tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="got 0 positives, 3 negatives"):
        ev.roc_curve_points([0, 0, 0], [1, 2, 3])


def test_sample_negatives_avoids_every_interaction_and_is_seeded():
    ds, _ = small()
    users = np.array([0, 1, 2])
    u, i = ev.sample_negatives(ds, users, np.array([20, 20, 20]), seed=3)
    seen = {tuple(p) for p in ds.interactions[["user", "item"]].to_numpy()}
    assert not any((a, b) in seen for a, b in zip(u, i))
    assert np.bincount(u, minlength=3).tolist() == [20, 20, 20]
    assert set(i[u == 0]) == {4}  # u0 interacted with items 0-3
    u2, i2 = ev.sample_negatives(ds, users, np.array([20, 20, 20]), seed=3)
    assert np.array_equal(u, u2) and np.array_equal(i, i2)


# ---------------------------------------------------------------- the tidy report

# Same layout plus u2 trained on 2 and 3, so item 4 is the only cold item (no training
# interaction). u1's scores tie on 0, 2, 3 so its sampled negative always scores 2.
TRAIN_WITH_COLD = TRAIN + [(2, 2), (2, 3)]
SCORES_COLD = [
    [9, 8, 7, 1, 5],
    [2, 9, 2, 2, 0],
    [5, 4, 3, 2, 1],
]


def report(**kwargs):
    ds = make_dataset(3, 5, TRAIN_WITH_COLD, VALID, TEST)
    return ev.evaluate(FixedScores(SCORES_COLD), ds, **kwargs)


def value(df, metric, segment, k=None):
    rows = df[(df.metric == metric) & (df.segment == segment)]
    rows = rows[rows.k.isna()] if k is None else rows[rows.k == k]
    assert len(rows) == 1, (metric, segment, k, rows)
    return float(rows.value.iloc[0])


def test_evaluate_frame_layout():
    df = report(ks=(2, 5))
    assert list(df.columns) == ["model", "metric", "k", "segment", "protocol", "value"]
    assert (df.model == "fixed").all()
    assert str(df.k.dtype) == "Int64"
    assert set(df.protocol) == {"full ranking", "sampled negatives 1:1"}
    assert set(df[df.protocol == "full ranking"].metric) == set(ev.TOP_K_METRICS) | {
        "coverage", "avg_popularity"}
    assert set(df[df.protocol != "full ranking"].metric) == set(ev.CLASSIFICATION_METRICS)
    assert set(df.segment) == {"all", "activity Q1: 1-1 train items", "warm items",
                               "cold items", "cold items among cold"}
    assert not df.duplicated(["metric", "k", "segment", "protocol"]).any()


def test_evaluate_all_segment_matches_ranking_metrics_and_hand_values():
    df = report(ks=(2, 5))
    ds = make_dataset(3, 5, TRAIN_WITH_COLD, VALID, TEST)
    r = ev.ranking_metrics(FixedScores(SCORES_COLD), ds, part="test", ks=(2, 5))
    for key, expected in r.items():
        metric, k = key.split("@")
        assert value(df, metric, "all", int(k)) == pytest.approx(expected)
    # Coverage@5: u0 lists 2, 4, 3 and u1 lists 0, 2, 3, 4 -> 4 of 5 items.
    assert value(df, "coverage", "all", 5) == pytest.approx(4 / 5)
    # Training popularity: items 0..4 have 2, 2, 1, 1, 0 interactions.
    assert value(df, "avg_popularity", "all", 5) == pytest.approx((1 + 0 + 1 + 2 + 1 + 1 + 0) / 7)


def test_evaluate_cold_and_warm_item_segments_by_hand():
    df = report(ks=(2, 5))
    # warm: only u0 has warm test items {2, 3}; its top-2 is [2, 4].
    assert value(df, "recall", "warm items", 2) == pytest.approx(1 / 2)
    # cold among all items: u1's cold item 4 ranks 4th of its list 3|0|2 (ties), 4.
    assert value(df, "recall", "cold items", 2) == 0.0
    assert value(df, "ndcg", "cold items", 5) == pytest.approx(1 / math.log2(5))
    # cold among cold items only: item 4 is the only candidate, so it ranks first.
    assert value(df, "recall", "cold items among cold", 2) == 1.0
    assert value(df, "ndcg", "cold items among cold", 2) == 1.0
    assert value(df, "precision", "cold items among cold", 2) == pytest.approx(1 / 2)
    assert value(df, "coverage", "cold items among cold", 2) == pytest.approx(1 / 5)


def test_evaluate_classification_by_hand():
    df = report(ks=(2,), threshold=4.0)
    # Positives (u0,2)=7, (u0,3)=1, (u1,4)=0; negatives (u0,4)=5 twice, u1 one of 0/2/3 = 2.
    assert value(df, "auc", "all") == pytest.approx(3 / 9)
    # Predicted positive above 4: 7, 5, 5 -> TP 1, FP 2, FN 2, TN 1.
    for metric in ("accuracy", "precision", "recall", "f1"):
        assert value(df, metric, "all") == pytest.approx(1 / 3)
    assert value(df, "threshold", "all") == 4.0
    default = report(ks=(2,))
    assert value(default, "threshold", "all") == pytest.approx(3.5)  # median of 7,1,0,5,5,2
    # Cold segment: the cold positive (u1,4)=0 against u1's negative 2.
    assert value(default, "auc", "cold items") == 0.0


def test_evaluate_auc_matches_sklearn_on_pairs():
    ds = make_dataset(3, 5, TRAIN_WITH_COLD, VALID, TEST)
    model = FixedScores(SCORES_COLD)
    pairs = ev.classification_pairs(model, ds, n_neg=3, seed=5)
    assert pairs.label.sum() == 3 and (~pairs.label).sum() == 9
    df = ev.evaluate(model, ds, ks=(2,), n_neg=3, seed=5)
    assert value(df, "auc", "all") == pytest.approx(roc_auc_score(pairs.label, pairs.score))
    assert set(df[df.metric == "auc"].protocol) == {"sampled negatives 1:3"}


def test_evaluate_activity_quartiles():
    rng = np.random.default_rng(0)
    n_users, n_items = 40, 30
    train = [(u, i) for u in range(n_users) for i in rng.choice(n_items - 1, 1 + u % 8, replace=False)]
    test = [(u, n_items - 1) for u in range(n_users)]
    ds = make_dataset(n_users, n_items, train, [], test)
    df = ev.evaluate(FixedScores(rng.random((n_users, n_items))), ds, ks=(10,))
    quartiles = sorted(s for s in set(df.segment) if s.startswith("activity"))
    assert quartiles == ["activity Q1: 1-2 train items", "activity Q2: 3-4 train items",
                         "activity Q3: 5-6 train items", "activity Q4: 7-8 train items"]
    # Each quartile holds 10 users and their mean equals the overall mean.
    recalls = [value(df, "recall", q, 10) for q in quartiles]
    assert np.mean(recalls) == pytest.approx(value(df, "recall", "all", 10))
    assert "warm items" not in set(df.segment)  # no cold items: no item segments
    plain = ev.evaluate(FixedScores(rng.random((n_users, n_items))), ds, ks=(10,), segments=False)
    assert set(plain.segment) == {"all"}


def test_batch_top_k_metrics_per_user_values():
    ds, model = small()
    scores = model.score(torch.tensor([0, 1, 2]))
    values = ev.batch_top_k_metrics(scores, ds, [0, 1, 2], part="test", ks=(2,))
    assert values["n_relevant"].tolist() == [2, 1, 0]
    assert values["recall@2"].tolist() == pytest.approx([1 / 2, 0.0, 0.0])
    assert values["mrr@2"].tolist() == pytest.approx([1.0, 0.0, 0.0])
    assert torch.isinf(scores[0, [0, 1]]).all()  # train and valid items masked in place
