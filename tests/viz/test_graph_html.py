"""The pyvis ego-network page: self-contained, escaped, stable, and drawing what it is given."""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import pyvis

from recsys_core.data.dataset import Dataset
from recsys_core.graph import ego_network
from recsys_core.viz.graph_html import (
    DIMMED_OPACITY,
    EDGE_COLOR,
    HIGHLIGHT_COLOR,
    ITEM_COLOR,
    LABEL_HUBS,
    NO_GENRE_COLOR,
    NODE_MARGIN,
    RING_GAP,
    USER_COLOR,
    ego_html,
    hubs,
    layout,
    node_size,
)

XSS = "<img src=x onerror=alert(1)>"


def make_ds(rows, titles, genres) -> Dataset:
    frame = pd.DataFrame(rows, columns=["u", "i", "r"])
    user_ids = np.array(sorted(frame["u"].unique()), dtype=object)
    item_ids = np.array(sorted(frame["i"].unique()), dtype=object)
    inter = pd.DataFrame({
        "user": pd.Index(user_ids).get_indexer(frame["u"]).astype(np.int64),
        "item": pd.Index(item_ids).get_indexer(frame["i"]).astype(np.int64),
        "rating": frame["r"].to_numpy(np.float32),
        "timestamp": np.full(len(frame), np.nan),
    })
    items = pd.DataFrame({"title": [titles[i] for i in item_ids],
                          "genres": [genres[i] for i in item_ids]})
    return Dataset(inter, user_ids, item_ids, items=items)


# Users u1 u2 (nodes 0, 1); items i1 i2 i3 (nodes 2, 3, 4).
ROWS = [("u1", "i1", 5), ("u1", "i2", 4), ("u2", "i1", 3), ("u2", "i3", 2)]
TITLES = {"i1": XSS, "i2": "Pride & Prejudice & Zombies", "i3": 'Say "when"; </script>'}
GENRES = {"i1": "Sci-Fi|Drama", "i2": "Romance", "i3": ""}


@pytest.fixture
def ego():
    return ego_network(make_ds(ROWS, TITLES, GENRES), "u1", hops=3)


def _data(page: str, marker: str):
    """The JSON value that follows ``marker`` in the page (as vis.js will read it)."""
    start = page.index(marker) + len(marker)
    value, _ = json.JSONDecoder().raw_decode(page, start)
    return value


def nodes_of(page: str) -> dict[int, dict]:
    return {n["id"]: n for n in _data(page, "nodes = new vis.DataSet(")}


def edges_of(page: str) -> dict[frozenset, dict]:
    return {frozenset((e["from"], e["to"])): e for e in _data(page, "edges = new vis.DataSet(")}


def options_of(page: str) -> dict:
    return _data(page, "var options = ")


