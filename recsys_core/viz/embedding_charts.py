"""Figures and tables for looking at user and item embeddings.

Nodes follow :mod:`recsys_core.graph`'s numbering: users ``0..U-1``, items
``U..U+I-1``. :func:`node_table` describes every node (kind, id, title,
degree, genre, community) so a figure can colour and label a 2-D projection
by any of them; :func:`nearest_neighbours` ranks nodes by cosine similarity.
Every label shown in a hover is HTML-escaped: titles are data, not markup.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import networkx as nx
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from recsys_core.data.dataset import Dataset

#: What a projection can be coloured by (the column of :func:`node_table`).
COLOR_BY = ("kind", "genre", "degree", "community")

#: Categories beyond this many are drawn together as "other" so a legend stays readable.
MAX_CATEGORIES = 12

# Colour-blind-safe qualitative palette (Okabe-Ito, then Plotly's D3 for the rest).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000", "#8c564b", "#7f7f7f", "#bcbd22", "#17becf", "#b0b0b0")
SYMBOLS = {"user": "circle", "item": "diamond"}
#: Scatters up to this many points are drawn as SVG: faster than starting WebGL, which a
#: browser without a GPU emulates in software. Larger ones use WebGL (go.Scattergl).
SVG_MAX_POINTS = 5000


# ------------------------------------------------------------------ node descriptions
def _first_genre(value) -> str:
    if isinstance(value, list | tuple | np.ndarray):
        return str(value[0]) if len(value) else "unknown"
    if not isinstance(value, str) or not value.strip():
        return "unknown"
    for sep in ("|", ",", ";"):
        if sep in value:
            return value.split(sep)[0].strip() or "unknown"
    return value.strip()


def node_table(ds: Dataset) -> pd.DataFrame:
    """One row per graph node: node, kind, index, id, title, degree, genre.

    ``degree`` counts training interactions; ``genre`` is an item's first
    listed genre ("unknown" without one) and "user" for users.
    """
    train = ds.train_interactions
    user_degree = np.bincount(train["user"].to_numpy(), minlength=ds.n_users)
    item_degree = np.bincount(train["item"].to_numpy(), minlength=ds.n_items)
    if "genres" in ds.items.columns:
        genres = [_first_genre(g) for g in ds.items["genres"].tolist()]
    else:
        genres = ["unknown"] * ds.n_items
    users = pd.DataFrame({
        "node": np.arange(ds.n_users), "kind": "user", "index": np.arange(ds.n_users),
        "id": [str(u) for u in ds.user_ids],
        "title": [f"user {u}" for u in ds.user_ids],
        "degree": user_degree, "genre": "user",
    })
    items = pd.DataFrame({
        "node": ds.n_users + np.arange(ds.n_items), "kind": "item",
        "index": np.arange(ds.n_items), "id": [str(i) for i in ds.item_ids],
        "title": [ds.item_title(i) for i in range(ds.n_items)],
        "degree": item_degree, "genre": genres,
    })
    return pd.concat([users, items], ignore_index=True)


def community_labels(ds: Dataset, nodes: np.ndarray | None = None, seed: int = 0,
                     max_edges: int = 200_000) -> tuple[np.ndarray, str]:
    """Louvain communities (networkx) of the training graph, as labels per node.

    Returns ``(labels, how)``: ``labels[j]`` is the community of ``nodes[j]``
    (all nodes when None), numbered by size, largest first; -1 marks a node
    with no edge in the graph used. Graphs over ``max_edges`` edges are cut to
    the subgraph induced by ``nodes``; ``how`` says which graph was used.
    """
    n_nodes = ds.n_users + ds.n_items
    nodes = np.arange(n_nodes) if nodes is None else np.asarray(nodes, dtype=np.int64)
    train = ds.train_interactions
    u = train["user"].to_numpy()
    i = train["item"].to_numpy() + ds.n_users
    how = f"Louvain communities of the whole training graph ({len(u):,} edges)"
    if len(u) > max_edges:
        inside = np.zeros(n_nodes, dtype=bool)
        inside[nodes] = True
        keep = inside[u] & inside[i]
        u, i = u[keep], i[keep]
        how = (f"Louvain communities of the graph induced by the {len(nodes):,} shown nodes "
               f"({len(u):,} edges; the whole graph is too large)")
    graph = nx.Graph()
    graph.add_edges_from(zip(u.tolist(), i.tolist()))
    found = nx.community.louvain_communities(graph, seed=seed) if graph.number_of_edges() else []
    labels = np.full(n_nodes, -1, dtype=np.int64)
    for rank, members in enumerate(sorted(found, key=lambda c: (-len(c), min(c)))):
        labels[list(members)] = rank
    return labels[nodes], how


# ------------------------------------------------------------------ neighbours
def normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def nearest_neighbours(x: np.ndarray, query: int, k: int = 10,
                       candidates: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of ``x`` most cosine-similar to row ``query`` (itself excluded).

    Returns ``(rows, similarities)``, most similar first; similarity is in
    [-1, 1]; ties keep the lower row first. ``candidates`` restricts the rows
    considered (e.g. items only).
    """
    if not 0 <= query < len(x):
        raise IndexError(f"query row {query} is outside the {len(x)} embeddings")
    unit = normalize(x)
    sims = unit @ unit[query]  # [n]
    pool = np.arange(len(x)) if candidates is None else np.asarray(candidates, dtype=np.int64)
    pool = pool[pool != query]
    order = np.lexsort((pool, -sims[pool]))[:k]
    return pool[order], sims[pool[order]].astype(np.float64)


