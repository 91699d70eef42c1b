"""benchmarks/tune.py's MovieLens-100K split: Microsoft Recommenders' stratified split, by hand."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_tune", ROOT / "benchmarks" / "tune.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_tune"] = module
    spec.loader.exec_module(module)
    return module


def test_each_user_keeps_the_first_three_quarters_of_a_seeded_shuffle(bench):
    # User 1 has 4 rows, user 2 has 2, user 3 one: rank / count <= 0.75 trains.
    ratings = pd.DataFrame({"user": [1, 2, 1, 3, 1, 2, 1], "item": [10, 20, 11, 30, 12, 21, 13],
                            "rating": 5, "timestamp": 0})
    train, test = bench.recommenders_split(ratings)
    draws = np.random.RandomState(42).rand(len(ratings))  # the global generator, seeded 42
    # User 1's rows in draw order; the last of the four is the one test row.
    user1 = ratings.index[ratings["user"] == 1]
    order = user1[np.argsort(draws[user1])]
    assert set(test.index[test["user"] == 1]) == {order[-1]}
    assert set(train.index[train["user"] == 1]) == set(order[:-1])
    # Two rows: ranks 1/2 and 2/2, one each side; a single row (1/1 > 0.75) is test only.
    user2 = ratings.index[ratings["user"] == 2]
    later = user2[np.argmax(draws[user2])]
    assert list(test.index[test["user"] == 2]) == [later]
    assert list(test["user"]).count(3) == 1 and 3 not in set(train["user"])
    assert len(train) + len(test) == len(ratings)
    assert set(train.index).isdisjoint(test.index)


def test_ml100k_folder_without_u_data_is_named(bench, tmp_path):
    with pytest.raises(SystemExit, match="no u.data"):
        bench.load_ml100k(tmp_path)
