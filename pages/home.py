"""Home: what GraphRec Studio is, the current dataset in four numbers, and where to go next."""

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

# The landing page stays light (no charts), so the app opens quickly; each page below
# draws its own figures.
st.subheader("Where to go next")
GUIDE = [
    ("pages/data.py", "Data", ":material/upload_file:",
     "upload your interactions and metadata, map columns, see rating and degree charts"),
    ("pages/graph.py", "Graph", ":material/share:",
     "explore the user–item network around any user or item"),
    ("pages/classroom.py", "Message passing", ":material/school:",
     "step through GNN layers with every message and formula shown"),
    ("pages/train.py", "Train", ":material/model_training:",
     "train LightGCN, text-fused and baseline models in the background"),
    ("pages/embeddings.py", "Embeddings", ":material/scatter_plot:",
     "see where users and items land, and what the language model adds"),
    ("pages/recommendations.py", "Recommendations", ":material/recommend:",
     "read each user's top-K with explanations, or describe a new user in a sentence"),
    ("pages/evaluation.py", "Evaluation", ":material/leaderboard:",
     "compare every saved run's metrics in charts and download them"),
]
for page, label, icon, what in GUIDE:
    left, right = st.columns([1, 3])
    left.page_link(page, label=label, icon=icon)
    right.markdown(what)
