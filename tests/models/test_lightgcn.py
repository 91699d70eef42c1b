"""LightGCN: propagation equals PyG's LightGCN (values and gradients); training beats popularity."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch_geometric.nn import LightGCN as PygLightGCN

import recsys_core.models.lightgcn as lightgcn_module
from recsys_core.evaluate import ranking_metrics
from recsys_core.graph import normalize_bipartite
from recsys_core.models import make
from recsys_core.models.lightgcn import LightGCN, propagate


def random_graph(n_users=40, n_items=30, density=0.15, seed=0):
    rng = np.random.default_rng(seed)
    r = sp.random(n_users, n_items, density=density, random_state=rng, format="csr")
    r.data[:] = 1.0
    coo = r.tocoo()
    users = torch.as_tensor(coo.row, dtype=torch.long)
    items = torch.as_tensor(coo.col, dtype=torch.long) + n_users
    edge_index = torch.stack([torch.cat([users, items]), torch.cat([items, users])])
    return r, edge_index


def pyg_model(n_nodes, dim=8, layers=3, seed=0):
    torch.manual_seed(seed)
    return PygLightGCN(n_nodes, dim, layers)


def test_propagate_equals_pyg_get_embedding():
    r, edge_index = random_graph()
    adj = normalize_bipartite(r)
    ref_model = pyg_model(adj.shape[0])
    expected = ref_model.get_embedding(edge_index)  # [N, d]
    got = propagate(adj, ref_model.embedding.weight.detach(), 3)
    assert torch.allclose(got, expected, atol=1e-5)
    nodes = torch.tensor([0, 5, 39, 40, 41, 69, 5])  # users, items, a repeat
    assert torch.allclose(propagate(adj, ref_model.embedding.weight.detach(), 3, nodes),
                          expected[nodes], atol=1e-5)


def test_propagate_gradient_equals_pyg_autograd():
    r, edge_index = random_graph(seed=1)
    adj = normalize_bipartite(r)
    ref_model = pyg_model(adj.shape[0], seed=1)
    nodes = torch.tensor([1, 2, 45, 60, 2])
    upstream = torch.randn(len(nodes), 8, generator=torch.Generator().manual_seed(0))
    (ref_model.get_embedding(edge_index)[nodes] * upstream).sum().backward()
    weight = ref_model.embedding.weight.detach().clone().requires_grad_(True)
    (propagate(adj, weight, 3, nodes) * upstream).sum().backward()
    assert torch.allclose(weight.grad, ref_model.embedding.weight.grad, atol=1e-5)


def test_torch_fallback_kernel_gives_the_same_embeddings(monkeypatch):
    r, _ = random_graph(seed=2)
    adj = normalize_bipartite(r)
    emb = torch.randn(adj.shape[0], 4, generator=torch.Generator().manual_seed(0))
    fast = propagate(adj, emb, 2)
    monkeypatch.setattr(lightgcn_module, "numba", None)
    assert torch.allclose(propagate(adj, emb, 2), fast, atol=1e-6)


def test_zero_layers_is_the_ego_embedding():
    r, _ = random_graph()
    adj = normalize_bipartite(r)
    emb = torch.randn(adj.shape[0], 4)
    assert torch.equal(propagate(adj, emb, 0), emb)


def test_fitted_model_matches_pyg_on_its_own_weights(small_ds):
    model = LightGCN(dim=8, layers=2, epochs=1, lr=0.01).fit(small_ds)
    ds = model.dataset_
    m = ds.matrix("train").tocoo()
    users = torch.as_tensor(m.row, dtype=torch.long)
    items = torch.as_tensor(m.col, dtype=torch.long) + ds.n_users
    edge_index = torch.stack([torch.cat([users, items]), torch.cat([items, users])])
    ref = PygLightGCN(ds.n_users + ds.n_items, 8, 2)
    with torch.no_grad():
        ref.embedding.weight.copy_(model.module_.embedding.weight)
        expected = ref.get_embedding(edge_index)
    np.testing.assert_allclose(model.user_embeddings(), expected[: ds.n_users].numpy(), atol=1e-5)
    np.testing.assert_allclose(model.item_embeddings(), expected[ds.n_users:].numpy(), atol=1e-5)
    scores = model.score([0, 3])
    assert torch.allclose(scores, expected[[0, 3]] @ expected[ds.n_users:].T, atol=1e-4)


def test_lightgcn_beats_popularity(small_ds, popularity_ndcg):
    model = make("lightgcn", dim=32, lr=0.05, batch_size=512, epochs=12, patience=3).fit(small_ds)
    ndcg = ranking_metrics(model, small_ds, part="test")["ndcg@20"]
    assert ndcg > popularity_ndcg * 1.15, (ndcg, popularity_ndcg)


def test_repr_and_params():
    model = LightGCN(dim=16, layers=2)
    assert model.get_params()["dim"] == 16
    assert repr(model).startswith("LightGCN(dim=16, layers=2,")
