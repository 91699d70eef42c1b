"""Widgets of the message-passing classroom: settings, node and layer pickers, step rendering.

The numbers all come from :mod:`recsys_core.viz.classroom`; this module only
lays them out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from recsys_core.data.dataset import Dataset
from recsys_core.viz import classroom as C
from ui import cache
from ui.state import SEED_NAME
from ui.widgets import plain

MODELS = {"seed_gnn": "Seed article's GNN", "lightgcn": "LightGCN"}
GRAPHS = {"seed example": "Seed article's example (u1, u2, i1, i2)",
          "current": "Current dataset"}
#: Epochs of the "Train" button.
TRAIN_EPOCHS = 40
#: What the page shows first (random weights: ``epochs`` 0).
DEFAULTS = {"graph": "seed example", "model": "seed_gnn", "dim": 2, "layers": 2, "seed": 0,
            "epochs": 0}
# Session-state keys.
WEIGHTS = "classroom_weights"  # int: epochs trained (0: random weights from the seed)
STEP = "classroom_step"  # int: 1..L computes layer t; L + 1 is the output step
NODE = "classroom_node"  # int: node index in the chosen graph
# Neighbours drawn in the figure / listed in the message table at most.
MAX_DRAWN, MAX_LISTED = 24, 60


def settings() -> dict[str, Any]:
    """Graph, model, dims, layers, seed, and the two weight buttons."""
    st.session_state.setdefault(WEIGHTS, 0)
    c1, c2, c3, c4, c5 = st.columns([3, 2, 1, 1, 1])
    graph = c1.radio("Graph", list(GRAPHS), index=list(GRAPHS).index(DEFAULTS["graph"]),
                     format_func=GRAPHS.get, key="classroom_graph")
    model = c2.radio("Model", list(MODELS), index=list(MODELS).index(DEFAULTS["model"]),
                     format_func=MODELS.get, key="classroom_model")
    dim = c3.number_input("Dimensions", 2, 4, DEFAULTS["dim"], key="classroom_dim")
    layers = c4.number_input("Layers", 1, 3, DEFAULTS["layers"], key="classroom_layers")
    seed = c5.number_input("Seed", 0, 10_000, DEFAULTS["seed"], key="classroom_seed")
    b1, b2, b3 = st.columns([1, 1, 3])
    if b1.button("Random weights", key="classroom_random",
                 help="Initialise the weights randomly from the seed."):
        st.session_state[WEIGHTS] = 0
    if b2.button(f"Train {TRAIN_EPOCHS} epochs", key="classroom_train",
                 help="Fit the model on this graph for a few epochs (30 s at most), starting "
                 "from the seed."):
        st.session_state[WEIGHTS] = TRAIN_EPOCHS
    epochs = st.session_state[WEIGHTS]
    b3.caption(f"Weights: **{'trained ' + str(epochs) + ' epochs' if epochs else 'random'}** "
               f"(seed {seed}).")
    return {"graph": graph, "model": model, "dim": int(dim), "layers": int(layers),
            "seed": int(seed), "epochs": int(epochs)}


def walkthrough(ds: Dataset, opts: dict[str, Any]) -> C.Walkthrough:
    """The model of ``opts`` (see :func:`settings`) on ``ds``, taken apart (cached)."""
    return cache.classroom_walkthrough(ds.content_hash(), ds, opts["model"], opts["dim"],
                                       opts["layers"], opts["seed"], opts["epochs"])


def oversmoothing(ds: Dataset, opts: dict[str, Any], walk: C.Walkthrough) -> dict[str, list[float]]:
    """Mean cosine similarity per layer of the walkthrough's model (cached)."""
    return cache.oversmoothing(f"{ds.content_hash()}/{sorted(opts.items())}", walk)


def warm() -> None:
    """Compute the page's first view into the shared caches (the server's preload calls it)."""
    with cache.no_run_context_warning():
        ds = cache.load_bundled(SEED_NAME)
        oversmoothing(ds, DEFAULTS, walkthrough(ds, DEFAULTS))


def node_picker(walk: C.Walkthrough, search_ids) -> int:
    """A node of the graph: a list for small graphs, a search box for large ones."""
    if walk.n_nodes <= 50:
        options = list(range(walk.n_nodes))
        current = st.session_state.get(NODE, 0)
        index = current if 0 <= current < walk.n_nodes else 0
        node = st.selectbox("Node to update", options, index=index,
                            format_func=lambda n: _describe(walk, n), key="classroom_pick")
    else:
        kind = st.radio("Node kind", ["user", "item"], horizontal=True, key="classroom_kind")
        query = st.text_input(f"{kind.capitalize()} id", key="classroom_query",
                              placeholder="leave empty for the most connected one")
        node = search_ids(kind, query)
        st.caption(f"Showing {_describe(walk, node)}.")
    st.session_state[NODE] = int(node)
    return int(node)


def _describe(walk: C.Walkthrough, node: int) -> str:
    kind = "user" if walk.is_user(node) else "item"
    return f"{walk.labels[node]} ({kind}, {len(walk.neighbours(node))} neighbours)"


