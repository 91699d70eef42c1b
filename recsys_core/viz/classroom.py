"""Numbers and figures for the message-passing classroom: one GNN layer, taken apart.

For a chosen node ``i`` and layer ``t`` the builders here split the model's
update into the parts a teacher points at: which neighbours send messages,
each message as numbers, their aggregate, the self term, the bias, the
activation and the new state, plus the formula with those numbers filled in.

Two models are covered (see ``recsys_core.models.seed_gnn`` and
``recsys_core.models.lightgcn`` for the training code):

- the seed article's GNN (section 4.1)::

      H_i(t+1) = σ(W_h H_i(t) + Σ_{j∈N(i)} W_e H_j(t) + b_h)
      E_ij(t+1) = σ(W_e1 H_i(t) + W_e2 H_j(t) + b_e)
      R_ij = H_i · H_j + b_r

- LightGCN (He et al., SIGIR 2020)::

      e_i(k+1) = Σ_{j∈N(i)} 1/sqrt(|N(i)| |N(j)|) e_j(k),   e_i = Σ_k α_k e_i(k), α_k = 1/(K+1)

Every function takes plain arrays (states ``[n_nodes, d]``, weights in the
math convention ``W @ h``) so the breakdown is checked against the model's own
forward pass in the tests. Nothing here imports Streamlit.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import plotly.graph_objects as go


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


#: name -> (function, LaTeX of σ(z) applied elementwise)
ACTIVATIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "relu": (_relu, r"\mathrm{ReLU}"),
    "sigmoid": (_sigmoid, r"\mathrm{sigmoid}"),
    "tanh": (np.tanh, r"\tanh"),
    "identity": (lambda x: x, r""),
    "leaky_relu": (lambda x: np.where(x > 0, x, 0.01 * x), r"\mathrm{LeakyReLU}"),
}


# ---------------------------------------------------------------------- results


@dataclass
class Message:
    """What one neighbour ``source`` sends to the updated node in one layer."""

    source: int  # node index of the sender
    label: str  # e.g. "u1" or "i2"
    coefficient: float  # 1.0 for seed_gnn; 1/sqrt(d_i d_j) for LightGCN
    state: np.ndarray  # [d] the sender's state at layer t
    value: np.ndarray  # [d] the message itself


@dataclass
class NodeStep:
    """One node's update from layer ``layer`` to ``layer + 1``, part by part."""

    model: str  # "seed_gnn" or "lightgcn"
    layer: int  # t: the step computes the state at t + 1
    node: int
    label: str
    state: np.ndarray  # [d] H_i(t)
    messages: list[Message]
    aggregate: np.ndarray  # [d] Σ of the messages
    new_state: np.ndarray  # [d] H_i(t+1)
    self_term: np.ndarray | None = None  # [d] W_h H_i(t) (seed_gnn)
    bias: np.ndarray | None = None  # [d] b_h (seed_gnn)
    pre_activation: np.ndarray | None = None  # [d] z before σ (seed_gnn)
    activation: str | None = None
    formulas: list[str] = field(default_factory=list)  # LaTeX with this step's numbers

    @property
    def senders(self) -> list[int]:
        return [m.source for m in self.messages]


@dataclass
class EdgeStep:
    """The seed GNN's edge update for one edge (i, j)."""

    source: int
    target: int
    from_source: np.ndarray  # [d] W_e1 H_i(t)
    from_target: np.ndarray  # [d] W_e2 H_j(t)
    bias: np.ndarray  # [d] b_e
    new_state: np.ndarray  # [d] E_ij(t+1)
    formula: str


@dataclass
class OutputStep:
    """A predicted score from final states: ``R_ij = H_i · H_j + b_r``."""

    source: int
    target: int
    products: np.ndarray  # [d] elementwise H_i * H_j
    bias: float
    score: float
    formula: str


# ---------------------------------------------------------------------- LaTeX


def latex_number(x: float, decimals: int = 3) -> str:
    value = round(float(x), decimals)
    if value == 0:
        value = 0.0  # no "-0.000"
    return f"{value:.{decimals}f}"


def latex_vector(v: Sequence[float] | np.ndarray, decimals: int = 3) -> str:
    """A column vector as a LaTeX bmatrix."""
    rows = r" \\ ".join(latex_number(x, decimals) for x in np.asarray(v).ravel())
    return rf"\begin{{bmatrix}} {rows} \end{{bmatrix}}"


