import numpy as np
import pandas as pd
import pytest

from recsys_core.data.dataset import Dataset
from recsys_core.viz.embedding_charts import (
    community_labels,
    nearest_neighbours,
    neighbours_frame,
    node_table,
    projection_figure,
    side_by_side_figure,
)


def _dataset():
    """Two disjoint blocks: users a,b like items 10,11; users c,d like items 20,21; item 30 is cold."""
    pairs = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3), (3, 0)]
    inter = pd.DataFrame({
        "user": np.array([u for u, _ in pairs], dtype=np.int64),
        "item": np.array([i for _, i in pairs], dtype=np.int64),
        "rating": np.ones(len(pairs), dtype=np.float32),
        "timestamp": np.full(len(pairs), np.nan),
    })
    items = pd.DataFrame({
        "title": ["Alpha", "Beta", "<img src=x onerror=alert(1)>", "Delta", ""],
        "genres": ["Drama|Crime", "Drama", "Comedy", "Comedy|Drama", None],
    })
    return Dataset(interactions=inter, user_ids=np.array(["a", "b", "c", "d"], dtype=object),
                   item_ids=np.array([10, 11, 20, 21, 30]), items=items)


def test_node_table_columns_and_values():
    table = node_table(_dataset())
    assert list(table.columns) == ["node", "kind", "index", "id", "title", "degree", "genre"]
    assert table["node"].tolist() == list(range(9))
    assert table["kind"].tolist() == ["user"] * 4 + ["item"] * 5
    assert table["degree"].tolist() == [2, 2, 2, 3, 3, 2, 2, 2, 0]
    assert table["genre"].tolist() == ["user"] * 4 + ["Drama", "Drama", "Comedy", "Comedy", "unknown"]
    # Missing titles fall back to the original id.
    assert table["title"].tolist()[4:] == ["Alpha", "Beta", "<img src=x onerror=alert(1)>", "Delta", "30"]
    assert table["id"].tolist()[:4] == ["a", "b", "c", "d"]


def test_communities_follow_the_two_blocks():
    labels, how = community_labels(_dataset(), seed=0)
    assert "whole training graph (9 edges)" in how
    # Users a, b and items 10, 11 form one block; c, d, 20, 21 the other; item 30 has no edge.
    assert labels[8] == -1
    assert labels[0] == labels[1] == labels[4] == labels[5]
    assert labels[2] == labels[3] == labels[6] == labels[7]
    assert labels[0] != labels[2]
    assert set(labels[:8]) == {0, 1}


def test_communities_on_large_graph_use_induced_subgraph():
    labels, how = community_labels(_dataset(), nodes=np.array([0, 4, 5, 8]), max_edges=3)
    assert "induced by the 4 shown nodes (2 edges" in how
    assert labels[0] == labels[1] == labels[2] == 0 and labels[3] == -1


def test_nearest_neighbours_hand_worked():
    x = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [-1.0, 0.0], [2.0, 0.0]])
    rows, sims = nearest_neighbours(x, 0, k=3)
    assert rows.tolist() == [4, 1, 2]
    np.testing.assert_allclose(sims, [1.0, 1 / np.sqrt(2), 0.0], atol=1e-6)
    rows, sims = nearest_neighbours(x, 0, k=10, candidates=np.array([0, 2, 3]))
    assert rows.tolist() == [2, 3]
    np.testing.assert_allclose(sims, [0.0, -1.0], atol=1e-6)
    with pytest.raises(IndexError, match="query row 5 is outside the 5 embeddings"):
        nearest_neighbours(x, 5)


def test_neighbours_frame_restricted_to_items():
    table = node_table(_dataset())
    x = np.zeros((9, 2))
    x[:, 0] = 1.0
    x[6] = [0.0, 1.0]  # item 20 points elsewhere
    x[0] = [1.0, 0.1]
    out = neighbours_frame(table, x, node=0, k=3, kind="item")
    assert list(out.columns) == ["rank", "kind", "id", "title", "cosine"]
    assert out["kind"].eq("item").all()
    assert out["rank"].tolist() == [1, 2, 3]
    assert "20" not in out["id"].tolist()
    assert out["cosine"].is_monotonic_decreasing


def test_projection_figure_categories_hover_and_customdata():
    table = node_table(_dataset())
    coords = np.arange(18, dtype=np.float32).reshape(9, 2)
    fig = projection_figure(table, coords, color_by="kind", highlight=[6])
    names = [t.name for t in fig.data]
    assert names == ["item", "user", "selected"]  # largest category first
    item_trace = fig.data[0]
    assert item_trace.customdata.tolist() == [4, 5, 6, 7, 8]
    assert item_trace.marker.symbol == "diamond"  # one symbol for a trace of one kind
    assert fig.data[1].marker.symbol == "circle"
    # Titles are escaped: the markup shows as text.
    assert any("&lt;img src=x onerror=alert(1)&gt;" in h for h in item_trace.hovertext)
    assert not any("<img" in h for h in item_trace.hovertext)
    assert fig.data[2].x.tolist() == [12.0]


