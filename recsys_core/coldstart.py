"""Recommendations for users the model has never seen: a sentence, or a few liked items.

Text models (``text_knn``, ``text_lightgcn``, ``text_sage``) mix in
:class:`ColdStartMixin` and answer

- ``recommend_for_text("I love heist comedies and space operas", k)``: the
  sentence is embedded by the model's text encoder and mapped into the model's
  user space as a user whose only feature is that text;
- ``recommend_for_items([liked ids], k)``: fold-in — the user is built from the
  liked items (their text embeddings and, for graph models, their learned
  embeddings) with no retraining.

:func:`recommend_for_items` and :func:`recommend_for_text` at module level work
for any fitted model: they use the model's own method when it has one, else
fall back to item-to-item cosine similarity of ``item_embeddings()`` (for
liked items) and report that a model without a text pathway cannot take a
sentence.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from recsys_core.data.dataset import Dataset


def top_k(ds: Dataset, scores: torch.Tensor, k: int, exclude: np.ndarray | None = None,
          include_cold: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` items of one score row [n_items]: (original item ids [k'], scores [k']).

    ``exclude`` holds item indices never to return; ``include_cold=False``
    leaves out items without training interactions. Fewer than ``k`` come
    back when fewer items are allowed.
    """
    scores = scores.detach().float().clone().reshape(-1)  # [n_items]
    if exclude is not None and len(exclude):
        scores[torch.as_tensor(np.asarray(exclude, dtype=np.int64))] = -torch.inf
    if not include_cold:
        counts = np.bincount(ds.train_interactions["item"].to_numpy(), minlength=ds.n_items)
        scores[torch.as_tensor(counts == 0)] = -torch.inf
    allowed = int(torch.isfinite(scores).sum())
    top = torch.topk(scores, min(k, allowed))
    return ds.item_ids[top.indices.numpy()], top.values.numpy()


class ColdStartMixin(ABC):
    """``recommend_for_text`` / ``recommend_for_items`` for a model with a text pathway.

    The host implements :meth:`text_user_vector` (a user from a text-space
    vector), :meth:`items_user_vector` (a user from liked item indices) and
    :meth:`scoring_item_vectors` (item vectors that those user vectors are dot
    with), and holds a fitted ``dataset_`` and a text encoder from ``encoder()``.
    """

    @abstractmethod
    def text_user_vector(self, text_vector: torch.Tensor) -> torch.Tensor:
        """[d] user vector of someone described by ``text_vector`` [t]."""

    @abstractmethod
    def items_user_vector(self, items: np.ndarray) -> torch.Tensor:
        """[d] user vector of someone who liked the item indices ``items``."""

    @abstractmethod
    def scoring_item_vectors(self) -> torch.Tensor:
        """[n_items, d] item vectors; a cold user's scores are ``items @ user``."""

    def recommend_for_text(self, text: str, k: int = 20,
                           include_cold: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-k original item ids and scores for a user described by ``text``."""
        ds = self.check_fitted()
        if not isinstance(text, str) or not text.strip():
            raise ValueError("describe the user in a non-empty sentence")
        vec = torch.as_tensor(self.encoder().encode([text])[0])  # [t]
        with torch.no_grad():
            scores = self.scoring_item_vectors() @ self.text_user_vector(vec)  # [n_items]
        return top_k(ds, scores, k, include_cold=include_cold)

    def recommend_for_items(self, liked: Sequence[Any], k: int = 20, include_cold: bool = True,
                            exclude_liked: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-k original item ids and scores for a user who liked ``liked`` (original ids)."""
        ds = self.check_fitted()
        items = liked_indices(ds, liked)
        with torch.no_grad():
            scores = self.scoring_item_vectors() @ self.items_user_vector(items)  # [n_items]
        return top_k(ds, scores, k, exclude=items if exclude_liked else None,
                     include_cold=include_cold)


def liked_indices(ds: Dataset, liked: Sequence[Any]) -> np.ndarray:
    """Unique item indices of original ids; raises ValueError naming unknown ids."""
    liked = list(liked)
    if not liked:
        raise ValueError("name at least one liked item")
    unknown = []
    out = []
    for item in liked:
        try:
            out.append(ds.item_index(item))
        except KeyError:
            unknown.append(item)
    if unknown:
        raise ValueError(f"unknown item id(s): {', '.join(map(repr, unknown[:5]))}")
    return np.unique(np.asarray(out, dtype=np.int64))


def recommend_for_items(model, liked: Sequence[Any], k: int = 20, include_cold: bool = True,
                        exclude_liked: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Fold-in recommendations for any fitted model.

    Uses the model's ``recommend_for_items`` when it has one; otherwise scores
    items by cosine similarity between their ``item_embeddings()`` and the mean
    of the liked items' (item-based fold-in). Models without item embeddings
    (popularity) rank by their score for an average user.
    """
    if hasattr(model, "recommend_for_items"):
        return model.recommend_for_items(liked, k, include_cold=include_cold,
                                         exclude_liked=exclude_liked)
    ds = model.check_fitted()
    items = liked_indices(ds, liked)
    try:
        emb = torch.as_tensor(np.asarray(model.item_embeddings(), dtype=np.float32))
    except AttributeError:
        with torch.no_grad():
            scores = model.score(np.arange(ds.n_users)).float().mean(0)  # [n_items]
    else:
        emb = torch.nn.functional.normalize(emb, dim=1)  # [n_items, d]
        scores = emb @ emb[torch.as_tensor(items)].mean(0)
    return top_k(ds, scores, k, exclude=items if exclude_liked else None,
                 include_cold=include_cold)


def recommend_for_text(model, text: str, k: int = 20,
                       include_cold: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A sentence-described user's recommendations; the model needs a text pathway."""
    if not hasattr(model, "recommend_for_text"):
        raise ValueError(f"{getattr(model, 'name', type(model).__name__)} has no text pathway; "
                         "use text_knn, text_lightgcn or text_sage to recommend from a sentence")
    return model.recommend_for_text(text, k, include_cold=include_cold)
