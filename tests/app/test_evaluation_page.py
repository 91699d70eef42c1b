"""Evaluation page: charts of every saved run, both kinds of metrics labelled, CSV table."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from apptest_helpers import texts
from trained_runs import open_page, trained_home


def _values(data):
    """Plotly JSON arrays: a list, or a typed array {"dtype": ..., "bdata": base64}."""
    if isinstance(data, dict):
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).tolist()
    return list(data)


def open_tab(at, label: str) -> None:
    at.session_state["eval_view"] = label
    at.run()


def _chart(at, key):
    chart = next(c for c in at.get("plotly_chart") if key in c.proto.id)
    return json.loads(chart.proto.spec)


@pytest.mark.slow
def test_charts_compare_runs_and_label_protocols(monkeypatch):
    home, ids = trained_home()
    at = open_page("evaluation", monkeypatch, home)
    assert set(at.multiselect(key="eval_runs").value) == set(ids.values())
    bar = _chart(at, "eval_recall_at_20")["data"][0]
    assert sorted(bar["x"]) == ["lightgcn", "text_lightgcn"]
    lines = _chart(at, "eval_recall_ndcg_vs_k")["data"]  # the first tab, open by default
    assert {t["name"] for t in lines} == {"lightgcn", "text_lightgcn"}
    # Closed tabs are not computed.
    assert not any("eval_roc_curves" in c.proto.id for c in at.get("plotly_chart"))
    assert not any("protocol" in d.value.columns for d in at.dataframe)
    # The bar heights are the runs' stored recall@20.
    open_tab(at, "All numbers")
    table = next(d.value for d in at.dataframe if {"protocol", "value", "run"} <= set(d.value.columns))
    stored = table[(table["metric"] == "recall") & (table["k"] == 20) & (table["segment"] == "all")
                   & (table["protocol"] == "full ranking")].set_index("model")["value"]
    heights = dict(zip(bar["x"], _values(bar["y"])))
    assert heights["lightgcn"] == pytest.approx(stored["lightgcn"])
    assert heights["text_lightgcn"] == pytest.approx(stored["text_lightgcn"])
    open_tab(at, "Classification metrics and ROC")
    roc = _chart(at, "eval_roc_curves")["data"]
    assert [t["name"].split(" (AUC")[0] for t in roc] == ["lightgcn", "text_lightgcn", "chance"] \
        or [t["name"].split(" (AUC")[0] for t in roc] == ["text_lightgcn", "lightgcn", "chance"]
    body = texts(at)
    assert "Full ranking: every item is scored" in body
    assert "Classification: each held-out positive is paired" in body
    cls = next(d.value for d in at.dataframe if "auc" in d.value.columns)
    assert set(cls["protocol"]) == {"sampled negatives 1:1"}
    assert cls["auc"].between(0, 1).all()
    # PNG through the toolbar, a CSV of the tidy table.
    chart = next(c for c in at.get("plotly_chart") if "eval_recall_at_20" in c.proto.id)
    assert json.loads(chart.proto.config)["toImageButtonOptions"]["format"] == "png"
    assert list(table.columns) == ["model", "metric", "k", "segment", "protocol", "value", "run",
                                   "dataset"]
    assert at.get("download_button")


@pytest.mark.slow
def test_metric_k_and_segment_choices(monkeypatch):
    home, ids = trained_home()
    at = open_page("evaluation", monkeypatch, home)
    at.selectbox(key="eval_metric").set_value("ndcg").run()
    at.selectbox(key="eval_k").set_value(5).run()
    assert any("eval_ndcg_at_5" in c.proto.id for c in at.get("plotly_chart"))
    open_tab(at, "By segment")
    assert any("eval_ndcg_by_segment" in c.proto.id for c in at.get("plotly_chart"))
    segments = at.selectbox(key="eval_segment").options
    assert segments[0] == "all" and any(s.startswith("activity Q") for s in segments)
    at.multiselect(key="eval_runs").set_value([ids["lightgcn"]]).run()
    bar = _chart(at, "eval_ndcg_at_5")["data"][0]
    assert bar["x"] == ["lightgcn"]
    at.multiselect(key="eval_runs").set_value([]).run()
    assert "Choose at least one run" in texts(at)


def test_without_saved_runs_points_to_the_train_page(monkeypatch, tmp_path):
    at = open_page("evaluation", monkeypatch, str(tmp_path))
    assert "No saved runs yet: train a model on the Train page." in texts(at)


def test_evaluation_charts_are_shared_and_follow_the_frames_content(monkeypatch):
    import pandas as pd

    from recsys_core.viz import eval_charts
    from ui import cache

    built = []
    monkeypatch.setattr(eval_charts, "metric_bar",
                        lambda frame, **params: built.append((frame["value"].sum(), params))
                        or object())
    cache.evaluation_chart.clear()
    frame = pd.DataFrame({"run": ["a", "b"], "value": [0.25, 0.5]})
    first = cache.evaluation_chart("metric_bar", frame, metric="recall", k=20)
    assert cache.evaluation_chart("metric_bar", frame.copy(), metric="recall", k=20) is first
    assert built == [(0.75, {"metric": "recall", "k": 20})]  # built once for both sessions
    cache.evaluation_chart("metric_bar", frame, metric="ndcg", k=20)
    cache.evaluation_chart("metric_bar", frame.assign(value=[0.25, 0.75]), metric="recall", k=20)
    assert built[1:] == [(0.75, {"metric": "ndcg", "k": 20}), (1.0, {"metric": "recall", "k": 20})]
    cache.evaluation_chart.clear()
