"""Evaluation: full-ranking top-K metrics, sampled classification metrics,
beyond-accuracy figures, and all of them by segment.

Protocol (the LightGCN paper's, He et al., SIGIR 2020): every user who has
held-out items is ranked against *all* items; the user's training items (and,
when testing, validation items) are masked out; the top-K list is compared
with the held-out items.

Top-K metrics, for one user with relevant set ``T`` and ranked list
``r_1..r_K`` (``rel_i = 1`` if ``r_i`` is in ``T``), each in [0, 1]:

- ``recall@K    = sum_i rel_i / |T|``
- ``precision@K = sum_i rel_i / K``                (K, even when fewer items exist)
- ``hit_rate@K  = 1 if any rel_i else 0``
- ``ndcg@K      = DCG / IDCG``, ``DCG = sum_i rel_i / log2(i + 1)``,
  ``IDCG = sum_{i <= min(|T|, K)} 1 / log2(i + 1)``  (binary relevance)
- ``map@K       = sum_i rel_i * precision@i / min(|T|, K)``   (the best list scores 1)
- ``map_over_relevant@K = sum_i rel_i * precision@i / |T|`` (the
  normalisation of Microsoft Recommenders' ``map``: a user with more relevant
  items than K can never reach 1)
- ``mrr@K       = 1 / (rank of the first hit), 0 if no hit in the top K``

They are averaged over users with at least one relevant item; users with none
are skipped. If K exceeds the number of items, the list holds every item and
precision still divides by K. These are the definitions of
``torch_geometric.metrics.LinkPred*`` (checked in the tests).

Classification metrics (the seed article's accuracy, precision, recall, F1,
ROC curve and AUC) score held-out positives against negatives sampled
uniformly from items the user never interacted with; their rows carry the
protocol ``"sampled negatives 1:n"`` so a reader never mistakes them for
full-ranking figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from recsys_core.data.dataset import Dataset

#: Protocol label of full-ranking rows in :func:`evaluate`.
FULL_RANKING = "full ranking"

TOP_K_METRICS = ("recall", "precision", "ndcg", "map", "map_over_relevant", "mrr", "hit_rate")
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "auc", "threshold")


# =========================================================== pure top-K metrics
# ``hits`` is a bool tensor [U, L]: hits[u, i] says whether the item ranked at
# position i + 1 for user u is relevant. ``n_relevant`` is [U], the size of each
# user's relevant set. Each function returns per-user values [U] in [0, 1].


def recall_at_k(hits: torch.Tensor, n_relevant: torch.Tensor, k: int) -> torch.Tensor:
    """Share of the user's relevant items found in the top k; 0 when none are relevant."""
    found = hits[:, :k].sum(dim=1, dtype=torch.float64)
    return found / n_relevant.clamp(min=1).to(torch.float64)


def precision_at_k(hits: torch.Tensor, k: int) -> torch.Tensor:
    """Share of the k recommended slots that hold a relevant item."""
    return hits[:, :k].sum(dim=1, dtype=torch.float64) / k


def hit_rate_at_k(hits: torch.Tensor, k: int) -> torch.Tensor:
    """1 if at least one relevant item is in the top k, else 0."""
    return hits[:, :k].any(dim=1).to(torch.float64)


def _discounts(length: int) -> torch.Tensor:
    """1 / log2(i + 1) for ranks i = 1..length."""
    return 1.0 / torch.log2(torch.arange(2, length + 2, dtype=torch.float64))


def ndcg_at_k(hits: torch.Tensor, n_relevant: torch.Tensor, k: int) -> torch.Tensor:
    """Binary-relevance NDCG with IDCG over min(|relevant|, k) ideal hits; 0 when none."""
    top = hits[:, :k].to(torch.float64)  # [U, min(L, k)]
    dcg = (top * _discounts(top.shape[1])).sum(dim=1)
    ideal_prefix = torch.cat([torch.zeros(1, dtype=torch.float64), _discounts(k).cumsum(0)])
    idcg = ideal_prefix[n_relevant.clamp(min=0, max=k).long()]
    return torch.where(idcg > 0, dcg / idcg.clamp(min=1e-12), torch.zeros_like(dcg))


