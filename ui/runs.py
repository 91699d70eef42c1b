"""Training jobs and saved runs for the train, embeddings, recommendations and evaluation pages.

Training and tuning jobs go to the durable job store (:mod:`ui.jobs_view`):
each runs in its own process and every session sees every job, as it sees
every saved run; a job records the browser session that started it (a
session id kept in ``st.session_state``).
"""

from __future__ import annotations

import uuid
from typing import Any

import pandas as pd
import streamlit as st

from recsys_core.data.dataset import Dataset

#: str: this browser session's id, tagging the jobs it starts.
SESSION_ID = "runs_session_id"
#: str | None: the run the embeddings and recommendations pages open first.
SELECTED_RUN = "selected_run"
#: Models offered on the train page, in this order when registered.
PREFERRED_MODELS = ("lightgcn", "text_lightgcn", "mf", "popularity", "text_knn", "text_sage",
                    "gat", "seed_gnn", "gf_cf", "bspm")


def session_id() -> str:
    return st.session_state.setdefault(SESSION_ID, uuid.uuid4().hex[:12])


def store():
    """The run store under ``$GRAPHREC_HOME`` (default ``./.graphrec``)."""
    from ui.run_archive import default_root

    return _store(str(default_root()))


@st.cache_resource
def _store(root: str):
    from ui.run_archive import RunArchive

    return RunArchive(root)


def trainable_models() -> list[str]:
    from recsys_core import models

    names = models.available()
    return [n for n in PREFERRED_MODELS if n in names] + [n for n in names
                                                          if n not in PREFERRED_MODELS]


def model_summary(name: str) -> str:
    """First sentence of a model class's docstring."""
    from recsys_core import models

    doc = " ".join((models.model_class(name).__doc__ or "").strip().split("\n\n")[0].split())
    # Class docstrings point readers of the code at the module; the page has no module to show.
    return doc.split("; see the module docstring")[0].rstrip(".") + "." if doc else ""


# ------------------------------------------------------------------ training
def submit_training(dataset_name: str, ds: Dataset, model_name: str, params: dict[str, Any]) -> str:
    """Queue a training job in its own worker process (see :mod:`ui.jobs_view`); its id."""
    from ui import jobs_view

    return jobs_view.submit(dataset_name, ds, model_name, params, session_id())


def live_jobs(limit: int = 6) -> None:
    """Every stored job (progress, live curves, who started it, Cancel / Resume) and the
    saved runs below them.

    While a job is queued or running, the panel refreshes itself every second
    without rerunning the rest of the page; the runs table in it shows a
    finished run as soon as it is saved.
    """
    from ui import jobs_view

    @st.fragment(run_every=1.0 if jobs_view.any_active() else None)
    def panel() -> None:
        jobs_view.job_cards(limit)
        st.subheader("Saved runs")
        runs_manager()

    panel()


# ------------------------------------------------------------------ saved runs
def runs_frame() -> pd.DataFrame:
    """Saved runs, newest first: run, dataset, model, key metrics, epochs, duration, date."""
    return store().table()


@st.cache_data(max_entries=64, show_spinner=False)
def run_roc(run_id: str) -> pd.DataFrame | None:
    return store().roc(run_id)


@st.cache_resource(max_entries=6, show_spinner="Loading the run…")
def load_run(run_id: str):
    """``(model, dataset)`` of a saved run; shared read-only by every session."""
    return store().load(run_id)


def open_run(run_id: str):
    """``(model, dataset)`` of a run, or an error on the page and a stop when it cannot be read
    (deleted meanwhile by another session, its folder removed, files damaged)."""
    try:
        return load_run(run_id)
    except (KeyError, OSError, ValueError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        st.error(f"Run `{run_id}` cannot be opened: {message}. Pick another run, or train "
                 "again on the Train page.")
        st.stop()


def delete_runs(run_ids: list[str]) -> None:
    for run_id in run_ids:
        store().delete(run_id)
    load_run.clear()
    run_evaluation.clear()
    run_roc.clear()


@st.cache_data(max_entries=64, show_spinner=False)
def run_evaluation(run_id: str) -> pd.DataFrame:
    """The run's tidy evaluation frame with ``run`` and ``dataset`` columns."""
    return store().evaluation(run_id)


def run_picker(label: str, key: str, runs: pd.DataFrame, index_of: str | None = None) -> str | None:
    """A selectbox over saved runs ("model · dataset · run id"); returns the run id."""
    if runs.empty:
        return None
    ids = runs["run"].tolist()
    labels = dict(zip(ids, runs["model"] + " · " + runs["dataset"] + " · " + runs["run"]))
    wanted = index_of or st.session_state.get(SELECTED_RUN)
    index = ids.index(wanted) if wanted in ids else 0
    return st.selectbox(label, ids, index=index, key=key, format_func=labels.get)


def runs_manager() -> None:
    """The runs table with Load (make it the run other pages open) and Delete."""
    runs = runs_frame()
    if runs.empty:
        st.info("No saved runs yet: train a model above.")
        return
    st.dataframe(runs, hide_index=True, key="runs_table")
    c1, c2 = st.columns(2)
    with c1:
        chosen = run_picker("Run to open on the other pages", "runs_load_pick", runs)
        if st.button("Load run", key="runs_load") and chosen:
            st.session_state[SELECTED_RUN] = chosen
            open_run(chosen)
            st.success(f"Run `{chosen}` is loaded: the Embeddings and Recommendations pages "
                       "open it.")
    with c2:
        doomed = st.multiselect("Runs to delete", runs["run"].tolist(), key="runs_delete_pick")
        if st.button("Delete selected", key="runs_delete", disabled=not doomed):
            delete_runs(doomed)
            st.rerun()
