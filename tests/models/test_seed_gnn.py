"""The article's GNN: the trace equals the forward pass and the formulas by hand; training works."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.nn import MessagePassing

from recsys_core.evaluate import ranking_metrics
from recsys_core.models import make
from recsys_core.models.seed_gnn import SeedGNN, SeedGNNConv, seed_example


@pytest.fixture(scope="module")
def example_model():
    # the article's 2 users x 2 items with seeded random weights (2 epochs only)
    return SeedGNN(dim=3, layers=2, epochs=2, lr=0.01, seed=3).fit(seed_example())


def test_layers_are_message_passing(example_model):
    assert all(isinstance(c, MessagePassing) for c in example_model.module_.convs)
    assert repr(example_model.module_.convs[0]) == (
        "SeedGNNConv(3, edge_channels=3, activation='tanh', aggr='add')")


def test_trace_equals_forward_pass(example_model):
    trace = example_model.trace()
    module = example_model.module_
    with torch.no_grad():
        h = module.embedding.weight
        for conv, layer in zip(module.convs, trace.layers):
            h_next, edge_states = conv(h, module.edge_index, module.pairs)
            assert torch.allclose(layer.h_in, h, atol=1e-6)
            assert torch.allclose(layer.h_out, h_next, atol=1e-6)
            assert torch.allclose(layer.edge_states, edge_states, atol=1e-6)
            h = h_next
    assert torch.allclose(trace.scores, example_model.score([0, 1]), atol=1e-6)
    assert trace.node_labels == ["user u1", "user u2", "item i1", "item i2"]


def test_trace_matches_the_formulas_by_hand(example_model):
    trace = example_model.trace()
    layer = trace.layers[0]
    w = layer.weights
    h = trace.h0  # nodes: u1=0, u2=1, i1=2, i2=3
    # H_u1(1) = tanh(W_h H_u1 + W_e H_i1 + W_e H_i2 + b_h)
    pre_u1 = w["W_h"] @ h[0] + w["W_e"] @ h[2] + w["W_e"] @ h[3] + w["b_h"]
    assert torch.allclose(layer.pre_activation[0], pre_u1, atol=1e-6)
    assert torch.allclose(layer.h_out[0], torch.tanh(pre_u1), atol=1e-6)
    assert torch.allclose(layer.self_term[0], w["W_h"] @ h[0], atol=1e-6)
    assert torch.allclose(layer.aggregated[0], w["W_e"] @ (h[2] + h[3]), atol=1e-6)
    # one message per directed edge: W_e H_source
    src = trace.edge_index[0]
    assert torch.allclose(layer.messages, h[src] @ w["W_e"].T, atol=1e-6)
    assert layer.messages.shape == (8, 3)  # 4 ratings, both directions
    # E_ij(1) = tanh(W_e1 H_i + W_e2 H_j + b_e) for each user-item pair
    for p, (i, j) in enumerate(trace.pairs.T.tolist()):
        expected = torch.tanh(w["W_e1"] @ h[i] + w["W_e2"] @ h[j] + w["b_e"])
        assert torch.allclose(layer.edge_states[p], expected, atol=1e-6)
    # output R_ij = H_i . H_j + b_r after the last layer
    final = trace.layers[-1].h_out
    r_u2_i1 = final[1] @ final[2] + trace.output_bias
    assert trace.scores[1, 0].item() == pytest.approx(r_u2_i1.item(), abs=1e-6)
    frame = trace.incoming(0)
    assert sorted(frame["from"]) == ["item i1", "item i2"]


def test_mse_training_fits_the_example_ratings():
    model = SeedGNN(dim=4, layers=1, epochs=300, lr=0.05, reg=0.0, seed=0).fit(seed_example())
    assert model.loss_ == "mse"
    predicted = model.score([0, 1])
    target = torch.tensor([[5.0, 4.0], [3.0, 2.0]])
    assert torch.allclose(predicted, target, atol=0.3), predicted


def test_bad_activation_is_named():
    with pytest.raises(ValueError, match="activation must be one of"):
        SeedGNNConv(4, activation="swish")


def test_bce_on_implicit_feedback_beats_popularity(small_ds, popularity_ndcg):
    implicit = small_ds.replace(explicit=False)
    model = make("seed_gnn", dim=16, aggr="mean", lr=0.01, batch_size=512, epochs=15,
                 patience=4).fit(implicit)
    assert model.loss_ == "bce"
    ndcg = ranking_metrics(model, implicit, part="test")["ndcg@20"]
    assert ndcg > popularity_ndcg * 1.1, (ndcg, popularity_ndcg)
