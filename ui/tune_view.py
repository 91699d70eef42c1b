"""Tuning on the Train page (a budgeted search run as a durable background job) and the
study view of the Evaluation page."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from recsys_core.data.dataset import Dataset
from recsys_core.viz import tune_charts
from ui import runs

#: The Train page's two modes.
MODES = ("Train", "Tune")
MODE_HELP = ("Train: one run with the settings below. Tune: search each model's "
             "hyperparameters on a validation part of the training data within a time budget, "
             "then retrain the best setting on all training data and save that run (the "
             "settings below stay fixed unless the search draws them).")


def mode_inputs() -> tuple[str, float]:
    """The Train / Tune toggle and, for Tune, the budget in minutes per model."""
    c1, c2 = st.columns([2, 1])
    mode = c1.segmented_control("Mode", MODES, default=MODES[0], key="train_mode",
                                help=MODE_HELP) or MODES[0]
    budget = 5.0
    if mode == "Tune":
        budget = float(c2.number_input(
            "Budget per model (minutes)", min_value=0.1, max_value=240.0, value=5.0, step=0.5,
            key="tune_budget", help="Wall-clock time for the search; the final retraining on "
                                    "all training data comes after it."))
    return mode, budget


def submit_tuning(dataset_name: str, ds: Dataset, model_name: str, params: dict[str, Any],
                  budget_min: float) -> str:
    """Queue a tuning job in its own worker process, like a training job; its id.

    Its card shows the search's progress, then the refit's epochs.
    """
    from ui import jobs_view

    return jobs_view.submit(dataset_name, ds, model_name, params, runs.session_id(),
                            kind="tune", options={"budget_min": budget_min})


# ------------------------------------------------------------------ studies
def studies_frame() -> pd.DataFrame:
    """Finished and running studies, newest first."""
    return runs.store().store.studies()


def studies_panel() -> None:
    """Pick a study; its trials as a scatter (value against one parameter) or parallel
    coordinates, and as a table."""
    studies = studies_frame()
    if studies.empty:
        st.info("No tuning studies yet: choose Tune on the Train page.")
        return
    labels = dict(zip(studies["study_id"], studies["model"] + " · " + studies["dataset_name"]
                      + " · " + studies["study_id"]))
    study = st.selectbox("Study", studies["study_id"].tolist(), key="eval_study",
                         format_func=labels.get)
    row = studies.set_index("study_id").loc[study]
    trials = runs.store().store.trials(study)
    if trials.empty:
        st.info("This study has no finished trial yet.")
        return
    best = "–" if pd.isna(row["best_value"]) else f"{row['best_value']:.4f}"
    st.caption(f"{len(trials)} trials, status {row['status']}, best validation NDCG@20 {best}"
               + (f", refit as run `{row['run_id']}`" if row["run_id"] else ""))
    names = tune_charts.param_names(trials)
    view = st.radio("Chart", ["Value against a parameter", "Parallel coordinates"],
                    horizontal=True, key="eval_study_view")
    if view == "Parallel coordinates" or not names:
        fig = tune_charts.parallel_coordinates(trials, title=labels[study])
    else:
        param = st.selectbox("Parameter", names, key="eval_study_param")
        fig = tune_charts.value_vs_param(trials, param, title=labels[study])
    st.plotly_chart(fig, key="eval_study_chart", config={"displaylogo": False})
    st.dataframe(tune_charts.trial_table(trials), hide_index=True, key="eval_study_table")
