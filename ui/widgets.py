"""Widgets and render helpers the pages share."""

from __future__ import annotations

from typing import Any

import streamlit as st

from recsys_core.data.dataset import Dataset
from ui import state


def dataset_picker() -> Dataset | None:
    """Sidebar: which of this session's datasets the pages work on."""
    names = list(state.registry())
    with st.sidebar:
        if not names:
            st.caption("No dataset loaded yet: open the Data page.")
            return None
        st.session_state[state.PICKER] = state.current_name() or names[0]
        st.selectbox("Current dataset", names, key=state.PICKER,
                     on_change=_picked, help="Datasets loaded in this browser session.")
        ds = state.current_dataset()
        if ds is not None:
            split = f", split: {ds.split_info.get('method')}" if ds.is_split else ""
            st.caption(f"{ds.n_users:,} users · {ds.n_items:,} items · "
                       f"{ds.n_interactions:,} interactions{split}")
        return ds


def _picked() -> None:
    state.set_current(st.session_state[state.PICKER])


def require_dataset() -> Dataset:
    """The current dataset, or stop the page with a pointer to the Data page."""
    ds = state.current_dataset()
    if ds is None:
        st.info("No dataset is loaded. Choose one on the Data page.")
        st.stop()
    return ds


def summary_metrics(stats: dict[str, Any], ds: Dataset) -> None:
    """Users, items, interactions and density as a row of st.metric."""
    cols = st.columns(4)
    cols[0].metric("Users", f"{ds.n_users:,}")
    cols[1].metric("Items", f"{ds.n_items:,}")
    cols[2].metric("Interactions", f"{ds.n_interactions:,}")
    density = stats.get("density", ds.n_interactions / max(ds.n_users * ds.n_items, 1))
    cols[3].metric("Density", f"{100 * density:.3f} %")


def figures_grid(figures: dict[str, Any], names: list[str], columns: int = 2) -> None:
    """Plotly figures in a grid, in the order of ``names`` (missing ones skipped)."""
    shown = [n for n in names if n in figures]
    for start in range(0, len(shown), columns):
        row = st.columns(columns)
        for col, n in zip(row, shown[start:start + columns]):
            col.plotly_chart(figures[n], key=f"fig_{n}", config={"displaylogo": False})


def report(rep) -> None:
    """A ValidationReport in plain words: errors red, warnings yellow, notes listed."""
    for msg in rep.errors:
        st.error(msg)
    for msg in rep.warnings:
        st.warning(msg)
    if rep.notes:
        with st.expander(f"What was inferred and checked ({len(rep.notes)} notes)"):
            st.markdown("\n".join(f"- {plain(n)}" for n in rep.notes))


def plain(text: str) -> str:
    """Show user data literally in markdown (no links, emphasis or HTML)."""
    for ch in "\\`*_{}[]<>()#+-.!|$~":
        text = text.replace(ch, "\\" + ch)
    return text


def find_node(ds: Dataset, kind: str, query: str) -> int:
    """Graph node (users first, then items) for an id or title; empty: the most connected.

    Uses :func:`recsys_core.graph.search_nodes`; warns and falls back to the most
    connected node of that kind when nothing matches.
    """
    from recsys_core.graph import node_of, search_nodes

    column = "user" if kind == "user" else "item"
    counts = ds.train_interactions[column].value_counts()
    best = int(counts.index[0]) if len(counts) else 0
    best += 0 if kind == "user" else ds.n_users
    query = (query or "").strip()
    if not query:
        return best
    hits = [h for h in search_nodes(ds, query) if h[0] == kind]
    if hits:
        return node_of(ds, kind, hits[0][1])
    st.warning(f"No {kind} matches {query!r}; showing the most connected one.")
    return best


def centre_options(ds: Dataset, hits: list[tuple[str, Any, str]]) -> list[tuple[str, Any, str]]:
    """Search hits, or (without a search) the five most connected users and items."""
    if hits:
        return hits
    out = []
    for kind, ids in (("user", ds.user_ids), ("item", ds.item_ids)):
        counts = ds.interactions[kind].value_counts().index[:5]
        for index in counts:
            label = ds.item_title(int(index)) if kind == "item" else str(ids[index])
            original = ids[index].item() if hasattr(ids[index], "item") else ids[index]
            out.append((kind, original, label))
    return out


def describe_centre(option: tuple[str, Any, str]) -> str:
    kind, original, label = option
    return f"{kind} {original}" + (f" · {label}" if str(label) != str(original) else "")


def graph_stats_table(stats: dict[str, dict[str, Any] | None]) -> None:
    """networkx statistics side by side (columns: which graph)."""
    import pandas as pd

    rows = {"nodes": "nodes", "edges": "edges", "components": "connected components",
            "largest_component": "largest component (nodes)",
            "degree_assortativity": "degree assortativity",
            "bipartite_density": "bipartite density"}
    frame = pd.DataFrame({name: [s.get(k) for k in rows] if s else [None] * len(rows)
                          for name, s in stats.items()}, index=list(rows.values()))
    st.dataframe(frame.astype(object).where(frame.notna(), "too large"), key="graph_stats")
    if any(s is None for s in stats.values()):
        st.caption("Whole-graph statistics are skipped above "
                   "250,000 interactions; the neighbourhood's are always shown.")
