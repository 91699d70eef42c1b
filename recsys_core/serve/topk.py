"""Top-k for one user: exact (one masked matrix product) or a FAISS inner-product index.

Exact is the reference and the default: ``model.score([u])`` is one
``[1, d] x [d, n_items]`` product, the user's training items are set to
-inf and ``torch.topk`` picks the best ``k`` — the very computation
``Recommender.recommend`` does, so the service's list equals the in-process
one.

For large catalogues a model whose score is a dot product of user and item
embeddings can use an approximate index instead (:func:`build_index`):

- ``ivf``: ``IndexIVFFlat`` with inner-product metric, ``nlist = 4 sqrt(n)``
  k-means cells (fewer when there are too few items to train them); a query
  visits ``nprobe`` cells. ``nprobe`` is chosen by measurement, the smallest
  of 1, 2, 4, ... that reaches the recall target.
- ``hnsw``: ``IndexHNSWFlat`` (M = 32) with inner-product metric; ``efSearch``
  is chosen the same way.

An index is used only if it passes the gate: on a seeded sample of users,
recall@10 of its seen-filtered top 10 against exact's must be at least
:data:`RECALL_TARGET` (0.98). Otherwise the run is served exactly and the
reason is logged. A query asks the index for ``k + |seen(u)|`` neighbours so
that ``k`` remain after the user's own items are dropped; when fewer remain
(a user with a long history, or an IVF probe that found too few), that query
falls back to exact.

Indexes are cached beside the run (``runs/<id>/serving/<kind>.faiss`` plus a
JSON record of the embeddings' fingerprint, the chosen search parameter and
the measured recall), written atomically. A cached index is re-measured on a
smaller sample when loaded; one that fails (stale, corrupted, or built with
bad settings) is refused and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

log = logging.getLogger("recsys_core.serve")

#: recall@10 against exact that an approximate index must reach to be used.
RECALL_TARGET = 0.98
#: "auto" uses an index from this many items on; below it exact scoring is cheaper.
AUTO_INDEX_ITEMS = 200_000
#: Search-parameter values tried, smallest first (IVF ``nprobe``, HNSW ``efSearch``).
_IVF_PROBES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
_HNSW_EF = (16, 32, 64, 128, 256, 512)


class SeenItems:
    """Each user's training (and validation) item indices, as CSR arrays for O(1) slicing."""

    def __init__(self, ds):
        seen = ds.seen_matrix().tocsr()
        seen.sort_indices()
        self.indptr = seen.indptr  # [n_users + 1]
        self.indices = seen.indices.astype(np.int64)  # [nnz]

    def of(self, user: int) -> np.ndarray:
        return self.indices[self.indptr[user]:self.indptr[user + 1]]

    def count(self, user: int) -> int:
        return int(self.indptr[user + 1] - self.indptr[user])


