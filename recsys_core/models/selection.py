"""Choosing a closed-form model's settings on validation, then refitting on all training data.

Models without gradient training (EASE, the graph filters) have a few
settings that matter a great deal and differ by dataset (a regulariser, a
filter's weights). Left to a default tuned on one benchmark they can lose
badly elsewhere, so by default they pick them from a small grid:

1. validation: the dataset's own validation part, or, when it has none,
   :func:`recsys_core.train.carve_validation` (``VALID_FRACTION`` of each
   user's training items); the test part is never read;
2. every grid setting is scored on at most ``MAX_VALID_USERS`` validation
   users (a seeded sample: the choice costs seconds even on large data) by
   full-ranking NDCG@20 with training items masked (the early-stopping metric
   of :mod:`recsys_core.train`); the best wins, ties going to the earlier
   setting in grid order;
3. the model is refitted with the winner on train + validation
   (:func:`recsys_core.train.merge_validation`), so no training interaction
   is withheld from the final model.

:class:`ValidationGrid` accumulates the per-user metric of score batches;
:func:`selection_record` is what the model keeps as ``selection_`` (saved
with the run: the chosen values and every grid score).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from recsys_core.data.dataset import Dataset

#: The metric settings are chosen by (full ranking, validation part).
SELECTION_METRIC = "ndcg@20"
#: Share of each user's training items held out when the dataset has no validation part.
VALID_FRACTION = 0.1
#: Validation users scored per setting at most (a seeded sample beyond that).
MAX_VALID_USERS = 4096


def selection_split(dataset: Dataset, seed: int = 0) -> tuple[Dataset, str]:
    """``(dataset with a validation part, where that part came from)``."""
    from recsys_core.train import carve_validation

    if dataset.valid is not None and len(dataset.valid):
        return dataset, "the dataset's validation part"
    carved = carve_validation(dataset, VALID_FRACTION, seed)
    return carved, f"{VALID_FRACTION:.0%} of each user's training items, carved at random"


def validation_users(dataset: Dataset, seed: int = 0,
                     max_users: int = MAX_VALID_USERS) -> np.ndarray:
    """Users with validation items, sorted; a seeded sample of ``max_users`` if more."""
    if dataset.valid is None or not len(dataset.valid):
        return np.zeros(0, dtype=np.int64)
    users = np.unique(dataset.valid["user"].to_numpy()).astype(np.int64)
    if len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    return users


def _key(setting: dict[str, Any]) -> tuple:
    return tuple(sorted(setting.items()))


class ValidationGrid:
    """Mean validation NDCG@20 of grid settings, accumulated batch by batch of users.

    ``add(setting, scores, users)`` takes the full score rows [B, n_items] of
    some validation users under one setting (the tensor is masked in place);
    :meth:`results` lists every setting with its mean over the users added.
    """

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self._sums: dict[tuple, float] = {}
        self._counts: dict[tuple, int] = {}
        self._settings: dict[tuple, dict[str, Any]] = {}

    def add(self, setting: dict[str, Any], scores: torch.Tensor, users: np.ndarray) -> None:
        from recsys_core.evaluate import batch_top_k_metrics

        values = batch_top_k_metrics(scores, self.dataset, users, part="valid", ks=(20,))
        key = _key(setting)
        self._settings.setdefault(key, dict(setting))
        self._sums[key] = self._sums.get(key, 0.0) + float(values[SELECTION_METRIC].sum())
        self._counts[key] = self._counts.get(key, 0) + int((values["n_relevant"] > 0).sum())

    def results(self) -> list[dict[str, Any]]:
        """``[{**setting, "ndcg@20": mean}, ...]`` in the order settings were first added."""
        return [{**self._settings[key], SELECTION_METRIC: self._sums[key] / max(self._counts[key], 1)}
                for key in self._settings]

    def best(self) -> dict[str, Any]:
        """The setting with the highest mean (the earliest among equals)."""
        results = self.results()
        if not results:
            raise ValueError("no setting was scored on validation")
        top = max(range(len(results)), key=lambda j: (results[j][SELECTION_METRIC], -j))
        return {k: v for k, v in results[top].items() if k != SELECTION_METRIC}


def selection_record(grid: ValidationGrid, chosen: dict[str, Any], source: str, users: int,
                     refit_interactions: int, seconds: float) -> dict[str, Any]:
    """What a model keeps as ``selection_``: the choice, every grid score and how it was made."""
    return {"metric": SELECTION_METRIC, "validation": source, "users": int(users),
            "chosen": dict(chosen), "grid": grid.results(),
            "refit_interactions": int(refit_interactions), "seconds": float(seconds)}