def latex_matrix(m: np.ndarray, decimals: int = 3) -> str:
    m = np.atleast_2d(np.asarray(m))
    rows = r" \\ ".join(" & ".join(latex_number(x, decimals) for x in row) for row in m)
    return rf"\begin{{bmatrix}} {rows} \end{{bmatrix}}"


def tex_label(label: str) -> str:
    """A node label safe inside ``\\mathrm{...}`` (ids may hold any character)."""
    safe = "".join(ch if ch.isalnum() else " " for ch in str(label)).strip() or "?"
    return safe[:16]


# ---------------------------------------------------------------------- seed GNN


def seed_gnn_step(states: np.ndarray, neighbours: Sequence[int], node: int, *,
                  w_self: np.ndarray, w_neighbour: np.ndarray, bias: np.ndarray,
                  activation: str = "relu", layer: int = 0,
                  labels: Sequence[str] | None = None, aggr: str = "add") -> NodeStep:
    """Node update ``H_i(t+1) = σ(W_h H_i(t) + Σ_j W_e H_j(t) + b_h)`` for one node.

    ``states`` is ``[n_nodes, d_in]`` at layer t; ``w_self`` (W_h) and
    ``w_neighbour`` (W_e) are ``[d_out, d_in]``; ``bias`` is ``[d_out]``.
    ``aggr="mean"`` divides the sum of messages by the number of neighbours.
    """
    states = np.asarray(states, dtype=np.float64)
    w_self = np.asarray(w_self, dtype=np.float64)
    w_neighbour = np.asarray(w_neighbour, dtype=np.float64)
    bias = np.asarray(bias, dtype=np.float64).ravel()
    fn, tex_sigma = ACTIVATIONS[activation]
    name = _labeller(labels)
    messages = [
        Message(int(j), name(j), 1.0, states[j], w_neighbour @ states[j]) for j in neighbours
    ]
    aggregate = (np.sum([m.value for m in messages], axis=0) if messages
                 else np.zeros(w_neighbour.shape[0]))
    if aggr == "mean" and messages:
        aggregate = aggregate / len(messages)
    self_term = w_self @ states[node]
    z = self_term + aggregate + bias
    new = fn(z)
    me = tex_label(name(node))
    t = layer
    mean = rf"\frac{{1}}{{|N(\mathrm{{{me}}})|}}" if aggr == "mean" else ""
    general = (rf"H_{{\mathrm{{{me}}}}}^{{({t + 1})}} = {tex_sigma}\Big(W_h H_{{\mathrm{{{me}}}}}"
               rf"^{{({t})}} + {mean}\sum_{{j \in N(\mathrm{{{me}}})}} W_e H_j^{{({t})}} + b_h\Big)")
    msg_terms = " + ".join(latex_vector(m.value) for m in messages) or "0"
    mean_n = rf"\tfrac{{1}}{{{len(messages)}}}" if aggr == "mean" and messages else ""
    filled = (rf"= {tex_sigma}\Big({latex_matrix(w_self)}{latex_vector(states[node])} + "
              rf"{mean_n}\big({msg_terms}\big) + {latex_vector(bias)}\Big)")
    summed = (rf"= {tex_sigma}\Big({latex_vector(self_term)} + {latex_vector(aggregate)} + "
              rf"{latex_vector(bias)}\Big) = {tex_sigma}{latex_vector(z)} = {latex_vector(new)}")
    return NodeStep("seed_gnn", t, int(node), name(node), states[node], messages, aggregate,
                    new, self_term=self_term, bias=bias, pre_activation=z,
                    activation=activation, formulas=[general, filled, summed])


def seed_gnn_edge_step(states: np.ndarray, source: int, target: int, *, w_source: np.ndarray,
                       w_target: np.ndarray, bias: np.ndarray, activation: str = "relu",
                       layer: int = 0, labels: Sequence[str] | None = None) -> EdgeStep:
    """Edge update ``E_ij(t+1) = σ(W_e1 H_i(t) + W_e2 H_j(t) + b_e)``."""
    states = np.asarray(states, dtype=np.float64)
    fn, tex_sigma = ACTIVATIONS[activation]
    a = np.asarray(w_source, dtype=np.float64) @ states[source]
    b = np.asarray(w_target, dtype=np.float64) @ states[target]
    bias = np.asarray(bias, dtype=np.float64).ravel()
    new = fn(a + b + bias)
    name = _labeller(labels)
    i, j, t = tex_label(name(source)), tex_label(name(target)), layer
    formula = (rf"E_{{\mathrm{{{i}}},\mathrm{{{j}}}}}^{{({t + 1})}} = {tex_sigma}\big(W_{{e1}} "
               rf"H_{{\mathrm{{{i}}}}}^{{({t})}} + W_{{e2}} H_{{\mathrm{{{j}}}}}^{{({t})}} + b_e\big)"
               rf" = {tex_sigma}\big({latex_vector(a)} + {latex_vector(b)} + {latex_vector(bias)}"
               rf"\big) = {latex_vector(new)}")
    return EdgeStep(int(source), int(target), a, b, bias, new, formula)


