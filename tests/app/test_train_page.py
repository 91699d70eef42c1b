"""Train page: pick models, train in the background with progress, cancel, manage saved runs."""

from __future__ import annotations

import pytest
from apptest_helpers import texts
from trained_runs import TINY, open_page, run_until

from recsys_core.runs import RunStore


def _job_states(at):
    return [m.value for m in at.markdown if " · " in str(m.value) and m.value.startswith("**")]


def _saved_rows(at):
    tables = [d.value for d in at.dataframe if {"run", "epochs"} <= set(d.value.columns)]
    return tables[0] if tables else None


@pytest.mark.slow
def test_train_shows_progress_saves_and_deletes(monkeypatch, tmp_path):
    at = open_page("train", monkeypatch, str(tmp_path))
    assert at.selectbox(key="train_dataset").value == TINY
    assert "No saved runs yet" in texts(at)
    at.multiselect(key="train_models").set_value(["lightgcn"]).run()
    # Every hyperparameter has a widget with help text; the page's defaults are short runs.
    epochs = at.number_input(key="train_lightgcn_epochs")
    assert epochs.value == 30 and epochs.help
    epochs.set_value(2)
    at.number_input(key="train_lightgcn_dim").set_value(16)
    at.button(key="train_start").click().run()
    assert len(at.get("progress")) == 1
    at = run_until(at, lambda a: "Saved as run" in texts(a))
    assert any("lightgcn on tiny** · done" in s for s in _job_states(at))
    rows = _saved_rows(at)
    assert rows["model"].tolist() == ["lightgcn"] and rows["dataset"].tolist() == [TINY]
    assert rows["epochs"].tolist() == [2]
    assert 0.0 <= rows["recall@20"].iloc[0] <= 1.0
    run_id = rows["run"].iloc[0]
    # Load makes it the run other pages open; delete removes it from disk.
    at.button(key="runs_load").click().run()
    assert at.session_state["selected_run"] == run_id
    at.multiselect(key="runs_delete_pick").set_value([run_id]).run()
    at.button(key="runs_delete").click().run()
    assert "No saved runs yet" in texts(at)
    assert RunStore(tmp_path).list().empty


@pytest.mark.slow
def test_cancel_stops_cleanly_and_saves_nothing(monkeypatch, tmp_path):
    at = open_page("train", monkeypatch, str(tmp_path))
    at.multiselect(key="train_models").set_value(["lightgcn"]).run()
    at.number_input(key="train_lightgcn_epochs").set_value(500)
    at.number_input(key="train_lightgcn_patience").set_value(0)
    at.number_input(key="train_lightgcn_dim").set_value(16)
    at.button(key="train_start").click().run()
    at = run_until(at, lambda a: any(b.key.startswith("cancel_") for b in a.button)
                   and "/500" in str([p.proto.text for p in a.get("progress")]))
    next(b for b in at.button if b.key.startswith("cancel_")).click().run()
    at = run_until(at, lambda a: any("· cancelled" in s for s in _job_states(a)))
    assert "No saved runs yet" in texts(at)
    assert RunStore(tmp_path).list().empty


def test_form_has_a_widget_with_help_for_every_parameter(monkeypatch, tmp_path):
    at = open_page("train", monkeypatch, str(tmp_path))
    at.multiselect(key="train_models").set_value(["lightgcn", "text_lightgcn"]).run()
    for model in ("lightgcn", "text_lightgcn"):
        keys = {w.key: w for w in [*at.number_input, *at.text_input, *at.checkbox]
                if w.key and w.key.startswith(f"train_{model}_")}
        assert {f"train_{model}_{p}" for p in ("dim", "layers", "lr", "epochs", "reg")} <= set(keys)
        assert all(w.help for w in keys.values())
    assert "text_model" in str([w.key for w in at.text_input])
    assert not at.button(key="train_start").disabled
