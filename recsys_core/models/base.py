"""The one interface every recommender implements.

Conventions (scikit-learn): ``__init__`` stores hyperparameters only; ``fit``
returns ``self``; learned state ends with ``_``. Users and items are addressed
by contiguous indices inside the package and by original ids at the edges
(``recommend`` takes and returns original ids).
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from recsys_core.data.dataset import Dataset


class Recommender(ABC):
    """Base class: subclasses implement ``fit`` and ``score``."""

    #: Registry name, e.g. "lightgcn".
    name: str = "base"

    # ------------------------------------------------------------ parameters
    def get_params(self) -> dict[str, Any]:
        """Hyperparameters as passed to ``__init__`` (JSON-serialisable)."""
        sig = inspect.signature(type(self).__init__)
        return {
            p: getattr(self, p)
            for p in sig.parameters
            if p != "self" and sig.parameters[p].kind is not inspect.Parameter.VAR_KEYWORD
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------ learning
    @abstractmethod
    def fit(self, dataset: Dataset, callbacks: Sequence[Any] = ()) -> Recommender:
        """Learn from ``dataset.train_interactions``; store the dataset as ``dataset_``."""

    @abstractmethod
    def score(self, users: torch.Tensor | np.ndarray | Sequence[int],
              items: torch.Tensor | np.ndarray | Sequence[int] | None = None) -> torch.Tensor:
        """Scores of user indices against item indices (all items if None).

        Returns a float tensor of shape [len(users), n_items or len(items)];
        higher means more recommended.
        """

    # ------------------------------------------------------------ embeddings
    def user_embeddings(self) -> np.ndarray:
        """[n_users, d] final user representations (models without them raise)."""
        raise AttributeError(f"{self.name} has no user embeddings")

    def item_embeddings(self) -> np.ndarray:
        """[n_items, d] final item representations."""
        raise AttributeError(f"{self.name} has no item embeddings")

    # ------------------------------------------------------------ serving
    def check_fitted(self) -> Dataset:
        ds = getattr(self, "dataset_", None)
        if ds is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit(dataset) first")
        return ds

    def recommend(self, users: Sequence[Any], k: int = 20, exclude_seen: bool = True,
                  include_cold: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-k items for users given by original id.

        Returns ``(item_ids, scores)``, both shaped [len(users), k], item ids
        original. ``exclude_seen`` masks each user's training and validation
        items; ``include_cold=False`` masks items with no training interaction.
        """
        ds = self.check_fitted()
        index = torch.as_tensor(ds.user_indices(users), dtype=torch.long)
        with torch.no_grad():
            scores = self.score(index).float().clone()  # [B, n_items]
        mask = self._mask(ds, index.numpy(), exclude_seen, include_cold)
        if mask is not None:
            scores[mask] = -torch.inf
        k = min(k, ds.n_items)
        top = torch.topk(scores, k, dim=1)
        return ds.item_ids[top.indices.numpy()], top.values.numpy()

    @staticmethod
    def _mask(ds: Dataset, users: np.ndarray, exclude_seen: bool,
              include_cold: bool) -> torch.Tensor | None:
        if not exclude_seen and include_cold:
            return None
        mask = torch.zeros(len(users), ds.n_items, dtype=torch.bool)
        if exclude_seen:
            seen = ds.seen_matrix()[users].tocoo()
            mask[torch.as_tensor(seen.row, dtype=torch.long),
                 torch.as_tensor(seen.col, dtype=torch.long)] = True
        if not include_cold:
            counts = np.bincount(ds.train_interactions["item"].to_numpy(), minlength=ds.n_items)
            mask[:, torch.as_tensor(counts == 0)] = True
        return mask
