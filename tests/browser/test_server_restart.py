"""A training job outlives the dashboard's server: start it in the browser, kill -9 the
server, see the worker go on, restart the server and find the job on the reloaded Train page
until it is saved.
"""

from __future__ import annotations

import os
import re
import signal
import time

import pytest
from browser_harness import (
    StreamlitServer,
    fill_number,
    go_to,
    open_app,
    open_hyperparameters,
    wait_idle,
)

from recsys_core.jobs_store import DONE, RUNNING, JobStore, pid_alive
from recsys_core.runs import RunStore

pytestmark = pytest.mark.browser

EPOCHS = 500  # 80-90 s on the sample with one thread: outlives one server and the start of the next


def _until(test, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = test()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_job_keeps_running_when_the_server_is_killed_and_the_new_server_shows_it(
        new_page, tmp_path):
    env = {"GRAPHREC_HOME": str(tmp_path), "GRAPHREC_THREADS": "1"}
    store = JobStore(tmp_path)

    # 1. Start a lightgcn job from the first server's Train page.
    first = StreamlitServer(env=env).start()
    try:
        page = new_page()
        open_app(page, first.url)
        go_to(page, "Train")
        open_hyperparameters(page, "lightgcn")
        fill_number(page, "epochs", EPOCHS)
        fill_number(page, "patience", 0)  # every epoch runs, so the job cannot end early
        page.get_by_role("checkbox", name="refit").uncheck(force=True)
        wait_idle(page)
        page.get_by_role("button", name="Train", exact=True).click()
        job = _until(lambda: next((r for r in store.list() if r.status == RUNNING and r.epoch >= 2),
                                  None), 120, "the job to run two epochs")
        assert job.started_by.startswith("browser")
        page.get_by_text(job.job_id).first.wait_for(timeout=30_000)

        # 2. Kill the server (its whole process group) without warning.
        os.killpg(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=10)
    finally:
        first.stop()
    killed_at_epoch = store.get(job.job_id).epoch
    assert pid_alive(job.pid), "the worker died with the server"
    # The worker goes on training, and its heartbeat keeps it from being marked interrupted.
    later = _until(lambda: (r := store.get(job.job_id)).epoch > killed_at_epoch + 1 and r,
                   120, "the job to train on without the server")
    assert later.status == RUNNING and later.pid == job.pid

    # 3. The server restarted on the same port; the same tab, reloaded, lists the job on the
    # Train page and follows it to the end.
    with StreamlitServer(port=first.port, env=env):
        page.reload(wait_until="domcontentloaded")
        wait_idle(page, 60)
        assert page.url.endswith("/train")
        # The job's card: the innermost block holding both its id and its progress bar.
        card = page.locator('[data-testid="stVerticalBlock"]').filter(
            has_text=job.job_id).filter(has=page.locator('[data-testid="stProgress"]')).last
        card.wait_for(timeout=30_000)
        head = card.inner_text()
        assert store.get(job.job_id).status == RUNNING, "the job ended before the new server came up"
        assert f"worker pid {job.pid}" in head and "Started by browser" in head
        assert re.search(r"\blightgcn\b.* · running · ", head), head
        card.get_by_text(re.compile(r"^Saved as run ")).wait_for(timeout=300_000)
        done = store.get(job.job_id)
        assert done.status == DONE and done.attempts == 1 and done.resumed_from is None
        assert done.run_id in card.inner_text()
        assert [e["epoch"] for e in done.events] == list(range(1, EPOCHS + 1))
        assert RunStore(tmp_path).get(done.run_id)["model"] == "lightgcn"
