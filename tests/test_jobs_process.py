"""Durable jobs with real worker processes: kill -9 and resume, cancel, queue, independence.

Every wait has a timeout; each test uses its own GRAPHREC_HOME.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recsys_core.data.synthetic import generate
from recsys_core.jobs_store import (
    CANCELLED,
    DONE,
    INTERRUPTED,
    QUEUED,
    RUNNING,
    JobError,
    JobStore,
    pid_alive,
)
from recsys_core.runs import RunStore

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
# Long enough to kill mid-way on a fast machine (validation, the slow part, every 20 epochs).
LONG = {"epochs": 400, "eval_every": 20, "dim": 16, "patience": 0, "refit": False}
SHORT = {"epochs": 2, "dim": 8, "patience": 0, "refit": False}


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHREC_HOME", str(tmp_path))
    monkeypatch.setenv("GRAPHREC_THREADS", "1")  # same threads in worker and reference fit
    return tmp_path


@pytest.fixture(scope="module")
def ds():
    syn = generate(seed=1, n_users=150, n_items=100, n_interactions=3000)
    return syn.to_dataset("small").split("random", test=0.2, valid=0.1, seed=0)


def _until(store, job_id, test, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = store.get(job_id)
        if test(record):
            return record
        time.sleep(0.1)
    raise AssertionError(f"timed out; job is {store.get(job_id)}\n{store.log(job_id)}")


def test_kill_9_mid_training_is_interrupted_then_resume_finishes_the_same_run(home, ds):
    from recsys_core.evaluate import ranking_metrics
    from recsys_core.models import make

    store = JobStore(home)
    job_id = store.submit(ds, "small", "lightgcn", LONG)
    running = _until(store, job_id, lambda r: r.status == RUNNING and r.epoch >= 3)
    os.kill(running.pid, signal.SIGKILL)
    killed = time.monotonic()
    interrupted = _until(store, job_id, lambda r: r.status != RUNNING, timeout=10)
    assert time.monotonic() - killed < 10
    assert interrupted.status == INTERRUPTED
    assert interrupted.epoch >= 3 and f"after epoch {interrupted.epoch}" in interrupted.message
    assert store.resume(job_id).status in (QUEUED, RUNNING)
    with pytest.raises(JobError, match="only an interrupted or failed job can be resumed"):
        store.resume(job_id)
    done = store.wait(job_id, timeout=180)
    assert done.status == DONE, store.log(job_id)
    assert done.attempts == 2 and done.resumed_from >= interrupted.epoch - 1
    assert [e["epoch"] for e in done.events] == list(range(1, 401))
    assert "resuming from epoch" in store.log(job_id)
    runs = RunStore(home)
    config = runs.config(done.run_id)
    assert config["train"]["job_"] == {"id": job_id, "attempts": 2, "resumed": True,
                                      "resumed_from_epoch": done.resumed_from}
    model, fitted = runs.load(done.run_id)
    test = ranking_metrics(model, fitted, part="test", ks=(20,))
    assert 0.0 < test["recall@20"] <= 1.0
    assert test["recall@20"] == pytest.approx(runs.get(done.run_id)["metrics"]["recall@20"])
    # Same quality as a fit that was never interrupted: with RNG states restored, the same.
    reference = make("lightgcn", **LONG).fit(ds)
    assert [h["loss"] for h in config["train"]["history_"]] == pytest.approx(
        [h["loss"] for h in reference.history_], rel=1e-5)
    assert test["recall@20"] == pytest.approx(
        ranking_metrics(reference, reference.dataset_, part="test", ks=(20,))["recall@20"],
        abs=1e-6)
    assert not list(store.checkpoint_dir(job_id).glob("*.pt"))  # cleared once done


def test_cancel_kills_the_worker_and_leaves_no_run(home, ds):
    store = JobStore(home)
    job_id = store.submit(ds, "small", "lightgcn", {**LONG, "epochs": 100_000})
    # An epoch is in the row before its checkpoint is written: two epochs, one checkpoint.
    running = _until(store, job_id, lambda r: r.status == RUNNING and r.epoch >= 2)
    assert list(store.checkpoint_dir(job_id).glob("*.pt"))
    # The worker yields the cores to interactive work: the lowest priority there is.
    assert os.getpriority(os.PRIO_PROCESS, running.pid) == 19
    out = subprocess.run([sys.executable, "-m", "recsys_core", "jobs", "cancel", job_id,
                          "--json"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["status"] == CANCELLED
    assert not pid_alive(running.pid)
    assert store.get(job_id).status == CANCELLED
    assert RunStore(home).list().empty
    assert not list(store.checkpoint_dir(job_id).glob("*.pt"))
    with pytest.raises(JobError, match="already cancelled"):
        store.cancel(job_id)


def test_queue_limit_one_runs_two_jobs_one_after_another(home, ds):
    store = JobStore(home, max_running=1)
    first = store.submit(ds, "small", "mf", SHORT)
    second = store.submit(ds, "small", "lightgcn", SHORT)
    waiting = store.get(second)
    assert store.get(first).status == RUNNING
    assert waiting.status == QUEUED and waiting.position == 1 and waiting.pid is None
    a, b = store.wait(first, timeout=120), store.wait(second, timeout=120)
    assert a.status == DONE and b.status == DONE, store.log(second)
    assert b.started >= a.finished - 0.5  # the second started when the first ended
    assert sorted(RunStore(home).list()["run_id"]) == sorted([a.run_id, b.run_id])
    # One dataset, persisted once, by content.
    assert len(list((home / "datasets").iterdir())) == 1


def test_job_outlives_the_process_that_submitted_it(home, ds):
    ds_dir = home / "input"
    from recsys_core.runs import write_dataset

    write_dataset(ds, ds_dir)
    script = (
        "import sys, time\n"
        "from recsys_core.jobs_store import JobStore, origin_of\n"
        "from recsys_core.runs import read_dataset\n"
        f"store = JobStore({str(home)!r})\n"
        f"job = store.submit(read_dataset(__import__('pathlib').Path({str(ds_dir)!r})), 'small',"
        f" 'lightgcn', {dict(SHORT, epochs=6)!r}, origin=origin_of('browser', 'abc123'))\n"
        "print(job, flush=True)\n"
        "time.sleep(600)\n")
    submitter = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                 text=True, cwd=ROOT)
    try:
        job_id = submitter.stdout.readline().strip()
        assert job_id.startswith("job-")
        fresh = JobStore(home)  # a new process's view, e.g. a restarted dashboard server
        running = _until(fresh, job_id, lambda r: r.status == RUNNING and r.pid)
        submitter.kill()
        submitter.wait(10)
        done = JobStore(home).wait(job_id, timeout=120)
    finally:
        submitter.kill()
    assert done.status == DONE, JobStore(home).log(job_id)
    assert done.pid == running.pid and done.attempts == 1
    assert done.origin["via"] == "browser" and done.origin["pid"] == submitter.pid
    assert done.started_by.startswith("browser session abc123")
    assert RunStore(home).list()["run_id"].tolist() == [done.run_id]


def test_cli_background_returns_at_once_and_jobs_commands_follow_it(home):
    cmd = [sys.executable, "-m", "recsys_core"]
    sample = ROOT / "sample_data"
    out = subprocess.run([*cmd, "train", str(sample / "interactions.csv"), "--items",
                          str(sample / "items.csv"), "--epochs", "2", "--dim", "8",
                          "--background", "--json"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    submitted = json.loads(out.stdout)
    assert submitted["ok"] and submitted["status"] in (QUEUED, RUNNING)
    assert submitted["started_by"].startswith("CLI")
    job_id = submitted["job_id"]
    listed = json.loads(subprocess.run([*cmd, "jobs", "--json"], capture_output=True, text=True,
                                       timeout=60, cwd=ROOT).stdout)
    assert [j["job_id"] for j in listed] == [job_id]
    waited = subprocess.run([*cmd, "jobs", "wait", job_id, "--timeout", "150"],
                            capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert waited.returncode == 0 and f"{job_id}: done" in waited.stdout, waited.stdout
    log = subprocess.run([*cmd, "jobs", "log", job_id], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert "done: run " in log.stdout
    bad = subprocess.run([*cmd, "jobs", "resume", job_id], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert bad.returncode == 2 and "is done; only an interrupted" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_tune_job_runs_in_a_worker_saves_the_refit_and_tags_study_and_run(home, ds):
    store = JobStore(home)
    job_id = store.submit(ds, "small", "mf", {"dim": 8, "epochs": 6}, kind="tune",
                          options={"budget_min": 2.0, "trials": 2, "seed": 0})
    record = store.get(job_id, refresh=False)
    assert record.kind == "tune" and record.label == "tune mf on small"
    assert record.options == {"budget_min": 2.0, "trials": 2, "seed": 0}
    done = store.wait(job_id, timeout=240)
    assert done.status == DONE, store.log(job_id)
    assert done.pid != os.getpid() and "of search and refit" in done.message
    runs = RunStore(home)
    studies = runs.studies()
    assert len(studies) == 1 and studies.loc[0, "status"] == "finished"
    assert studies.loc[0, "info"]["job_id"] == job_id
    assert studies.loc[0, "run_id"] == done.run_id
    assert len(runs.trials(studies.loc[0, "study_id"])) == 2
    train = runs.config(done.run_id)["train"]
    assert train["tune_"]["study_id"] == studies.loc[0, "study_id"]
    assert train["job_"]["id"] == job_id
    # The refit's epochs reached the job's chart.
    assert done.events and done.events[-1]["epoch"] >= 1


def test_tune_job_bad_options_are_refused_with_their_name(home, ds):
    store = JobStore(home)
    with pytest.raises(JobError, match="budget_min must be positive"):
        store.submit(ds, "small", "mf", {}, kind="tune", options={"budget_min": 0})
    with pytest.raises(JobError, match="unexpected keyword argument 'budget'"):
        store.submit(ds, "small", "mf", {}, kind="tune", options={"budget": 1})
    with pytest.raises(JobError, match="unknown job kind 'sweep'"):
        store.submit(ds, "small", "mf", {}, kind="sweep")
    with pytest.raises(JobError, match="a train job takes no options"):
        store.submit(ds, "small", "mf", {}, options={"budget_min": 1})
    assert store.list() == []


def test_cancelled_tune_job_leaves_no_run_and_its_study_cancelled(home, ds):
    store = JobStore(home)
    job_id = store.submit(ds, "small", "lightgcn", LONG, kind="tune",
                          options={"budget_min": 5.0, "seed": 0})
    _until(store, job_id, lambda r: r.stage == "tuning" and r.progress > 0)
    assert store.cancel(job_id).status == CANCELLED
    runs = RunStore(home)
    assert runs.list().empty
    studies = runs.studies()
    assert list(studies["status"]) == ["cancelled"]