def neighbours_frame(table: pd.DataFrame, x: np.ndarray, node: int, k: int = 10,
                     kind: str | None = None) -> pd.DataFrame:
    """Nearest neighbours of ``node`` as a table: rank, kind, id, title, cosine.

    ``x`` holds every node's embedding in node order (users then items);
    ``kind`` ("user" / "item") restricts the neighbours to one side.
    """
    candidates = None if kind is None else table.index[table["kind"] == kind].to_numpy()
    rows, sims = nearest_neighbours(x, node, k, candidates)
    out = table.iloc[rows][["kind", "id", "title"]].reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(rows) + 1))
    out["cosine"] = sims
    return out


# ------------------------------------------------------------------ figures
def _category_order(values: pd.Series) -> list[str]:
    """Most frequent first; the catch-all "other" always last."""
    counts = values.value_counts()
    return sorted(counts.index, key=lambda c: (c == "other", -counts[c], str(c)))


def _bucket(values: pd.Series, limit: int = MAX_CATEGORIES) -> pd.Series:
    """Keep the ``limit - 1`` most frequent categories, the rest become "other"."""
    values = values.astype(str)
    order = _category_order(values)
    if len(order) <= limit:
        return values
    keep = set(order[:limit - 1])
    return values.where(values.isin(keep), "other")


def _hover(frame: pd.DataFrame) -> list[str]:
    return [f"<b>{html.escape(str(t))}</b><br>{k} {html.escape(str(i))}<br>degree {d}"
            for t, k, i, d in zip(frame["title"], frame["kind"], frame["id"], frame["degree"])]


def _one_or_each(symbols: np.ndarray) -> str | list[str]:
    # One symbol for the whole trace when they agree: less for plotly to validate, send
    # and parse than one string per point.
    if len(symbols) and (symbols == symbols[0]).all():
        return str(symbols[0])
    return symbols.tolist()


def scatter_class(points: int) -> type[go.Scatter] | type[go.Scattergl]:
    """SVG markers up to :data:`SVG_MAX_POINTS` points, WebGL beyond."""
    return go.Scatter if points <= SVG_MAX_POINTS else go.Scattergl


def _scatter_traces(frame: pd.DataFrame, coords: np.ndarray, color_by: str,
                    show_legend: bool = True, marker_size: int = 6
                    ) -> list[go.Scatter | go.Scattergl]:
    if color_by not in COLOR_BY:
        raise ValueError(f"cannot colour by {color_by!r}; choose one of: {', '.join(COLOR_BY)}")
    if color_by not in frame.columns:
        raise ValueError(f"the node table has no {color_by!r} column")
    if len(frame) != len(coords):
        raise ValueError(f"{len(frame)} nodes but {len(coords)} coordinates")
    frame = frame.reset_index(drop=True)
    symbols = np.array([SYMBOLS.get(k, "circle") for k in frame["kind"]], dtype=object)
    hover = _hover(frame)
    scatter = scatter_class(len(frame))
    if color_by == "degree":
        colour = np.log10(frame["degree"].to_numpy(np.float64) + 1)
        return [scatter(
            x=coords[:, 0], y=coords[:, 1], mode="markers", name="nodes",
            marker=dict(size=marker_size, color=colour, colorscale="Viridis",
                        symbol=_one_or_each(symbols),
                        colorbar=dict(title="log10(1 + degree)") if show_legend else None,
                        showscale=show_legend),
            hovertext=hover, hoverinfo="text", customdata=frame["node"].to_numpy(),
            showlegend=False)]
    labels = frame[color_by]
    if color_by == "community":
        labels = labels.map(lambda c: "no edges" if c < 0 else f"community {c + 1}")
    labels = _bucket(labels)
    traces = []
    for n, category in enumerate(_category_order(labels)):
        mask = (labels == category).to_numpy()
        traces.append(scatter(
            x=coords[mask, 0], y=coords[mask, 1], mode="markers", name=str(category),
            legendgroup=str(category), showlegend=show_legend,
            marker=dict(size=marker_size, color=PALETTE[n % len(PALETTE)],
                        symbol=_one_or_each(symbols[mask]), opacity=0.8),
            hovertext=[h for h, m in zip(hover, mask) if m], hoverinfo="text",
            customdata=frame["node"].to_numpy()[mask]))
    return traces


