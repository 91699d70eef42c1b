"""Saved runs held in memory for serving: loaded on first use, evicted least recently used.

:class:`RunCache` opens runs from a :class:`~recsys_core.runs.RunStore` on first
request, so a run saved while the server is up is served without a restart.
It keeps them in LRU order and evicts the least recently used once the
estimated memory of all loaded runs passes ``max_bytes`` (the run just asked
for always stays). Loading goes through ``RunStore.load``: safetensors
weights and parquet/JSON dataset files, never pickle.

A :class:`ServedRun` is one loaded run with what serving needs precomputed:
titles, each user's seen items as CSR arrays, the cold-item mask and the
top-k engine (exact, or a FAISS index that passed its recall gate; see
:mod:`recsys_core.serve.topk`).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from recsys_core.runs import RunStore
from recsys_core.serve import topk as topk_mod

log = logging.getLogger("recsys_core.serve")

#: Index choices: "exact" always, "faiss" whenever the model allows it, "auto" from
#: :data:`~recsys_core.serve.topk.AUTO_INDEX_ITEMS` items on.
INDEX_MODES = ("auto", "exact", "faiss")


class UnknownRun(LookupError):
    """A run id the store does not hold."""


@dataclass
class ServedRun:
    """A loaded run and its serving structures."""

    run_id: str
    model: Any
    ds: Any
    row: dict[str, Any]  # the run store's index row (config, metrics, created ...)
    titles: list[str]
    seen: topk_mod.SeenItems
    cold: np.ndarray  # [n_items] bool: no training interaction
    cold_t: torch.Tensor  # the same, for torch masking
    engine: topk_mod.FaissTopK | None = None  # None: exact
    index: topk_mod.IndexDecision = field(
        default_factory=lambda: topk_mod.IndexDecision(False, "exact scoring"))
    nbytes: int = 0

    def top_k(self, user: int, k: int, exclude_seen: bool,
              include_cold: bool) -> tuple[np.ndarray, np.ndarray]:
        """Item indices and scores of one user's top ``k`` (seen / cold items masked)."""
        exclude = self.seen.of(user) if exclude_seen else None
        if self.engine is not None:
            found = self.engine.search(user, k, exclude, None if include_cold else self.cold)
            if found is not None:
                return found
        return topk_mod.exact_top_k(self.model, user, k, exclude,
                                    None if include_cold else self.cold_t)


def open_run(store: RunStore, run_id: str, index: str = "auto", index_kind: str = "ivf",
             recall_target: float = topk_mod.RECALL_TARGET) -> ServedRun:
    """Load a run and prepare it for serving (building or loading its index if asked)."""
    if index not in INDEX_MODES:
        raise ValueError(f"unknown index mode {index!r}; choose one of {', '.join(INDEX_MODES)}")
    try:
        row = store.get(run_id)
    except KeyError:
        raise UnknownRun(f"unknown run {run_id!r}") from None
    model, ds = store.load(run_id)
    counts = np.bincount(ds.train_interactions["item"].to_numpy(), minlength=ds.n_items)
    cold = counts == 0
    run = ServedRun(run_id=run_id, model=model, ds=ds, row=row,
                    titles=[ds.item_title(i) for i in range(ds.n_items)],
                    seen=topk_mod.SeenItems(ds), cold=cold, cold_t=torch.from_numpy(cold))
    wants_index = index == "faiss" or (index == "auto"
                                       and ds.n_items >= topk_mod.AUTO_INDEX_ITEMS)
    if wants_index:
        run.engine, run.index = prepare_index(store, run, index_kind, recall_target)
        log.info("run %s: %s", run_id, run.index.reason)
    else:
        run.index = topk_mod.IndexDecision(
            False, f"exact scoring ({ds.n_items:,} items; an index is built from "
                   f"{topk_mod.AUTO_INDEX_ITEMS:,} on, or with --index faiss)")
    run.nbytes = estimate_bytes(run)
    return run


