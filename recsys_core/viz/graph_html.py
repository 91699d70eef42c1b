"""Self-contained pyvis (vis.js) HTML of an ego network.

``ego_html(ego)`` turns a :class:`~recsys_core.graph.EgoNetwork` (or any graph
whose nodes carry the attributes :func:`recsys_core.graph.ego_network` sets)
into one HTML document that a page can embed in an iframe:

- users are blue dots, items orange squares (or coloured by their first
  genre); node size grows with the log of the degree; the centre has a dark
  border; edge width grows with the rating;
- hovering shows id, title, degree, hop and rating;
- the layout is computed here (bands by hop, see :func:`layout`), seeded, so the
  same graph draws the same way on every rerun, with physics on or off;
- big graphs label only the centre, the best-connected hubs and highlighted
  nodes; every other label shows on hover;
- a set of nodes and edges can be highlighted (the rest is dimmed), as the
  message-passing view does for the neighbours that send messages.

Safety: vis.js is inlined (no network access, no third-party script tags).
Node and edge data reach the page only as JSON that escapes ``<``, ``>``, ``&``
and quotes, so no data string can close the script block. Labels are drawn on
the canvas as plain text. Tooltips are small HTML fragments built here from
values passed through :func:`html.escape` (the page turns one into an element
when the pointer first reaches its node or edge); a title such as
``<img src=x onerror=alert(1)>`` is shown as those characters and runs nothing.
"""

from __future__ import annotations

import functools
import html
import math
import re
from collections.abc import Iterable
from typing import Any

import jinja2
import networkx as nx
import numpy as np
from pyvis.network import Network

USER_COLOR = "#4C78A8"
ITEM_COLOR = "#F58518"
CENTER_BORDER = "#222222"
HIGHLIGHT_COLOR = "#D62728"
EDGE_COLOR = "#B0B0B0"
DIMMED_OPACITY = 0.25
#: Genre colours (Tableau 10 without the user blue), cycled in order of first appearance.
GENRE_PALETTE = ("#F58518", "#54A24B", "#E45756", "#72B7B2", "#EECA3B", "#B279A2",
                 "#FF9DA6", "#9D755D", "#BAB0AC", "#79706E")
NO_GENRE_COLOR = "#BAB0AC"
LABEL_CHARS = 28  # canvas labels are cut to this many characters; tooltips show everything
LABEL_HUBS = 8  # on big graphs, the best-connected nodes that keep a label besides the centre
LABEL_ALL_UP_TO = 30  # "auto" labels every node of graphs up to this size
RING_GAP = 90.0  # px between the outermost ring of one hop band and the next band
NODE_MARGIN = 10.0  # px of free space kept between the markers of neighbouring nodes
LABEL_MARGIN = 40.0  # the same when every node is labelled (room for the text)
LABEL_FONT_PER_PX = 22.0  # label font grows by 1 per this many px of drawing radius

# Tooltips travel in a "tip" field that pyvis does not inspect (it switches to an
# innerHTML popup template when a "title" contains "href"). A tip becomes the element
# vis.js shows when the pointer first reaches its node or edge: vis.js emits
# hoverNode/hoverEdge on that mouse move and looks for a title only after
# tooltipDelay. Building every element up front cost one HTML parse per node and
# edge (1,800 on a 300-node view) on every drawing. Tips hold only escaped values.
_TOOLTIP_SCRIPT = """
                  // Tooltips: HTML built from escaped values; shown as elements.
                  function graphrecTip(markup) {
                      var box = document.createElement("div");
                      box.className = "graphrec-tip";
                      box.innerHTML = markup;
                      return box;
                  }
                  function graphrecShowTip(set, id) {
                      var entry = set.get(id);
                      if (entry && entry.tip && !entry.title) {
                          set.update({id: id, title: graphrecTip(entry.tip)});
                      }
                  }
"""
_TOOLTIP_HOOKS = """
                  network.on("hoverNode", function (p) { graphrecShowTip(nodes, p.node); });
                  network.on("hoverEdge", function (p) { graphrecShowTip(edges, p.edge); });
"""
_TOOLTIP_STYLE = """
             .graphrec-tip { font-family: sans-serif; font-size: 13px; line-height: 1.35;
                             max-width: 320px; white-space: normal; }
             .graphrec-tip b { font-size: 14px; }
             .graphrec-legend { position: absolute; top: 8px; left: 8px; z-index: 5;
                                background: rgba(255,255,255,0.85); padding: 4px 8px;
                                font-family: sans-serif; font-size: 12px;
                                border: 1px solid #ddd; border-radius: 4px; }
             .graphrec-legend span { display: inline-block; width: 10px; height: 10px;
                                     margin: 0 4px 0 10px; vertical-align: middle; }
"""
_REMOTE_TAG = re.compile(
    r"<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^>]*>\s*</script>"
    r"|<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//[^>]*>",
    re.IGNORECASE)
