"""Plotly figures of a dataset's statistics: ratings, degrees, long tail.

Each builder takes a :class:`~recsys_core.data.dataset.Dataset` or the dict its
``stats()`` returns (see :mod:`recsys_core.data.stats`), so a page can chart
cached statistics without keeping the interactions around. The long-tail curve
needs every item's count, which the stats dict does not keep; it accepts a
Dataset, an array of per-item counts, or a stats dict that carries a
``long_tail`` entry made by :func:`long_tail_points`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go

from recsys_core.data.dataset import Dataset
from recsys_core.data.stats import degree_summary, gini
from recsys_core.data.stats import rating_histogram as rating_counts

BAR_COLOR = "#4C78A8"
ITEM_BAR_COLOR = "#F58518"
TEMPLATE = "plotly_white"
HEIGHT = 340
#: Long-tail curves of big catalogues are drawn through this many ranks (exact values).
MAX_CURVE_POINTS = 1000


def rating_histogram(source: Dataset | Mapping[str, Any]) -> go.Figure:
    """Bar chart: number of interactions per rating value (or rating bin)."""
    stats = _stats(source)
    hist = stats["rating_histogram"]
    values, counts = list(hist["values"]), [int(c) for c in hist["counts"]]
    if "edges" in hist:  # many distinct ratings: equal-width bins
        edges = hist["edges"]
        labels = [f"{_fmt(a)}–{_fmt(b)}" for a, b in zip(edges[:-1], edges[1:])]
    else:
        labels = [_fmt(v) for v in values]
    total = max(sum(counts), 1)
    fig = go.Figure(go.Bar(
        x=labels, y=counts, marker_color=BAR_COLOR, name="interactions",
        customdata=[100.0 * c / total for c in counts],
        hovertemplate="rating %{x}: %{y:,} interactions (%{customdata:.1f}%)<extra></extra>"))
    if stats.get("explicit", True):
        title = f"Ratings (mean {stats.get('rating_mean', 0.0):.2f})"
    else:
        title = "Implicit feedback: every interaction counts as 1"
    fig.update_layout(title=title, xaxis_title="rating", yaxis_title="interactions",
                      xaxis_type="category", template=TEMPLATE, height=HEIGHT,
                      bargap=0.15)
    return fig


def degree_distribution(source: Dataset | Mapping[str, Any], side: str = "user") -> go.Figure:
    """Bar chart of how many users (or items) have how many interactions.

    Bins are log-spaced (1, 2, 3-4, 5-7, ...) and the count axis is logarithmic,
    so a long tail and a few heavy nodes are visible at once.
    """
    if side not in ("user", "item"):
        raise ValueError(f"side must be 'user' or 'item', got {side!r}")
    summary = _stats(source)[f"{side}_degree"]
    edges, counts = summary["histogram"]["edges"], summary["histogram"]["counts"]
    labels = degree_bin_labels(edges, top=summary["max"])
    filled = [k for k, c in enumerate(counts) if c > 0]
    if filled:  # empty bins at either end only take room on a log axis
        labels, counts = (labels[filled[0]:filled[-1] + 1], counts[filled[0]:filled[-1] + 1])
    noun = "users" if side == "user" else "items"
    fig = go.Figure(go.Bar(
        x=labels, y=[int(c) for c in counts], name=noun,
        marker_color=BAR_COLOR if side == "user" else ITEM_BAR_COLOR,
        hovertemplate=f"%{{y:,}} {noun} with %{{x}} interactions<extra></extra>"))
    fig.update_layout(
        title=(f"Interactions per {side} (median {summary['median']:g}, "
               f"max {summary['max']:,})"),
        xaxis_title=f"interactions per {side} (log-spaced bins)",
        yaxis_title=f"{noun} (log scale)", yaxis_type="log", xaxis_type="category",
        template=TEMPLATE, height=HEIGHT, bargap=0.1)
    return fig


def degree_bin_labels(edges: list[int], top: int | None = None) -> list[str]:
    """Labels of integer histogram bins [e0, e1), ..., [e_n-1, e_n] (the last one closed),
    with the upper end cut at the largest value ``top`` when given: "1", "3–4", ..."""
    labels = []
    for k in range(len(edges) - 1):
        lo = int(edges[k])
        hi = int(edges[k + 1]) if k == len(edges) - 2 else int(edges[k + 1]) - 1
        if top is not None:
            hi = max(lo, min(hi, int(top)))
        labels.append(str(lo) if hi <= lo else f"{lo}–{hi}")
    return labels


def long_tail_points(item_counts: np.ndarray, max_points: int = MAX_CURVE_POINTS
                     ) -> dict[str, list]:
    """Cumulative share of interactions taken by the top-k items, k = 1..n.

    Returns ``rank`` (1-based item ranks, all of them or ``max_points`` spread
    over the catalogue, first and last included), ``share`` (cumulative share of
    interactions, in [0, 1]), ``items`` (catalogue size), ``gini``, and
    ``top20`` = [k, share of the top k = round(20% of n) items].
    """
    counts = np.sort(np.asarray(item_counts, dtype=np.float64))[::-1]  # most popular first
    n = len(counts)
    total = counts.sum()
    if n == 0 or total <= 0:
        return {"rank": [], "share": [], "items": n, "gini": 0.0, "top20": [0, 0.0]}
    cumulative = np.cumsum(counts) / total
    if n > max_points:
        ranks = np.unique(np.round(np.linspace(1, n, max_points)).astype(np.int64))
    else:
        ranks = np.arange(1, n + 1)
    top = max(1, int(round(0.2 * n)))
    return {"rank": ranks.tolist(), "share": cumulative[ranks - 1].tolist(), "items": n,
            "gini": gini(counts), "top20": [top, float(cumulative[top - 1])]}


def long_tail_curve(source: Dataset | Mapping[str, Any] | np.ndarray) -> go.Figure:
    """Cumulative share of interactions against item popularity rank.

    A straight diagonal would mean every item is equally popular; the further the
    curve bows above it, the more a few hits dominate. The title gives the Gini
    coefficient and an annotation the share taken by the top 20% of items.
    """
    points = _long_tail(source)
    ranks, share, n = points["rank"], points["share"], points["items"]
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=ranks, y=share, mode="lines", name="interactions", line={"color": ITEM_BAR_COLOR},
        hovertemplate="top %{x:,} items: %{y:.1%} of interactions<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=[1, n] if n else [], y=[1.0 / n, 1.0] if n else [], mode="lines",
        name="equal popularity", line={"color": "#999999", "dash": "dash"},
        hoverinfo="skip"))
    if n:
        top, top_share = points["top20"]
        fig.add_annotation(x=top, y=top_share, showarrow=True, arrowhead=2, ax=40, ay=40,
                           text=f"top 20% of items ({top:,}): {top_share:.0%} of interactions")
    fig.update_layout(
        title=f"Long tail of item popularity (Gini {points['gini']:.2f})",
        xaxis_title="item rank (most popular first)",
        yaxis_title="cumulative share of interactions", yaxis_tickformat=".0%",
        yaxis_range=[0, 1.02], template=TEMPLATE, height=HEIGHT,
        legend={"orientation": "h", "y": -0.25})
    return fig


def stats_figures(source: Dataset | Mapping[str, Any]) -> dict[str, go.Figure]:
    """All four charts by name: "ratings", "user_degree", "item_degree", "long_tail".

    "long_tail" is left out for a stats dict without per-item counts.
    """
    stats = _stats(source)
    figures = {
        "ratings": rating_histogram(stats),
        "user_degree": degree_distribution(stats, "user"),
        "item_degree": degree_distribution(stats, "item"),
    }
    if "long_tail" in stats:
        figures["long_tail"] = long_tail_curve(stats)
    return figures


# --------------------------------------------------------------------------- inputs


def _stats(source: Dataset | Mapping[str, Any]) -> Mapping[str, Any]:
    """What the charts read, from a stats dict or computed from a Dataset."""
    if isinstance(source, Mapping):
        missing = [k for k in ("rating_histogram", "user_degree", "item_degree")
                   if k not in source]
        if missing:
            raise ValueError(f"statistics lack {', '.join(missing)}; pass Dataset.stats() "
                             "or the Dataset itself")
        return source
    if not isinstance(source, Dataset):
        raise TypeError(f"expected a Dataset or its stats() dict, got {type(source).__name__}")
    inter = source.interactions
    ratings = inter["rating"].to_numpy()
    item_counts = _item_counts(source)
    return {
        "explicit": bool(source.explicit),
        "rating_histogram": rating_counts(ratings) if source.explicit
        else {"values": [1.0], "counts": [len(inter)]},
        "rating_mean": float(ratings.mean()) if len(ratings) else 0.0,
        "user_degree": degree_summary(np.bincount(inter["user"].to_numpy(),
                                                  minlength=source.n_users)),
        "item_degree": degree_summary(item_counts),
        "long_tail": long_tail_points(item_counts),
    }


def _item_counts(ds: Dataset) -> np.ndarray:
    return np.bincount(ds.interactions["item"].to_numpy(), minlength=ds.n_items)


def _long_tail(source: Any) -> Mapping[str, Any]:
    if isinstance(source, np.ndarray | list | tuple):
        return long_tail_points(np.asarray(source))
    if isinstance(source, Dataset):
        return long_tail_points(_item_counts(source))
    if isinstance(source, Mapping) and "long_tail" in source:
        return source["long_tail"]
    raise ValueError("the long-tail curve needs each item's interaction count: pass the "
                     "Dataset or an array of counts (Dataset.stats() keeps only a histogram)")


def _fmt(value: float) -> str:
    v = float(value)
    return str(int(v)) if v.is_integer() else f"{v:g}"
