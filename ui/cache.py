"""Every ``st.cache_*`` wrapper of the app, in one place.

Parsing is keyed by a SHA-256 of the uploaded bytes (plus the options), so a
file is parsed once however often the page reruns, and an identical upload in
another session reuses the result. ``st.cache_data`` hands each caller its own
copy, so sessions never share a mutable Dataset. Arguments starting with ``_``
are not hashed: each such function takes an explicit key next to them.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from recsys_core.data.dataset import Dataset
from ui.state import SAMPLE_NAME

ROOT = Path(__file__).resolve().parents[1]

#: Bundled datasets: name -> (interactions, items, users) relative to the project root.
BUNDLED: dict[str, tuple[str, str | None, str | None]] = {
    "sample": ("sample_data/interactions.csv", "sample_data/items.csv", "sample_data/users.csv"),
    "seed example": ("sample_data/seed_example/interactions.csv",
                     "sample_data/seed_example/items.csv", None),
}
#: Split applied to the bundled sample on first start (the data page can change it).
DEFAULT_SPLIT: dict[str, Any] = {"method": "random", "seed": 0, "test": 0.2, "valid": 0.1}
# Lines of an upload read to show its columns before the full parse.
_PEEK_LINES = 2000


def upload_limit_mb() -> int:
    """server.maxUploadSize from .streamlit/config.toml, in MB."""
    return int(st.get_option("server.maxUploadSize"))


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def named_bytes(name: str, data: bytes) -> io.BytesIO:
    """Bytes that carry a file name, as the readers expect from an upload."""
    buf = io.BytesIO(data)
    buf.name = name
    return buf


@st.cache_data(show_spinner="Loading the bundled data…")
def load_bundled(name: str) -> Dataset:
    """A bundled dataset, split with :data:`DEFAULT_SPLIT` when it is large enough."""
    from recsys_core.data.loader import load

    inter, items, users = BUNDLED[name]
    ds = load(ROOT / inter, items=ROOT / items if items else None,
              users=ROOT / users if users else None, name=name)
    if ds.n_interactions >= 100:
        params = {k: v for k, v in DEFAULT_SPLIT.items() if k not in ("method", "seed")}
        ds = ds.split(DEFAULT_SPLIT["method"], seed=DEFAULT_SPLIT["seed"], **params)
    return ds


def warm_home() -> None:
    """Fill the shared cache with what the sample's Home page shows (preload calls it)."""
    with no_run_context_warning():
        ds, key = _sample()
        dataset_stats(key, ds)


def warm_data() -> None:
    """Fill the shared cache with the sample's Data page charts (preload calls it)."""
    with no_run_context_warning():
        ds, key = _sample()
        stats_figures(key, ds)


def warm_graph(ds: Dataset | None = None) -> None:
    """Fill the shared cache with the first Graph view of ``ds`` (default: the sample;
    preload calls it)."""
    from ui.widgets import centre_options

    with no_run_context_warning():
        ds, key = _sample() if ds is None else (ds, ds.content_hash())
        kind, center, _ = centre_options(ds, [])[0]  # the page's first centre
        ego_view(key, ds, kind, center, GRAPH_HOPS, GRAPH_NODE_CAP, False, False)
        full_graph_stats(key, ds)


def warm_graph_soon(ds: Dataset) -> None:
    """Draw the first Graph view of a dataset just loaded, in a background thread, while
    its owner reads the Data page: the Graph page then opens from the cache."""
    def run() -> None:
        try:
            warm_graph(ds)
        except Exception:  # noqa: BLE001 - the page computes it again and reports any error
            pass

    threading.Thread(target=run, name="warm-graph", daemon=True).start()


def _sample() -> tuple[Dataset, str]:
    """The bundled sample the app opens on, and its content hash (the pages' cache key)."""
    ds = load_bundled(SAMPLE_NAME)
    return ds, ds.content_hash()


