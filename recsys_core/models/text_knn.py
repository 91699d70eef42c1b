r"""Content-only text recommender: cosine between user and item text embeddings.

Every item :math:`i` has a frozen, L2-normalised language-model embedding
:math:`t_i` of its text (:mod:`recsys_core.text`). A user's text feature is the
seed article's aggregate (sections 2.2.1, 3.2.3): their own profile text
embedding :math:`p_u` where there is one, combined with the (optionally
rating-weighted) mean of their training items' embeddings,

.. math::
    h_u = \frac{\sum_{i \in \mathcal{N}(u)} w_{ui}\, t_i}{\sum_{i \in \mathcal{N}(u)} w_{ui}},
    \qquad
    t_u = \frac{a\, p_u + (1 - a)\, h_u}{\lVert a\, p_u + (1 - a)\, h_u \rVert},
    \qquad
    \hat y_{ui} = t_u^\top t_i = \cos(t_u, t_i),

with :math:`w_{ui} = 1` (or the rating) and :math:`a` = ``profile_weight``
(1 or 0 when only one of the two exists). This is the classic content-based
filtering of Pazzani & Billsus ("Content-Based Recommendation Systems",
The Adaptive Web, 2007) over Sentence-BERT embeddings (Reimers & Gurevych,
EMNLP 2019). Nothing is trained: items without interactions are ranked like
any other, and a user given as a sentence or a few liked items is served by
the same formula.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from recsys_core.coldstart import ColdStartMixin
from recsys_core.data.dataset import Dataset
from recsys_core.models.base import Recommender
from recsys_core.text import TextEncoder, dataset_text_features, get_encoder


class TextKNN(ColdStartMixin, Recommender):
    """Rank items by cosine similarity of text embeddings; see the module docstring.

    Args:
        text_model: local sentence-transformers folder (None: bundled all-MiniLM-L6-v2).
        rating_weighted: weight a user's history by rating (explicit data only).
        profile_weight: share of the profile text in the user feature when both exist.
        use_profiles: use users' own profile texts where the dataset has them.
    """

    name = "text_knn"

    def __init__(self, text_model: str | None = None, rating_weighted: bool = False,
                 profile_weight: float = 0.5, use_profiles: bool = True):
        self.text_model = text_model
        self.rating_weighted = rating_weighted
        self.profile_weight = profile_weight
        self.use_profiles = use_profiles

    def encoder(self) -> TextEncoder:
        return get_encoder(self.text_model)

    def fit(self, dataset: Dataset, callbacks: Sequence[Any] = ()) -> TextKNN:
        start = time.perf_counter()
        items, users = dataset_text_features(
            dataset, self.encoder(), rating_weighted=self.rating_weighted,
            profile_weight=self.profile_weight, use_profiles=self.use_profiles)
        self.item_text_ = torch.as_tensor(items)  # [n_items, t]
        self.user_text_ = torch.as_tensor(users)  # [n_users, t]
        self.dataset_ = dataset
        self.train_seconds_ = time.perf_counter() - start
        if callbacks:
            from recsys_core.train import TrainEvent

            event = TrainEvent(epoch=1, epochs=1, loss=0.0, metrics={},
                               seconds=self.train_seconds_, best_epoch=1, best_metric=0.0, steps=0)
            for callback in callbacks:
                callback(event)
        return self

    def score(self, users, items=None) -> torch.Tensor:
        self.check_fitted()
        users = torch.as_tensor(np.asarray(users), dtype=torch.long)
        item_text = self.item_text_
        if items is not None:
            item_text = item_text[torch.as_tensor(np.asarray(items), dtype=torch.long)]
        return self.user_text_[users] @ item_text.T  # [B, n_items or len(items)]

    def user_embeddings(self) -> np.ndarray:
        self.check_fitted()
        return self.user_text_.numpy()

    def item_embeddings(self) -> np.ndarray:
        self.check_fitted()
        return self.item_text_.numpy()

    # ---------------------------------------------------------------- cold start
    def text_user_vector(self, text_vector: torch.Tensor) -> torch.Tensor:
        return text_vector

    def items_user_vector(self, items: np.ndarray) -> torch.Tensor:
        mean = self.item_text_[torch.as_tensor(items)].mean(0)  # [t]
        return mean / mean.norm().clamp_min(1e-12)

    def scoring_item_vectors(self) -> torch.Tensor:
        self.check_fitted()
        return self.item_text_

    # ---------------------------------------------------------------- persistence
    def state_tensors(self) -> dict[str, torch.Tensor]:
        self.check_fitted()
        return {"item_text": self.item_text_.contiguous().clone(),
                "user_text": self.user_text_.contiguous().clone()}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor], dataset: Dataset) -> TextKNN:
        self.item_text_ = tensors["item_text"].float()
        self.user_text_ = tensors["user_text"].float()
        self.dataset_ = dataset
        return self