def output_step(states: np.ndarray, source: int, target: int, bias: float = 0.0,
                labels: Sequence[str] | None = None) -> OutputStep:
    """Score ``R_ij = H_i · H_j + b_r`` from final states."""
    states = np.asarray(states, dtype=np.float64)
    products = states[source] * states[target]
    score = float(products.sum() + bias)
    name = _labeller(labels)
    i, j = tex_label(name(source)), tex_label(name(target))
    terms = " + ".join(
        f"({latex_number(a)})({latex_number(b)})" for a, b in zip(states[source], states[target])
    )
    formula = (rf"R_{{\mathrm{{{i}}},\mathrm{{{j}}}}} = H_{{\mathrm{{{i}}}}} \cdot "
               rf"H_{{\mathrm{{{j}}}}} + b_r = {terms} + ({latex_number(bias)}) = "
               rf"{latex_number(score)}")
    return OutputStep(int(source), int(target), products, float(bias), score, formula)


# ---------------------------------------------------------------------- LightGCN


def lightgcn_step(states: np.ndarray, neighbours: Sequence[int], node: int,
                  degrees: np.ndarray, *, layer: int = 0,
                  labels: Sequence[str] | None = None) -> NodeStep:
    """LightGCN propagation for one node: ``e_i(k+1) = Σ_j e_j(k) / sqrt(d_i d_j)``.

    No self term, no weight matrix, no bias, no activation: the paper's point.
    """
    states = np.asarray(states, dtype=np.float64)
    degrees = np.asarray(degrees, dtype=np.float64)
    name = _labeller(labels)
    messages = []
    for j in neighbours:
        c = 1.0 / np.sqrt(degrees[node] * degrees[j])
        messages.append(Message(int(j), name(j), float(c), states[j], c * states[j]))
    aggregate = (np.sum([m.value for m in messages], axis=0) if messages
                 else np.zeros(states.shape[1]))
    me, k = tex_label(name(node)), layer
    general = (rf"e_{{\mathrm{{{me}}}}}^{{({k + 1})}} = \sum_{{j \in N(\mathrm{{{me}}})}} "
               rf"\frac{{1}}{{\sqrt{{|N(\mathrm{{{me}}})|\,|N(j)|}}}}\, e_j^{{({k})}}")
    shown = messages[:6]
    terms = " + ".join(
        rf"\frac{{1}}{{\sqrt{{{int(degrees[node])} \cdot {int(degrees[m.source])}}}}}"
        rf"{latex_vector(m.state)}"
        for m in shown
    )
    if len(messages) > len(shown):
        terms += rf" + \dots\ (\text{{{len(messages) - len(shown)} more}})"
    filled = rf"= {terms or '0'} = {latex_vector(aggregate)}"
    return NodeStep("lightgcn", k, int(node), name(node), states[node], messages, aggregate,
                    aggregate, formulas=[general, filled])


def layer_average(layer_states: Sequence[np.ndarray], node: int,
                  weights: Sequence[float] | None = None,
                  label: str | None = None) -> tuple[np.ndarray, str]:
    """LightGCN's final embedding of one node: ``Σ_k α_k e(k)``, α_k = 1/(K+1) by default."""
    vectors = [np.asarray(s, dtype=np.float64)[node] for s in layer_states]
    alphas = (np.full(len(vectors), 1.0 / len(vectors)) if weights is None
              else np.asarray(weights, dtype=np.float64))
    final = np.sum([a * v for a, v in zip(alphas, vectors)], axis=0)
    me = tex_label(label if label is not None else str(node))
    big_k = len(vectors) - 1
    terms = " + ".join(rf"{latex_number(a)}\,{latex_vector(v)}" for a, v in zip(alphas, vectors))
    formula = (rf"e_{{\mathrm{{{me}}}}} = \sum_{{k=0}}^{{{big_k}}} \alpha_k\, "
               rf"e_{{\mathrm{{{me}}}}}^{{(k)}} = {terms} = {latex_vector(final)}")
    return final, formula