def _precision_sum(hits: torch.Tensor, k: int) -> torch.Tensor:
    """sum_i rel_i * precision@i over the top k, per user."""
    top = hits[:, :k].to(torch.float64)
    ranks = torch.arange(1, top.shape[1] + 1, dtype=torch.float64)
    return (top.cumsum(dim=1) / ranks * top).sum(dim=1)


def map_at_k(hits: torch.Tensor, n_relevant: torch.Tensor, k: int) -> torch.Tensor:
    """Average precision over the hits in the top k, normalised by min(|relevant|, k)."""
    return _precision_sum(hits, k) / n_relevant.clamp(min=1, max=k).to(torch.float64)


def map_over_relevant_at_k(hits: torch.Tensor, n_relevant: torch.Tensor, k: int) -> torch.Tensor:
    """Average precision over the hits in the top k, normalised by |relevant| (not capped at k).

    The normalisation of Microsoft Recommenders' ``map``
    (``recommenders.evaluation.python_evaluation``); equal to :func:`map_at_k`
    for users with at most k relevant items, smaller for the others.
    """
    return _precision_sum(hits, k) / n_relevant.clamp(min=1).to(torch.float64)


def mrr_at_k(hits: torch.Tensor, k: int) -> torch.Tensor:
    """Reciprocal rank of the first relevant item in the top k; 0 if there is none."""
    top = hits[:, :k].to(torch.float64)
    ranks = torch.arange(1, top.shape[1] + 1, dtype=torch.float64)
    if top.shape[1] == 0:
        return torch.zeros(top.shape[0], dtype=torch.float64)
    return (top / ranks).max(dim=1).values


def top_k_metrics(hits: torch.Tensor, n_relevant: torch.Tensor, k: int) -> dict[str, torch.Tensor]:
    """All top-K metrics for one k, per user: name -> [U] float64."""
    return {
        "recall": recall_at_k(hits, n_relevant, k),
        "precision": precision_at_k(hits, k),
        "ndcg": ndcg_at_k(hits, n_relevant, k),
        "map": map_at_k(hits, n_relevant, k),
        "map_over_relevant": map_over_relevant_at_k(hits, n_relevant, k),
        "mrr": mrr_at_k(hits, k),
        "hit_rate": hit_rate_at_k(hits, k),
    }


# ====================================================== pure classification metrics


def binary_classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy, precision, recall and F1 of hard 0/1 predictions, each in [0, 1].

    Precision is 0 when nothing is predicted positive, recall is 0 when there
    are no positives, F1 is 0 when precision + recall is 0.
    """
    y_true = np.asarray(y_true).astype(bool)
    y_pred = np.asarray(y_pred).astype(bool)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has {y_pred.shape}")
    tp = float(np.sum(y_true & y_pred))
    fp = float(np.sum(~y_true & y_pred))
    fn = float(np.sum(y_true & ~y_pred))
    n = y_true.size
    accuracy = float(np.sum(y_true == y_pred)) / n if n else 0.0
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": accuracy, "precision": precision, "recall": recall, "f1": f1}


def roc_curve_points(y_true: np.ndarray, y_score: np.ndarray,
                     max_points: int | None = None) -> pd.DataFrame:
    """ROC curve as a frame (fpr, tpr, threshold), from (0, 0) to (1, 1).

    One point per distinct score (ties form one step), thresholds descending;
    the first point has threshold +inf. ``max_points`` thins the curve for
    plotting while keeping both ends. Raises ValueError unless both classes
    are present.
    """
    y_true = np.asarray(y_true).astype(bool).ravel()
    y_score = np.asarray(y_score, dtype=np.float64).ravel()
    n_pos, n_neg = int(y_true.sum()), int((~y_true).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"ROC needs positives and negatives; got {n_pos} positives, {n_neg} negatives")
    order = np.argsort(-y_score, kind="mergesort")
    score_sorted, true_sorted = y_score[order], y_true[order]
    # Last index of each run of equal scores: the curve moves only there.
    ends = np.r_[np.flatnonzero(np.diff(score_sorted)), len(score_sorted) - 1]
    tps = np.cumsum(true_sorted)[ends]
    fps = (ends + 1) - tps
    fpr = np.r_[0.0, fps / n_neg]
    tpr = np.r_[0.0, tps / n_pos]
    threshold = np.r_[np.inf, score_sorted[ends]]
    if max_points is not None and len(fpr) > max_points:
        keep = np.unique(np.linspace(0, len(fpr) - 1, max(max_points, 2)).round().astype(int))
        fpr, tpr, threshold = fpr[keep], tpr[keep], threshold[keep]
    return pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": threshold})


def roc_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Area under the ROC curve in [0, 1] (ties count one half), as sklearn's roc_auc_score."""
    curve = roc_curve_points(y_true, y_score)
    return float(np.trapezoid(curve["tpr"].to_numpy(), curve["fpr"].to_numpy()))