def prepare_index(store: RunStore, run: ServedRun, kind: str,
                  target: float) -> tuple[topk_mod.FaissTopK | None, topk_mod.IndexDecision]:
    """The cached index beside the run if it still passes the gate, else a fresh one."""
    folder = store.runs_dir / run.run_id / "serving"
    embeddings = topk_mod.embedding_matrices(run.model, run.ds)
    engine, decision = topk_mod.load_index(run.model, run.ds, run.seen, folder, kind,
                                           target=target, embeddings=embeddings)
    if engine is not None:
        return engine, decision
    if decision.reason != "no cached index":
        log.warning("run %s: %s; rebuilding", run.run_id, decision.reason)
    engine, decision = topk_mod.build_index(run.model, run.ds, run.seen, kind, target=target,
                                            embeddings=embeddings)
    if engine is not None:
        try:
            topk_mod.save_index(engine, folder)
        except OSError as err:  # a read-only store still serves, from memory
            log.warning("run %s: index not cached: %s", run.run_id, err)
    return engine, decision


def estimate_bytes(run: ServedRun) -> int:
    """Rough resident size: learned tensors, cached embeddings, index and dataset frames."""
    total = sum(t.numel() * t.element_size() for t in run.model.state_tensors().values())
    cache = getattr(run.model, "_cache", None)
    if cache:
        total += sum(t.numel() * t.element_size() for t in cache)
    for frame in (run.ds.interactions, run.ds.train, run.ds.valid, run.ds.test, run.ds.items):
        if frame is not None:
            total += int(frame.memory_usage(deep=False).sum())
    total += run.seen.indices.nbytes + run.seen.indptr.nbytes
    if run.engine is not None:
        total += run.engine.users.nbytes + 2 * run.engine.record.n_items * run.engine.record.dim * 4
    return int(total)


class RunCache:
    """Thread-safe LRU of :class:`ServedRun`, bounded by estimated memory."""

    def __init__(self, store: RunStore, max_bytes: int = 2 << 30, index: str = "auto",
                 index_kind: str = "ivf", recall_target: float = topk_mod.RECALL_TARGET):
        self.store = store
        self.max_bytes = int(max_bytes)
        self.index, self.index_kind, self.recall_target = index, index_kind, recall_target
        self._runs: OrderedDict[str, ServedRun] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def latest(self) -> str:
        """The newest saved run's id."""
        saved = self.store.list()
        if saved.empty:
            raise UnknownRun(f"no saved runs in {self.store.root}: train one first")
        return str(saved["run_id"].iloc[0])

    def resolve(self, run_id: str) -> str:
        return self.latest() if run_id == "latest" else run_id

    def peek(self, run_id: str) -> ServedRun | None:
        """The run if loaded (marked recently used), without loading it."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is not None:
                self._runs.move_to_end(run_id)
            return run

    def get(self, run_id: str) -> ServedRun:
        """The loaded run, opening it first if needed; raises :class:`UnknownRun`."""
        run_id = self.resolve(run_id)
        run = self.peek(run_id)
        if run is not None:
            return run
        with self._lock:
            gate = self._loading.setdefault(run_id, threading.Lock())
        with gate:  # one load per run, however many requests ask at once
            run = self.peek(run_id)
            if run is None:
                run = open_run(self.store, run_id, self.index, self.index_kind, self.recall_target)
                with self._lock:
                    self._runs[run_id] = run
                    self._evict(keep=run_id)
                log.info("run %s loaded (%.1f MB)", run_id, run.nbytes / 1e6)
        return run

    def _evict(self, keep: str) -> None:
        while len(self._runs) > 1 and sum(r.nbytes for r in self._runs.values()) > self.max_bytes:
            oldest = next(iter(self._runs))
            if oldest == keep:
                self._runs.move_to_end(oldest)
                continue
            self._runs.pop(oldest)
            log.info("run %s evicted (memory bound %.0f MB)", oldest, self.max_bytes / 1e6)

    def loaded(self) -> list[str]:
        """Ids of the runs in memory, least recently used first."""
        with self._lock:
            return list(self._runs)
