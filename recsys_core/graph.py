"""The bipartite user-item graph.

Node numbering used everywhere: users are nodes ``0..n_users-1`` and items are
nodes ``n_users..n_users+n_items-1``.

Besides the tensors models train on (edge index, normalised adjacency), this
module samples networkx ego networks around a user or an item for display,
reading only the neighbourhood it visits, and computes graph statistics.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys_core.data.dataset import Dataset

if TYPE_CHECKING:  # torch is imported where tensors are built: the graph views never need it
    import torch


def edge_index(ds: Dataset, which: str = "train") -> torch.Tensor:
    """[2, 2E] undirected edge index of the chosen interactions (both directions)."""
    import torch

    m = ds.matrix(which).tocoo()
    users = torch.as_tensor(m.row, dtype=torch.long)
    items = torch.as_tensor(m.col, dtype=torch.long) + ds.n_users
    return torch.stack([torch.cat([users, items]), torch.cat([items, users])])


def normalized_adjacency(ds: Dataset, which: str = "train") -> torch.Tensor:
    """Symmetrically normalised adjacency D^-1/2 A D^-1/2 as a torch sparse CSR tensor.

    Shape [n_users + n_items, n_users + n_items]; isolated nodes get zero rows.
    """
    return normalize_bipartite(ds.matrix(which))


def normalize_bipartite(r: sp.spmatrix) -> torch.Tensor:
    """Build D^-1/2 [[0, R], [R^T, 0]] D^-1/2 from a user x item matrix R."""
    r = sp.csr_matrix(r, dtype=np.float32)
    r.data[:] = 1.0
    n_users, n_items = r.shape
    adj = sp.bmat([[None, r], [r.T, None]], format="csr", dtype=np.float32)
    adj.resize((n_users + n_items, n_users + n_items))
    deg = np.asarray(adj.sum(axis=1)).ravel()
    with np.errstate(divide="ignore"):
        inv_sqrt = np.where(deg > 0, deg ** -0.5, 0.0).astype(np.float32)
    norm = sp.diags(inv_sqrt) @ adj @ sp.diags(inv_sqrt)
    return torch_csr(norm)


def torch_csr(m: sp.spmatrix) -> torch.Tensor:
    """A scipy matrix as a float32 torch sparse CSR tensor (indices sorted, int64).

    torch warns on every construction that its CSR support is "in beta" and
    that invariant checks are off; the project uses CSR deliberately (the
    products it needs are stable) and builds valid matrices from scipy, so both
    warnings are silenced here, for this call only, and the checks are turned
    off explicitly rather than implicitly.
    """
    import torch

    m = sp.csr_matrix(m)
    m.sort_indices()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta",
                                category=UserWarning)
        return torch.sparse_csr_tensor(
            torch.as_tensor(m.indptr, dtype=torch.int64),
            torch.as_tensor(m.indices, dtype=torch.int64),
            torch.as_tensor(m.data, dtype=torch.float32),
            size=m.shape, check_invariants=False,
        )


# --------------------------------------------------------------------------- ego networks


@dataclass
class BipartiteIndex:
    """CSR adjacency of one part of a dataset, for fast neighbourhood queries.

    Built once per dataset (O(E)); every ego network after that only touches the
    rows of the nodes it visits, so a query on a 1,000,000-interaction dataset
    costs milliseconds.
    """

    by_user: sp.csr_matrix  # [n_users, n_items] rating of each interaction
    by_item: sp.csr_matrix  # [n_items, n_users] the same, transposed
    user_degree: np.ndarray  # [n_users] interactions per user
    item_degree: np.ndarray  # [n_items] interactions per item
    part: str

    @classmethod
    def from_dataset(cls, ds: Dataset, part: str = "all") -> BipartiteIndex:
        r = ds.matrix(part, binary=False).tocsr()
        r.sort_indices()
        rt = r.T.tocsr()
        rt.sort_indices()
        return cls(r, rt, np.diff(r.indptr), np.diff(rt.indptr), part)

    @property
    def n_users(self) -> int:
        return self.by_user.shape[0]

    @property
    def n_items(self) -> int:
        return self.by_user.shape[1]


@dataclass
class EgoNetwork:
    """A sampled neighbourhood: the networkx graph plus how it was sampled."""

    graph: nx.Graph  # nodes numbered as everywhere (users 0..U-1, items U..U+I-1)
    center: int  # node number of the centre
    hops: int
    n_within: int  # nodes within `hops` of the centre in the full graph, centre included
    max_nodes: int
    n_edges_among: int  # interactions among the kept nodes (the graph may draw fewer)
    statement: str  # the sampling in words, for the page

    @property
    def truncated(self) -> bool:
        return self.graph.number_of_nodes() < self.n_within


def node_of(ds: Dataset, kind: str, original: Any) -> int:
    """Node number of an original user or item id (``kind`` "user" or "item"), or of a
    node number itself (``kind`` "node", checked to be in range)."""
    if kind == "user":
        return ds.user_index(original)
    if kind == "item":
        return ds.n_users + ds.item_index(original)
    if kind == "node":
        n = int(original)
        if not 0 <= n < ds.n_users + ds.n_items:
            raise KeyError(f"node {n} is outside 0..{ds.n_users + ds.n_items - 1}")
        return n
    raise ValueError(f"kind must be 'user', 'item' or 'node', got {kind!r}")


def ego_network(ds: Dataset, center: Any, kind: str = "user", hops: int = 2,
                max_nodes: int = 300, max_edges: int | None = 1500, part: str = "all",
                index: BipartiteIndex | None = None) -> EgoNetwork:
    """The neighbourhood within ``hops`` of a user or item, capped at ``max_nodes`` nodes.

    ``center`` is an original id of the given ``kind`` ("user" or "item"), or a
    node number with ``kind="node"``. ``part`` picks the interactions ("all",
    "train", "valid", "test").

    Nodes are added hop by hop (nearer nodes always first). When a hop does not
    fit under the cap, its nodes are ranked by their strongest edge into the
    graph kept so far (highest rating first), then by their degree in the full
    graph (well-connected first), then by node number, and the best are kept.
    The returned graph holds the interactions among the kept nodes; past
    ``max_edges`` (None: no limit) it keeps each node's strongest edge towards
    the centre (so the graph stays connected) and then the highest-rated others.

    Only the rows of visited nodes are read (CSR slicing), never the whole graph.
    Pass a prebuilt ``index`` (of the same ``part``) to skip building the
    adjacency for repeated queries.

    Node attributes: kind ("user"/"item"), id (original id), label, title (items),
    genres (items, list), degree (in the full graph), hop, rating_to_center
    (rating on the edge to the centre, hop-1 nodes only). Edge attribute: rating.
    """
    if hops < 1:
        raise ValueError(f"hops must be at least 1, got {hops}")
    if max_nodes < 2:
        raise ValueError(f"max_nodes must be at least 2, got {max_nodes}")
    if max_edges is not None and max_edges < max_nodes - 1:
        raise ValueError(f"max_edges must be at least max_nodes - 1 = {max_nodes - 1} "
                         f"to keep the graph connected, got {max_edges}")
    if index is None:
        index = BipartiteIndex.from_dataset(ds, part)
    elif index.part != part:
        raise ValueError(f"the index was built for part {index.part!r}, not {part!r}")
    n_users = index.n_users
    c = node_of(ds, kind, center)
    center_is_user = c < n_users
    c_local = c if center_is_user else c - n_users

    # Full breadth-first count of the neighbourhood, and the capped selection.
    seen_users = np.zeros(n_users, dtype=bool)
    seen_items = np.zeros(index.n_items, dtype=bool)
    (seen_users if center_is_user else seen_items)[c_local] = True
    n_within = 1
    reach = np.array([c_local])  # full frontier, all on one side
    kept_layers: list[np.ndarray] = [np.array([c_local])]  # kept nodes per hop (local ids)
    budget = max_nodes - 1
    for hop in range(1, hops + 1):
        from_users = (hop % 2 == 1) == center_is_user  # this hop goes user -> item
        adj = index.by_user if from_users else index.by_item
        seen_next = seen_items if from_users else seen_users
        nxt = np.unique(adj[reach].indices)
        nxt = nxt[~seen_next[nxt]]
        seen_next[nxt] = True
        n_within += len(nxt)
        reach = nxt
        if budget > 0 and len(kept_layers[-1]):
            chosen = _strongest_neighbours(adj, kept_layers[-1], nxt,
                                           index.item_degree if from_users else index.user_degree,
                                           budget)
            budget -= len(chosen)
            kept_layers.append(chosen)
        else:  # the cap is reached: farther hops are counted, not shown
            kept_layers.append(np.zeros(0, dtype=np.int64))
        if len(reach) == 0:
            break

    graph, n_among = _build_ego_graph(ds, index, kept_layers, center_is_user, c, max_edges)
    explicit = bool(getattr(ds, "explicit", True))
    shown = graph.number_of_nodes()
    hop_word = "hop" if hops == 1 else "hops"
    if shown < n_within:
        rule = ("kept the highest-rated edges, ties broken by neighbour degree" if explicit
                else "kept the best-connected neighbours")
        statement = (f"showing {shown:,} of {n_within:,} nodes within {hops} {hop_word}; "
                     f"{rule}")
    else:
        statement = f"showing all {shown:,} nodes within {hops} {hop_word}"
    if graph.number_of_edges() < n_among:
        statement += (f"; drawing the {graph.number_of_edges():,} strongest of "
                      f"{n_among:,} edges among them")
    return EgoNetwork(graph, c, hops, n_within, max_nodes, n_among, statement)


def _strongest_neighbours(adj: sp.csr_matrix, frontier: np.ndarray, candidates: np.ndarray,
                          degree: np.ndarray, budget: int) -> np.ndarray:
    """Up to ``budget`` of ``candidates``, ranked by best edge rating from ``frontier``,
    then degree (both descending), then id."""
    if len(candidates) <= budget:
        return candidates
    sub = adj[frontier]  # [len(frontier), n_other] only the kept frontier's rows
    cols, vals = sub.indices, sub.data
    is_candidate = np.zeros(adj.shape[1], dtype=bool)
    is_candidate[candidates] = True
    mask = is_candidate[cols]
    cols, vals = cols[mask], vals[mask]
    best = np.full(adj.shape[1], -np.inf)
    np.maximum.at(best, cols, vals)
    reachable = np.unique(cols)  # candidates adjacent to a kept node
    order = np.lexsort((reachable, -degree[reachable], -best[reachable]))
    return np.sort(reachable[order[:budget]])


def _build_ego_graph(ds: Dataset, index: BipartiteIndex, kept_layers: list[np.ndarray],
                     center_is_user: bool, center: int, max_edges: int | None
                     ) -> tuple[nx.Graph, int]:
    n_users = index.n_users
    users, items, user_hop, item_hop = [], [], [], []
    for hop, layer in enumerate(kept_layers):
        on_user_side = (hop % 2 == 0) == center_is_user
        (users if on_user_side else items).append(layer)
        (user_hop if on_user_side else item_hop).append(np.full(len(layer), hop))
    users = np.concatenate(users) if users else np.zeros(0, dtype=np.int64)
    items = np.concatenate(items) if items else np.zeros(0, dtype=np.int64)
    user_hop = np.concatenate(user_hop) if user_hop else np.zeros(0, dtype=np.int64)
    item_hop = np.concatenate(item_hop) if item_hop else np.zeros(0, dtype=np.int64)

    # Interactions among kept nodes: the kept users' rows, restricted to kept items.
    sub = index.by_user[users][:, items].tocoo()  # [len(users), len(items)]
    rows, cols, vals = sub.row, sub.col, sub.data
    n_among = len(vals)
    if max_edges is not None and n_among > max_edges:
        keep = _strongest_edges(rows, cols, vals, user_hop, item_hop,
                                index.user_degree[users], index.item_degree[items], max_edges)
        rows, cols, vals = rows[keep], cols[keep], vals[keep]
    g = nx.Graph()
    has_title = "title" in ds.items.columns
    has_genres = "genres" in ds.items.columns
    for u, hop in zip(users.tolist(), user_hop.tolist()):
        original = ds.user_ids[u]
        g.add_node(u, kind="user", id=_plain(original), label=str(original),
                   degree=int(index.user_degree[u]), hop=hop)
    for i, hop in zip(items.tolist(), item_hop.tolist()):
        original = ds.item_ids[i]
        attrs = {"kind": "item", "id": _plain(original), "degree": int(index.item_degree[i]),
                 "hop": hop, "title": ds.item_title(i) if has_title else str(original)}
        attrs["label"] = attrs["title"]
        attrs["genres"] = _genres(ds.items["genres"].iat[i]) if has_genres else []
        g.add_node(n_users + i, **attrs)
    g.add_edges_from(
        (int(users[r]), n_users + int(items[c]), {"rating": float(v)})
        for r, c, v in zip(rows, cols, vals))
    for nbr in g.neighbors(center):
        g.nodes[nbr]["rating_to_center"] = g.edges[center, nbr]["rating"]
    return g, n_among


def _strongest_edges(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray,
                     user_hop: np.ndarray, item_hop: np.ndarray, user_degree: np.ndarray,
                     item_degree: np.ndarray, max_edges: int) -> np.ndarray:
    """Positions of the edges to draw: every node's best edge towards the centre, then
    the remaining edges by rating and degree, up to ``max_edges``."""
    # Adjacent BFS layers differ by one hop; the farther end is the "child".
    child_is_user = user_hop[rows] > item_hop[cols]
    n_users = len(user_hop)
    child = np.where(child_is_user, rows, n_users + cols)  # local node ids, users first
    child_degree = np.where(child_is_user, user_degree[rows], item_degree[cols])
    parent = np.where(child_is_user, n_users + cols, rows)
    parent_degree = np.where(child_is_user, item_degree[cols], user_degree[rows])
    # Best edge per child: highest rating, then best-connected parent, then lowest id.
    order = np.lexsort((parent, -parent_degree, -vals, child))
    first = np.r_[True, child[order][1:] != child[order][:-1]]
    tree = order[first]
    rest = np.setdiff1d(np.arange(len(vals)), tree)
    rest = rest[np.lexsort((parent[rest], child[rest], -child_degree[rest], -vals[rest]))]
    return np.sort(np.concatenate([tree, rest[: max(0, max_edges - len(tree))]]))


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _genres(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    if not isinstance(value, str) or not value.strip():
        return []
    return [g.strip() for g in re.split(r"[|,]", value) if g.strip()]


def search_nodes(ds: Dataset, query: str, limit: int = 20) -> list[tuple[str, Any, str]]:
    """Users and items whose id or item title matches ``query`` (case-insensitive).

    Exact id matches come first, then ids starting with the query, then titles
    containing it. Returns (kind, original id, label) triples.
    """
    q = str(query).strip().lower()
    if not q:
        return []
    found: list[tuple[int, str, Any, str]] = []
    for kind, ids in (("user", ds.user_ids), ("item", ds.item_ids)):
        text = pd.Series(ids, dtype=object).astype(str).str.lower()
        for rank, mask in ((0, text == q), (1, text.str.startswith(q) & (text != q))):
            for pos in np.flatnonzero(mask.to_numpy())[:limit]:
                label = ds.item_title(pos) if kind == "item" else str(ids[pos])
                found.append((rank, kind, _plain(ids[pos]), label))
    if "title" in ds.items.columns:
        titles = ds.items["title"].astype(str).str.lower()
        for pos in np.flatnonzero(titles.str.contains(q, regex=False).to_numpy())[:limit]:
            found.append((2, "item", _plain(ds.item_ids[pos]), ds.item_title(pos)))
    out, seen = [], set()
    for _, kind, original, label in sorted(found, key=lambda f: f[0]):
        if (kind, original) not in seen:
            seen.add((kind, original))
            out.append((kind, original, label))
    return out[:limit]


# --------------------------------------------------------------------------- statistics


def to_networkx(ds: Dataset, part: str = "all") -> nx.Graph:
    """The whole bipartite graph as networkx (O(E) memory; meant for small datasets)."""
    r = ds.matrix(part, binary=False).tocoo()
    g = nx.Graph()
    g.add_nodes_from(range(ds.n_users), kind="user")
    g.add_nodes_from(range(ds.n_users, ds.n_users + ds.n_items), kind="item")
    g.add_edges_from((int(u), ds.n_users + int(i), {"rating": float(v)})
                     for u, i, v in zip(r.row, r.col, r.data))
    return g


def graph_stats(g: nx.Graph) -> dict[str, Any]:
    """Statistics of a bipartite user-item graph (nodes carry ``kind``), via networkx.

    - components: number of connected components; largest_component: its node count.
    - degree_assortativity: Pearson correlation of the degrees at either end of an
      edge, in [-1, 1]; negative in most user-item graphs (heavy users rate niche
      items, popular items are rated by light users). NaN when undefined (no
      degree variance, e.g. a single edge).
    - bipartite_density: edges / (users x items), in [0, 1].
    """
    users = [n for n, kind in g.nodes(data="kind") if kind == "user"]
    n_users, n_nodes = len(users), g.number_of_nodes()
    components = list(nx.connected_components(g)) if n_nodes else []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 0/0 correlation on degenerate graphs
        try:
            assortativity = float(nx.degree_assortativity_coefficient(g))
        except (ValueError, ZeroDivisionError, IndexError):
            assortativity = float("nan")
    density = (float(nx.bipartite.density(g, users))
               if n_users and n_nodes - n_users else 0.0)
    return {
        "nodes": n_nodes,
        "edges": g.number_of_edges(),
        "users": n_users,
        "items": n_nodes - n_users,
        "components": len(components),
        "largest_component": max((len(c) for c in components), default=0),
        "degree_assortativity": assortativity,
        "bipartite_density": density,
    }
