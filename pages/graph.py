"""Graph: the user–item network around one user or item, drawn with pyvis."""

import streamlit as st

from ui import cache, state, widgets

state.ensure_app_ran()  # a deep link on a fresh server runs this file alone

st.title("Graph")
st.markdown("Users (blue dots) and items (orange squares) joined by their interactions. "
            "Node size follows degree; hover a node for its id, title and rating.")

ds = widgets.require_dataset()
key = ds.content_hash()
c1, c2 = st.columns([2, 3])
query = c1.text_input("Search a user or item by id or title", key="graph_query")
options = widgets.centre_options(ds, cache.search_nodes(key, ds, query) if query else [])
kind, center, _ = c2.selectbox("Centre", options, format_func=widgets.describe_centre,
                               key=f"graph_centre_{key}_{query}")

o1, o2, o3, o4 = st.columns(4)
hops = o1.slider("Hops", 1, 3, cache.GRAPH_HOPS, key="graph_hops")
cap = o2.number_input("Node cap", 20, 1000, cache.GRAPH_NODE_CAP, step=20, key="graph_cap",
                      help="Largest number of nodes drawn; beyond it the strongest edges win.")
by_genre = o3.toggle("Colour items by genre", value=False, key="graph_genre",
                     disabled="genres" not in ds.items.columns)
physics = o4.toggle("Physics", value=False, key="graph_physics",
                    help="Keep a force simulation running (nodes can be dragged and settle). "
                    "Off, the precomputed layout is drawn at once.")

html, statement, stats = cache.ego_view(key, ds, kind, center, hops, int(cap), by_genre, physics)
st.caption(f"Sampling: {statement}.")
st.iframe(html, height=640)

st.subheader("Graph statistics (networkx)")
widgets.graph_stats_table({"this neighbourhood": stats,
                           "whole graph": cache.full_graph_stats(key, ds)})
