"""Statistics: hand-computed sizes, density, degrees, rating histogram and Gini."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_core.data import gini, load
from recsys_core.data.stats import degree_summary, rating_histogram


def test_gini_hand_values():
    assert gini(np.array([3, 3, 3, 3])) == 0.0
    # sorted x = 0,0,0,4: sum (2i - n - 1) x_i / (n sum x) = (8 - 5) * 4 / (4 * 4) = 0.75
    assert gini(np.array([4, 0, 0, 0])) == pytest.approx(0.75)
    # x = 1, 3: ((2-3)*1 + (4-3)*3) / (2 * 4) = 0.25
    assert gini(np.array([3, 1])) == pytest.approx(0.25)
    assert gini(np.array([])) == 0.0 and gini(np.zeros(3)) == 0.0


def test_gini_matches_mean_absolute_difference_definition():
    x = np.random.default_rng(0).integers(0, 50, 200).astype(float)
    mad = np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean())
    assert gini(x) == pytest.approx(mad)


def test_dataset_stats():
    frame = pd.DataFrame({"user": ["a", "a", "a", "b"], "item": [1, 2, 3, 1],
                          "rating": [5, 4, 5, 2], "ts": [10, 20, 30, 40]})
    items = pd.DataFrame({"item": [1, 2, 3, 4], "title": ["w", "x", "y", "z"]})
    stats = load(frame, items=items).stats()
    assert (stats["users"], stats["items"], stats["interactions"]) == (2, 4, 4)
    assert stats["density"] == pytest.approx(4 / 8)
    assert stats["user_degree"]["min"] == 1 and stats["user_degree"]["max"] == 3
    assert stats["item_degree"]["zero"] == 1 and stats["cold_catalogue_items"] == 1
    assert stats["rating_histogram"] == {"values": [2.0, 4.0, 5.0], "counts": [1, 1, 2]}
    assert stats["gini_item_popularity"] == pytest.approx(gini(np.array([2, 1, 1, 0])))
    assert stats["time_range"] == [10.0, 40.0]
    assert stats["items_with_text"] == 4
    assert len(stats["content_hash"]) == 16


def test_histograms():
    d = degree_summary(np.array([1, 1, 2, 10, 100]))
    assert sum(d["histogram"]["counts"]) == 5
    assert d["histogram"]["edges"][0] == 0 and d["histogram"]["edges"][-1] >= 100
    r = rating_histogram(np.linspace(0, 1, 1000))
    assert len(r["counts"]) == 20 and sum(r["counts"]) == 1000
