"""GAT over the bipartite graph: PyG GATConv layers, ranking quality."""

from __future__ import annotations

from torch_geometric.nn import GATConv

from recsys_core.evaluate import ranking_metrics
from recsys_core.models import make


def test_gat_uses_pyg_layers_and_beats_popularity(small_ds, popularity_ndcg):
    model = make("gat", dim=16, layers=2, heads=2, lr=0.02, batch_size=512, epochs=12,
                 patience=3).fit(small_ds)
    assert all(isinstance(conv, GATConv) for conv in model.module_.convs)
    assert len(model.module_.convs) == 2
    ndcg = ranking_metrics(model, small_ds, part="test")["ndcg@20"]
    assert ndcg > popularity_ndcg * 1.1, (ndcg, popularity_ndcg)
