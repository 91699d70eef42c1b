"""Home: what GraphRec Studio is, and a summary of the current dataset."""

import streamlit as st

from ui import cache, state, widgets

state.ensure_app_ran()  # a deep link on a fresh server runs this file alone

st.title("GraphRec Studio")
st.markdown(
    "Recommendation with graph neural networks and language-model text features. "
    "Load interaction data on the **Data** page, look at its user–item graph on **Graph**, "
    "and watch a GNN layer pass messages, number by number, on **Message passing**."
)

ds = widgets.require_dataset()
key = ds.content_hash()
st.subheader(f"Current dataset: {widgets.plain(ds.name)}")
widgets.summary_metrics(cache.dataset_stats(key, ds), ds)
widgets.figures_grid(cache.stats_figures(key, ds), ["ratings", "user_degree", "item_degree"],
                     columns=3)