# A commented-out script tag in the pyvis template (it points at a node_modules path).
_DEAD_COMMENT = re.compile(r"<!--\s*<link[^>]*node_modules.*?-->", re.DOTALL)
# vis-network's stylesheet carries its navigation and editing buttons' icons inline,
# 205 of its 220 KB; the drawings here enable neither, so the template leaves them out.
_ICON_RULE = re.compile(r"[^{}]*\{[^{}]*url\(\s*[\"']?data:image[^{}]*\}")


def ego_html(ego: Any, *, color_by: str = "kind", physics: bool = False,
             highlight_nodes: Iterable[int] = (), highlight_edges: Iterable[tuple[int, int]] = (),
             height: int = 600, seed: int = 0, layout_method: str = "radial",
             labels: str = "auto", legend: bool = True) -> str:
    """A complete HTML page drawing the graph; see the module docstring.

    Args:
        ego: an :class:`~recsys_core.graph.EgoNetwork` or a networkx graph.
        color_by: "kind" (users blue, items orange) or "genre" (items by first genre).
        physics: let vis.js keep simulating forces (nodes can be dragged and settle);
            off, nodes stay exactly at the seeded layout.
        highlight_nodes / highlight_edges: node numbers and (u, v) pairs to emphasise;
            when any is given everything else is dimmed.
        height: pixel height of the drawing.
        seed: layout seed; the same graph and seed give the same picture.
        layout_method: "radial" (bands by hop) or "spring", see :func:`layout`.
        labels: "all", "hubs" (the centre, the ``LABEL_HUBS`` nodes of highest degree
            and highlighted nodes; the rest show theirs on hover) or "auto" ("all" up
            to ``LABEL_ALL_UP_TO`` nodes, else "hubs").
        legend: draw a small colour key in the corner.
    """
    if color_by not in ("kind", "genre"):
        raise ValueError(f"color_by must be 'kind' or 'genre', got {color_by!r}")
    if labels not in ("all", "hubs", "auto"):
        raise ValueError(f"labels must be 'all', 'hubs' or 'auto', got {labels!r}")
    g: nx.Graph = ego if isinstance(ego, nx.Graph) else ego.graph
    center = None if isinstance(ego, nx.Graph) else ego.center
    hi_nodes = {int(n) for n in highlight_nodes}
    hi_edges = {frozenset((int(u), int(v))) for u, v in highlight_edges}
    dim = bool(hi_nodes or hi_edges)
    if labels == "auto":
        labels = "all" if g.number_of_nodes() <= LABEL_ALL_UP_TO else "hubs"
    labelled = set(g.nodes) if labels == "all" else (
        hubs(g, LABEL_HUBS) | hi_nodes | ({center} if center is not None else set()))

    positions = layout(g, seed=seed, method=layout_method,
                       margin=LABEL_MARGIN if labels == "all" else NODE_MARGIN)
    genre_colors = genre_color_map(g) if color_by == "genre" else {}
    top_rating = max((float(r) for _, _, r in g.edges(data="rating", default=1.0)), default=1.0)
    top_rating = top_rating if top_rating > 0 else 1.0  # edge width is relative to this

    net = Network(height=f"{int(height)}px", width="100%", bgcolor="#ffffff",
                  font_color="#333333", cdn_resources="in_line")
    net.templateEnv = _template_env(net.template_dir)  # compile the 1 MB template once
    for n in sorted(g.nodes):
        d = g.nodes[n]
        is_user = d.get("kind") == "user"
        fill = USER_COLOR if is_user else (
            _first_genre_color(d, genre_colors) if color_by == "genre" else ITEM_COLOR)
        border = CENTER_BORDER if n == center else fill
        width = 3 if n == center else 1
        if n in hi_nodes:
            border, width = HIGHLIGHT_COLOR, 4
        x, y = positions[n]
        net.add_node(
            int(n), label=_short(str(d.get("label", n))) if n in labelled else " ",
            shape="dot" if is_user else "square",
            color={"background": fill, "border": border,
                   "highlight": {"background": fill, "border": HIGHLIGHT_COLOR}},
            borderWidth=width, x=x, y=y,
            # A square of size s is 2s wide, a dot 2s across: shrink squares to match areas.
            size=max(node_size(d.get("degree", 1)), 14.0 if n == center else 0.0)
            * (1.0 if is_user else 0.85),
            opacity=DIMMED_OPACITY if dim and n not in hi_nodes else 1.0,
            tip=node_tooltip(d, is_center=n == center))
    # Network.add_edge scans every edge added so far for a duplicate (quadratic: 0.15 s
    # of 0.3 s at 1,500 edges); a networkx graph has none, so the edges go in directly.
    for u, v, d in sorted(g.edges(data=True), key=lambda e: (min(e[:2]), max(e[:2]))):
        rating = float(d.get("rating", 1.0))
        key = frozenset((int(u), int(v)))
        color = HIGHLIGHT_COLOR if key in hi_edges else EDGE_COLOR
        if dim and key not in hi_edges:
            color = _fade(EDGE_COLOR)
        net.edges.append({"from": int(u), "to": int(v), "color": color,
                          "width": (4.0 if key in hi_edges else 0.5)
                          + 2.0 * max(rating, 0.0) / top_rating,
                          "tip": edge_tooltip(g.nodes[u], g.nodes[v], rating)})

    net.options = {
        "physics": {"enabled": bool(physics), "solver": "barnesHut",
                    "barnesHut": {"gravitationalConstant": -4000, "springLength": 120,
                                  "springConstant": 0.02, "damping": 0.3},
                    "stabilization": {"enabled": bool(physics), "iterations": 150,
                                      "fit": True}},
        "layout": {"randomSeed": int(seed), "improvedLayout": False},
        "interaction": {"hover": True, "tooltipDelay": 120, "hideEdgesOnDrag": True},
        # Labels are in layout pixels and vis.js zooms to fit the drawing: grow the
        # font with its extent so labels read at about 12 px on screen; the white
        # outline keeps them legible over edges.
        "nodes": {"font": {"size": label_font_size(positions), "face": "sans-serif",
                           "strokeWidth": 3, "strokeColor": "#ffffff"}},
        "edges": {"smooth": False},
    }
    page = _strip_remote_resources(net.generate_html())
    create = "network = new vis.Network(container, data, options);"
    page = page.replace(create, _TOOLTIP_SCRIPT + "\n                  " + create
                        + _TOOLTIP_HOOKS, 1)
    page = page.replace("</style>", _TOOLTIP_STYLE + "</style>", 1)
    if legend:
        page = page.replace('<div id="mynetwork"', _legend_html(g, color_by, genre_colors)
                            + '\n            <div id="mynetwork"', 1)
    if "graphrecShowTip(nodes" not in page:  # the template changed: refuse, keep tooltips
        raise RuntimeError("unexpected pyvis template: could not install tooltips")
    return page


