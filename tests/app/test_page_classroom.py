"""Classroom page: the numbers shown are the model's own forward pass, to 1e-6."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from apptest_helpers import APP, assert_clean, open_page

from recsys_core.data import load
from recsys_core.models import make
from recsys_core.viz.classroom import ACTIVATIONS

ROOT = Path(APP).parent


def seed_example():
    return load(ROOT / "sample_data/seed_example/interactions.csv",
                items=ROOT / "sample_data/seed_example/items.csv", name="seed example")


def model_like_page(name: str, ds, dim=2, layers=2, seed=0, epochs=0):
    """The model the page builds for these settings, built independently here."""
    return make(name, dim=dim, layers=layers, seed=seed, epochs=epochs,
                eval_every=max(epochs, 1), patience=0).fit(ds)


def shown_vector(at, prefix: str) -> np.ndarray:
    """The numbers of the markdown line starting with ``prefix`` (6 decimals on the page)."""
    line = next(m.value for m in at.markdown if m.value.startswith(prefix))
    return np.array([float(x) for x in re.search(r"\[([^\]]*)\]", line).group(1).split(",")])


def shown_table(at):
    return at.dataframe[0].value


def next_step(at):
    at.button(key="classroom_next").click().run()
    assert_clean(at)


def test_seed_gnn_layers_and_output_equal_the_models_forward_pass():
    at = open_page("classroom")
    model = model_like_page("seed_gnn", seed_example())
    trace = model.trace()
    # Step 1: node u1 (node 0) computes layer 1.
    table = shown_table(at)
    np.testing.assert_allclose(table.loc["new state at layer 1"], trace.layers[0].h_out[0],
                               atol=1e-6)
    np.testing.assert_allclose(table.loc["aggregate Σ messages"], trace.layers[0].aggregated[0],
                               atol=1e-6)
    np.testing.assert_allclose(table.loc["self term W_h H_i"], trace.layers[0].self_term[0],
                               atol=1e-6)
    np.testing.assert_allclose(shown_vector(at, "**New state of u1 at layer 1"),
                               trace.layers[0].h_out[0], atol=1e-6)
    assert {"message from i1", "message from i2"} <= set(table.index)
    assert len(at.latex) >= 4  # node update: rule, filled in, summed; edge update
    assert ACTIVATIONS[model.activation][1] in at.latex[0].value  # the model's own σ
    # Step 2: layer 2.
    next_step(at)
    np.testing.assert_allclose(shown_vector(at, "**New state of u1 at layer 2"),
                               trace.layers[1].h_out[0], atol=1e-6)
    # Step 3: the output R_ij = H_i . H_j + b_r against the model's score.
    next_step(at)
    score = float(re.search(r"= `(-?[\d.]+)`", next(
        m.value for m in at.markdown if m.value.startswith("**Output**"))).group(1))
    assert score == pytest.approx(float(trace.scores[0, 0]), abs=1e-6)
    assert at.button(key="classroom_next").disabled


def test_lightgcn_item_node_with_normalised_weights_and_layer_average():
    at = open_page("classroom")
    at.radio(key="classroom_model").set_value("lightgcn").run()
    at.selectbox(key="classroom_pick").set_value(2).run()  # i1
    assert_clean(at)
    model = model_like_page("lightgcn", seed_example())
    table = shown_table(at)
    assert {"message from u1 × 0.5000", "message from u2 × 0.5000"} <= set(table.index)
    assert "self term W_h H_i" not in table.index  # LightGCN has no self term
    next_step(at)
    next_step(at)
    final = np.concatenate([model.user_embeddings(), model.item_embeddings()])[2]
    np.testing.assert_allclose(shown_vector(at, "**Final embedding of i1"), final, atol=1e-6)
    assert any("Layer averaging" in m.value for m in at.markdown)


def test_train_button_and_settings_change_the_model():
    at = open_page("classroom")
    at.number_input(key="classroom_dim").set_value(4).run()
    at.number_input(key="classroom_layers").set_value(3).run()
    at.button(key="classroom_train").click().run()
    assert_clean(at)
    assert any("trained 40 epochs" in c.value for c in at.caption)
    trace = model_like_page("seed_gnn", seed_example(), dim=4, layers=3, epochs=40).trace()
    table = shown_table(at)
    assert list(table.columns) == ["dim 1", "dim 2", "dim 3", "dim 4"]
    np.testing.assert_allclose(table.loc["new state at layer 1"], trace.layers[0].h_out[0],
                               atol=1e-6)
    at.button(key="classroom_random").click().run()
    assert any("Weights: **random**" in c.value for c in at.caption)


def test_any_node_of_the_current_dataset():
    at = open_page("classroom")
    at.radio(key="classroom_graph").set_value("current").run()
    at.radio(key="classroom_model").set_value("lightgcn").run()
    at.radio(key="classroom_kind").set_value("item").run()
    at.text_input(key="classroom_query").set_value("m0069").run()
    assert_clean(at)
    ds = at.session_state["datasets"]["sample"]
    degree = int((ds.train["item"] == ds.item_index("m0069")).sum())
    assert any(f"m0069 (item, {degree} neighbours)" in c.value for c in at.caption)
    assert len(shown_table(at)) == min(degree, 60) + 3  # state, messages, aggregate, new state
    assert at.get("plotly_chart")  # the neighbourhood figure and the oversmoothing chart
