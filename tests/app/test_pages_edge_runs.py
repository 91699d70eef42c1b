"""Pages on edge-case runs: the seed article's 2x2 example, a model without embeddings,
and a run whose folder disappears while the app is running."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import pytest
from apptest_helpers import APP, TIMEOUT, assert_clean, texts
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "sample_data" / "seed_example"


def _seed_runs(home: Path, model_names) -> dict[str, str]:
    from recsys_core.data import load
    from recsys_core.jobs import JobRegistry, train_and_save
    from ui.run_archive import RunArchive

    ds = load(SEED / "interactions.csv", items=SEED / "items.csv", name="seed")
    ds = ds.split("random", test=0.5, valid=0.0, seed=0)  # each user: one train, one test item
    archive, registry, ids = RunArchive(home), JobRegistry(), {}
    for name in model_names:
        job = registry.submit(name, functools.partial(
            train_and_save, ds=ds, dataset_name="seed", model_name=name,
            params={"epochs": 2, "dim": 4} if name == "mf" else {}, store=archive))
        status = registry.wait(job, timeout=300)
        assert status.state == "done", status.error
        ids[name] = status.result.run_id
    return ids


def _open(page: str, monkeypatch, home: Path, run_id: str) -> AppTest:
    monkeypatch.setenv("GRAPHREC_HOME", str(home))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["selected_run"] = run_id
    at.run()
    assert_clean(at)
    at.switch_page(f"pages/{page}.py").run()
    assert_clean(at)
    return at


@pytest.mark.slow
def test_seed_example_lists_only_unseen_items_and_popularity_has_no_embeddings(
        tmp_path, monkeypatch):
    ids = _seed_runs(tmp_path, ["popularity", "mf"])
    for run_id in ids.values():
        at = _open("recommendations", monkeypatch, tmp_path, run_id)
        at.selectbox(key="rec_user").set_value("u1").run()
        assert_clean(at)
        # K is at least 5 but u1 has one training item of two: one item may be recommended.
        assert "**Top 1 for user u1**" in texts(at)
        # the narrator settings, one recommendation, its path graph and the service's curl line
        assert [e.label for e in at.expander][2:] == [
            "Draw the paths behind one recommendation", "Get this list from the HTTP service"]
    at = _open("embeddings", monkeypatch, tmp_path, ids["popularity"])
    assert "Nothing to draw: popularity has no user embeddings" in texts(at)
    assert not at.error


@pytest.mark.slow
def test_run_whose_folder_was_removed_gives_a_message(tmp_path, monkeypatch):
    ids = _seed_runs(tmp_path, ["popularity"])
    _open("recommendations", monkeypatch, tmp_path, ids["popularity"])  # the app opens the store
    gone = _seed_runs(tmp_path, ["popularity"])["popularity"]
    shutil.rmtree(tmp_path / "runs" / gone)  # while the app runs, e.g. by another tool
    at = _open("recommendations", monkeypatch, tmp_path, gone)
    assert [e.value for e in at.error] == [
        f"Run `{gone}` cannot be opened: run {gone!r} is indexed but its folder "
        f"{tmp_path / 'runs' / gone} is missing. Pick another run, or train again on the "
        "Train page."]


@pytest.mark.slow
def test_warming_a_newest_run_without_embeddings_loads_it(tmp_path, monkeypatch):
    from ui import explore, runs
    from ui.run_archive import RunArchive

    run_id = _seed_runs(tmp_path, ["popularity"])["popularity"]
    monkeypatch.setenv("GRAPHREC_HOME", str(tmp_path))
    runs.load_run.clear()
    explore.projection_chart.clear()
    explore.warm_newest_run()  # no map to draw: nothing raised
    monkeypatch.setattr(RunArchive, "load", lambda *a, **k: pytest.fail("loaded twice"))
    model, _ = runs.load_run(run_id)  # from the shared cache
    assert type(model).__name__ == "Popularity"