# --------------------------------------------------------------------------- pieces


def layout(g: nx.Graph, seed: int = 0, method: str = "radial", ring_gap: float = RING_GAP,
           margin: float = NODE_MARGIN, sweeps: int = 4) -> dict[int, tuple[float, float]]:
    """Node positions in vis.js pixel coordinates; identical for identical input.

    "radial": the centre (hop 0) in the middle and one band per hop, ``ring_gap``
    pixels apart. Within a band, nodes sit in angular order; a band too crowded
    for one ring is split into ``m`` staggered sub-rings (node ``k`` of the order
    on sub-ring ``k mod m``), with ``m`` chosen to give the smallest outer radius
    at which any two nodes of the band are at least ``2 * largest radius +
    margin`` apart. The angular order comes from ``sweeps`` barycentre passes
    (Sugiyama-style crossing reduction on circles): each node moves to the
    circular mean angle of its neighbours on the neighbouring bands, so items
    that share users sit together and edges stay short.

    "spring": a seeded Fruchterman-Reingold layout started from the radial one
    and scaled back to its extent, for a less regular picture.

    The seed turns the whole drawing by a random angle, so another seed gives
    another picture; node numbering and insertion order do not matter.
    """
    if method not in ("spring", "radial"):
        raise ValueError(f"layout must be 'spring' or 'radial', got {method!r}")
    if g.number_of_nodes() == 0:
        return {}
    nodes = sorted(g.nodes)
    hop = {n: g.nodes[n].get("hop") for n in nodes}
    if any(h is None for h in hop.values()):  # not an ego network: rings by distance
        root = max(nodes, key=lambda n: (g.degree[n], -n))
        dist = nx.single_source_shortest_path_length(g, root)
        far = max(dist.values(), default=0) + 1
        hop = {n: dist.get(n, far) for n in nodes}
    rings = [[n for n in nodes if hop[n] == h] for h in sorted(set(hop.values()))]
    neighbours = {n: sorted(g.neighbors(n)) for n in nodes}
    turn = float(np.random.default_rng(seed).random()) * 2 * math.pi

    # Angular order: start in node order, then alternate inward and outward
    # barycentre sweeps; ranks are re-spread evenly after every ring, so nothing collapses.
    angle = {n: 0.0 for n in nodes}
    for ring in rings:
        _spread(ring, angle)
    for sweep in range(max(sweeps, 1)):
        order = range(1, len(rings)) if sweep % 2 == 0 else range(len(rings) - 1, 0, -1)
        for r in order:
            side = r - 1 if sweep % 2 == 0 else r + 1  # inner ring going out, outer coming in
            ring = rings[r]
            if side >= len(rings):
                side = r - 1
            side_hop = hop[rings[side][0]]
            ring.sort(key=lambda n, side_hop=side_hop: (
                _mean_angle(angle, neighbours[n], hop, side_hop, angle[n]), n))
            _spread(ring, angle)

    # Radii: each band as compact as its spacing allows.
    pos: dict[int, tuple[float, float]] = {}
    outer = 0.0
    for r, ring in enumerate(rings):
        sizes = [_drawn_size(g.nodes[n]) for n in ring]
        gap = 2 * max(sizes) + margin  # centre-to-centre distance that cannot overlap
        if r == 0 and len(ring) == 1:
            pos[ring[0]] = (0.0, 0.0)
            outer = max(sizes)
            continue
        inner = outer + ring_gap
        m, slots, radius = _sub_rings(len(ring), inner, gap)
        for k, n in enumerate(ring):
            a = 2 * math.pi * k / slots + turn
            rad = radius + (k % m) * gap
            pos[n] = (rad * math.cos(a), rad * math.sin(a))
        outer = radius + (m - 1) * gap
    if method == "spring":
        extent = max(max(math.hypot(x, y) for x, y in pos.values()), 1.0)
        h = nx.Graph()
        h.add_nodes_from(nodes)
        h.add_edges_from(sorted((min(u, v), max(u, v)) for u, v in g.edges))
        start = {n: (x / extent, y / extent) for n, (x, y) in pos.items()}
        k = 2.0 / math.sqrt(len(nodes))
        moved = nx.spring_layout(h, pos=start, seed=seed, k=k, iterations=30, center=(0, 0))
        top = max(max(math.hypot(float(x), float(y)) for x, y in moved.values()), 1e-9)
        pos = {n: (float(x) * extent / top, float(y) * extent / top) for n, (x, y) in moved.items()}
    return {n: (round(float(pos[n][0]), 2), round(float(pos[n][1]), 2)) for n in nodes}


