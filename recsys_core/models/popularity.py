"""Most-popular baseline: every user gets the items with the most training interactions.

.. math::
    \\hat y_{ui} = |\\{v : (v, i) \\in \\mathcal{R}_{train}\\}|

Not personalised; the floor every other model has to beat (see e.g.
Cremonesi et al., "Performance of recommender algorithms on top-N
recommendation tasks", RecSys 2010).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from recsys_core.data.dataset import Dataset
from recsys_core.models.base import Recommender


class Popularity(Recommender):
    """Scores each item by its number of training interactions (ties: lower index first)."""

    name = "popularity"

    def __init__(self):
        pass

    def fit(self, dataset: Dataset, callbacks: Sequence[Any] = ()) -> Popularity:
        items = dataset.train_interactions["item"].to_numpy()
        counts = np.bincount(items, minlength=dataset.n_items).astype(np.float32)
        self.counts_ = torch.as_tensor(counts)  # [n_items]
        self.dataset_ = dataset
        return self

    def score(self, users, items=None) -> torch.Tensor:
        self.check_fitted()
        counts = self.counts_ if items is None else self.counts_[torch.as_tensor(np.asarray(items))]
        return counts.unsqueeze(0).expand(len(users), -1).clone()  # [B, n_items]

    def state_tensors(self) -> dict[str, torch.Tensor]:
        self.check_fitted()
        return {"counts": self.counts_.clone()}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor], dataset: Dataset) -> Popularity:
        self.counts_ = tensors["counts"].float()
        self.dataset_ = dataset
        return self
