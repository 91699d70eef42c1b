import re

import numpy as np
import pandas as pd

from recsys_core.data.dataset import Dataset
from recsys_core.explain.evidence import Evidence, HistoryEvidence, PathEvidence
from recsys_core.viz.rec_graph import path_graph, path_html


def _dataset():
    # User a (0) liked items A (0) and B (1); b (1) and c (2) liked A and the target T (2);
    # d (3) liked B only. Ratings are distinct so edges can be checked.
    rows = [(0, 0, 5.0), (0, 1, 4.0), (1, 0, 3.0), (1, 2, 5.0), (2, 0, 4.0), (2, 2, 2.0),
            (3, 1, 1.0)]
    inter = pd.DataFrame({"user": np.array([r[0] for r in rows], dtype=np.int64),
                          "item": np.array([r[1] for r in rows], dtype=np.int64),
                          "rating": np.array([r[2] for r in rows], dtype=np.float32),
                          "timestamp": np.full(len(rows), np.nan)})
    items = pd.DataFrame({"title": ["Alpha", "<b>Beta</b>", "Target"],
                          "genres": ["Drama|Crime", "Comedy", "Drama"]})
    return Dataset(inter, np.array(["a", "b", "c", "d"], dtype=object),
                   np.array(["A", "B", "T"], dtype=object), items=items)


def _evidence():
    return Evidence(user_id="a", item_id="T", item_title="Target", model="lightgcn", score=1.0,
                    rank=1, history_size=2, influence_method="edge removal",
                    history=[HistoryEvidence("B", "<b>Beta</b>", 0.2, 0.6, True, 4.0)],
                    paths=[PathEvidence("A", "Alpha", users=2, via_users=2)])


def test_path_graph_nodes_edges_and_highlight():
    pg = path_graph(_evidence(), _dataset(), bridges=5)
    g = pg.graph
    # Node numbers: users 0..3, items 4..6.
    assert pg.center == 0 and pg.item == 6
    assert sorted(g.nodes) == [0, 1, 2, 4, 5, 6]
    assert {(min(e), max(e)) for e in g.edges} == {(0, 4), (0, 5), (1, 4), (1, 6), (2, 4), (2, 6)}
    assert g.edges[0, 5]["rating"] == 4.0 and g.edges[1, 6]["rating"] == 5.0
    assert g.nodes[6]["hop"] == 3 and g.nodes[1]["hop"] == 2 and g.nodes[4]["hop"] == 1
    assert g.nodes[4]["genres"] == ["Drama", "Crime"]
    assert set(pg.highlight_edges) == {(0, 4), (4, 1), (1, 6), (4, 2), (2, 6)}
    # The bridge count is capped.
    assert sorted(path_graph(_evidence(), _dataset(), bridges=1).graph.nodes) == [0, 1, 4, 5, 6]


def test_path_html_is_offline_and_escaped():
    page = path_html(_evidence(), _dataset())
    assert "<b>Beta</b>" not in page
    assert "vis.Network" in page
    assert not re.search(r"<(script|link)\b[^>]*(src|href)=[\"']?https?://", page)
    assert "&lt;b&gt;Beta&lt;/b&gt;" in page or "\\u003cb\\u003eBeta" in page
