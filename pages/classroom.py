"""Message passing, step by step: one GNN layer taken apart with the model's own numbers."""

import streamlit as st

from recsys_core.data.report import DataError
from ui import cache, classroom_view, state, widgets

state.ensure_app_ran()  # a deep link on a fresh server runs this file alone

st.title("Message passing, step by step")
st.markdown(
    "Pick a node and walk through the layers. At each step the node's neighbours send "
    "messages (orange in the graph); the node adds them up, mixes in its own state and "
    "produces its new state. Every number below is the model's own.")

opts = classroom_view.settings()
if opts["graph"] == "current":
    ds = widgets.require_dataset()
else:
    try:
        ds = cache.load_bundled(state.SEED_NAME)
    except DataError as err:
        st.error(str(err))
        st.stop()

walk = classroom_view.walkthrough(ds, opts)
node = classroom_view.node_picker(walk, lambda kind, q: widgets.find_node(ds, kind, q))
step = classroom_view.stepper(walk.layers)

if step <= walk.layers:
    classroom_view.show_step(walk, node, step - 1)
    classroom_view.show_edge_update(walk, node, step - 1)
else:
    classroom_view.show_output(walk, node)

classroom_view.why_it_matters(classroom_view.oversmoothing(ds, opts, walk))