# ============================================================ ranking a model


@dataclass
class _Targets:
    """Relevant sets and candidate restrictions of one way of scoring a ranking."""

    relevant: sp.csr_matrix  # [n_users, n_items] items that count as hits
    candidates: np.ndarray | None = None  # bool [n_items] items allowed in the list (None: all)


def _as_index(users) -> np.ndarray:
    if isinstance(users, torch.Tensor):
        users = users.cpu().numpy()
    return np.asarray(users, dtype=np.int64).ravel()


def _mask_matrix(ds: Dataset, part: str) -> sp.csr_matrix:
    if part == "valid":
        return ds.matrix("train").tocsr()
    if part == "test":
        return ds.seen_matrix()
    raise ValueError(f"part must be 'valid' or 'test', got {part!r}")


def _check_part(ds: Dataset, part: str) -> sp.csr_matrix:
    if part not in ("valid", "test"):
        raise ValueError(f"part must be 'valid' or 'test', got {part!r}")
    frame = ds.valid if part == "valid" else ds.test
    if frame is None:
        raise ValueError(f"dataset {ds.name!r} has no {part} split: call ds.split(...) first")
    held_out = ds.matrix(part)
    held_out.data[:] = 1.0
    return held_out.tocsr()


def _part_matrices(ds: Dataset, part: str) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(held-out items, items to mask) of a part, cached on the dataset object."""
    key = (part, id(ds.train), id(ds.valid), id(ds.test))
    cache = ds.__dict__.setdefault("_eval_matrices", {})
    if key not in cache:
        cache.clear()  # the split frames were replaced: old entries are stale
        cache[key] = (_check_part(ds, part), _mask_matrix(ds, part))
    return cache[key]


def _eval_users(held_out: sp.csr_matrix, users) -> np.ndarray:
    """Users with at least one held-out item (optionally restricted to ``users``)."""
    has_items = np.flatnonzero(np.diff(held_out.indptr) > 0)
    if users is None:
        return has_items
    return np.intersect1d(has_items, _as_index(users))


def _row_keys(m: sp.csr_matrix, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Nonzeros of some CSR rows as (sorted keys local_row * n_cols + col, per-row counts)."""
    sub = m[rows]
    sub.sort_indices()
    counts = np.diff(sub.indptr)
    local = np.repeat(np.arange(len(rows), dtype=np.int64), counts)
    keys = local * m.shape[1] + sub.indices.astype(np.int64)  # row-major, hence sorted
    return torch.as_tensor(keys), torch.as_tensor(counts)


def _block_(scores: torch.Tensor, m: sp.csr_matrix, rows: np.ndarray) -> None:
    """In place: the nonzeros of ``m[rows]`` score -inf."""
    sub = m[rows].tocoo()
    scores[torch.as_tensor(sub.row, dtype=torch.long),
           torch.as_tensor(sub.col, dtype=torch.long)] = -torch.inf


