"""Training jobs on the Train page: submit through the durable job store, show every job.

Jobs are rows of the run store's database, each run by its own worker
process (:mod:`recsys_core.jobs_store`), so the cards below are read from
disk on every refresh: a browser reload, a second browser or a restarted
server finds the same jobs, whoever started them (a browser session or the
command line). The job store is a shared workspace like the run store;
uploads and selections stay with their browser session.
"""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from recsys_core.data.dataset import Dataset
from recsys_core.jobs_store import (
    CANCELLED,
    DONE,
    FAILED,
    INTERRUPTED,
    QUEUED,
    RUNNING,
    JobError,
    JobRecord,
    JobStore,
    origin_of,
)
from recsys_core.viz.eval_charts import training_curves


def job_store() -> JobStore:
    """The job store under ``$GRAPHREC_HOME`` (default ``./.graphrec``)."""
    from recsys_core.runs import default_root

    return _job_store(str(default_root()))


@st.cache_resource
def _job_store(root: str) -> JobStore:
    return JobStore(root)


def submit(dataset_name: str, ds: Dataset, model_name: str, params: dict[str, Any],
           session: str, kind: str = "train", options: dict[str, Any] | None = None) -> str:
    """Queue a training (or tuning) job started from this browser session; its id."""
    return job_store().submit(ds, dataset_name, model_name, params,
                              origin=origin_of("browser", session), kind=kind, options=options)


def any_active() -> bool:
    return any(r.status in (QUEUED, RUNNING) for r in job_store().list())


def job_cards(limit: int = 8) -> None:
    """The newest ``limit`` jobs of the store, newest first, as cards."""
    records = job_store().list()
    if not records:
        return
    st.subheader("Jobs")
    st.caption("Every training and tuning job of this workspace, whoever started it; each runs in its "
               "own process and keeps going when this page, the browser or the server closes.")
    for record in reversed(records[-limit:]):
        _card(record)


def _act(action: str, job_id: str) -> None:
    try:
        getattr(job_store(), action)(job_id)
    except (KeyError, JobError) as err:
        st.toast(err.args[0] if err.args else str(err))


def _card(r: JobRecord) -> None:
    with st.container(border=True):
        head, button = st.columns([5, 1])
        where = f" · queue position {r.position}" if r.status == QUEUED and r.position else ""
        head.markdown(f"**{r.label}** · {r.status}{where} · {r.elapsed:.0f} s")
        head.caption(f"Started by {r.started_by} at "
                     f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(r.created))} · job "
                     f"`{r.job_id}`" + (f" · worker pid {r.pid}" if r.pid else ""))
        if r.status in (QUEUED, RUNNING):
            button.button("Cancel", key=f"cancel_{r.job_id}", on_click=_act,
                          args=("cancel", r.job_id),
                          help="Stop the worker now; nothing is saved.")
        elif r.status in (INTERRUPTED, FAILED):
            button.button("Resume", key=f"resume_{r.job_id}", on_click=_act,
                          args=("resume", r.job_id),
                          help="Search again in a new worker." if r.kind == "tune" else
                          "Continue from the last epoch checkpoint in a new worker.")
        progress = 1.0 if r.status == DONE else r.progress
        st.progress(min(max(progress, 0.0), 1.0), text=f"{r.stage}: {r.message}")
        if r.events:
            st.plotly_chart(training_curves(r.history(), title=r.label),
                            key=f"curve_{r.job_id}", config={"displaylogo": False})
        if r.status == FAILED:
            st.error(f"{'Tuning' if r.kind == 'tune' else 'Training'} failed: {r.message}. "
                     f"The worker's log: `python -m recsys_core "
                     f"jobs log {r.job_id}`.")
        elif r.status == INTERRUPTED:
            st.warning(f"{r.message}.")
        elif r.status == DONE and r.run_id:
            resumed = (f" It was resumed from epoch {r.resumed_from}."
                       if r.resumed_from is not None else "")
            st.success(f"Saved as run `{r.run_id}` ({r.message}).{resumed}")
        elif r.status == CANCELLED:
            st.caption("Cancelled: nothing was saved.")
