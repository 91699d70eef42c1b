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

    # ------------------------------------------------------------ tuning
    @classmethod
    def search_space(cls, trial) -> dict[str, Any]:
        """Hyperparameters to try, drawn from an Optuna ``trial`` (:mod:`recsys_core.tune`).

        A model without any returns ``{}`` (one trial is then all a search needs).
        """
        return {}

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

        Returns ``(item_ids, scores)``, both shaped [len(users), k'], item ids
        original. ``exclude_seen`` masks each user's training and validation
        items; ``include_cold=False`` masks items with no training interaction.
        A masked item is never listed: ``k'`` is ``k`` capped at the largest
        number of unmasked items of any user in the batch, and a user with
        fewer has their remaining slots filled with masked items scored -inf
        (so one user's list holds only items that may be recommended).
        """
        ds = self.check_fitted()
        index = torch.as_tensor(ds.user_indices(users), dtype=torch.long)
        with torch.no_grad():
            scores = self.score(index).float().clone()  # [B, n_items]
        mask = self._mask(ds, index.numpy(), exclude_seen, include_cold)
        k = min(k, ds.n_items)
        if mask is not None:
            scores[mask] = -torch.inf
            allowed = int((~mask).sum(dim=1).max()) if len(mask) else 0
            k = min(k, allowed)
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

    # ------------------------------------------------------------ persistence
    @abstractmethod
    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The learned tensors, by name, for saving (safetensors-compatible: dense, contiguous)."""

    @abstractmethod
    def load_state_tensors(self, tensors: dict[str, torch.Tensor], dataset: Dataset) -> Recommender:
        """Restore a fitted model from :meth:`state_tensors` output and its dataset; returns self."""


class EmbeddingRecommender(Recommender):
    """A recommender whose score is a dot product of final user and item embeddings.

    Subclasses build a ``torch.nn.Module`` in :meth:`build_module` that follows
    the embedding protocol of :mod:`recsys_core.train` (``forward(users,
    items)``, ``ego(users, items)``, ``embeddings()``); ``fit`` trains it with
    BPR, early stopping and callbacks. Final embeddings are cached between
    parameter updates: the trainer calls :meth:`invalidate` after each step.
    """

    @abstractmethod
    def build_module(self, dataset: Dataset) -> torch.nn.Module:
        """A freshly initialised module for ``dataset`` (seeded by the caller)."""

    def train_config(self):
        """The :class:`recsys_core.train.TrainConfig` made from this model's parameters."""
        from recsys_core.train import TrainConfig

        fields = TrainConfig.__dataclass_fields__
        return TrainConfig(**{k: v for k, v in self.get_params().items() if k in fields})

    def fit(self, dataset: Dataset, callbacks: Sequence[Any] = ()) -> EmbeddingRecommender:
        from recsys_core.train import train_bpr

        return train_bpr(self, dataset, self.train_config(), callbacks)

    def invalidate(self) -> None:
        """Forget cached final embeddings (their parameters changed)."""
        self._cache = None

    def _final(self) -> tuple[torch.Tensor, torch.Tensor]:
        cache = getattr(self, "_cache", None)
        if cache is None:
            module = getattr(self, "module_", None)
            if module is None:
                raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit(dataset) first")
            was_training = module.training
            module.eval()
            with torch.no_grad():
                users, items = module.embeddings()  # [U, d], [I, d]
            module.train(was_training)
            cache = self._cache = (users.detach(), items.detach())
        return cache

    def score(self, users, items=None) -> torch.Tensor:
        user_emb, item_emb = self._final()
        users = torch.as_tensor(np.asarray(users), dtype=torch.long)
        if items is not None:
            item_emb = item_emb[torch.as_tensor(np.asarray(items), dtype=torch.long)]
        return user_emb[users] @ item_emb.T  # [B, n_items or len(items)]

    def user_embeddings(self) -> np.ndarray:
        return self._final()[0].numpy()

    def item_embeddings(self) -> np.ndarray:
        return self._final()[1].numpy()

    def state_tensors(self) -> dict[str, torch.Tensor]:
        module = getattr(self, "module_", None)
        if module is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit(dataset) first")
        return {k: v.detach().contiguous().clone() for k, v in module.state_dict().items()}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor],
                           dataset: Dataset) -> EmbeddingRecommender:
        module = self.build_module(dataset)
        module.load_state_dict(tensors)
        self.module_ = module
        self.dataset_ = dataset
        self.invalidate()
        return self
