"""Embeddings page: projections of a saved run, colouring, neighbours, text/ID/fused views."""

from __future__ import annotations

import numpy as np
import pytest
from apptest_helpers import texts
from trained_runs import open_page, trained_home


def _scatter_points(at, key="emb_chart"):
    chart = next(c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id)
    import json

    fig = json.loads(chart.proto.spec)
    return fig["data"]


@pytest.mark.slow
def test_projection_colours_and_neighbours(monkeypatch):
    home, ids = trained_home()
    at = open_page("embeddings", monkeypatch, home)
    at.selectbox(key="emb_run").set_value(ids["lightgcn"]).run()
    assert "PCA of all 108 points." in texts(at)  # 60 users + 48 items
    traces = _scatter_points(at)
    assert sorted(t["name"] for t in traces) == ["item", "user"]
    assert sum(len(t["hovertext"]) for t in traces) == 108
    at.selectbox(key="emb_color").set_value("community").run()
    assert "Louvain communities of the whole training graph" in texts(at)
    assert any(t["name"].startswith("community") for t in _scatter_points(at))
    # Neighbours of the first item, among items, by cosine similarity.
    at.selectbox(key="emb_nodes").set_value(("item",)).run()
    at.selectbox(key="emb_node").set_value(60).run()
    near = next(d.value for d in at.dataframe if "cosine" in d.value.columns)
    assert len(near) == 10 and near["kind"].eq("item").all()
    assert np.all(np.diff(near["cosine"].to_numpy()) <= 1e-9)
    assert not any("emb_views" in c.proto.id for c in at.get("plotly_chart"))  # closed tab
    at.session_state["emb_view"] = "What the language model adds"
    at.run()
    assert "no text features" in texts(at)


@pytest.mark.slow
def test_tsne_is_cached_and_text_model_shows_three_views(monkeypatch):
    home, ids = trained_home()
    at = open_page("embeddings", monkeypatch, home)
    at.selectbox(key="emb_run").set_value(ids["text_lightgcn"]).run()
    at.selectbox(key="emb_method").set_value("tsne").run()
    assert "t-SNE of all 108 points." in texts(at)
    at.session_state["emb_view"] = "What the language model adds"
    at.run()
    views = next(c for c in at.get("plotly_chart") if "emb_views" in c.proto.id)
    import json

    titles = [a["text"] for a in json.loads(views.proto.spec)["layout"]["annotations"]]
    assert titles == ["text only (language model)", "ID only (graph propagation)",
                      "fused (what the model scores with)"]
    # A second session reads the projection back from the disk cache.
    from ui import explore

    explore.projection_view.clear()
    explore.projection_chart.clear()
    again = open_page("embeddings", monkeypatch, home)
    again.selectbox(key="emb_run").set_value(ids["text_lightgcn"]).run()
    again.selectbox(key="emb_method").set_value("tsne").run()
    assert "Read from the cache." in texts(again)


def test_without_saved_runs_points_to_the_train_page(monkeypatch, tmp_path):
    at = open_page("embeddings", monkeypatch, str(tmp_path))
    assert "No saved runs yet: train a model on the Train page." in texts(at)
