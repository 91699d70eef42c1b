"""A small graph of why one item is recommended: the explanation's paths, drawn with pyvis.

From an :class:`~recsys_core.explain.evidence.Evidence` this builds the
subgraph a reader can follow:

- the user (centre) and the history items the evidence cites (by influence
  or as the start of a collaborative path), joined by the user's ratings;
- for each collaborative path ``user -> liked item -> other user -> item``,
  up to ``bridges`` of the other users who interacted with both items;
- the recommended item, highlighted with the path edges that reach it.

Node numbers follow :mod:`recsys_core.graph` (users ``0..U-1``, items
``U..``). Drawing is :func:`recsys_core.viz.graph_html.ego_html`'s, so the
same escaping and offline rules hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from recsys_core.data.dataset import Dataset


@dataclass
class PathGraph:
    """The graph to draw, its centre and what to highlight."""

    graph: nx.Graph
    center: int  # the user's node
    item: int  # the recommended item's node
    highlight_edges: list[tuple[int, int]] = field(default_factory=list)


def _genres(ds: Dataset, i: int) -> list[str]:
    if "genres" not in ds.items.columns:
        return []
    value = ds.items["genres"].iat[i]
    if isinstance(value, str):
        for sep in ("|", ",", ";"):
            if sep in value:
                return [g.strip() for g in value.split(sep) if g.strip()]
        return [value.strip()] if value.strip() else []
    return list(value) if isinstance(value, list | tuple) else []


def path_graph(evidence, ds: Dataset, bridges: int = 2) -> PathGraph:
    """The explanation subgraph of ``evidence`` over ``ds``'s training interactions."""
    train = ds.matrix("train", binary=False).tocsr()
    csc = train.tocsc()
    u = ds.user_index(evidence.user_id)
    i = ds.item_index(evidence.item_id)
    n_users = ds.n_users
    item_degree = np.diff(csc.indptr)
    user_degree = np.diff(train.indptr)

    g = nx.Graph()

    def add_user(x: int, hop: int) -> int:
        node = int(x)
        if node not in g:
            g.add_node(node, kind="user", id=str(ds.user_ids[x]), label=f"user {ds.user_ids[x]}",
                       degree=int(user_degree[x]), hop=hop)
        return node

    def add_item(x: int, hop: int) -> int:
        node = n_users + int(x)
        if node not in g:
            title = ds.item_title(x)
            g.add_node(node, kind="item", id=str(ds.item_ids[x]), label=title, title=title,
                       degree=int(item_degree[x]), hop=hop, genres=_genres(ds, x))
        return node

    def rating(user: int, item: int) -> float:
        return float(train[user, item]) or 1.0

    center = add_user(u, 0)
    target = add_item(i, 3)
    highlight: list[tuple[int, int]] = []
    cited = [h.item_id for h in evidence.history] + [p.via_id for p in evidence.paths]
    for item_id in dict.fromkeys(cited):
        h = ds.item_index(item_id)
        node = add_item(h, 1)
        g.add_edge(center, node, rating=rating(u, h))
        g.nodes[node]["rating_to_center"] = rating(u, h)
    fans_i = set(csc.indices[csc.indptr[i]:csc.indptr[i + 1]].tolist()) - {u}
    for path in evidence.paths:
        h = ds.item_index(path.via_id)
        fans_h = csc.indices[csc.indptr[h]:csc.indptr[h + 1]]
        shared = [int(w) for w in fans_h if int(w) in fans_i][:bridges]
        via = n_users + h
        if shared:
            highlight.append((center, via))
        for w in shared:
            node = add_user(w, 2)
            g.add_edge(via, node, rating=rating(w, h))
            g.add_edge(node, target, rating=rating(w, i))
            highlight += [(via, node), (node, target)]
    return PathGraph(g, center, target, highlight)


def path_html(evidence, ds: Dataset, bridges: int = 2, height: int = 380) -> str:
    """Self-contained HTML of :func:`path_graph` (pyvis, offline, escaped)."""
    from recsys_core.viz.graph_html import ego_html

    pg = path_graph(evidence, ds, bridges)
    return ego_html(pg, highlight_nodes=[pg.item, pg.center], highlight_edges=pg.highlight_edges,
                    height=height, layout_method="radial", legend=True)
