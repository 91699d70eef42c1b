"""The classroom's numbers: hand-worked steps and cross-checks against the models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys_core.data.dataset import Dataset
from recsys_core.graph import normalize_bipartite
from recsys_core.viz import classroom as C


def seed_example() -> Dataset:
    """The seed article's example: u1, u2 x i1, i2 with ratings 5, 4, 3, 2."""
    inter = pd.DataFrame({"user": np.array([0, 0, 1, 1], dtype=np.int64),
                          "item": np.array([0, 1, 0, 1], dtype=np.int64),
                          "rating": np.array([5, 4, 3, 2], dtype=np.float32),
                          "timestamp": np.full(4, np.nan)})
    return Dataset(inter, np.array(["u1", "u2"], dtype=object), np.array(["i1", "i2"], dtype=object),
                   name="seed example")


def test_seed_gnn_step_by_hand():
    states = np.array([[1.0, 2.0], [9.0, 9.0], [1.0, 0.0], [0.0, 1.0]])
    step = C.seed_gnn_step(states, [2, 3], 0, w_self=np.eye(2), w_neighbour=0.5 * np.eye(2),
                           bias=np.array([0.1, -3.0]), activation="relu", layer=0,
                           labels=["u1", "u2", "i1", "i2"])
    assert step.senders == [2, 3]
    np.testing.assert_allclose(step.messages[0].value, [0.5, 0.0])
    np.testing.assert_allclose(step.messages[1].value, [0.0, 0.5])
    np.testing.assert_allclose(step.aggregate, [0.5, 0.5])
    np.testing.assert_allclose(step.self_term, [1.0, 2.0])
    np.testing.assert_allclose(step.pre_activation, [1.6, -0.5])
    np.testing.assert_allclose(step.new_state, [1.6, 0.0])  # ReLU cuts the negative part
    assert r"\mathrm{ReLU}" in step.formulas[0]
    assert r"\begin{bmatrix} 1.600 \\ 0.000 \end{bmatrix}" in step.formulas[2]


def test_seed_gnn_step_without_neighbours_is_self_plus_bias():
    states = np.array([[1.0, -1.0], [2.0, 2.0]])
    step = C.seed_gnn_step(states, [], 0, w_self=np.array([[2.0, 0.0], [0.0, 1.0]]),
                           w_neighbour=np.eye(2), bias=np.zeros(2), activation="identity")
    np.testing.assert_allclose(step.aggregate, [0.0, 0.0])
    np.testing.assert_allclose(step.new_state, [2.0, -1.0])


def test_edge_and_output_steps_by_hand():
    states = np.array([[1.0, 2.0], [3.0, -1.0]])
    edge = C.seed_gnn_edge_step(states, 0, 1, w_source=np.eye(2), w_target=2 * np.eye(2),
                                bias=np.array([0.0, 1.0]), activation="relu")
    np.testing.assert_allclose(edge.new_state, [7.0, 1.0])  # relu([1+6+0, 2-2+1])
    out = C.output_step(states, 0, 1, bias=0.5)
    assert out.score == pytest.approx(1 * 3 + 2 * -1 + 0.5)
    assert out.formula.endswith("1.500")


def test_lightgcn_step_equals_normalised_adjacency_product():
    rng = np.random.default_rng(0)
    r = sp.random(5, 4, density=0.5, random_state=1, format="csr")
    r.data[:] = 1.0
    adj = C.bipartite_adjacency(r)
    states = rng.normal(size=(9, 3))
    expected = normalize_bipartite(r).to_dense().double().numpy() @ states
    degrees = np.asarray(adj.sum(axis=1)).ravel()
    for node in range(9):
        nbrs = np.sort(adj[node].indices)
        step = C.lightgcn_step(states, nbrs, node, degrees)
        np.testing.assert_allclose(step.new_state, expected[node], atol=1e-6)
        for m in step.messages:
            assert m.coefficient == pytest.approx(1 / np.sqrt(degrees[node] * degrees[m.source]))


def test_lightgcn_on_seed_example_uses_one_half():
    adj = C.bipartite_adjacency(sp.csr_matrix(np.ones((2, 2))))
    states = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0], [4.0, 0.0]])
    step = C.lightgcn_step(states, [2, 3], 0, np.asarray(adj.sum(axis=1)).ravel(),
                           labels=["u1", "u2", "i1", "i2"])
    assert [m.coefficient for m in step.messages] == [0.5, 0.5]
    np.testing.assert_allclose(step.new_state, [3.0, 1.0])
    assert r"\frac{1}{\sqrt{2 \cdot 2}}" in step.formulas[1]


def test_layer_average():
    layers = [np.array([[0.0, 3.0]]), np.array([[3.0, 0.0]]), np.array([[3.0, 3.0]])]
    final, formula = C.layer_average(layers, 0, label="u1")
    np.testing.assert_allclose(final, [2.0, 2.0])
    assert "0.333" in formula


def test_mean_cosine_similarity_cases():
    assert C.mean_cosine_similarity(np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])) == pytest.approx(1)
    assert C.mean_cosine_similarity(np.array([[1.0, 0.0], [0.0, 5.0]])) == pytest.approx(0)
    assert C.mean_cosine_similarity(np.array([[1.0, 0.0], [-2.0, 0.0]])) == pytest.approx(-1)
    assert np.isnan(C.mean_cosine_similarity(np.array([[1.0, 0.0], [0.0, 0.0]])))
    x = np.random.default_rng(3).normal(size=(12, 4))
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    pairs = [unit[i] @ unit[j] for i in range(12) for j in range(12) if i != j]
    assert C.mean_cosine_similarity(x) == pytest.approx(np.mean(pairs))