def warm_kernels() -> None:
    """Load the compiled graph-propagation kernel once (numba reads it from its disk cache,
    or compiles it on a fresh install); the model pages otherwise pay for it (preload calls it)."""
    import warnings

    import torch

    from recsys_core.models.lightgcn import csr_matmul

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: "sparse CSR support is in beta"
        csr_matmul(torch.eye(2).to_sparse_csr(), torch.ones(2, 2))


@contextmanager
def no_run_context_warning() -> Iterator[None]:
    # Called outside any script run: Streamlit would warn that there is no run context.
    import logging

    quiet = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        yield
    finally:
        quiet.setLevel(level)


@dataclass
class Preview:
    """What the first lines of an uploaded interaction file show."""

    file: str
    format: str
    columns: list[str]
    inferred: dict[str, str | None]  # role -> column (None: not found)
    problem: str | None  # why inference failed (ambiguous or missing), in plain words
    head: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)


@st.cache_data(max_entries=32, show_spinner=False)
def peek_upload(key: str, filename: str, _data: bytes, max_mb: int) -> Preview:
    """Columns and inferred roles of an upload, from its first lines (raises DataError)."""
    from recsys_core.data.columns import ROLES, infer_columns
    from recsys_core.data.readers import open_source, read_table
    from recsys_core.data.report import DataError

    raw = open_source(named_bytes(filename, _data), max_bytes=max_mb * 1024 * 1024)
    if not raw.binary_format:
        cut = 0
        for _ in range(_PEEK_LINES + 1):
            nxt = raw.data.find(b"\n", cut)
            if nxt < 0:
                cut = len(raw.data)
                break
            cut = nxt + 1
        raw.data = raw.data[:cut]
    table = read_table(raw, role="interactions")
    columns = [str(c) for c in table.frame.columns]
    problem = None
    try:
        inferred = infer_columns(table.frame, file=table.file)
    except DataError as err:
        inferred, problem = {role: None for role in ROLES}, str(err)
        from recsys_core.data.columns import role_candidates

        for role in ROLES:  # still prefill what is unambiguous
            found = role_candidates(columns, role)
            if len(found) == 1:
                inferred[role] = found[0]
    return Preview(table.file, table.format, columns, inferred, problem,
                   table.frame.head(8), list(raw.notes) + list(table.notes))


@st.cache_data(max_entries=16, show_spinner="Reading and validating…")
def load_upload(key: tuple, files: tuple[str, str | None, str | None, str | None],
                _data: tuple[bytes | None, bytes | None, bytes | None, bytes | None],
                columns: tuple[tuple[str, str | None], ...] | None, threshold: float | None,
                kcore: int, name: str, max_mb: int) -> Dataset:
    """Parse and validate uploaded interactions (+ optional items / users / test). Raises DataError.

    ``key`` holds the SHA-256 of each file; ``files`` their names, in the order
    interactions, items, users, test. With a test file the result is split
    with method ``"given"``.
    """
    from recsys_core.data.loader import load

    inter, items, users, test = (named_bytes(n, d) if d is not None else None
                                 for n, d in zip(files, _data))
    return load(inter, items=items, users=users, test=test,
                columns=dict(columns) if columns else None, threshold=threshold, kcore=kcore,
                name=name, max_bytes=max_mb * 1024 * 1024)


@st.cache_data(max_entries=32, show_spinner="Splitting…")
def split(key: str, _ds: Dataset, method: str, seed: int,
          params: tuple[tuple[str, Any], ...]) -> Dataset:
    """``_ds.split(method, seed, **params)``; ``key`` is ``_ds.content_hash()``."""
    return _ds.split(method, seed=seed, **dict(params))


@st.cache_data(max_entries=32, show_spinner=False)
def dataset_stats(key: str, _ds: Dataset) -> dict[str, Any]:
    """``_ds.stats()`` keyed by the dataset's content hash."""
    return _ds.stats()


@st.cache_resource(max_entries=32, show_spinner=False)
def stats_figures(key: str, _ds: Dataset) -> dict[str, Any]:
    """Plotly figures of a dataset's statistics (see recsys_core.viz.data_charts).

    Shared, not copied (cache_resource): st.plotly_chart only reads a figure, and
    unpickling a fresh copy of four validated plotly figures took 0.3 s per visit.
    """
    from recsys_core.viz import data_charts

    return data_charts.stats_figures(_ds)


