r"""EASE: an embarrassingly shallow autoencoder (Steck, "Embarrassingly Shallow
Autoencoders for Sparse Data", WWW 2019, arXiv:1905.03375).

A linear item-item model :math:`\hat y_u = x_u B` learned from the binary
interaction matrix :math:`X` [users x items] by

.. math::
    \min_B \; \lVert X - X B \rVert_F^2 + \lambda \lVert B \rVert_F^2
    \quad \text{s.t.} \quad \operatorname{diag}(B) = 0,

whose closed form (Lagrange multipliers for the zero diagonal) is

.. math::
    P = (X^\top X + \lambda I)^{-1}, \qquad
    B = I - P \, \operatorname{diag}(1 / \operatorname{diag}(P)),

i.e. :math:`B_{ij} = -P_{ij} / P_{jj}` off the diagonal and :math:`B_{jj} = 0`.
An item with no training interaction gets a zero column: it is never
recommended by EASE.

The one hyperparameter, the L2 weight :math:`\lambda` (``l2``), is chosen by
default on validation (:mod:`recsys_core.models.selection`): each value of
:attr:`EASE.GRID` is fitted on the training part minus a validation split and
scored by validation NDCG@20; the best is refitted on train + validation.
``selection_`` keeps every grid score.

Memory limit. At the peak of a solve three n x n float64 arrays are alive:
the regularised Gram matrix, the LU factors of the inverse routine and the
inverse P; then the Gram matrix goes and P becomes B in place, with a float32
copy of B kept for scoring. That is about ``BYTES_PER_ENTRY = 3 x 8 = 24``
bytes per entry, ``24 n^2`` bytes in all. ``fit`` refuses, naming the limit, a
catalogue whose need exceeds ``memory_gb`` (default 8 GB) or the memory
available at the time, whichever is smaller: with 8 GB that is
``floor(sqrt(8e9 / 24))`` = 18,257 items (Gowalla's 40,981 would need 40.3
GB). The time is one O(n^3) solve per grid value plus one for the refit.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from recsys_core.data.dataset import Dataset
from recsys_core.models.base import Recommender

#: Bytes held per entry of an n x n matrix at the peak of a fit (see the module docstring).
BYTES_PER_ENTRY = 3 * 8


def available_memory_bytes() -> int | None:
    """Physical memory available now (Linux ``MemAvailable``), or None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def max_items(memory_bytes: float) -> int:
    """The largest catalogue whose dense matrices fit in ``memory_bytes``."""
    return int(math.isqrt(int(memory_bytes // BYTES_PER_ENTRY)))


def gram_matrix(x: sp.csr_matrix) -> np.ndarray:
    """X^T X of a sparse binary [users, items] matrix, dense float64 [items, items]."""
    x = x.astype(np.float64)
    return (x.T @ x).toarray()


def ease_weights(gram: np.ndarray, l2: float) -> torch.Tensor:
    """B = I - P diag(1/diag(P)) with P = (G + l2 I)^-1 and diag(B) = 0; float32 [n, n].

    ``gram`` (float64, n x n, X^T X) is overwritten with G + l2 I. For l2 > 0
    that matrix is symmetric positive definite, so the inverse exists; an LU
    solve (``torch.linalg.inv``) is used because it is several times faster
    here than LAPACK's Cholesky inverse (``potri``).
    """
    a = torch.from_numpy(gram)
    a.diagonal().add_(l2)
    p = torch.linalg.inv(a)  # [n, n] float64 P
    del a
    p.div_(-p.diagonal().clone().unsqueeze(0))  # B_ij = -P_ij / P_jj
    p.fill_diagonal_(0.0)
    return p.float()


class EASE(Recommender):
    """EASE item-item model (Steck 2019); see the module docstring.

    Args:
        l2: :math:`\\lambda`, the L2 weight (None: chosen on validation from :attr:`GRID`).
        memory_gb: most memory a fit may use, in GB; the catalogue limit follows
            (``max_items``); the memory available at fit time caps it further.
        batch_size: users scored at once.
        seed: seed of the validation split and sample.
    """

    name = "ease"

    #: Candidate values of ``l2`` (Steck reports 200-1000 on large data; small data wants less).
    GRID: tuple[float, ...] = (10.0, 50.0, 100.0, 250.0, 500.0, 1000.0)
    #: ``l2`` when there is no validation to choose on (the paper's MovieLens-20M value).
    FALLBACK = 500.0

    def __init__(self, l2: float | None = None, memory_gb: float = 8.0, batch_size: int = 1024,
                 seed: int = 0) -> None:
        self.l2 = l2
        self.memory_gb = memory_gb
        self.batch_size = batch_size
        self.seed = seed

    @classmethod
    def search_space(cls, trial) -> dict[str, Any]:
        return {"l2": trial.suggest_float("l2", 1.0, 5000.0, log=True)}

    # ------------------------------------------------------------------ limits
    def item_limit(self) -> tuple[int, str]:
        """(largest catalogue this fit may take, why): memory_gb, or less if less is free."""
        budget = float(self.memory_gb) * 1e9
        why = f"memory_gb={self.memory_gb:g}"
        free = available_memory_bytes()
        if free is not None and free < budget:
            budget, why = float(free), f"{free / 1e9:.1f} GB of memory available now"
        return max_items(budget), why

    def _check_size(self, dataset: Dataset) -> None:
        n = dataset.n_items
        limit, why = self.item_limit()
        if n > limit:
            need = BYTES_PER_ENTRY * n * n / 1e9
            raise ValueError(
                f"EASE needs dense item x item matrices: about {BYTES_PER_ENTRY} x n_items^2 "
                f"bytes, {need:.1f} GB for dataset {dataset.name!r} with {n:,} items. The limit "
                f"here is {limit:,} items ({why}). Filter the catalogue (e.g. a k-core), raise "
                "memory_gb on a larger machine, or use a graph model (gf_cf, lightgcn).")

    # ------------------------------------------------------------------ fitting
    def fit(self, dataset: Dataset, callbacks: Sequence[Any] = ()) -> EASE:
        if self.l2 is not None and not self.l2 > 0:
            raise ValueError(f"l2 must be > 0 (or None: chosen on validation), got {self.l2}")
        self._check_size(dataset)
        start = time.perf_counter()
        self.selection_ = None
        best_metric = 0.0
        if self.l2 is None:
            from recsys_core.models.selection import (
                SELECTION_METRIC,
                ValidationGrid,
                selection_record,
                selection_split,
                validation_users,
            )
            from recsys_core.train import merge_validation

            split, source = selection_split(dataset, self.seed)
            users = validation_users(split, self.seed)
            full = merge_validation(split)
            if len(users):
                grid = ValidationGrid(split)
                x = self._binary(split)
                for l2 in self.GRID:  # the Gram matrix is rebuilt each time: cheaper than a copy
                    b = ease_weights(gram_matrix(x), l2)
                    for lo in range(0, len(users), self.batch_size):
                        batch = users[lo:lo + self.batch_size]
                        grid.add({"l2": float(l2)}, self._rows_times(x[batch], b), batch)
                    del b
                chosen = grid.best()
                best_metric = max(r[SELECTION_METRIC] for r in grid.results())
            else:  # no user has enough items to hold one out
                grid, chosen = None, {"l2": self.FALLBACK}
            self._fit_closed_form(full, chosen["l2"])
            if grid is not None:
                self.selection_ = selection_record(grid, chosen, source, len(users),
                                                   len(full.train_interactions),
                                                   time.perf_counter() - start)
        else:
            self._fit_closed_form(dataset, float(self.l2))
        self.train_seconds_ = time.perf_counter() - start
        if callbacks:  # one event: the fit is closed-form
            from recsys_core.train import TrainEvent

            event = TrainEvent(epoch=1, epochs=1, loss=0.0, metrics={},
                               seconds=self.train_seconds_, best_epoch=1,
                               best_metric=best_metric, steps=0)
            for callback in callbacks:
                callback(event)
        return self

    @staticmethod
    def _binary(dataset: Dataset) -> sp.csr_matrix:
        x = dataset.matrix("train").tocsr().astype(np.float32)
        x.data[:] = 1.0
        return x

    def _fit_closed_form(self, dataset: Dataset, l2: float) -> None:
        x = self._binary(dataset)
        self.weights_ = ease_weights(gram_matrix(x), l2)  # [I, I] B
        self.l2_ = float(l2)
        self.interactions_ = x  # [U, I] each user's input row
        self.dataset_ = dataset

    @staticmethod
    def _rows_times(rows: sp.csr_matrix, b: torch.Tensor) -> torch.Tensor:
        """x_u B for sparse binary rows [R, I]: [R, I] float32."""
        return torch.as_tensor(np.asarray(rows @ b.numpy()), dtype=torch.float32)

    # ------------------------------------------------------------------ scoring
    def score(self, users, items=None) -> torch.Tensor:
        self.check_fitted()
        users = np.asarray(users.cpu() if isinstance(users, torch.Tensor) else users,
                           dtype=np.int64).reshape(-1)
        b = self.weights_
        if items is not None:
            b = b[:, torch.as_tensor(np.asarray(items), dtype=torch.long)]
        out = torch.empty(len(users), b.shape[1], dtype=torch.float32)
        for lo in range(0, len(users), self.batch_size):
            batch = users[lo:lo + self.batch_size]
            out[lo:lo + len(batch)] = self._rows_times(self.interactions_[batch], b)
        return out

    def history_effects(self, user: int, item: int,
                        history: np.ndarray) -> tuple[np.ndarray, str]:
        """Each history item's effect on ``item``'s score: its weight B[j, item], exactly.

        The score is x_u B[:, item] = sum of B[j, item] over the user's items j,
        so removing j from the user's input lowers it by exactly B[j, item].
        """
        self.check_fitted()
        rows = torch.as_tensor(np.asarray(history, dtype=np.int64))
        effects = self.weights_[rows, int(item)].double().numpy()
        return effects, "exact: EASE's score is the sum of item-item weights B[j, i]"

    # ------------------------------------------------------------------ persistence
    def state_tensors(self) -> dict[str, torch.Tensor]:
        self.check_fitted()
        return {"weights": self.weights_.contiguous(),
                "l2": torch.tensor([self.l2_], dtype=torch.float64)}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor], dataset: Dataset) -> EASE:
        weights = tensors["weights"].float()
        if tuple(weights.shape) != (dataset.n_items, dataset.n_items):
            raise ValueError(f"saved EASE weights are {tuple(weights.shape)}; dataset "
                             f"{dataset.name!r} has {dataset.n_items} items")
        self.weights_ = weights
        self.l2_ = float(tensors["l2"][0])
        self.interactions_ = self._binary(dataset)
        self.dataset_ = dataset
        return self