# ---------------------------------------------------------------------- walkthrough


@dataclass
class Walkthrough:
    """A model's per-layer node states on one graph, ready to be taken apart step by step.

    ``states[t]`` is ``[n_nodes, d]`` at layer t (users first, then items);
    ``final`` is what the model scores with. ``adjacency`` is the binary
    user+item adjacency (CSR) of the training graph the model propagates on.
    """

    model: str  # "seed_gnn" or "lightgcn"
    n_users: int
    labels: list[str]  # [n_nodes] display label of each node
    adjacency: Any  # scipy CSR [n_nodes, n_nodes], 1 per training edge
    states: list[np.ndarray]  # [L+1] x [n_nodes, d]
    final: np.ndarray  # [n_nodes, d]
    layer_params: list[dict[str, np.ndarray]] = field(default_factory=list)  # seed_gnn, per layer
    activation: str | None = None
    aggr: str = "add"  # seed_gnn: "add" (the article's sum) or "mean"
    score_bias: float = 0.0  # b_r

    @property
    def layers(self) -> int:
        return len(self.states) - 1

    @property
    def n_nodes(self) -> int:
        return len(self.labels)

    @cached_property
    def degrees(self) -> np.ndarray:
        return np.asarray(self.adjacency.sum(axis=1)).ravel()

    def is_user(self, node: int) -> bool:
        return int(node) < self.n_users

    def neighbours(self, node: int) -> np.ndarray:
        row = self.adjacency[int(node)]
        return np.sort(row.indices)

    def step(self, node: int, layer: int) -> NodeStep:
        """The update of ``node`` from layer ``layer`` to ``layer + 1`` (0 <= layer < L)."""
        if not 0 <= layer < self.layers:
            raise ValueError(f"layer must be in [0, {self.layers - 1}], not {layer}")
        nbrs = self.neighbours(node)
        if self.model == "lightgcn":
            return lightgcn_step(self.states[layer], nbrs, node, self.degrees, layer=layer,
                                 labels=self.labels)
        p = self.layer_params[layer]
        return seed_gnn_step(self.states[layer], nbrs, node, w_self=p["w_self"],
                             w_neighbour=p["w_neighbour"], bias=p["bias"],
                             activation=self.activation or "relu", layer=layer,
                             labels=self.labels, aggr=self.aggr)

    def edge_step(self, source: int, target: int, layer: int) -> EdgeStep | None:
        """The seed GNN's edge update at ``layer`` (None for models without edge states)."""
        if self.model != "seed_gnn" or "w_edge_source" not in self.layer_params[layer]:
            return None
        p = self.layer_params[layer]
        return seed_gnn_edge_step(self.states[layer], source, target,
                                  w_source=p["w_edge_source"], w_target=p["w_edge_target"],
                                  bias=p["edge_bias"], activation=self.activation or "relu",
                                  layer=layer, labels=self.labels)

    def average(self, node: int) -> tuple[np.ndarray, str]:
        """LightGCN's layer average for one node."""
        return layer_average(self.states, node, label=self.labels[int(node)])

    def output(self, user: int, item: int) -> OutputStep:
        """The score of a (user node, item node) pair from final embeddings."""
        return output_step(self.final, user, item, self.score_bias, labels=self.labels)


def node_labels(user_ids: Sequence[Any], item_ids: Sequence[Any]) -> list[str]:
    """Original ids as labels; prefixed with 'user '/'item ' when the two id sets overlap."""
    users = [str(u) for u in user_ids]
    items = [str(i) for i in item_ids]
    if set(users) & set(items):
        return [f"user {u}" for u in users] + [f"item {i}" for i in items]
    return users + items


def bipartite_adjacency(r) -> Any:
    """Binary [[0, R], [R^T, 0]] CSR from a user x item matrix R."""
    import scipy.sparse as sp

    r = sp.csr_matrix(r, dtype=np.float64)
    r.data[:] = 1.0
    n_users, n_items = r.shape
    adj = sp.bmat([[None, r], [r.T, None]], format="csr")
    adj.resize((n_users + n_items, n_users + n_items))
    adj.sum_duplicates()
    return adj.tocsr()