def stepper(layers: int) -> int:
    """Previous / Next buttons over steps 1..L (layers) and L + 1 (the output)."""
    last = layers + 1
    step = min(max(int(st.session_state.get(STEP, 1)), 1), last)
    st.session_state[STEP] = step
    c1, c2, c3 = st.columns([1, 1, 4])
    c1.button("◀ Previous", key="classroom_prev", disabled=step <= 1, on_click=_move, args=(-1,))
    c2.button("Next ▶", key="classroom_next", disabled=step >= last, on_click=_move, args=(1,))
    c3.progress(step / last, text=f"Step {step} of {last}: "
                + (f"computing layer {step} from layer {step - 1}" if step <= layers
                   else "output (scores from final embeddings)"))
    return step


def _move(delta: int) -> None:
    # A callback: runs before the script, so the buttons are drawn with the new step.
    st.session_state[STEP] = int(st.session_state.get(STEP, 1)) + delta


def numbers_table(step: C.NodeStep) -> pd.DataFrame:
    """Every vector of the step, one row each, full precision."""
    rows: list[tuple[str, np.ndarray]] = [(f"state {step.label} at layer {step.layer}",
                                           step.state)]
    for m in step.messages[:MAX_LISTED]:
        coef = "" if step.model == "seed_gnn" else f" × {m.coefficient:.4f}"
        rows.append((f"message from {m.label}{coef}", m.value))
    rows.append(("aggregate Σ messages", step.aggregate))
    if step.self_term is not None:
        rows += [("self term W_h H_i", step.self_term), ("bias b_h", step.bias),
                 ("before activation", step.pre_activation)]
    rows.append((f"new state at layer {step.layer + 1}", step.new_state))
    frame = pd.DataFrame([v for _, v in rows], index=[r for r, _ in rows],
                         columns=[f"dim {k + 1}" for k in range(len(step.new_state))])
    return frame


def show_step(walk: C.Walkthrough, node: int, layer: int) -> C.NodeStep:
    """Graph with senders highlighted, messages, the filled-in formula, the new state."""
    step = walk.step(node, layer)
    left, right = st.columns([2, 3])
    drawn = step.senders[:MAX_DRAWN]
    left.plotly_chart(C.message_figure(
        [node, *drawn], [(node, j) for j in drawn], receiver=node, senders=drawn,
        labels=walk.labels, is_user=walk.is_user,
        title=f"{len(step.senders)} neighbours send messages to {step.label}"),
        key=f"classroom_fig_{node}_{layer}")
    if len(step.senders) > len(drawn):
        left.caption(f"{len(drawn)} of {len(step.senders)} senders drawn; all are summed.")
    right.dataframe(numbers_table(step), column_config={
        c: st.column_config.NumberColumn(format="%.6f") for c in numbers_table(step).columns})
    if len(step.messages) > MAX_LISTED:
        right.caption(f"{MAX_LISTED} of {len(step.messages)} messages listed.")
    right.markdown(f"**New state of {plain(step.label)} at layer {layer + 1}:** "
                   f"`{_vector_text(step.new_state)}`")
    for formula in step.formulas:
        st.latex(formula)
    return step


def show_edge_update(walk: C.Walkthrough, node: int, layer: int) -> None:
    nbrs = walk.neighbours(node)
    if len(nbrs) == 0:
        return
    user, item = (node, int(nbrs[0])) if walk.is_user(node) else (int(nbrs[0]), node)
    edge = walk.edge_step(user, item, layer)
    if edge is not None:
        st.markdown(f"**Edge update** for the interaction {plain(walk.labels[user])} – "
                    f"{plain(walk.labels[item])} (user side W_e1, item side W_e2):")
        st.latex(edge.formula)


def show_output(walk: C.Walkthrough, node: int) -> None:
    """Final embedding (LightGCN: the layer average) and the score against a neighbour."""
    if walk.model == "lightgcn":
        final, formula = walk.average(node)
        st.markdown("**Layer averaging**: the final embedding is the mean of every layer's.")
        st.latex(formula)
    else:
        final = walk.final[node]
    st.markdown(f"**Final embedding of {plain(walk.labels[node])}:** "
                f"`{_vector_text(final)}`")
    others = walk.neighbours(node)
    if len(others):
        pair = (node, int(others[0])) if walk.is_user(node) else (int(others[0]), node)
        out = walk.output(*pair)
        st.markdown(f"**Output**: predicted score of {plain(walk.labels[pair[0]])} for "
                    f"{plain(walk.labels[pair[1]])} = `{out.score:.6f}`")
        st.latex(out.formula)


def _vector_text(v: np.ndarray) -> str:
    return "[" + ", ".join(f"{x:.6f}" for x in np.asarray(v, dtype=np.float64)) + "]"


def why_it_matters(curves: dict[str, list[float]]) -> None:
    with st.expander("Why it matters: oversmoothing", expanded=False):
        st.markdown(
            "Each layer mixes a node's state with its neighbours'. Stack too many and every "
            "node ends up alike: the mean cosine similarity between node embeddings climbs "
            "towards 1, and recommendations stop being personal. LightGCN's layer averaging "
            "keeps the early, distinctive layers in the final embedding.")
        st.plotly_chart(C.oversmoothing_figure(curves), key="classroom_oversmoothing")
