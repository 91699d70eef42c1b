"""Shared by the train, embeddings, recommendations and evaluation page tests.

A tiny generated dataset (60 users, 48 items) and, once per test process, two
runs trained on it (lightgcn and text_lightgcn, two epochs each) saved in a
temporary ``GRAPHREC_HOME``, so every page test opens real saved runs.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
import time

from apptest_helpers import APP, TIMEOUT, assert_clean
from streamlit.testing.v1 import AppTest

TINY = "tiny"
FAST = {"epochs": 2, "dim": 16, "patience": 0}


@functools.cache
def tiny_dataset():
    from recsys_core.data import load
    from recsys_core.data.synthetic import generate

    syn = generate(seed=0, n_users=60, n_items=48, n_interactions=600)
    ds = load(syn.interactions, items=syn.items, users=syn.users, name=TINY)
    return ds.split("random", test=0.2, valid=0.1, seed=0)


@functools.cache
def trained_home() -> tuple[str, dict[str, str]]:
    """A GRAPHREC_HOME holding a lightgcn and a text_lightgcn run: (home, {model: run id})."""
    import os

    from recsys_core.jobs import JobRegistry, train_and_save
    from ui.run_archive import RunArchive

    home = tempfile.mkdtemp(prefix="graphrec-pages-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    old = os.environ.get("GRAPHREC_HOME")
    os.environ["GRAPHREC_HOME"] = home  # the text cache follows it
    try:
        archive = RunArchive(home)
        registry = JobRegistry()
        ids = {}
        for model in ("lightgcn", "text_lightgcn"):
            job = registry.submit(model, functools.partial(
                train_and_save, ds=tiny_dataset(), dataset_name=TINY, model_name=model,
                params=FAST, store=archive))
            status = registry.wait(job, timeout=600)
            assert status.state == "done", status.error
            ids[model] = status.result.run_id
    finally:
        if old is None:
            os.environ.pop("GRAPHREC_HOME", None)
        else:
            os.environ["GRAPHREC_HOME"] = old
    return home, ids


def open_page(name: str, monkeypatch, home: str, with_tiny: bool = True) -> AppTest:
    """app.py then ``pages/<name>.py`` with GRAPHREC_HOME at ``home`` (and the tiny set loaded)."""
    monkeypatch.setenv("GRAPHREC_HOME", home)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if with_tiny:
        at.session_state["datasets"] = {TINY: tiny_dataset()}
        at.session_state["current_dataset"] = TINY
    at.run()
    assert_clean(at)
    at.switch_page(f"pages/{name}.py").run()
    assert_clean(at)
    return at


def run_until(at: AppTest, done, timeout: float = 300.0, pause: float = 1.0) -> AppTest:
    """Rerun the page until ``done(at)`` holds (background work shows up on reruns)."""
    deadline = time.monotonic() + timeout
    while True:
        at.run()
        assert_clean(at)
        if done(at):
            return at
        if time.monotonic() > deadline:
            raise AssertionError("the page did not reach the expected state in time")
        time.sleep(pause)
