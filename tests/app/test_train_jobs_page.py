"""Train page and the durable job store: jobs from elsewhere, interrupted jobs, Resume."""

from __future__ import annotations

import os
import signal
import time

import pytest
from apptest_helpers import texts
from trained_runs import TINY, open_page, run_until, tiny_dataset

from recsys_core.jobs_store import INTERRUPTED, RUNNING, JobStore, origin_of


@pytest.mark.slow
def test_page_finds_a_cli_job_after_its_worker_died_and_resumes_it(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHREC_THREADS", "1")
    store = JobStore(tmp_path)
    job_id = store.submit(tiny_dataset(), TINY, "lightgcn",
                          {"epochs": 300, "dim": 8, "patience": 0, "refit": False},
                          origin=origin_of("cli"))
    deadline = time.monotonic() + 120
    while (r := store.get(job_id)).status != RUNNING or r.epoch < 2:
        assert time.monotonic() < deadline and not r.is_finished, store.log(job_id)
        time.sleep(0.1)
    os.kill(r.pid, signal.SIGKILL)
    # A page opened afterwards (a new browser session, or a restarted server) shows it.
    at = open_page("train", monkeypatch, str(tmp_path))
    at = run_until(at, lambda a: f"lightgcn on {TINY}** · {INTERRUPTED}" in texts(a),
                   timeout=15, pause=0.5)
    assert "Started by CLI · " in texts(at) and job_id in texts(at)
    assert not [b for b in at.button if b.key == f"cancel_{job_id}"]
    at.button(key=f"resume_{job_id}").click().run()
    at = run_until(at, lambda a: "Saved as run" in texts(a), timeout=180)
    done = store.get(job_id)
    assert done.status == "done" and done.attempts == 2
    assert f"It was resumed from epoch {done.resumed_from}." in texts(at)
    assert done.resumed_from >= 1
    runs = [d.value for d in at.dataframe if "run" in d.value.columns][0]
    assert runs["run"].tolist() == [done.run_id] and runs["epochs"].tolist() == [300]
