"""Dataset statistics charts: the numbers drawn are the numbers of the data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from recsys_core.data.dataset import Dataset
from recsys_core.viz.data_charts import (
    degree_bin_labels,
    degree_distribution,
    long_tail_curve,
    long_tail_points,
    rating_histogram,
    stats_figures,
)


def make_ds(rows, n_items: int | None = None, explicit: bool = True) -> Dataset:
    """Users and items given as indices; item ids i0, i1, ... (extra ones have no interactions)."""
    frame = pd.DataFrame(rows, columns=["user", "item", "rating"])
    n_users = int(frame["user"].max()) + 1
    n_items = n_items or int(frame["item"].max()) + 1
    inter = pd.DataFrame({
        "user": frame["user"].astype(np.int64), "item": frame["item"].astype(np.int64),
        "rating": frame["rating"].astype(np.float32),
        "timestamp": np.full(len(frame), np.nan),
    })
    return Dataset(inter, np.array([f"u{k}" for k in range(n_users)], dtype=object),
                   np.array([f"i{k}" for k in range(n_items)], dtype=object), explicit=explicit)


# Users a b c = 0 1 2 with 3, 2, 1 interactions; items p q r s = 0 1 2 3 with 3, 2, 1, 0.
ROWS = [(0, 0, 5), (0, 1, 4), (0, 2, 3), (1, 0, 5), (1, 1, 2), (2, 0, 4)]


@pytest.fixture
def ds() -> Dataset:
    return make_ds(ROWS, n_items=4)


def test_rating_histogram(ds):
    fig = rating_histogram(ds)
    assert isinstance(fig, go.Figure) and len(fig.data) == 1
    bar = fig.data[0]
    assert bar.type == "bar"
    assert list(bar.x) == ["2", "3", "4", "5"]
    assert list(bar.y) == [1, 1, 2, 2]
    assert list(bar.customdata) == pytest.approx([100 / 6, 100 / 6, 200 / 6, 200 / 6])
    assert fig.layout.title.text == "Ratings (mean 3.83)"
    assert fig.layout.xaxis.type == "category"


def test_rating_histogram_of_implicit_feedback():
    fig = rating_histogram(make_ds([(0, 0, 1), (0, 1, 1), (1, 0, 1)], explicit=False))
    assert list(fig.data[0].x) == ["1"] and list(fig.data[0].y) == [3]
    assert fig.layout.title.text == "Implicit feedback: every interaction counts as 1"


def test_rating_histogram_bins_many_distinct_values():
    rows = [(0, k, k / 10) for k in range(101)]  # ratings 0.0 .. 10.0
    fig = rating_histogram(make_ds(rows))
    assert len(fig.data[0].x) == 20
    assert fig.data[0].x[0] == "0–0.5" and fig.data[0].x[-1] == "9.5–10"
    assert sum(fig.data[0].y) == 101


def test_degree_distributions(ds):
    users = degree_distribution(ds, "user")
    assert users.data[0].type == "bar"
    assert list(users.data[0].x) == ["1", "2", "3"]  # empty bin "0" trimmed
    assert list(users.data[0].y) == [1, 1, 1]
    assert users.layout.yaxis.type == "log"
    assert users.layout.title.text == "Interactions per user (median 2, max 3)"
    items = degree_distribution(ds, "item")
    assert list(items.data[0].x) == ["0", "1", "2", "3"]  # item s has none: a cold item
    assert list(items.data[0].y) == [1, 1, 1, 1]
    assert items.layout.title.text == "Interactions per item (median 1.5, max 3)"
    with pytest.raises(ValueError, match="side must be 'user' or 'item', got 'both'"):
        degree_distribution(ds, "both")


def test_degree_bins_on_a_heavier_tail():
    degrees = [1] * 50 + [2] * 20 + [3] * 8 + [7] * 3 + [40]
    rows = [(u, i, 3) for u, d in enumerate(degrees) for i in range(d)]
    fig = degree_distribution(make_ds(rows), "user")
    x, y = list(fig.data[0].x), list(fig.data[0].y)
    assert sum(y) == len(degrees)
    assert y[x.index("1")] == 50 and y[x.index("2")] == 20 and y[x.index("3")] == 8
    assert x[-1].endswith("–40") and y[-1] == 1


def test_degree_bin_labels():
    assert degree_bin_labels([0, 1, 2, 4, 8]) == ["0", "1", "2–3", "4–8"]
    assert degree_bin_labels([0, 1, 2, 4, 8], top=6) == ["0", "1", "2–3", "4–6"]


def test_long_tail_curve(ds):
    fig = long_tail_curve(ds)
    curve, diagonal = fig.data
    assert curve.type == "scatter" and diagonal.type == "scatter"
    assert list(curve.x) == [1, 2, 3, 4]
    assert list(curve.y) == pytest.approx([3 / 6, 5 / 6, 1.0, 1.0])
    assert list(diagonal.x) == [1, 4] and list(diagonal.y) == pytest.approx([0.25, 1.0])
    # Gini of counts (0, 1, 2, 3): (-3*0 - 1*1 + 1*2 + 3*3) / (4 * 6) = 10 / 24.
    assert fig.layout.title.text == "Long tail of item popularity (Gini 0.42)"
    assert fig.layout.annotations[0].text == "top 20% of items (1): 50% of interactions"


def test_long_tail_points_downsample_big_catalogues():
    counts = np.random.default_rng(0).zipf(1.5, size=5000)
    points = long_tail_points(counts, max_points=300)
    assert len(points["rank"]) <= 300
    assert points["rank"][0] == 1 and points["rank"][-1] == 5000
    exact = np.cumsum(np.sort(counts)[::-1]) / counts.sum()
    assert points["share"] == pytest.approx(exact[np.array(points["rank"]) - 1].tolist())
    assert points["top20"] == [1000, pytest.approx(exact[999])]
    assert long_tail_points(np.zeros(3)) == {"rank": [], "share": [], "items": 3, "gini": 0.0,
                                             "top20": [0, 0.0]}


def test_long_tail_from_an_array_and_refused_from_a_bare_stats_dict(ds):
    from_array = long_tail_curve(np.array([0, 1, 2, 3]))
    assert list(from_array.data[0].y) == pytest.approx([0.5, 5 / 6, 1.0, 1.0])
    with pytest.raises(ValueError, match="the long-tail curve needs each item's interaction"):
        long_tail_curve(ds.stats())


def test_stats_figures_from_dataset_and_from_its_stats(ds):
    figures = stats_figures(ds)
    assert list(figures) == ["ratings", "user_degree", "item_degree", "long_tail"]
    from_stats = stats_figures(ds.stats())
    assert list(from_stats) == ["ratings", "user_degree", "item_degree"]
    for name in from_stats:  # the data layer's statistics and ours agree
        assert list(from_stats[name].data[0].x) == list(figures[name].data[0].x)
        assert list(from_stats[name].data[0].y) == list(figures[name].data[0].y)
        assert from_stats[name].layout.title.text == figures[name].layout.title.text


def test_bad_sources(ds):
    with pytest.raises(ValueError, match="statistics lack user_degree, item_degree"):
        rating_histogram({"rating_histogram": {"values": [], "counts": []}})
    with pytest.raises(TypeError, match="expected a Dataset or its stats\\(\\) dict, got str"):
        rating_histogram("ratings.csv")