def test_oversmoothing_curves_on_the_seed_example():
    ds = seed_example()
    adj = C.bipartite_adjacency(ds.matrix("all"))
    e0 = np.random.default_rng(0).normal(size=(4, 3))
    walk = C.Walkthrough("lightgcn", 2, ["u1", "u2", "i1", "i2"], adj, [e0], e0)
    curves = C.oversmoothing_curves(walk, depth=4)
    deep = curves["propagation Ã^k E(0)"]
    assert len(deep) == 5 and len(curves["layer average"]) == 5
    assert curves["this model"] == [pytest.approx(deep[0])]
    # On the complete 2x2 graph one layer makes both users identical (the mean of the
    # items, halved) and both items identical: pairs u1-u2 and i1-i2 have cosine 1,
    # the four user-item pairs the cosine c of the two means.
    users, items = e0[2:].sum(0) / 2, e0[:2].sum(0) / 2
    c = users @ items / np.linalg.norm(users) / np.linalg.norm(items)
    assert deep[1] == pytest.approx((2 + 4 * c) / 6)


def test_latex_helpers_round_and_never_print_minus_zero():
    assert C.latex_vector([1, -0.0001]) == r"\begin{bmatrix} 1.000 \\ 0.000 \end{bmatrix}"
    assert C.latex_matrix(np.eye(2)) == (r"\begin{bmatrix} 1.000 & 0.000 \\ 0.000 & 1.000 "
                                         r"\end{bmatrix}")


def test_labels_are_prefixed_only_when_ids_collide():
    assert C.node_labels(["a", "b"], ["x"]) == ["a", "b", "x"]
    assert C.node_labels([1, 2], [2]) == ["user 1", "user 2", "item 2"]


def test_message_figure_highlights_exactly_the_senders():
    fig = C.message_figure([0, 2, 3], [(0, 2), (0, 3)], receiver=0, senders=[2],
                           labels=["u1", "u2", "i1", "i2"], is_user=lambda n: n < 2)
    lines = [t for t in fig.data if t.mode == "lines"]
    assert sum(t.line.color == "#f28e2b" for t in lines) == 1
    markers = fig.data[-1]
    assert list(markers.text) == ["u1", "i1", "i2"]


def test_lightgcn_walkthrough_matches_the_model_forward_pass():
    from recsys_core.models.lightgcn import LightGCN

    ds = seed_example()
    model = LightGCN(dim=3, layers=2, epochs=0, seed=4).fit(ds)
    walk = C.walkthrough(model)
    assert walk.labels == ["u1", "u2", "i1", "i2"] and walk.layers == 2
    model_final = np.concatenate([model.user_embeddings(), model.item_embeddings()])
    np.testing.assert_allclose(np.mean(walk.states, axis=0), model_final, atol=1e-6)
    for layer in range(2):
        for node in range(4):
            np.testing.assert_allclose(walk.step(node, layer).new_state,
                                       walk.states[layer + 1][node], atol=1e-6)
    for item in (2, 3):
        assert walk.output(0, item).score == pytest.approx(
            float(model.score([0], [item - 2])[0, 0]), abs=1e-6)


@pytest.mark.parametrize("epochs,activation,aggr", [(0, "sigmoid", "add"), (20, "tanh", "add"),
                                                    (5, "relu", "mean")])
def test_seed_gnn_walkthrough_matches_the_model_trace_and_scores(epochs, activation, aggr):
    from recsys_core.models.seed_gnn import SeedGNN

    ds = seed_example()
    model = SeedGNN(dim=3, layers=2, epochs=epochs, seed=7, patience=0, activation=activation,
                    aggr=aggr).fit(ds)
    trace = model.trace()
    walk = C.walkthrough(model)
    assert walk.layers == 2 and walk.activation == activation and walk.aggr == aggr
    src, dst = trace.edge_index
    for t, lt in enumerate(trace.layers):
        for node in range(4):
            step = walk.step(node, t)
            np.testing.assert_allclose(step.self_term, lt.self_term[node], atol=1e-6)
            np.testing.assert_allclose(step.aggregate, lt.aggregated[node], atol=1e-6)
            np.testing.assert_allclose(step.pre_activation, lt.pre_activation[node], atol=1e-6)
            np.testing.assert_allclose(step.new_state, lt.h_out[node], atol=1e-6)
            incoming = {int(j): lt.messages[e].numpy()
                        for e, j in enumerate(src.tolist()) if dst[e] == node}
            assert sorted(incoming) == step.senders
            for m in step.messages:
                np.testing.assert_allclose(m.value, incoming[m.source], atol=1e-6)
        for p, (u, i) in enumerate(trace.pairs.T.tolist()):
            edge = walk.edge_step(u, i, t)
            np.testing.assert_allclose(edge.new_state, lt.edge_states[p], atol=1e-6)
    scores = model.score([0, 1]).numpy()  # [2 users, 2 items]
    for u in range(2):
        for i in range(2):
            assert walk.output(u, 2 + i).score == pytest.approx(float(scores[u, i]), abs=1e-6)


def test_message_figure_shows_markup_in_labels_as_text():
    fig = C.message_figure([0, 1], [(0, 1)], receiver=0, senders=[1],
                           labels=["<img src=x onerror=alert(1)>", "<b>i</b>"],
                           is_user=lambda n: n == 0)
    assert list(fig.data[-1].text) == ["&lt;img src=x onerror=alert(1)&gt;", "&lt;b&gt;i&lt;/b&gt;"]
