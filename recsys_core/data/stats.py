"""Dataset statistics: sizes, density, degree distributions, rating histogram, Gini.

Everything returned is plain Python (ints, floats, lists, dicts) so it can be
printed as JSON by the CLI and charted by the dashboard.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recsys_core.data.dataset import Dataset


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of non-negative counts, in [0, 1).

    0 when every item is equally popular; approaches 1 when one item has all
    interactions. ``G = sum_i (2i - n - 1) x_(i) / (n sum x)`` over the sorted
    values ``x_(1) <= ... <= x_(n)``. Empty or all-zero input gives 0.
    """
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n = len(x)
    total = x.sum()
    if n == 0 or total <= 0:
        return 0.0
    i = np.arange(1, n + 1)
    return float(np.sum((2 * i - n - 1) * x) / (n * total))


def degree_summary(degrees: np.ndarray, bins: int = 20) -> dict[str, Any]:
    """min / max / mean / median / percentiles and a log-spaced histogram of degrees."""
    d = np.asarray(degrees, dtype=np.int64)
    if len(d) == 0:
        return {"min": 0, "max": 0, "mean": 0.0, "median": 0.0, "p90": 0.0, "zero": 0,
                "histogram": {"edges": [], "counts": []}}
    top = max(int(d.max()), 1)
    edges = np.unique(np.round(np.logspace(0, np.log10(top + 1), bins + 1)).astype(np.int64))
    edges = np.concatenate([[0], edges]) if edges[0] > 0 else edges
    counts, _ = np.histogram(d, bins=edges)
    return {
        "min": int(d.min()),
        "max": int(d.max()),
        "mean": float(d.mean()),
        "median": float(np.median(d)),
        "p90": float(np.percentile(d, 90)),
        "zero": int((d == 0).sum()),
        "histogram": {"edges": [int(e) for e in edges], "counts": [int(c) for c in counts]},
    }


def rating_histogram(ratings: np.ndarray, max_values: int = 21, bins: int = 20
                     ) -> dict[str, list]:
    """Counts per distinct rating when there are few, else ``bins`` equal-width bins."""
    r = np.asarray(ratings, dtype=np.float64)
    if len(r) == 0:
        return {"values": [], "counts": []}
    distinct = pd.Series(r).value_counts(sort=False).sort_index()
    values, counts = distinct.index.to_numpy(), distinct.to_numpy()
    if len(values) <= max_values:
        return {"values": [float(v) for v in values], "counts": [int(c) for c in counts]}
    counts, edges = np.histogram(r, bins=bins)
    centers = (edges[:-1] + edges[1:]) / 2
    return {"values": [float(v) for v in centers], "counts": [int(c) for c in counts],
            "edges": [float(e) for e in edges]}


def dataset_stats(ds: Dataset) -> dict[str, Any]:
    """Summary of ``ds``; split part sizes too when it is split."""
    inter = ds.interactions
    n_users, n_items, n = ds.n_users, ds.n_items, len(inter)
    user_deg = np.bincount(inter["user"].to_numpy(), minlength=n_users)
    item_deg = np.bincount(inter["item"].to_numpy(), minlength=n_items)
    time = inter["timestamp"].to_numpy(np.float64)
    known = time[~np.isnan(time)]
    out: dict[str, Any] = {
        "name": ds.name,
        "users": n_users,
        "items": n_items,
        "interactions": n,
        "density": float(n / (n_users * n_items)) if n_users and n_items else 0.0,
        "explicit": bool(ds.explicit),
        "user_degree": degree_summary(user_deg),
        "item_degree": degree_summary(item_deg),
        "rating_histogram": rating_histogram(inter["rating"].to_numpy()) if ds.explicit
        else {"values": [1.0], "counts": [n]},
        "rating_mean": float(inter["rating"].mean()) if n else 0.0,
        "gini_item_popularity": gini(item_deg),
        "cold_catalogue_items": int((item_deg == 0).sum()),
        "items_with_text": int(sum(1 for t in ds.item_texts if t)),
        "users_with_text": int(sum(1 for t in ds.user_texts if t)),
        "time_range": [float(known.min()), float(known.max())] if len(known) else None,
        "content_hash": ds.content_hash(),
    }
    if ds.is_split:
        out["split"] = dict(ds.split_info)
    return out