def _spread(ring: list[int], angle: dict[int, float]) -> None:
    """Evenly spaced angles in the ring's current order."""
    for k, n in enumerate(ring):
        angle[n] = 2 * math.pi * k / len(ring)


def _mean_angle(angle: dict[int, float], neighbours: list[int], hop: dict[int, Any],
                side_hop: Any, default: float) -> float:
    """Circular mean of the angles of the neighbours on band ``side_hop``, in [0, 2π)."""
    s = c = 0.0
    for m in neighbours:
        if hop[m] == side_hop:
            s += math.sin(angle[m])
            c += math.cos(angle[m])
    if abs(s) < 1e-12 and abs(c) < 1e-12:
        return default
    return math.atan2(s, c) % (2 * math.pi)


def _sub_rings(count: int, inner: float, gap: float) -> tuple[int, int, float]:
    """(sub-rings m, angular slots, innermost radius) with the smallest outer radius.

    Nodes on one sub-ring are m slots apart, so the innermost radius must give
    ``2π r m / slots >= gap``; neighbouring slots are on neighbouring sub-rings,
    ``gap`` apart radially. Slots are a multiple of m so the pattern wraps round.
    """
    best: tuple[float, int, int, float] | None = None
    for m in range(1, count + 1):
        slots = -(-count // m) * m
        radius = max(inner, slots * gap / (2 * math.pi * m))
        if count == 1:
            radius = inner
        out = radius + (m - 1) * gap
        if best is None or out < best[0] - 1e-9:
            best = (out, m, slots, radius)
        elif m > 1 and (m - 1) * gap > best[0]:
            break  # the radial depth alone is already larger
    assert best is not None
    return best[1], best[2], best[3]


def _drawn_size(d: dict[str, Any]) -> float:
    """The vis.js radius a node is drawn with (see :func:`ego_html`)."""
    return node_size(d.get("degree", 1)) * (1.0 if d.get("kind") == "user" else 0.85)


def label_font_size(positions: dict[int, tuple[float, float]]) -> int:
    """Label size in layout pixels: 12, more for drawings wider than about 500 px."""
    extent = max((math.hypot(x, y) for x, y in positions.values()), default=0.0)
    return max(12, round(extent / LABEL_FONT_PER_PX))


def hubs(g: nx.Graph, count: int) -> set[int]:
    """The ``count`` nodes of highest degree (the full-graph ``degree`` attribute when
    present, else the degree here), ties to the lower node number."""
    ranked = sorted(g.nodes, key=lambda n: (-float(g.nodes[n].get("degree", g.degree[n])), n))
    return set(ranked[:count])


def node_size(degree: Any) -> float:
    """Marker size (vis.js radius): 5 px plus 2 px per doubling of the degree, at most 25."""
    return round(min(25.0, 5.0 + 2.0 * math.log2(1.0 + max(float(degree), 0.0))), 2)


def node_tooltip(d: dict[str, Any], is_center: bool = False) -> str:
    """Tooltip markup of one node; every value is HTML-escaped."""
    kind = d.get("kind", "node")
    esc = _esc
    head = esc(d.get("title") or d.get("label") or d.get("id", "")) if kind == "item" else (
        f"User {esc(d.get('id', d.get('label', '')))}")
    lines = [f"<b>{head}</b>"]
    if kind == "item":
        lines.append(f"item id: {esc(d.get('id', ''))}")
        if d.get("genres"):
            lines.append(f"genres: {esc(', '.join(map(str, d['genres'])))}")
    lines.append(f"{esc(d.get('degree', 0))} interactions")
    if is_center:
        lines.append("centre of this view")
    else:
        hop = d.get("hop")
        if hop is not None:
            lines.append(f"{esc(hop)} hop{'s' if hop != 1 else ''} from the centre")
    if d.get("rating_to_center") is not None:
        lines.append(f"rating with the centre: {_num(d['rating_to_center'])}")
    return "<br>".join(lines)


def edge_tooltip(a: dict[str, Any], b: dict[str, Any], rating: float) -> str:
    """Tooltip markup of one interaction: who, what, rating."""
    user, item = (a, b) if a.get("kind") == "user" else (b, a)
    title = item.get("title") or item.get("label") or item.get("id", "")
    return (f"<b>{_esc(user.get('id', user.get('label', '')))}</b> → {_esc(title)}"
            f"<br>rating: {_num(rating)}")


def genre_color_map(g: nx.Graph) -> dict[str, str]:
    """First genre of each item -> colour, in order of item node number (stable)."""
    colors: dict[str, str] = {}
    for n in sorted(g.nodes):
        genres = g.nodes[n].get("genres") or []
        if g.nodes[n].get("kind") == "item" and genres and genres[0] not in colors:
            colors[genres[0]] = GENRE_PALETTE[len(colors) % len(GENRE_PALETTE)]
    return colors


def _first_genre_color(d: dict[str, Any], colors: dict[str, str]) -> str:
    genres = d.get("genres") or []
    return colors.get(genres[0], NO_GENRE_COLOR) if genres else NO_GENRE_COLOR


def _legend_html(g: nx.Graph, color_by: str, genre_colors: dict[str, str]) -> str:
    entries: list[tuple[str, str | None]] = [("users (dots)", USER_COLOR)]
    if color_by == "genre":
        shown = list(genre_colors.items())[: len(GENRE_PALETTE)]
        entries.append(("items (squares) by first genre:", None))
        entries += [(genre, color) for genre, color in shown]
        if len(genre_colors) > len(shown):
            entries.append((f"+{len(genre_colors) - len(shown)} more genres (colours repeat)",
                            NO_GENRE_COLOR))
        if any(d.get("kind") == "item" and not d.get("genres") for _, d in g.nodes(data=True)):
            entries.append(("no genre", NO_GENRE_COLOR))
    else:
        entries.append(("items (squares)", ITEM_COLOR))
    swatches = "".join(f'<span style="background:{c}"></span>{_esc(label)}' if c
                       else f" &nbsp;{_esc(label)}" for label, c in entries)
    return f'<div class="graphrec-legend">{swatches}</div>'


class _TemplateLoader(jinja2.FileSystemLoader):
    """pyvis' templates, with vis.js' stylesheet less its unused icon rules."""

    def get_source(self, environment: jinja2.Environment, template: str):
        source, filename, uptodate = super().get_source(environment, template)
        if template.endswith("vis-network.css"):
            source = _ICON_RULE.sub("", source)
        return source, filename, uptodate


@functools.lru_cache(maxsize=2)
def _template_env(template_dir: str) -> jinja2.Environment:
    """One jinja environment per process, so pyvis' template (with vis.js included
    inline, its stylesheet trimmed) is read and parsed once rather than on every drawing."""
    return jinja2.Environment(loader=_TemplateLoader(template_dir))


def _strip_remote_resources(page: str) -> str:
    """Drop the CDN tags pyvis adds (bootstrap) so the page never reaches the network."""
    page = _REMOTE_TAG.sub("", page)
    page = _DEAD_COMMENT.sub("", page)
    if re.search(r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", page,
                 re.IGNORECASE):
        raise RuntimeError("pyvis output still references a remote resource")
    return page


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1].rstrip() + "…"


def _fade(hex_color: str) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{DIMMED_OPACITY})"


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any) -> str:
    v = float(value)
    return str(int(v)) if v.is_integer() else f"{v:g}"