@st.cache_resource(max_entries=64, show_spinner=False)
def evaluation_chart(chart: str, frame: pd.DataFrame, **params: Any):
    """The plotly figure ``recsys_core.viz.eval_charts.<chart>(frame, **params)``.

    Shared, not copied (cache_resource), as :func:`stats_figures`: every session
    compares the same saved runs, and building and validating the figures took
    about 0.1 s of each Evaluation run, holding the GIL that other sessions' runs
    wait for. The key includes the frame's content, so new evaluations redraw.
    """
    from recsys_core.viz import eval_charts

    return getattr(eval_charts, chart)(frame, **params)


#: Wall-clock cap of the classroom's "Train" button.
TRAIN_SECONDS = 30.0


@st.cache_resource(max_entries=16, show_spinner="Preparing the model…")
def classroom_walkthrough(key: str, _ds: Dataset, model: str, dim: int, layers: int, seed: int,
                          epochs: int):
    """A small model on ``_ds`` (random from ``seed`` when ``epochs`` is 0), taken apart.

    Shared across sessions (cache_resource): a Walkthrough is never modified.
    """
    from recsys_core.models import make
    from recsys_core.viz import classroom

    # One evaluation at the end, no early stopping, and a time cap for large datasets.
    fitted = make(model, dim=dim, layers=layers, seed=seed, epochs=epochs,
                  eval_every=max(epochs, 1), patience=0, max_seconds=TRAIN_SECONDS).fit(_ds)
    return classroom.walkthrough(fitted)


@st.cache_data(max_entries=16, show_spinner="Measuring oversmoothing…")
def oversmoothing(key: str, _walk, depth: int = 8) -> dict[str, list[float]]:
    """Mean cosine similarity per layer for the walkthrough's model (see viz.classroom)."""
    from recsys_core.viz import classroom

    return classroom.oversmoothing_curves(_walk, depth)


@st.cache_resource(max_entries=8, show_spinner=False)
def bipartite_index(key: str, _ds: Dataset):
    """CSR neighbourhood index of a dataset (read-only, shared across sessions)."""
    from recsys_core.graph import BipartiteIndex

    return BipartiteIndex.from_dataset(_ds)


@st.cache_data(max_entries=64, show_spinner=False)
def search_nodes(key: str, _ds: Dataset, query: str) -> list[tuple[str, Any, str]]:
    from recsys_core.graph import search_nodes as search

    return search(_ds, query)


#: The Graph page's first view: hops around the centre and the node cap (its widget defaults).
GRAPH_HOPS = 2
GRAPH_NODE_CAP = 150  # legible at a glance, and half the browser's drawing of 300


@st.cache_data(max_entries=64, show_spinner="Building the ego network…")
def ego_view(key: str, _ds: Dataset, kind: str, center: Any, hops: int, max_nodes: int,
             color_by_genre: bool, physics: bool) -> tuple[str, str, dict[str, Any]]:
    """(pyvis HTML, sampling statement, networkx statistics) of an ego network."""
    from recsys_core.graph import ego_network, graph_stats
    from recsys_core.viz import graph_html

    ego = ego_network(_ds, center, kind, hops=hops, max_nodes=max_nodes,
                      index=bipartite_index(key, _ds))
    html = graph_html.ego_html(ego, color_by="genre" if color_by_genre else "kind",
                               physics=physics)
    return html, ego.statement, graph_stats(ego.graph)


#: Whole-graph statistics are computed up to this many interactions (networkx is O(E)).
FULL_STATS_LIMIT = 250_000


@st.cache_data(max_entries=8, show_spinner="Computing graph statistics…")
def full_graph_stats(key: str, _ds: Dataset) -> dict[str, Any] | None:
    """networkx statistics of the whole graph; None when it is too large to build."""
    from recsys_core.graph import graph_stats, to_networkx

    if _ds.n_interactions > FULL_STATS_LIMIT:
        return None
    return graph_stats(to_networkx(_ds))