def lightgcn_walkthrough(model) -> Walkthrough:
    """Per-layer states of a fitted :class:`~recsys_core.models.lightgcn.LightGCN`.

    Each layer is the model's own sparse product ``E(k+1) = Ã E(k)`` with its
    own normalised adjacency; ``final`` is the model's own final embeddings.
    """
    import torch

    ds = model.check_fitted()
    module = model.module_
    with torch.no_grad():
        h = module.embedding.weight.detach()  # [N, d]
        states = [h.double().numpy()]
        for _ in range(module.layers):
            h = module.adj @ h  # [N, d]
            states.append(h.double().numpy())
    users, items = model.user_embeddings(), model.item_embeddings()
    final = np.concatenate([users, items]).astype(np.float64)
    return Walkthrough("lightgcn", ds.n_users, node_labels(ds.user_ids, ds.item_ids),
                       bipartite_adjacency(ds.matrix("train")), states, final)


def lightgcn_depth_states(model, max_layers: int = 8) -> list[np.ndarray]:
    """``E(k) = Ã^k E(0)`` for k = 0..max_layers with the model's ego embeddings."""
    import torch

    module = model.module_
    with torch.no_grad():
        h = module.embedding.weight.detach()
        out = [h.double().numpy()]
        for _ in range(max_layers):
            h = module.adj @ h
            out.append(h.double().numpy())
    return out


def running_layer_mean(layer_states: Sequence[np.ndarray]) -> list[np.ndarray]:
    """LightGCN's final embedding if it stopped at layer k: the mean of layers 0..k."""
    total = np.zeros_like(np.asarray(layer_states[0], dtype=np.float64))
    out = []
    for k, s in enumerate(layer_states):
        total = total + s
        out.append(total / (k + 1))
    return out


def seed_gnn_walkthrough(model) -> Walkthrough:
    """Per-layer states of a fitted :class:`~recsys_core.models.seed_gnn.SeedGNN`.

    Everything comes from the model's own :meth:`trace`: the states after each
    layer, each layer's weights (W_h, W_e, b_h, W_e1, W_e2, b_e) and b_r.
    """
    ds = model.check_fitted()
    trace = model.trace()
    states = [trace.h0.double().numpy()] + [lt.h_out.double().numpy() for lt in trace.layers]
    params = [{"w_self": lt.weights["W_h"].double().numpy(),
               "w_neighbour": lt.weights["W_e"].double().numpy(),
               "bias": lt.weights["b_h"].double().numpy(),
               "w_edge_source": lt.weights["W_e1"].double().numpy(),
               "w_edge_target": lt.weights["W_e2"].double().numpy(),
               "edge_bias": lt.weights["b_e"].double().numpy()} for lt in trace.layers]
    return Walkthrough("seed_gnn", ds.n_users, node_labels(ds.user_ids, ds.item_ids),
                       bipartite_adjacency(ds.matrix("train")), states, states[-1],
                       layer_params=params, activation=model.activation,
                       aggr=getattr(model, "aggr", "add"), score_bias=float(trace.output_bias))


def walkthrough(model) -> Walkthrough:
    """The :class:`Walkthrough` of a fitted ``seed_gnn`` or ``lightgcn`` model."""
    if getattr(model, "name", "") == "lightgcn":
        return lightgcn_walkthrough(model)
    if getattr(model, "name", "") == "seed_gnn":
        return seed_gnn_walkthrough(model)
    raise ValueError(f"the classroom explains seed_gnn and lightgcn, not {model!r}")


# ---------------------------------------------------------------------- oversmoothing


def mean_cosine_similarity(x: np.ndarray) -> float:
    """Mean cosine similarity over all pairs of distinct non-zero rows of ``x``.

    Range [-1, 1]; 1 means every node has the same direction (oversmoothed).
    Computed in O(n d) as ``(|Σ u|² - n) / (n (n - 1))`` over unit rows u.
    Fewer than two non-zero rows gives NaN.
    """
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1)
    unit = x[norms > 0] / norms[norms > 0, None]
    n = len(unit)
    if n < 2:
        return float("nan")
    total = unit.sum(axis=0)
    return float((total @ total - n) / (n * (n - 1)))


def oversmoothing_curve(layer_states: Sequence[np.ndarray]) -> list[float]:
    """Mean cosine similarity of node states at each layer 0..L."""
    return [mean_cosine_similarity(s) for s in layer_states]


def oversmoothing_figure(curves: dict[str, Sequence[float]]) -> go.Figure:
    """Line chart: layer on x, mean cosine similarity on y, one line per curve."""
    fig = go.Figure()
    for name, values in curves.items():
        fig.add_trace(go.Scatter(x=list(range(len(values))), y=list(values), mode="lines+markers",
                                 name=name))
    fig.update_layout(xaxis_title="layer", yaxis_title="mean cosine similarity between nodes",
                      yaxis_range=[min(-0.05, *(min(v) for v in curves.values() if len(v))), 1.05],
                      height=320, margin=dict(l=10, r=10, t=30, b=10),
                      legend=dict(orientation="h", y=1.12))
    return fig