class TagCollector(HTMLParser):
    """Every start tag a browser's tokenizer would see (script bodies are raw text)."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags_of(page: str) -> list[tuple[str, dict]]:
    parser = TagCollector()
    parser.feed(page)
    return parser.tags


# --------------------------------------------------------------------------- self-contained


def test_vis_js_is_inlined_and_nothing_is_fetched(ego):
    page = ego_html(ego)
    vis_js = (Path(pyvis.__file__).parent / "templates/lib/vis-9.1.2/vis-network.min.js"
              ).read_text(encoding="utf-8")
    assert vis_js[:2000] in page
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.IGNORECASE)
    assert not re.search(r"<link[^>]*\bhref\s*=", page, re.IGNORECASE)
    for tag, attrs in tags_of(page):
        assert "src" not in attrs and "href" not in attrs, (tag, attrs)


def test_vis_stylesheet_keeps_its_rules_but_not_the_unused_button_icons(ego):
    page = ego_html(ego)
    css = (Path(pyvis.__file__).parent / "templates/lib/vis-9.1.2/vis-network.css"
           ).read_text(encoding="utf-8")
    assert css.count("data:image") == 13 and "data:image" not in page
    sheet = page[page.index("<style>"):page.index("</style>")]
    icons = re.findall(r"([^{}]*)\{[^{}]*data:image", css)
    kept = [rule for rule in re.findall(r"([^{}]+\{[^{}]*\})", css)
            if "data:image" not in rule]
    assert all(rule in sheet for rule in kept)  # every other rule, tooltips' included
    assert "div.vis-tooltip{" in sheet and sheet.count("{") == sheet.count("}")
    assert all("vis-navigation" in sel or "vis-button" in sel or "vis-close" in sel
               for sel in icons)


# --------------------------------------------------------------------------- escaping


def test_hostile_titles_are_text_not_markup(ego):
    page = ego_html(ego)
    # The raw markup never appears in the page source ...
    assert XSS not in page
    assert "</script>;" not in page and 'when"; </script>' not in page
    # ... the tag structure is the same as for harmless titles ...
    harmless = ego_network(make_ds(ROWS, {"i1": "A", "i2": "B", "i3": "C"}, GENRES), "u1", hops=3)
    assert [t for t, _ in tags_of(page)] == [t for t, _ in tags_of(ego_html(harmless))]
    assert "img" not in [t for t, _ in tags_of(page)]
    # ... and the data vis.js receives shows the title as text.
    nodes = nodes_of(page)
    assert nodes[2]["label"] == "<img src=x onerror=alert(1)>"  # drawn on canvas as text
    assert "<b>&lt;img src=x onerror=alert(1)&gt;</b>" in nodes[2]["tip"]
    assert "Pride &amp; Prejudice &amp; Zombies" in nodes[3]["tip"]
    assert "Say &quot;when&quot;; &lt;/script&gt;" in nodes[4]["tip"]
    # Tooltip markup is only what the builder writes: no tag but b and br.
    for node in nodes.values():
        assert set(re.findall(r"<(/?\w+)", node["tip"])) <= {"b", "/b", "br"}
    for edge in edges_of(page).values():
        assert set(re.findall(r"<(/?\w+)", edge["tip"])) <= {"b", "/b", "br"}


def test_tooltips_become_elements_when_first_hovered(ego):
    page = ego_html(ego)
    create = page.index("network = new vis.Network(container, data, options);")
    assert page.index("function graphrecTip") < create
    # Built on the first hover of each node or edge, not all at once before drawing.
    assert page.index('network.on("hoverNode", function (p) { graphrecShowTip(nodes, p.node); });'
                      ) > create
    assert page.index('network.on("hoverEdge", function (p) { graphrecShowTip(edges, p.edge); });'
                      ) > create
    assert "set.update({id: id, title: graphrecTip(entry.tip)})" in page
    assert "nodes.forEach" not in page
    assert all("title" not in n for n in nodes_of(page).values())  # only tips, no raw titles


# --------------------------------------------------------------------------- appearance


def test_users_and_items_differ_in_shape_and_colour(ego):
    nodes = nodes_of(ego_html(ego))
    for n in (0, 1):
        assert nodes[n]["shape"] == "dot" and nodes[n]["color"]["background"] == USER_COLOR
    for n in (2, 3, 4):
        assert nodes[n]["shape"] == "square" and nodes[n]["color"]["background"] == ITEM_COLOR
    assert nodes[0]["borderWidth"] == 3 and nodes[0]["color"]["border"] == "#222222"  # centre


def test_items_coloured_by_first_genre():
    ds = make_ds([("u1", "a", 5), ("u1", "b", 4), ("u1", "c", 3), ("u1", "d", 3)],
                 {k: k.upper() for k in "abcd"},
                 {"a": "Horror|Comedy", "b": "Comedy", "c": "Horror", "d": ""})
    page = ego_html(ego_network(ds, "u1", hops=1), color_by="genre")
    nodes = nodes_of(page)
    a, b, c, d = (nodes[n]["color"]["background"] for n in (1, 2, 3, 4))
    assert a == c != b  # same first genre, same colour
    assert d == NO_GENRE_COLOR
    assert nodes[0]["color"]["background"] == USER_COLOR
    assert "Horror" in page[page.index("graphrec-legend\">"):]


def test_node_size_follows_degree(ego):
    assert node_size(0) == 5.0
    assert node_size(1) == 7.0
    assert node_size(3) == 9.0
    assert node_size(10**9) == 25.0
    sizes = [node_size(d) for d in range(0, 200)]
    assert sizes == sorted(sizes)
    nodes = nodes_of(ego_html(ego))
    # u2 (degree 2, a dot) and i1 (degree 2, a square drawn at 0.85 to match area)
    assert nodes[1]["size"] == pytest.approx(node_size(2))
    assert nodes[2]["size"] == pytest.approx(node_size(2) * 0.85)
    assert nodes[3]["size"] == pytest.approx(node_size(1) * 0.85)


def test_tooltips_show_id_title_and_rating(ego):
    page = ego_html(ego)
    nodes, edges = nodes_of(page), edges_of(page)
    assert nodes[0]["tip"].startswith("<b>User u1</b>")
    assert "centre of this view" in nodes[0]["tip"]
    assert "item id: i2" in nodes[3]["tip"]
    assert "rating with the centre: 4" in nodes[3]["tip"]
    assert "genres: Sci-Fi, Drama" in nodes[2]["tip"]
    assert "2 interactions" in nodes[2]["tip"]
    assert "2 hops from the centre" in nodes[1]["tip"]
    assert edges[frozenset((1, 4))]["tip"] == ("<b>u2</b> → Say &quot;when&quot;; "
                                               "&lt;/script&gt;<br>rating: 2")
    # Edge width grows with rating.
    assert edges[frozenset((0, 2))]["width"] > edges[frozenset((1, 4))]["width"]


# --------------------------------------------------------------------------- layout and physics


def test_layout_is_stable_across_reruns(ego):
    assert ego_html(ego) == ego_html(ego)
    shuffled = nx.Graph()
    shuffled.add_nodes_from(sorted(ego.graph.nodes(data=True), reverse=True))
    shuffled.add_edges_from(reversed(list(ego.graph.edges(data=True))))
    assert layout(shuffled, seed=0) == layout(ego.graph, seed=0)  # insertion order is irrelevant
    assert layout(ego.graph, seed=0) != layout(ego.graph, seed=1)
    nodes = nodes_of(ego_html(ego, physics=True))
    assert (nodes[3]["x"], nodes[3]["y"]) == layout(ego.graph, seed=0)[3]
    assert options_of(ego_html(ego, seed=7))["layout"]["randomSeed"] == 7


def test_physics_switch(ego):
    assert options_of(ego_html(ego, physics=True))["physics"]["enabled"] is True
    assert options_of(ego_html(ego, physics=False))["physics"]["enabled"] is False


def test_radial_layout_puts_hops_on_rings(ego):
    pos = layout(ego.graph, method="radial")
    assert pos[0] == (0.0, 0.0)
    radius = {n: math.hypot(*pos[n]) for n in pos}
    assert radius[2] == pytest.approx(radius[3])  # both hop 1
    assert radius[1] > radius[2] and radius[4] > radius[1]  # hop 2, then hop 3
    with pytest.raises(ValueError, match="layout must be 'spring' or 'radial', got 'circle'"):
        layout(ego.graph, method="circle")


@pytest.fixture(scope="module")
def big_ego():
    """About 300 nodes: a centre with 120 items, which 179 other users share."""
    rng = np.random.default_rng(0)
    rows = [("c", f"i{j:03d}", 5) for j in range(120)]
    for u in range(400):
        for j in rng.choice(150, size=6, replace=False):
            rows.append((f"u{u:03d}", f"i{j:03d}", int(rng.integers(1, 6))))
    titles = {f"i{j:03d}": f"Item {j}" for j in range(150)}
    ds = make_ds(rows, titles, {k: "" for k in titles})
    return ego_network(ds, "c", hops=2, max_nodes=300)


def _drawn_size(d):
    return node_size(d["degree"]) * (1.0 if d["kind"] == "user" else 0.85)


def test_big_radial_layout_has_no_overlapping_nodes(big_ego):
    g = big_ego.graph
    assert g.number_of_nodes() == 300
    pos = layout(g)
    ids = sorted(pos)
    xy = np.array([pos[n] for n in ids])
    dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    # Markers of any two nodes never touch: centre distance >= both radii + the margin.
    size = np.array([_drawn_size(g.nodes[n]) for n in ids])
    need = size[:, None] + size[None, :] + NODE_MARGIN
    np.fill_diagonal(dist, np.inf)
    assert (dist >= need - 0.05).all()  # positions are rounded to 0.01 px
    # Bands by hop: every hop-1 node is nearer the centre than every hop-2 node.
    radius = {n: math.hypot(*pos[n]) for n in ids}
    hop1 = [radius[n] for n in ids if g.nodes[n]["hop"] == 1]
    hop2 = [radius[n] for n in ids if g.nodes[n]["hop"] == 2]
    assert radius[big_ego.center] == 0.0 and len(hop1) == 120
    assert max(hop1) + RING_GAP <= min(hop2) + 0.05
    # Compact: the drawing is not blown up to one huge ring per hop.
    assert max(hop2) < 1000


def test_radial_order_puts_shared_neighbours_close(big_ego):
    """Edges between bands are shorter than with the same rings in node order."""
    g = big_ego.graph
    pos = layout(g)

    def edge_length(p):
        return sum(math.dist(p[u], p[v]) for u, v in g.edges
                   if {g.nodes[u]["hop"], g.nodes[v]["hop"]} == {1, 2})

    def by_number(band):
        members = sorted(n for n in g if g.nodes[n]["hop"] == band)
        slots = sorted(pos[n] for n in members)  # the same positions, reassigned in node order
        slots.sort(key=lambda xy: math.atan2(xy[1], xy[0]))
        return dict(zip(members, slots))

    shuffled = {big_ego.center: pos[big_ego.center], **by_number(1), **by_number(2)}
    assert edge_length(pos) < 0.9 * edge_length(shuffled)


def test_big_graphs_label_the_centre_and_hubs_only(big_ego):
    g = big_ego.graph
    nodes = nodes_of(ego_html(big_ego))
    labelled = {n for n, d in nodes.items() if d["label"] != " "}
    top = sorted(g, key=lambda n: (-g.nodes[n]["degree"], n))[:LABEL_HUBS]
    assert labelled == {big_ego.center, *top} == {big_ego.center} | hubs(g, LABEL_HUBS)
    hop2 = min(n for n in g if g.nodes[n]["hop"] == 2 and n not in labelled)
    assert nodes_of(ego_html(big_ego, highlight_nodes=[hop2]))[hop2]["label"] != " "
    assert len({n for n, d in nodes_of(ego_html(big_ego, labels="all")).items()
                if d["label"] != " "}) == 300
    # Big drawings get a larger label font (in layout pixels) so it stays legible.
    assert options_of(ego_html(big_ego))["nodes"]["font"]["size"] > 12


def test_spring_layout_is_seeded_and_keeps_the_radial_extent(big_ego):
    g = big_ego.graph
    spring = layout(g, method="spring")
    assert spring == layout(g, method="spring")
    extent = max(math.hypot(*xy) for xy in layout(g).values())
    assert max(math.hypot(*xy) for xy in spring.values()) == pytest.approx(extent, abs=0.05)


def test_plain_networkx_graph_without_hops_is_accepted():
    g = nx.path_graph(4)
    for n in g:
        g.nodes[n].update(kind="user" if n % 2 == 0 else "item", label=f"n{n}", degree=g.degree[n])
    nodes = nodes_of(ego_html(g))
    assert set(nodes) == {0, 1, 2, 3}
    assert nodes[1]["shape"] == "square"


# --------------------------------------------------------------------------- highlight and labels


def test_highlight_dims_everything_else(ego):
    page = ego_html(ego, highlight_nodes=[0, 2], highlight_edges=[(2, 0)])
    nodes, edges = nodes_of(page), edges_of(page)
    assert nodes[2]["color"]["border"] == HIGHLIGHT_COLOR and nodes[2]["borderWidth"] == 4
    assert nodes[0]["opacity"] == 1.0 and nodes[2]["opacity"] == 1.0
    assert nodes[1]["opacity"] == DIMMED_OPACITY and nodes[4]["opacity"] == DIMMED_OPACITY
    assert edges[frozenset((0, 2))]["color"] == HIGHLIGHT_COLOR
    assert edges[frozenset((1, 4))]["color"].startswith("rgba(")
    plain = ego_html(ego)
    assert all(n["opacity"] == 1.0 for n in nodes_of(plain).values())
    assert all(e["color"] == EDGE_COLOR for e in edges_of(plain).values())


def test_far_nodes_lose_their_labels_on_big_graphs():
    rows = [(f"u{k}", "hub", 4) for k in range(70)] + [("u0", "side", 3), ("u1", "far", 2)]
    titles = {"hub": "Hub", "side": "Side", "far": "Far"}
    ds = make_ds(rows, titles, {k: "" for k in titles})
    ego = ego_network(ds, "u0", hops=3)
    far = ds.n_users + ds.item_index("far")  # hop 3
    nodes = nodes_of(ego_html(ego))
    assert nodes[far]["label"] == " "  # shown on hover only
    assert nodes[ds.n_users + ds.item_index("hub")]["label"] == "Hub"
    assert nodes_of(ego_html(ego, labels="all"))[far]["label"] == "Far"
    assert nodes_of(ego_html(ego, highlight_nodes=[far]))[far]["label"] == "Far"


def test_long_labels_are_shortened_but_tooltips_keep_everything():
    long_title = "The Extraordinarily Long and Winding Title of a Film (1999)"
    ds = make_ds([("u1", "i1", 5)], {"i1": long_title}, {"i1": ""})
    nodes = nodes_of(ego_html(ego_network(ds, "u1", hops=1)))
    assert nodes[1]["label"] == "The Extraordinarily Long an…"
    assert long_title in nodes[1]["tip"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"color_by": "rating"}, "color_by must be 'kind' or 'genre', got 'rating'"),
    ({"labels": "some"}, "labels must be 'all', 'hubs' or 'auto', got 'some'"),
])
def test_bad_arguments(ego, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ego_html(ego, **kwargs)


def test_zero_ratings_draw_thin_edges():
    ds = make_ds([("u1", "i1", 0), ("u1", "i2", 0)], {"i1": "A", "i2": "B"}, {"i1": "", "i2": ""})
    edges = edges_of(ego_html(ego_network(ds, "u1", hops=1)))
    assert [e["width"] for e in edges.values()] == [0.5, 0.5]