def exact_top_k(model, user: int, k: int, exclude: np.ndarray | None,
                blocked: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Item indices [k'] and scores [k'] of one user's exact top k.

    ``exclude`` holds item indices never to return (the user's history);
    ``blocked`` is a bool mask [n_items] of items nobody gets (cold items when
    they are excluded). ``k'`` is ``k`` capped at the number of allowed items.
    """
    with torch.no_grad():
        scores = model.score(np.array([user], dtype=np.int64)).float().clone()[0]  # [n_items]
    mask = blocked.clone() if blocked is not None else torch.zeros(len(scores), dtype=torch.bool)
    if exclude is not None and len(exclude):
        mask[torch.from_numpy(exclude)] = True
    scores[mask] = -torch.inf
    allowed = int(len(mask) - mask.sum())
    top = torch.topk(scores, max(0, min(k, allowed)))
    return top.indices.numpy(), top.values.numpy()


# ---------------------------------------------------------------------- approximate index


@dataclass
class IndexRecord:
    """What was built and measured; stored as JSON beside the index file."""

    kind: str  # "ivf" or "hnsw"
    fingerprint: str  # sha256 of the item and user embeddings the index answers for
    n_items: int
    dim: int
    nlist: int | None  # IVF cells (None for HNSW)
    search: int  # IVF nprobe or HNSW efSearch
    recall_at_10: float  # against exact, seen items filtered, on ``sample_users`` users
    recall_at_20: float
    sample_users: int
    build_seconds: float
    faiss_version: str
    trials: list[dict[str, float]] = field(default_factory=list)  # every setting measured


@dataclass
class IndexDecision:
    """Whether a run is served by an index, and why (logged, shown on /v1/runs)."""

    used: bool
    reason: str
    record: IndexRecord | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"used": self.used, "reason": self.reason,
                "record": asdict(self.record) if self.record else None}


class FaissTopK:
    """Seen-filtered top-k from a FAISS inner-product index over item embeddings."""

    def __init__(self, index, users: np.ndarray, record: IndexRecord):
        self.index = index
        self.users = users  # [n_users, d] float32, C-contiguous
        self.record = record
        self.set_search(record.search)

    def set_search(self, value: int) -> None:
        import faiss

        if self.record.kind == "ivf":
            faiss.extract_index_ivf(self.index).nprobe = int(value)
        else:
            self.index.hnsw.efSearch = int(value)

    def search(self, user: int, k: int, exclude: np.ndarray | None,
               blocked: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """Item indices and scores of the top ``k`` allowed items; None when the index
        returned too few (the caller then scores exactly)."""
        n_items = self.record.n_items
        extra = (len(exclude) if exclude is not None else 0) + (
            int(blocked.sum()) if blocked is not None else 0)
        want = min(n_items, k + extra)
        scores, ids = self.index.search(self.users[user:user + 1], want)  # [1, want] each
        ids, scores = ids[0], scores[0]
        keep = ids >= 0
        if exclude is not None and len(exclude):
            keep &= ~np.isin(ids, exclude, assume_unique=False)
        if blocked is not None:
            keep &= ~blocked[np.where(ids >= 0, ids, 0)]
        ids, scores = ids[keep], scores[keep]
        allowed = n_items - extra
        if len(ids) < min(k, allowed):
            return None
        return ids[:k].astype(np.int64), scores[:k]


def embedding_matrices(model, ds, check_users: int = 64) -> tuple[np.ndarray, np.ndarray] | None:
    """(user [U, d], item [I, d]) float32 embeddings when ``model.score`` is their dot
    product (checked on a few users); None otherwise."""
    try:
        users = np.ascontiguousarray(model.user_embeddings(), dtype=np.float32)
        items = np.ascontiguousarray(model.item_embeddings(), dtype=np.float32)
    except (AttributeError, NotImplementedError, RuntimeError):
        return None
    if users.ndim != 2 or items.ndim != 2 or users.shape[1] != items.shape[1] \
            or len(users) != ds.n_users or len(items) != ds.n_items:
        return None
    sample = np.random.default_rng(0).choice(ds.n_users, min(check_users, ds.n_users),
                                             replace=False)
    with torch.no_grad():
        reference = model.score(sample).float().numpy()  # [s, n_items]
    product = users[sample] @ items.T
    scale = max(1.0, float(np.abs(reference).max()))
    if not np.allclose(product, reference, atol=1e-4 * scale, rtol=1e-4):
        return None
    return users, items


def fingerprint(users: np.ndarray, items: np.ndarray) -> str:
    digest = hashlib.sha256()
    for part in (users, items):
        digest.update(str(part.shape).encode())
        digest.update(np.ascontiguousarray(part).tobytes())
    return digest.hexdigest()


def measure_recall(topk: FaissTopK, model, seen: SeenItems, users: np.ndarray,
                   ks: tuple[int, ...] = (10, 20)) -> dict[int, float]:
    """Mean recall@k of the index's seen-filtered lists against exact ones, per k."""
    kmax = max(ks)
    hits = {k: 0.0 for k in ks}
    for u in users:
        exclude = seen.of(int(u))
        exact, _ = exact_top_k(model, int(u), kmax, exclude)
        found = topk.search(int(u), kmax, exclude)
        approx = found[0] if found is not None else np.array([], dtype=np.int64)
        for k in ks:
            truth = exact[:k]
            if len(truth):
                hits[k] += len(np.intersect1d(truth, approx[:k])) / len(truth)
    return {k: hits[k] / max(1, len(users)) for k in ks}


def build_index(model, ds, seen: SeenItems, kind: str = "ivf", *, nlist: int | None = None,
                search: int | None = None, sample_users: int = 500,
                target: float = RECALL_TARGET, seed: int = 0,
                embeddings: tuple[np.ndarray, np.ndarray] | None = None,
                ) -> tuple[FaissTopK | None, IndexDecision]:
    """Build an index for a fitted model and gate it on measured recall@10.

    ``nlist`` (IVF cells) and ``search`` (nprobe / efSearch) default to
    automatic choices; a fixed ``search`` is measured as given and not tuned.
    Returns ``(index or None, decision)``.
    """
    import faiss

    if kind not in ("ivf", "hnsw"):
        raise ValueError(f"unknown index kind {kind!r}; choose ivf or hnsw")
    embeddings = embeddings or embedding_matrices(model, ds)
    if embeddings is None:
        return None, IndexDecision(False, f"{model.name} does not score by a dot product of "
                                          "user and item embeddings; exact scoring")
    users, items = embeddings
    n, d = items.shape
    start = time.perf_counter()
    if kind == "ivf":
        # 4 sqrt(n) cells is FAISS's rule of thumb; k-means wants >= 39 points per cell.
        nlist = int(nlist or max(1, min(int(4 * math.sqrt(n)), n // 39)))
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(items)
        index.add(items)
        index.quantizer_trains_alone = 0
        candidates = [search] if search else [p for p in _IVF_PROBES if p <= max(1, nlist // 4)]
    else:
        nlist = None
        index = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.add(items)
        candidates = [search] if search else list(_HNSW_EF)
    record = IndexRecord(kind=kind, fingerprint=fingerprint(users, items), n_items=n, dim=d,
                         nlist=nlist, search=int(candidates[0]), recall_at_10=0.0,
                         recall_at_20=0.0, sample_users=0, build_seconds=0.0,
                         faiss_version=faiss.__version__)
    topk = FaissTopK(index, users, record)
    sample = _sample(ds.n_users, sample_users, seed)
    record.sample_users = len(sample)
    for value in candidates:
        topk.set_search(value)
        recall = measure_recall(topk, model, seen, sample)
        record.trials.append({"search": int(value), "recall@10": recall[10],
                              "recall@20": recall[20]})
        record.search, record.recall_at_10, record.recall_at_20 = int(value), recall[10], recall[20]
        if recall[10] >= target:
            break
    record.build_seconds = time.perf_counter() - start
    return _gate(topk, record, target)


def _gate(topk: FaissTopK, record: IndexRecord,
          target: float) -> tuple[FaissTopK | None, IndexDecision]:
    name = "nprobe" if record.kind == "ivf" else "efSearch"
    if record.recall_at_10 < target:
        reason = (f"{record.kind} index refused: recall@10 {record.recall_at_10:.3f} < "
                  f"{target:.2f} against exact at {name}={record.search} on "
                  f"{record.sample_users} users; exact scoring")
        return None, IndexDecision(False, reason, record)
    topk.set_search(record.search)
    reason = (f"{record.kind} index used: recall@10 {record.recall_at_10:.3f}, "
              f"recall@20 {record.recall_at_20:.3f} against exact at {name}={record.search}")
    return topk, IndexDecision(True, reason, record)


def _sample(n_users: int, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_users, min(size, n_users), replace=False))


# ---------------------------------------------------------------------- cache beside the run


def index_paths(folder: Path, kind: str) -> tuple[Path, Path]:
    return folder / f"{kind}.faiss", folder / f"{kind}.json"


def save_index(topk: FaissTopK, folder: Path) -> None:
    """Write the index and its record atomically (index first, record last)."""
    import faiss

    folder.mkdir(parents=True, exist_ok=True)
    index_path, record_path = index_paths(folder, topk.record.kind)
    tmp = index_path.with_name(f".{index_path.name}.{os.getpid()}.tmp")
    faiss.write_index(topk.index, str(tmp))
    os.replace(tmp, index_path)
    tmp = record_path.with_name(f".{record_path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(topk.record), indent=1))
    os.replace(tmp, record_path)


def load_index(model, ds, seen: SeenItems, folder: Path, kind: str, *,
               sample_users: int = 200, target: float = RECALL_TARGET,
               embeddings: tuple[np.ndarray, np.ndarray] | None = None,
               ) -> tuple[FaissTopK | None, IndexDecision]:
    """A cached index, re-measured on a fresh sample; refused when missing, stale or bad."""
    import faiss

    index_path, record_path = index_paths(folder, kind)
    if not (index_path.is_file() and record_path.is_file()):
        return None, IndexDecision(False, "no cached index")
    embeddings = embeddings or embedding_matrices(model, ds)
    if embeddings is None:
        return None, IndexDecision(False, f"{model.name} has no dot-product embeddings")
    users, items = embeddings
    try:
        record = IndexRecord(**json.loads(record_path.read_text()))
        index = faiss.read_index(str(index_path))
    except (OSError, ValueError, TypeError, RuntimeError) as err:
        return None, IndexDecision(False, f"cached index unreadable: {err}")
    if record.fingerprint != fingerprint(users, items) or index.ntotal != len(items) \
            or index.d != items.shape[1]:
        return None, IndexDecision(False, "cached index is for other embeddings")
    topk = FaissTopK(index, users, record)
    recall = measure_recall(topk, model, seen, _sample(ds.n_users, sample_users, seed=1))
    record.recall_at_10, record.recall_at_20 = recall[10], recall[20]
    record.sample_users = min(sample_users, ds.n_users)
    return _gate(topk, record, target)