def projection_figure(frame: pd.DataFrame, coords: np.ndarray, color_by: str = "kind",
                      title: str | None = None, highlight: Sequence[int] = (),
                      axis_titles: tuple[str, str] = ("axis 1", "axis 2")) -> go.Figure:
    """Scatter of a 2-D projection: one point per row of ``frame`` (see :func:`node_table`).

    Users are circles and items diamonds; colour follows ``color_by``; hover
    shows the escaped title, kind, id and degree; each point's ``customdata``
    is its node number, so a selection maps back to a node. ``highlight``
    nodes (e.g. a selected node and its neighbours) are ringed in red.
    """
    fig = go.Figure(_scatter_traces(frame, coords, color_by))
    if len(highlight):
        where = frame.reset_index(drop=True)["node"].isin(list(highlight)).to_numpy()
        fig.add_trace(scatter_class(len(frame))(
            x=coords[where, 0], y=coords[where, 1], mode="markers", name="selected",
            marker=dict(size=14, color="rgba(0,0,0,0)", line=dict(color="red", width=2)),
            hoverinfo="skip"))
    fig.update_layout(title=title, xaxis_title=axis_titles[0], yaxis_title=axis_titles[1],
                      legend_title=color_by, margin=dict(l=10, r=10, t=50, b=10), height=560,
                      dragmode="pan")
    return fig


def side_by_side_figure(frame: pd.DataFrame, panels: Sequence[tuple[str, np.ndarray]],
                        color_by: str = "genre") -> go.Figure:
    """The same nodes projected from several embeddings, one panel each.

    ``panels`` is a list of ``(title, coords [len(frame), 2])``; the legend is
    shared, so a colour means the same category in every panel.
    """
    if not panels:
        raise ValueError("side_by_side_figure needs at least one panel")
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[t for t, _ in panels],
                        horizontal_spacing=0.04)
    for col, (_, coords) in enumerate(panels, start=1):
        for trace in _scatter_traces(frame, coords, color_by, show_legend=col == 1,
                                     marker_size=5):
            fig.add_trace(trace, row=1, col=col)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    fig.update_layout(height=460, margin=dict(l=10, r=10, t=50, b=10), legend_title=color_by)
    return fig


# ------------------------------------------------------------------ embedding views
TEXT_VIEW = "text only (language model)"
ID_VIEW = "ID only (graph propagation)"
FUSED_VIEW = "fused (what the model scores with)"


def embedding_views(model) -> dict[str, np.ndarray]:
    """The same items seen three ways by a text + graph model, each [n_items, d].

    - text only: the frozen language-model embedding of each item's text;
    - ID only: the learned ID embeddings propagated through the graph without
      the text term (LightGCN layers over ``m x`` instead of ``m x + W t``);
    - fused: the model's final item embeddings.

    Views a model does not have are left out (a model without text features
    gives just the fused view).
    """
    import torch

    from recsys_core.models.lightgcn import propagate

    views: dict[str, np.ndarray] = {}
    module = getattr(model, "module_", None)
    text = getattr(module, "text", None) if module is not None else None
    if isinstance(text, torch.Tensor):
        views[TEXT_VIEW] = text[module.n_users:].detach().numpy().astype(np.float32)
    elif hasattr(model, "encoder"):
        from recsys_core.text import item_text_embeddings

        views[TEXT_VIEW] = item_text_embeddings(model.check_fitted(), model.encoder())
    if module is not None and all(hasattr(module, a) for a in ("embedding", "adj", "layers")) \
            and TEXT_VIEW in views:
        with torch.no_grad():
            ids = module.embedding.weight  # [N, d]
            warm = getattr(module, "warm", None)
            if isinstance(warm, torch.Tensor):
                ids = ids * warm.unsqueeze(1)  # untrained IDs of cold nodes are not used
            out = propagate(module.adj, ids, int(module.layers))
        views[ID_VIEW] = out[module.n_users:].numpy().astype(np.float32)
    try:
        views[FUSED_VIEW] = np.asarray(model.item_embeddings(), dtype=np.float32)
    except AttributeError:
        pass
    return views