def _scores(model, users: np.ndarray, n_items: int) -> torch.Tensor:
    """Model scores [B, n_items] as a float32 tensor this module may modify in place."""
    with torch.no_grad():
        scores = model.score(torch.as_tensor(users, dtype=torch.long))
    if not isinstance(scores, torch.Tensor):
        scores = torch.tensor(np.asarray(scores))  # a copy: never write into the model's array
    if tuple(scores.shape) != (len(users), n_items):
        raise ValueError(f"{type(model).__name__}.score returned shape {tuple(scores.shape)}; "
                         f"expected ({len(users)}, {n_items})")
    view = scores._is_view() or not scores.is_contiguous()
    converted = scores.detach().to(torch.float32)
    if view and converted.data_ptr() == scores.data_ptr():
        converted = converted.clone()  # a view into the model's own state: never write through it
    scores = converted
    return scores


def _ranked_hits(scores: torch.Tensor, relevant_keys: torch.Tensor,
                 k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Top-k of already-masked scores: item indices [B, k'], relevance [B, k'], listed [B, k'].

    Masked items score -inf; one that still lands in the list (fewer allowed
    items than k) is not ``listed`` and never counts as a hit.
    """
    n_items = scores.shape[1]
    k = min(k, n_items)
    top = torch.topk(scores, k, dim=1)  # [B, k]
    listed = torch.isfinite(top.values)
    query = torch.arange(scores.shape[0]).unsqueeze(1) * n_items + top.indices  # [B, k]
    if relevant_keys.numel() == 0:
        return top.indices, torch.zeros_like(listed), listed
    pos = torch.searchsorted(relevant_keys, query).clamp(max=relevant_keys.numel() - 1)
    hits = (relevant_keys[pos] == query) & listed
    return top.indices, hits, listed


def ranking_metrics(model, ds: Dataset, part: str = "valid", ks: Sequence[int] = (20,),
                    users=None, batch_size: int = 1024) -> dict[str, float]:
    """Full-ranking top-K metrics averaged over users with held-out items.

    Scores every item for each user with ``model.score`` in user batches, masks
    the training items (and validation items when ``part="test"``), and
    returns ``{"recall@20": .., "ndcg@20": .., "precision@20": .., "map@20": ..,
    "mrr@20": .., "hit_rate@20": ..}`` for each k in ``ks``. Users without
    held-out items are skipped; with none at all every value is 0.
    """
    ks = _check_ks(ks)
    held_out, _ = _part_matrices(ds, part)
    eval_users = _eval_users(held_out, users)
    sums = {f"{m}@{k}": 0.0 for k in ks for m in TOP_K_METRICS}
    for start in range(0, len(eval_users), batch_size):
        batch = eval_users[start:start + batch_size]
        values = batch_top_k_metrics(_scores(model, batch, ds.n_items), ds, batch, part, ks)
        for key in sums:
            sums[key] += float(values[key].sum())
    n = max(len(eval_users), 1)
    return {key: value / n for key, value in sums.items()}


def batch_top_k_metrics(scores: torch.Tensor, ds: Dataset, users, part: str = "valid",
                        ks: Sequence[int] = (20,)) -> dict[str, torch.Tensor]:
    """Per-user top-K metrics of one batch of full score rows.

    ``scores`` [B, n_items] belongs to ``users`` [B]; it is masked in place
    (training items, plus validation items when ``part="test"``). Returns
    ``{"recall@20": [B], ..., "n_relevant": [B]}``; users with no held-out
    item get 0 everywhere (leave them out of averages).
    """
    ks = _check_ks(ks)
    users = _as_index(users)
    held_out, masked = _part_matrices(ds, part)
    _block_(scores, masked, users)
    relevant_keys, n_relevant = _row_keys(held_out, users)
    _, hits, _ = _ranked_hits(scores, relevant_keys, max(ks))
    out = {"n_relevant": n_relevant}
    for k in ks:
        for name, values in top_k_metrics(hits, n_relevant, k).items():
            out[f"{name}@{k}"] = values
    return out


def _check_ks(ks) -> tuple[int, ...]:
    ks = tuple(int(k) for k in np.atleast_1d(ks))
    if not ks or any(k <= 0 for k in ks):
        raise ValueError(f"ks must be positive integers, got {ks}")
    return ks


# ============================================================ sampled negatives


def sample_negatives(ds: Dataset, users: np.ndarray, n_per_user: np.ndarray, seed: int = 0,
                     candidates: np.ndarray | None = None,
                     max_rounds: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Uniform negatives: items the user has no interaction with in any split.

    Draws ``n_per_user[j]`` items for ``users[j]`` (from ``candidates`` if
    given), vectorised rejection sampling. Returns (user, item) arrays; users
    who interacted with every candidate get fewer (possibly none).
    """
    rng = np.random.default_rng(seed)
    pool = np.arange(ds.n_items) if candidates is None else np.asarray(candidates, dtype=np.int64)
    if len(pool) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    seen = ds.matrix("all")
    seen_keys = np.unique(seen.tocoo().row.astype(np.int64) * ds.n_items + seen.tocoo().col)
    want_users = np.repeat(np.asarray(users, np.int64), np.asarray(n_per_user, np.int64))
    out_users, out_items = [], []
    for _ in range(max_rounds):
        if len(want_users) == 0:
            break
        items = pool[rng.integers(0, len(pool), size=len(want_users))]
        keys = want_users * ds.n_items + items
        pos = np.searchsorted(seen_keys, keys)
        clash = (pos < len(seen_keys)) & (seen_keys[np.minimum(pos, len(seen_keys) - 1)] == keys)
        out_users.append(want_users[~clash])
        out_items.append(items[~clash])
        want_users = want_users[clash]
    return np.concatenate(out_users), np.concatenate(out_items)


# ============================================================ the full report


def _activity_segments(train_counts: np.ndarray, eval_users: np.ndarray) -> dict[str, np.ndarray]:
    """Quartiles of training-interaction counts among evaluated users -> bool masks."""
    counts = train_counts[eval_users]
    if len(counts) == 0:
        return {}
    edges = np.quantile(counts, [0.25, 0.5, 0.75])
    bucket = np.searchsorted(edges, counts, side="left")  # 0..3; ties go to the lower quartile
    out = {}
    for q in range(4):
        members = bucket == q
        if members.any():
            lo, hi = int(counts[members].min()), int(counts[members].max())
            out[f"activity Q{q + 1}: {lo}-{hi} train items"] = members
    return out


def evaluate(model, ds: Dataset, ks: Sequence[int] = (5, 10, 20), part: str = "test",
             segments: bool = True, n_neg: int = 1, seed: int = 0, threshold: float | None = None,
             batch_size: int = 1024, name: str | None = None) -> pd.DataFrame:
    """Every metric as a tidy frame with columns (model, metric, k, segment, protocol, value).

    - protocol ``"full ranking"``: recall, precision, ndcg, map, mrr, hit_rate
      at each k; ``coverage`` (share of all items in at least one user's top k)
      and ``avg_popularity`` (mean training-interaction count of recommended
      items).
    - protocol ``"sampled negatives 1:n_neg"``: accuracy, precision, recall,
      f1 at ``threshold`` (default: the score quantile that predicts the true
      share of positives, ``1 / (1 + n_neg)``, since score scales differ by
      model; the threshold used is reported as the metric ``threshold``) and
      auc; k is missing (<NA>) on these rows.

    Segments: ``all``; with ``segments=True`` also user activity quartiles by
    training interactions, ``warm items`` / ``cold items`` (held-out items
    with / without training interactions, ranked among all items) and ``cold
    items among cold`` (cold held-out items ranked among cold items only).
    Empty segments are left out.
    """
    ks = _check_ks(ks)
    if n_neg < 1:
        raise ValueError(f"n_neg must be at least 1, got {n_neg}")
    held_out = _check_part(ds, part)
    masked = _mask_matrix(ds, part)
    eval_users = _eval_users(held_out, None)
    kmax = max(ks)
    model_name = name or getattr(model, "name", None) or type(model).__name__
    train = ds.matrix("train")
    train.data[:] = 1.0
    popularity = np.asarray(train.sum(axis=0)).ravel()  # [n_items] training interactions
    cold = popularity == 0
    train_counts = np.asarray(train.sum(axis=1)).ravel()

    views = {"all": _Targets(held_out)}
    if segments and cold.any():
        cold_diag = sp.diags(cold.astype(np.float32))
        warm_diag = sp.diags((~cold).astype(np.float32))
        views["warm items"] = _Targets((held_out @ warm_diag).tocsr())
        views["cold items"] = _Targets((held_out @ cold_diag).tocsr())
        views["cold items among cold"] = _Targets(views["cold items"].relevant, candidates=cold)
    for target in views.values():
        target.relevant.eliminate_zeros()

    # Held-out positives and sampled negatives for the classification metrics.
    pos = held_out[eval_users].tocoo()
    pos_users, pos_items = eval_users[pos.row], pos.col.astype(np.int64)
    n_pos = np.diff(held_out[eval_users].indptr)
    neg_users, neg_items = sample_negatives(ds, eval_users, n_pos * n_neg, seed=seed)
    pair_users = np.concatenate([pos_users, neg_users])
    pair_items = np.concatenate([pos_items, neg_items])
    pair_label = np.concatenate([np.ones(len(pos_users), bool), np.zeros(len(neg_users), bool)])
    order = np.argsort(pair_users, kind="stable")
    pair_users, pair_items, pair_label = pair_users[order], pair_items[order], pair_label[order]
    pair_score = np.zeros(len(pair_users), dtype=np.float64)

    # Per-user values for every view, filled batch by batch.
    per_user = {v: {(m, k): np.zeros(len(eval_users)) for m in TOP_K_METRICS for k in ks}
                for v in views}
    has_relevant = {v: np.zeros(len(eval_users), bool) for v in views}
    top_items = {v: np.zeros((len(eval_users), min(kmax, ds.n_items)), np.int64) for v in views}
    top_valid = {v: np.zeros((len(eval_users), min(kmax, ds.n_items)), bool) for v in views}
    # Additive [n_items] bias: -inf on items outside a view's candidate set.
    candidate_bias = {v: torch.where(torch.as_tensor(t.candidates), 0.0, -torch.inf)
                      for v, t in views.items() if t.candidates is not None}

    for start in range(0, len(eval_users), batch_size):
        batch = eval_users[start:start + batch_size]
        rows = slice(start, start + len(batch))
        scores = _scores(model, batch, ds.n_items)  # [B, n_items]
        lo, hi = np.searchsorted(pair_users, [batch[0], batch[-1] + 1])
        local = torch.as_tensor(np.searchsorted(batch, pair_users[lo:hi]))
        pair_score[lo:hi] = scores[local, torch.as_tensor(pair_items[lo:hi])].double().numpy()
        _block_(scores, masked, batch)
        for view, target in views.items():
            view_scores = scores + candidate_bias[view] if view in candidate_bias else scores
            relevant_keys, n_relevant = _row_keys(target.relevant, batch)
            top, hits, listed = _ranked_hits(view_scores, relevant_keys, kmax)
            has_relevant[view][rows] = (n_relevant > 0).numpy()
            top_items[view][rows] = top.numpy()
            top_valid[view][rows] = listed.numpy()
            for k in ks:
                for metric, values in top_k_metrics(hits, n_relevant, k).items():
                    per_user[view][(metric, k)][rows] = values.numpy()

    records: list[tuple] = []
    protocol_cls = f"sampled negatives 1:{n_neg}"
    user_groups = {"all": np.ones(len(eval_users), bool)}
    if segments:
        user_groups.update(_activity_segments(train_counts, eval_users))

    def add_ranking(view: str, segment: str, members: np.ndarray) -> None:
        members = members & has_relevant[view]
        if not members.any():
            return
        for k in ks:
            for metric in TOP_K_METRICS:
                value = float(per_user[view][(metric, k)][members].mean())
                records.append((model_name, metric, k, segment, FULL_RANKING, value))
            listed = top_items[view][members][:, :k][top_valid[view][members][:, :k]]
            coverage = len(np.unique(listed)) / ds.n_items
            avg_pop = float(popularity[listed].mean()) if len(listed) else 0.0
            records.append((model_name, "coverage", k, segment, FULL_RANKING, coverage))
            records.append((model_name, "avg_popularity", k, segment, FULL_RANKING, avg_pop))

    def add_classification(segment: str, pair_mask: np.ndarray) -> None:
        y, s = pair_label[pair_mask], pair_score[pair_mask]
        if y.all() or not y.any():
            return
        cut = threshold if threshold is not None else float(np.quantile(s, 1.0 - 1.0 / (1 + n_neg)))
        values = binary_classification_metrics(y, s > cut)
        values["auc"] = roc_auc(y, s)
        values["threshold"] = cut
        for metric in CLASSIFICATION_METRICS:
            records.append((model_name, metric, None, segment, protocol_cls, float(values[metric])))

    user_pos = np.searchsorted(eval_users, pair_users)
    for segment, members in user_groups.items():
        add_ranking("all", segment, members)
        add_classification(segment, members[user_pos])
    for view in ("warm items", "cold items", "cold items among cold"):
        if view in views:
            add_ranking(view, view, np.ones(len(eval_users), bool))
    if "cold items" in views:
        # Pairs whose positive item is cold / warm, each with the negatives drawn for its user.
        cold_pos_users = np.unique(pos_users[cold[pos_items]])
        warm_pos_users = np.unique(pos_users[~cold[pos_items]])
        for segment, item_is, users_with in (("warm items", ~cold, warm_pos_users),
                                             ("cold items", cold, cold_pos_users)):
            keep = np.where(pair_label, item_is[pair_items], np.isin(pair_users, users_with))
            add_classification(segment, keep)

    frame = pd.DataFrame.from_records(
        records, columns=["model", "metric", "k", "segment", "protocol", "value"])
    frame["k"] = frame["k"].astype("Int64")
    return frame


def classification_pairs(model, ds: Dataset, part: str = "test", n_neg: int = 1, seed: int = 0,
                         batch_size: int = 1024) -> pd.DataFrame:
    """Held-out positives and sampled negatives with model scores: (user, item, label, score).

    The raw material of :func:`roc_curve_points` for a chart, e.g.
    ``roc_curve_points(p.label, p.score, max_points=200)``.
    """
    held_out = _check_part(ds, part)
    eval_users = _eval_users(held_out, None)
    pos = held_out[eval_users].tocoo()
    n_pos = np.diff(held_out[eval_users].indptr)
    neg_users, neg_items = sample_negatives(ds, eval_users, n_pos * n_neg, seed=seed)
    users = np.concatenate([eval_users[pos.row], neg_users])
    items = np.concatenate([pos.col.astype(np.int64), neg_items])
    labels = np.concatenate([np.ones(len(pos.row), bool), np.zeros(len(neg_users), bool)])
    order = np.argsort(users, kind="stable")
    users, items, labels = users[order], items[order], labels[order]
    scores = np.zeros(len(users))
    for start in range(0, len(eval_users), batch_size):
        batch = eval_users[start:start + batch_size]
        lo, hi = np.searchsorted(users, [batch[0], batch[-1] + 1])
        local = np.searchsorted(batch, users[lo:hi])
        s = _scores(model, batch, ds.n_items)
        scores[lo:hi] = s[torch.as_tensor(local), torch.as_tensor(items[lo:hi])].double().numpy()
    return pd.DataFrame({"user": users, "item": items, "label": labels, "score": scores})