# ---------------------------------------------------------------------- graph


def message_figure(nodes: Sequence[int], edges: Sequence[tuple[int, int]], *,
                   receiver: int, senders: Sequence[int], labels: Sequence[str] | dict,
                   is_user: Callable[[int], bool], title: str | None = None) -> go.Figure:
    """The receiver's neighbourhood with the message-sending edges highlighted.

    Users sit in the left column, items in the right; the receiver is drawn
    large, senders orange with thick arrows-as-lines, everything else grey.
    """
    raw = _labeller(labels)

    def name(n: int) -> str:  # plotly reads a few HTML tags in text: show labels literally
        return html.escape(raw(n))

    users = [n for n in nodes if is_user(n)]
    items = [n for n in nodes if not is_user(n)]
    pos: dict[int, tuple[float, float]] = {}
    for column, group in ((0.0, users), (1.0, items)):
        for rank, n in enumerate(group):
            pos[n] = (column, -(rank - (len(group) - 1) / 2.0))
    sending = set(senders)
    fig = go.Figure()
    for a, b in edges:
        active = receiver in (a, b) and ({a, b} - {receiver}) <= sending
        fig.add_trace(go.Scatter(
            x=[pos[a][0], pos[b][0]], y=[pos[a][1], pos[b][1]], mode="lines",
            line=dict(color="#f28e2b" if active else "#c8c8c8", width=4 if active else 1),
            hoverinfo="skip", showlegend=False))
    colours = ["#d62728" if n == receiver else "#f28e2b" if n in sending
               else ("#4e79a7" if is_user(n) else "#59a14f") for n in pos]
    sizes = [34 if n == receiver else 24 if n in sending else 16 for n in pos]
    symbols = ["circle" if is_user(n) else "square" for n in pos]
    fig.add_trace(go.Scatter(
        x=[p[0] for p in pos.values()], y=[p[1] for p in pos.values()], mode="markers+text",
        text=[name(n) for n in pos], textposition=["middle left" if is_user(n) else "middle right"
                                                   for n in pos],
        marker=dict(color=colours, size=sizes, symbol=symbols, line=dict(width=1, color="#333")),
        hovertext=[f"{name(n)} ({'user' if is_user(n) else 'item'})"
                   + (" receives" if n == receiver else " sends" if n in sending else "")
                   for n in pos],
        hoverinfo="text", showlegend=False))
    fig.update_layout(
        title=title, height=max(240, 36 * max(len(users), len(items), 1) + 80),
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        xaxis=dict(visible=False, range=[-0.6, 1.6]), yaxis=dict(visible=False),
        plot_bgcolor="rgba(0,0,0,0)")
    return fig


def _labeller(labels: Sequence[str] | dict | None) -> Callable[[int], str]:
    if labels is None:
        return str
    if isinstance(labels, dict):
        return lambda n: str(labels.get(int(n), n))
    return lambda n: str(labels[int(n)])


def normalized(adjacency) -> Any:
    """``D^-1/2 A D^-1/2`` of a binary adjacency (isolated nodes get zero rows)."""
    import scipy.sparse as sp

    deg = np.asarray(adjacency.sum(axis=1)).ravel()
    with np.errstate(divide="ignore"):
        inv = np.where(deg > 0, deg ** -0.5, 0.0)
    return (sp.diags(inv) @ adjacency @ sp.diags(inv)).tocsr()


def oversmoothing_curves(walk: Walkthrough, depth: int = 8) -> dict[str, list[float]]:
    """Mean cosine similarity per layer: the model's own layers, and deep propagation.

    ``"this model"`` uses the walkthrough's layers 0..L. ``"propagation Ã^k E(0)"``
    keeps propagating the layer-0 states for ``depth`` layers with the
    normalised adjacency (LightGCN's rule); ``"layer average"`` is LightGCN's
    final embedding had it stopped at layer k.
    """
    adj = normalized(walk.adjacency)
    h = np.asarray(walk.states[0], dtype=np.float64)
    deep = [h]
    for _ in range(depth):
        h = adj @ h
        deep.append(h)
    return {
        "this model": oversmoothing_curve(walk.states),
        "propagation Ã^k E(0)": oversmoothing_curve(deep),
        "layer average": oversmoothing_curve(running_layer_mean(deep)),
    }