def test_projection_figure_degree_and_errors():
    table = node_table(_dataset())
    coords = np.zeros((9, 2))
    fig = projection_figure(table, coords, color_by="degree")
    assert len(fig.data) == 1
    np.testing.assert_allclose(fig.data[0].marker.color, np.log10(table["degree"] + 1))
    # Users and items share this trace: each point keeps its own symbol.
    assert list(fig.data[0].marker.symbol) == ["circle"] * 4 + ["diamond"] * 5
    with pytest.raises(ValueError, match="cannot colour by 'size'; choose one of: kind, genre, degree, community"):
        projection_figure(table, coords, color_by="size")
    with pytest.raises(ValueError, match="the node table has no 'community' column"):
        projection_figure(table, coords, color_by="community")
    with pytest.raises(ValueError, match="9 nodes but 3 coordinates"):
        projection_figure(table, coords[:3])


def test_many_categories_are_bucketed():
    table = pd.DataFrame({"node": range(30), "kind": "item", "id": [str(i) for i in range(30)],
                          "title": "t", "degree": 1, "genre": [f"g{i}" for i in range(30)]})
    fig = projection_figure(table, np.zeros((30, 2)), color_by="genre")
    assert len(fig.data) == 12
    assert fig.data[-1].name == "other" and len(fig.data[-1].x) == 19


def test_side_by_side_shares_legend():
    table = node_table(_dataset())
    items = table[table["kind"] == "item"]
    panels = [("text", np.zeros((5, 2))), ("ID", np.ones((5, 2))), ("fused", np.ones((5, 2)))]
    fig = side_by_side_figure(items, panels, color_by="genre")
    assert [a.text for a in fig.layout.annotations] == ["text", "ID", "fused"]
    per_panel = len(fig.data) // 3
    assert per_panel == 3  # Drama, Comedy, unknown
    assert all(t.showlegend for t in fig.data[:per_panel])
    assert not any(t.showlegend for t in fig.data[per_panel:])
    assert fig.data[per_panel].xaxis == "x2"


def test_embedding_views_of_a_text_graph_model():
    import torch

    from recsys_core.graph import normalized_adjacency
    from recsys_core.models.lightgcn import LightGCN
    from recsys_core.models.text_lightgcn import TextLightGCN, TextLightGCNModule
    from recsys_core.viz.embedding_charts import FUSED_VIEW, ID_VIEW, TEXT_VIEW, embedding_views

    ds = _dataset()
    torch.manual_seed(0)
    user_text, item_text = torch.randn(4, 6), torch.randn(5, 6)
    adj = normalized_adjacency(ds)
    model = TextLightGCN(dim=3, layers=1)
    model.module_ = TextLightGCNModule(4, 5, 3, 1, adj, user_text, item_text)
    model.dataset_ = ds
    views = embedding_views(model)
    assert list(views) == [TEXT_VIEW, ID_VIEW, FUSED_VIEW]
    np.testing.assert_allclose(views[TEXT_VIEW], item_text.numpy())
    # One LightGCN layer over the ID embeddings, cold item 30 (node 8) has its ID zeroed.
    ids = model.module_.embedding.weight.detach().clone()
    ids[8] = 0.0
    dense = adj.to_dense()
    expected = ((ids + dense @ ids) / 2)[4:]
    np.testing.assert_allclose(views[ID_VIEW], expected.numpy(), atol=1e-6)
    np.testing.assert_allclose(views[FUSED_VIEW], model.item_embeddings(), atol=1e-6)
    # A model without text features has only its own view.
    plain = LightGCN(dim=3, layers=1).load_state_tensors({"embedding.weight": torch.randn(9, 3)}, ds)
    assert list(embedding_views(plain)) == [FUSED_VIEW]


def test_small_scatters_are_svg_and_large_ones_webgl(monkeypatch):
    from recsys_core.viz import embedding_charts

    table = node_table(_dataset())
    coords = np.arange(18, dtype=np.float32).reshape(9, 2)
    for color_by in ("kind", "degree"):
        fig = projection_figure(table, coords, color_by=color_by, highlight=[6])
        assert {t.type for t in fig.data} == {"scatter"}
    monkeypatch.setattr(embedding_charts, "SVG_MAX_POINTS", 8)  # 9 nodes: one too many
    for color_by in ("kind", "degree"):
        fig = projection_figure(table, coords, color_by=color_by, highlight=[6])
        assert {t.type for t in fig.data} == {"scattergl"}
