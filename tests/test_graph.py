"""Ego networks, node search and graph statistics (recsys_core.graph)."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from recsys_core.data.dataset import Dataset
from recsys_core.data.synthetic import generate
from recsys_core.graph import (
    BipartiteIndex,
    edge_index,
    ego_network,
    graph_stats,
    node_of,
    search_nodes,
    to_networkx,
)


def make_ds(rows: list[tuple[str, str, float]], titles: dict[str, str] | None = None,
            genres: dict[str, str] | None = None, explicit: bool = True) -> Dataset:
    """A Dataset straight from (user, item, rating) triples; ids indexed in sorted order."""
    frame = pd.DataFrame(rows, columns=["u", "i", "r"])
    user_ids = np.array(sorted(frame["u"].unique()), dtype=object)
    item_ids = np.array(sorted(frame["i"].unique()), dtype=object)
    inter = pd.DataFrame({
        "user": pd.Index(user_ids).get_indexer(frame["u"]).astype(np.int64),
        "item": pd.Index(item_ids).get_indexer(frame["i"]).astype(np.int64),
        "rating": frame["r"].to_numpy(np.float32),
        "timestamp": np.full(len(frame), np.nan),
    })
    items = pd.DataFrame(index=pd.RangeIndex(len(item_ids)))
    if titles:
        items["title"] = [titles.get(i, "") for i in item_ids]
    if genres:
        items["genres"] = [genres.get(i, "") for i in item_ids]
    return Dataset(inter, user_ids, item_ids, items=items, explicit=explicit)


# Users A B C D (nodes 0-3), items w x y z (nodes 4-7).
#   A-x 5, A-y 3, B-x 4, B-z 2, C-y 5, C-w 1, D-w 4
CHAIN = [("A", "x", 5), ("A", "y", 3), ("B", "x", 4), ("B", "z", 2),
         ("C", "y", 5), ("C", "w", 1), ("D", "w", 4)]
W, X, Y, Z = 4, 5, 6, 7


@pytest.fixture
def chain() -> Dataset:
    return make_ds(CHAIN, titles={"x": "Film X", "y": "Film Y"},
                   genres={"x": "Sci-Fi|Drama", "y": "Romance"})


def test_node_numbering(chain):
    assert node_of(chain, "user", "C") == 2
    assert node_of(chain, "item", "x") == X
    assert node_of(chain, "node", 6) == Y
    with pytest.raises(ValueError, match="kind must be 'user', 'item' or 'node', got 'film'"):
        node_of(chain, "film", "x")
    with pytest.raises(KeyError, match="unknown user id 'Q'"):
        node_of(chain, "user", "Q")
    with pytest.raises(KeyError, match="node 8 is outside 0..7"):
        node_of(chain, "node", 8)
    assert set(ego_network(chain, Y, kind="node", hops=1).graph) == {Y, 0, 2}
    # Same numbering as the tensors the models train on.
    ei = edge_index(chain, "all")
    assert (0, X) in set(zip(ei[0].tolist(), ei[1].tolist()))


@pytest.mark.parametrize(("hops", "nodes"), [
    (1, {0, X, Y}),
    (2, {0, X, Y, 1, 2}),
    (3, {0, X, Y, 1, 2, Z, W}),
    (4, {0, X, Y, 1, 2, Z, W, 3}),
])
def test_uncapped_ego_network_is_the_full_neighbourhood(chain, hops, nodes):
    ego = ego_network(chain, "A", hops=hops)
    assert set(ego.graph.nodes) == nodes
    assert ego.n_within == len(nodes)
    assert not ego.truncated
    hop_word = "hop" if hops == 1 else "hops"
    assert ego.statement == f"showing all {len(nodes)} nodes within {hops} {hop_word}"


def test_attributes_of_nodes_and_edges(chain):
    g = ego_network(chain, "A", hops=2).graph
    assert g.nodes[0] == {"kind": "user", "id": "A", "label": "A", "degree": 2, "hop": 0}
    assert g.nodes[X] == {"kind": "item", "id": "x", "title": "Film X", "label": "Film X",
                          "genres": ["Sci-Fi", "Drama"], "degree": 2, "hop": 1,
                          "rating_to_center": 5.0}
    assert g.nodes[Y]["rating_to_center"] == 3.0
    assert "rating_to_center" not in g.nodes[1]  # B is two hops away
    assert g.nodes[1]["hop"] == 2
    assert g.edges[1, X] == {"rating": 4.0}
    assert sorted(g.edges) == sorted([(0, X), (0, Y), (1, X), (2, Y)])


def test_item_centre_and_missing_titles(chain):
    ego = ego_network(chain, "w", kind="item", hops=1)
    assert set(ego.graph.nodes) == {W, 2, 3}
    assert ego.graph.nodes[W]["label"] == "w"  # no title: the id
    assert ego.graph.nodes[2]["rating_to_center"] == 1.0


def test_cap_keeps_the_highest_rated_edges(chain):
    # Hop 1 (x, y) fits; at hop 2 only one of B (via x, rated 4) and C (via y, rated 5) fits.
    ego = ego_network(chain, "A", hops=2, max_nodes=4)
    assert set(ego.graph.nodes) == {0, X, Y, 2}
    assert ego.n_within == 5 and ego.truncated
    assert ego.statement == ("showing 4 of 5 nodes within 2 hops; kept the highest-rated "
                             "edges, ties broken by neighbour degree")
    # Once the cap is hit, farther hops are counted but not shown.
    ego = ego_network(chain, "A", hops=4, max_nodes=4)
    assert set(ego.graph.nodes) == {0, X, Y, 2}
    assert ego.n_within == 8


def test_ties_broken_by_neighbour_degree_then_id():
    # A rates p, q, r, s all 4; q has degree 3, p and s degree 2, r degree 1.
    ds = make_ds([("A", "p", 4), ("A", "q", 4), ("A", "r", 4), ("A", "s", 4),
                  ("B", "q", 1), ("C", "q", 1), ("B", "p", 1), ("C", "s", 1)])
    p, q, s = (node_of(ds, "item", i) for i in "pqs")
    ego = ego_network(ds, "A", hops=1, max_nodes=3)
    assert set(ego.graph.nodes) == {0, q, p}  # q (degree 3), then p before s (lower id)
    ego = ego_network(ds, "A", hops=1, max_nodes=4)
    assert set(ego.graph.nodes) == {0, q, p, s}


def test_implicit_feedback_statement():
    ds = make_ds([("A", "p", 1), ("A", "q", 1), ("B", "q", 1)], explicit=False)
    ego = ego_network(ds, "A", hops=1, max_nodes=2)
    assert set(ego.graph.nodes) == {0, node_of(ds, "item", "q")}
    assert ego.statement.endswith("kept the best-connected neighbours")


def test_edge_cap_keeps_a_connected_tree_then_the_strongest_edges():
    # A-x, A-y; B-x 2, B-y 5; C-x 4, C-y 4 (tie: equal parent degree, lower id x wins).
    ds = make_ds([("A", "x", 5), ("A", "y", 3), ("B", "x", 2), ("B", "y", 5),
                  ("C", "x", 4), ("C", "y", 4)])
    x, y = node_of(ds, "item", "x"), node_of(ds, "item", "y")
    ego = ego_network(ds, "A", hops=2, max_nodes=5, max_edges=4)
    assert sorted(ego.graph.edges) == sorted([(0, x), (0, y), (1, y), (2, x)])
    assert ego.n_edges_among == 6
    assert ego.statement.endswith("; drawing the 4 strongest of 6 edges among them")
    ego = ego_network(ds, "A", hops=2, max_nodes=5, max_edges=5)  # + the best other edge
    assert sorted(ego.graph.edges) == sorted([(0, x), (0, y), (1, y), (2, x), (2, y)])
    assert ego_network(ds, "A", hops=2, max_edges=None).graph.number_of_edges() == 6


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"hops": 0}, "hops must be at least 1, got 0"),
    ({"max_nodes": 1}, "max_nodes must be at least 2, got 1"),
    ({"max_nodes": 10, "max_edges": 5},
     "max_edges must be at least max_nodes - 1 = 9 to keep the graph connected, got 5"),
])
def test_bad_arguments(chain, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ego_network(chain, "A", **kwargs)


@pytest.fixture(scope="module")
def sample() -> Dataset:
    return generate(seed=0, n_users=300, n_items=200, n_interactions=6000).to_dataset()


@pytest.mark.parametrize(("center", "kind", "hops"), [("u0001", "user", 2), ("m0007", "item", 3)])
def test_matches_networkx_ego_graph(sample, center, kind, hops):
    full = to_networkx(sample)
    c = node_of(sample, kind, center)
    reference = nx.ego_graph(full, c, radius=hops)
    ego = ego_network(sample, center, kind=kind, hops=hops, max_nodes=100_000, max_edges=None)
    assert set(ego.graph.nodes) == set(reference.nodes)
    assert {frozenset(e) for e in ego.graph.edges} == {frozenset(e) for e in reference.edges}
    lengths = nx.single_source_shortest_path_length(full, c, cutoff=hops)
    assert all(ego.graph.nodes[n]["hop"] == d for n, d in lengths.items())
    assert all(ego.graph.nodes[n]["degree"] == full.degree[n] for n in ego.graph)
    # Capped: the count still covers the whole neighbourhood, the graph stays connected.
    capped = ego_network(sample, center, kind=kind, hops=hops, max_nodes=50, max_edges=120)
    assert capped.n_within == reference.number_of_nodes()
    assert capped.graph.number_of_nodes() == 50 and capped.graph.number_of_edges() == 120
    assert nx.is_connected(capped.graph)
    assert capped.statement.startswith(f"showing 50 of {reference.number_of_nodes():,} nodes")


def test_prebuilt_index_gives_the_same_graph(sample):
    index = BipartiteIndex.from_dataset(sample)
    a = ego_network(sample, "u0002", hops=2, index=index)
    b = ego_network(sample, "u0002", hops=2)
    assert nx.utils.graphs_equal(a.graph, b.graph)
    assert index.user_degree.sum() == index.item_degree.sum() == sample.n_interactions
    with pytest.raises(ValueError, match="the index was built for part 'all', not 'train'"):
        ego_network(sample, "u0002", part="train", index=index)


def test_ego_network_of_a_split_part(sample):
    split = sample.replace(train=sample.interactions.iloc[::2].reset_index(drop=True))
    g = ego_network(split, "u0001", hops=1, part="train").graph
    train_items = split.train.loc[split.train["user"] == 0, "item"]
    assert set(g.nodes) == {0} | set((train_items + sample.n_users).tolist())


# --------------------------------------------------------------------------- search


def test_search_by_id_and_title(chain):
    assert search_nodes(chain, "a") == [("user", "A", "A")]  # ids compare case-insensitively
    assert search_nodes(chain, "film") == [("item", "x", "Film X"), ("item", "y", "Film Y")]
    assert search_nodes(chain, "  FILM y ") == [("item", "y", "Film Y")]
    assert search_nodes(chain, "") == []
    assert search_nodes(chain, "nothing like this") == []


def test_search_ranks_exact_ids_first(sample):
    hits = search_nodes(sample, "u0001", limit=5)
    assert hits[0] == ("user", "u0001", "u0001")
    prefix = search_nodes(sample, "m00", limit=3)
    assert [h[1] for h in prefix] == ["m0001", "m0002", "m0003"]
    assert prefix[0][2] == sample.item_title(0)


# --------------------------------------------------------------------------- statistics


def test_stats_by_hand():
    # Two components: {A, B, x, y} and {C, D, z}. Degrees: A2 B1 C1 D1 x2 y1 z2.
    ds = make_ds([("A", "x", 5), ("A", "y", 4), ("B", "x", 3), ("C", "z", 2), ("D", "z", 1)])
    stats = graph_stats(to_networkx(ds))
    assert stats["nodes"] == 7 and stats["edges"] == 5
    assert stats["users"] == 4 and stats["items"] == 3
    assert stats["components"] == 2 and stats["largest_component"] == 4
    assert stats["bipartite_density"] == pytest.approx(5 / 12)
    # Pearson correlation of end degrees over both directions of each edge:
    # pairs (2,2) (2,1) (1,2) (1,2) (1,2) and reversed; mean 1.6, covariance sum -1.6,
    # variance sum 2.4, so r = -2/3.
    assert stats["degree_assortativity"] == pytest.approx(-2 / 3)
    ends = [(2, 2), (2, 1), (1, 2), (1, 2), (1, 2)]
    a = np.array([d for e in ends for d in (e, e[::-1])], dtype=float)
    assert np.corrcoef(a[:, 0], a[:, 1])[0, 1] == pytest.approx(-2 / 3)


def test_stats_of_a_star_a_single_edge_and_an_empty_graph():
    star = graph_stats(ego_network(make_ds([("A", "x", 5), ("A", "y", 4)]), "A").graph)
    assert star["components"] == 1
    assert star["bipartite_density"] == 1.0
    assert star["degree_assortativity"] == pytest.approx(-1.0)  # hub joined only to leaves
    single = graph_stats(to_networkx(make_ds([("A", "x", 5)])))
    assert math.isnan(single["degree_assortativity"])  # no degree variance: undefined
    empty = graph_stats(nx.Graph())
    assert empty["nodes"] == 0 and empty["components"] == 0 and empty["bipartite_density"] == 0


def test_stats_of_the_sample_graph(sample):
    stats = graph_stats(to_networkx(sample))
    assert stats["edges"] == sample.n_interactions
    assert stats["nodes"] == sample.n_users + sample.n_items
    assert stats["bipartite_density"] == pytest.approx(6000 / (300 * 200))
    assert stats["degree_assortativity"] < 0  # heavy users reach into the long tail
