"""Tune on the Train page (a durable background job with progress, then a saved refit run) and
the study's trials on the Evaluation page."""

from __future__ import annotations

import json
import os

import pytest
from apptest_helpers import texts
from trained_runs import open_page, run_until

from recsys_core.jobs_store import JobStore
from recsys_core.runs import RunStore


@pytest.mark.slow
def test_tune_runs_a_study_saves_the_refit_and_shows_the_trials(monkeypatch, tmp_path):
    at = open_page("train", monkeypatch, str(tmp_path))
    at.multiselect(key="train_models").set_value(["gf_cf"]).run()
    at.session_state["train_mode"] = "Tune"
    at.run()
    at.number_input(key="tune_budget").set_value(0.1).run()
    assert at.button(key="train_start").label == "Tune"
    at.button(key="train_start").click().run()
    assert len(at.get("progress")) == 1
    at = run_until(at, lambda a: "Saved as run" in texts(a))
    # The search ran as a durable job in its own worker process, started from this browser.
    (job,) = JobStore(tmp_path).list()
    assert job.kind == "tune" and job.status == "done" and job.options["budget_min"] == 0.1
    assert job.origin["via"] == "browser" and job.pid != os.getpid()
    store = RunStore(tmp_path)
    studies = store.studies()
    assert len(studies) == 1 and studies.loc[0, "status"] == "finished"
    trials = store.trials(studies.loc[0, "study_id"])
    assert len(trials) >= 1 and (trials["state"] == "complete").all()
    run_id = studies.loc[0, "run_id"]
    assert store.config(run_id)["train"]["tune_"]["study_id"] == studies.loc[0, "study_id"]

    at = open_page("evaluation", monkeypatch, str(tmp_path))
    at.session_state["eval_view"] = "Tuning studies"
    at.run()
    assert at.selectbox(key="eval_study").value == studies.loc[0, "study_id"]
    chart = next(c for c in at.get("plotly_chart") if "eval_study_chart" in c.proto.id)
    points = [t for t in json.loads(chart.proto.spec)["data"] if t.get("name") == "complete"]
    assert len(points) == 1 and points[0]["y"]
    at.radio(key="eval_study_view").set_value("Parallel coordinates").run()
    chart = next(c for c in at.get("plotly_chart") if "eval_study_chart" in c.proto.id)
    assert json.loads(chart.proto.spec)["data"][0]["type"] == "parcoords"


@pytest.mark.slow
def test_evaluation_page_without_studies_points_to_tune(monkeypatch):
    from trained_runs import trained_home

    home, _ = trained_home()
    at = open_page("evaluation", monkeypatch, home)
    at.session_state["eval_view"] = "Tuning studies"
    at.run()
    assert "No tuning studies yet" in texts(at)
