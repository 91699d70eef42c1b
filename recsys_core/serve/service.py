"""What each endpoint answers, as plain functions of a :class:`ServedRun`.

No HTTP here: the FastAPI app (:mod:`recsys_core.serve.app`) maps
:class:`NotFound` to 404 and :class:`Unprocessable` to 422, and the tests
call these functions directly to compare with in-process results.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from recsys_core.serve.runs import ServedRun


class NotFound(LookupError):
    """An unknown user, item or run; the message names it."""


class Unprocessable(ValueError):
    """A well-formed request this run cannot answer; the message says why."""


def user_index(run: ServedRun, user: str) -> int:
    try:
        return run.ds.user_index(user)
    except KeyError:
        raise NotFound(f"unknown user {user!r} in run {run.run_id}") from None


def item_index(run: ServedRun, item: str) -> int:
    try:
        return run.ds.item_index(item)
    except KeyError:
        raise NotFound(f"unknown item {item!r} in run {run.run_id}") from None


def _items(run: ServedRun, indices: np.ndarray, scores: np.ndarray) -> list[dict[str, Any]]:
    ids = run.ds.item_ids
    return [{"item": _plain(ids[i]), "title": run.titles[i], "score": float(s), "rank": r + 1}
            for r, (i, s) in enumerate(zip(indices.tolist(), scores.tolist()))
            if math.isfinite(s)]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def recommendations(run: ServedRun, user: str, k: int = 10, exclude_seen: bool = True,
                    include_cold: bool = True) -> dict[str, Any]:
    """A known user's top ``k``; with ``exclude_seen`` none of their history appears."""
    u = user_index(run, user)
    indices, scores = run.top_k(u, k, exclude_seen, include_cold)
    return {"user": _plain(run.ds.user_ids[u]), "run": run.run_id,
            "items": _items(run, indices, scores)}


def similar_items(run: ServedRun, item: str, k: int = 10) -> dict[str, Any]:
    """Items nearest to ``item``: cosine of the model's item embeddings, or, for models
    without them, cosine of item columns of the training matrix (item-based CF)."""
    i = item_index(run, item)
    vectors = _unit_item_vectors(run)
    if vectors is not None:
        scores = vectors @ vectors[i]  # [n_items]
        method = "cosine of the model's item embeddings"
    else:
        x = run.ds.matrix("train").tocsc().astype(np.float32)  # [U, I]
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0))).ravel()  # [I]
        column = x[:, i]
        co = np.asarray((x.T @ column).todense()).ravel()  # [I] co-occurrence counts
        with np.errstate(divide="ignore", invalid="ignore"):
            scores = torch.from_numpy(np.nan_to_num(co / (norms * norms[i]), nan=0.0))
        method = "cosine of item columns of the training interactions"
    scores = scores.float().clone()
    scores[i] = -torch.inf
    top = torch.topk(scores, min(k, run.ds.n_items - 1))
    return {"item": _plain(run.ds.item_ids[i]), "title": run.titles[i], "run": run.run_id,
            "method": method, "items": _items(run, top.indices.numpy(), top.values.numpy())}


def _unit_item_vectors(run: ServedRun) -> torch.Tensor | None:
    cached = getattr(run, "_unit_items", None)
    if cached is None:
        try:
            emb = torch.as_tensor(np.asarray(run.model.item_embeddings(), dtype=np.float32))
        except (AttributeError, NotImplementedError):
            return None
        cached = torch.nn.functional.normalize(emb, dim=1)  # [n_items, d]
        run._unit_items = cached
    return cached


def explanation(run: ServedRun, user: str, item: str, narrator=None) -> dict[str, Any]:
    """The dashboard's explanation of ``item`` for ``user``: text, evidence, check result."""
    from recsys_core.explain import explain

    u = user_index(run, user)
    i = item_index(run, item)
    ex = explain(run.model, run.ds, run.ds.user_ids[u], run.ds.item_ids[i], narrator=narrator)
    return {"user": _plain(run.ds.user_ids[u]), "item": _plain(run.ds.item_ids[i]),
            "run": run.run_id, **ex.to_dict()}


def cold_start(run: ServedRun, text: str | None, liked_items: list[Any], k: int = 10,
               include_cold: bool = True) -> dict[str, Any]:
    """Recommendations for someone the model has never seen.

    ``text`` goes through the run's text encoder into its user space; liked
    items are folded in (no retraining). With both, the user vector is the
    mean of the two, which live in the same space. A run whose model has no
    text pathway answers :class:`Unprocessable` for ``text``.
    """
    from recsys_core.coldstart import liked_indices, recommend_for_items, top_k

    text = text.strip() if isinstance(text, str) else ""
    model, ds = run.model, run.ds
    if not text and not liked_items:
        raise Unprocessable("send a non-empty 'text', some 'liked_items', or both")
    has_text = hasattr(model, "recommend_for_text")
    if text and not has_text:
        raise Unprocessable(f"run {run.run_id} ({model.name}) has no text encoder, so it cannot "
                            "recommend from a sentence; send 'liked_items', or use a run of "
                            "text_knn, text_lightgcn or text_sage")
    liked = np.array([], dtype=np.int64)
    if liked_items:
        try:
            liked = liked_indices(ds, liked_items)
        except ValueError as err:
            raise NotFound(f"{err} in run {run.run_id}") from None
    if text and has_text:
        with torch.no_grad():
            vector = model.text_user_vector(torch.as_tensor(model.encoder().encode([text])[0]))
            if len(liked):
                vector = (vector + model.items_user_vector(liked)) / 2
            scores = model.scoring_item_vectors() @ vector  # [n_items]
        ids, values = top_k(ds, scores, k, exclude=liked if len(liked) else None,
                            include_cold=include_cold)
        via = "text and liked items" if len(liked) else "text"
    else:
        ids, values = recommend_for_items(model, list(ds.item_ids[liked]), k,
                                          include_cold=include_cold)
        via = "liked items"
    indices = ds.item_indices(ids)
    return {"run": run.run_id, "via": via, "items": _items(run, indices, np.asarray(values))}
