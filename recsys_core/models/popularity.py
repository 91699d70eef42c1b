"""Most-popular baseline: every user gets the items with the most training interactions.

.. math::
    c_i = |\\{v : (v, i) \\in \\mathcal{R}_{train}\\}|, \\qquad
    \\hat y_{ui} = c_i + \\frac{g_i - r_i}{g_i}

where :math:`g_i` is the number of items whose count equals :math:`c_i` and
:math:`r_i \\in \\{1..g_i\\}` is item :math:`i`'s place among them by index.
The tie term lies in [0, 1), so it never reorders items of different counts
and is 0 for an item whose count is unique (its score is its count); among
equally popular items the lower index ranks first. Without it, which of several
tied items enter a top-k list would be up to ``torch.topk``'s internals (they
vary with k and the list length), and training-time metrics, ``evaluate`` on
the saved run and served lists could disagree.

Scores are float32 (what every ranking routine uses). The tie term is exact
there unless a tie group is very large for its count (more than about
2**23 / c_i items); for such a catalogue the scores fall back to the
positions themselves, :math:`\\hat y_{ui} = n - \\pi_i` (:math:`\\pi_i` the
0-based place in the order "count descending, lower index first"), which keep
the same order exactly for up to 2**24 items.

Not personalised; the floor every other model has to beat (see e.g.
Cremonesi et al., "Performance of recommender algorithms on top-N
recommendation tasks", RecSys 2010).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from recsys_core.data.dataset import Dataset
from recsys_core.models.base import Recommender


def tie_broken_scores(counts: np.ndarray) -> np.ndarray:
    """float32 scores ordering items by count descending, then lower index first (see module)."""
    counts = np.asarray(counts, dtype=np.int64)
    n = len(counts)
    order = np.lexsort((np.arange(n), -counts))  # the ranking the scores must give
    sorted_counts = counts[order]
    starts = np.flatnonzero(np.r_[True, sorted_counts[1:] != sorted_counts[:-1]])
    sizes = np.diff(np.r_[starts, n])
    group_start = np.repeat(starts, sizes)
    group_size = np.repeat(sizes, sizes)
    place = np.arange(n) - group_start + 1  # r_i, 1-based within the tie group
    scores = np.empty(n, dtype=np.float64)
    scores[order] = sorted_counts + (group_size - place) / group_size
    out = scores.astype(np.float32)
    if n > 1 and not np.all(np.diff(out[order]) < 0):  # float32 merged two neighbours
        out = np.empty(n, dtype=np.float32)
        out[order] = np.arange(n, 0, -1, dtype=np.float32)
    return out


class Popularity(Recommender):
    """Scores each item by its number of training interactions (ties: lower index first)."""

    name = "popularity"

    def __init__(self):
        pass

    def fit(self, dataset: Dataset, callbacks: Sequence[Any] = ()) -> Popularity:
        start = time.perf_counter()
        items = dataset.train_interactions["item"].to_numpy()
        counts = np.bincount(items, minlength=dataset.n_items)
        self.counts_ = torch.as_tensor(counts.astype(np.float32))  # [n_items] c_i
        self.scores_ = torch.as_tensor(tie_broken_scores(counts))  # [n_items] y_i
        self.dataset_ = dataset
        self.train_seconds_ = time.perf_counter() - start
        return self

    def score(self, users, items=None) -> torch.Tensor:
        self.check_fitted()
        scores = self.scores_ if items is None else self.scores_[torch.as_tensor(np.asarray(items))]
        return scores.unsqueeze(0).expand(len(users), -1).clone()  # [B, n_items]

    def state_tensors(self) -> dict[str, torch.Tensor]:
        self.check_fitted()
        return {"counts": self.counts_.clone()}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor], dataset: Dataset) -> Popularity:
        counts = tensors["counts"].float()
        self.counts_ = counts
        self.scores_ = torch.as_tensor(tie_broken_scores(counts.round().long().numpy()))
        self.dataset_ = dataset
        return self
