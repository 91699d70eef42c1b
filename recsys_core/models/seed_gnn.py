r"""The seed article's GNN recommender (section 4.1), implemented literally.

Users and items are nodes of one bipartite graph; node ``i`` has a state
:math:`H_i(t)` that starts as a learnable ID embedding :math:`H_i(0)`. A layer
updates every node and every user-item edge:

.. math::
    H_i(t+1) &= \sigma\Big(W_h H_i(t) + \sum_{j \in N(i)} W_e H_j(t) + b_h\Big)
    \qquad\text{(node update)}\\
    E_{ij}(t+1) &= \sigma\big(W_{e1} H_i(t) + W_{e2} H_j(t) + b_e\big)
    \qquad\text{(edge update, user } i\text{, item } j)

and after the last layer the predicted preference of user ``i`` for item ``j``
is :math:`R_{ij} = H_i \cdot H_j + b_r` (output function).

Training: binary cross-entropy on :math:`\sigma(R_{ij})` for implicit
feedback (observed pairs against uniformly sampled unobserved ones), or mean
squared error between :math:`R_{ij}` and the rating for explicit feedback.
The article's output function reads node states only, so the edge states are
computed for inspection (:meth:`SeedGNN.trace`) and their weights
:math:`W_{e1}, W_{e2}, b_e` receive no gradient from either loss.

Worked example (the article's): users u1, u2, items i1, i2 and ratings 5, 4,
3, 2; :func:`seed_example` builds it as a Dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import MessagePassing

from recsys_core.data.dataset import Dataset
from recsys_core.graph import edge_index
from recsys_core.models.base import EmbeddingRecommender
from recsys_core.train import Batch, TrainConfig, Trainer, bpr_loss

ACTIVATIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}


class SeedGNNConv(MessagePassing):
    r"""One layer of the article's GNN:
    :math:`H_i' = \sigma(W_h H_i + \sum_{j \in N(i)} W_e H_j + b_h)` and
    :math:`E_{ij}' = \sigma(W_{e1} H_i + W_{e2} H_j + b_e)`.

    ``forward(x, edge_index, pairs)`` returns (new node states [N, d], edge
    states [P, d_e]) for the directed message edges ``edge_index`` [2, E]
    (source j -> target i) and the user-item ``pairs`` [2, P].
    """

    def __init__(self, channels: int, edge_channels: int | None = None,
                 activation: str = "sigmoid", aggr: str = "add"):
        super().__init__(aggr=aggr)
        if aggr not in ("add", "mean"):
            raise ValueError(f"aggr must be 'add' (the article's sum) or 'mean', got {aggr!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        edge_channels = edge_channels or channels
        self.channels, self.edge_channels, self.activation = channels, edge_channels, activation
        self.W_h = torch.nn.Linear(channels, channels, bias=False)  # self term
        self.W_e = torch.nn.Linear(channels, channels, bias=False)  # neighbour messages
        self.b_h = torch.nn.Parameter(torch.empty(channels))
        self.W_e1 = torch.nn.Linear(channels, edge_channels, bias=False)  # edge: user side
        self.W_e2 = torch.nn.Linear(channels, edge_channels, bias=False)  # edge: item side
        self.b_e = torch.nn.Parameter(torch.empty(edge_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for lin in (self.W_h, self.W_e, self.W_e1, self.W_e2):
            lin.reset_parameters()
        torch.nn.init.zeros_(self.b_h)
        torch.nn.init.zeros_(self.b_e)

    @property
    def sigma(self):
        return ACTIVATIONS[self.activation]

    def forward(self, x: Tensor, edge_index: Tensor, pairs: Tensor) -> tuple[Tensor, Tensor]:
        aggregated = self.propagate(edge_index, x=x)  # [N, d] sum_j W_e H_j
        h = self.sigma(self.W_h(x) + aggregated + self.b_h)  # [N, d]
        edge_states = self.sigma(self.W_e1(x[pairs[0]]) + self.W_e2(x[pairs[1]]) + self.b_e)
        return h, edge_states

    def message(self, x_j: Tensor) -> Tensor:
        return self.W_e(x_j)  # [E, d] one message per directed edge j -> i

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.channels}, edge_channels={self.edge_channels}, "
                f"activation={self.activation!r}, aggr={self.aggr!r})")


@dataclass
class LayerTrace:
    """Every intermediate value of one layer, for the whole graph."""

    layer: int  # 1-based
    h_in: Tensor  # [N, d] H(t)
    messages: Tensor  # [E, d] W_e H_j for each directed edge j -> i of edge_index
    aggregated: Tensor  # [N, d] sum of incoming messages
    self_term: Tensor  # [N, d] W_h H_i(t)
    bias: Tensor  # [d] b_h
    pre_activation: Tensor  # [N, d] self_term + aggregated + bias
    h_out: Tensor  # [N, d] H(t+1) = sigma(pre_activation)
    edge_pre_activation: Tensor  # [P, d_e] W_e1 H_i + W_e2 H_j + b_e per user-item pair
    edge_states: Tensor  # [P, d_e] E_ij(t+1)
    weights: dict[str, Tensor] = field(default_factory=dict)  # W_h, W_e, b_h, W_e1, W_e2, b_e


@dataclass
class SeedGNNTrace:
    """The forward pass written out: node labels, edges, each layer, the output."""

    node_labels: list[str]  # [N] "user <id>" / "item <id>"
    edge_index: Tensor  # [2, E] directed message edges (source j, target i), node numbering
    pairs: Tensor  # [2, P] user-item pairs (user node, item node)
    h0: Tensor  # [N, d] initial states
    layers: list[LayerTrace]
    output_bias: float  # b_r
    scores: Tensor  # [n_users, n_items] R_ij = H_i . H_j + b_r

    def incoming(self, node: int, layer: int = 1) -> pd.DataFrame:
        """The messages a node receives in a layer: one row per neighbour."""
        lt = self.layers[layer - 1]
        sel = torch.nonzero(self.edge_index[1] == node).ravel()
        return pd.DataFrame({
            "from": [self.node_labels[j] for j in self.edge_index[0, sel].tolist()],
            "message": [lt.messages[e].tolist() for e in sel.tolist()],
        })


class SeedGNNModule(torch.nn.Module):
    """Initial states, layers and output bias; follows the embedding protocol of :mod:`recsys_core.train`."""

    def __init__(self, n_users: int, n_items: int, dim: int, layers: int, activation: str,
                 edges: Tensor, pairs: Tensor, aggr: str = "add"):
        super().__init__()
        self.n_users, self.n_items = n_users, n_items
        self.embedding = torch.nn.Embedding(n_users + n_items, dim)  # H(0)
        self.convs = torch.nn.ModuleList(
            [SeedGNNConv(dim, activation=activation, aggr=aggr) for _ in range(layers)])
        self.b_r = torch.nn.Parameter(torch.zeros(()))
        self.edge_index = edges  # [2, E]; rebuilt from the dataset, never saved
        self.pairs = pairs  # [2, P]
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.normal_(self.embedding.weight, std=0.5)
        for conv in self.convs:
            conv.reset_parameters()
        torch.nn.init.zeros_(self.b_r)

    def states(self) -> Tensor:
        h = self.embedding.weight  # [N, d]
        for conv in self.convs:
            h, _ = conv(h, self.edge_index, self.pairs)
        return h

    def forward(self, users: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
        h = self.states()
        return h[users], h[items + self.n_users]

    def ego(self, users: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
        weight = self.embedding.weight
        return weight[users], weight[items + self.n_users]

    def embeddings(self) -> tuple[Tensor, Tensor]:
        h = self.states()
        return h[: self.n_users], h[self.n_users:]


class SeedGNN(EmbeddingRecommender):
    """The article's GNN; see the module docstring.

    ``loss``: "bce" (implicit), "mse" (explicit ratings), "bpr", or "auto"
    (mse when the dataset is explicit, else bce). ``activation`` is the
    article's σ: "tanh" (default), "sigmoid" or "relu". ``aggr`` is "add",
    the article's sum, or "mean", which divides it by the degree: with the
    plain sum, states of high-degree nodes saturate on real graphs, so
    "mean" trains better there. ``dim`` and ``layers`` stay small for teaching.
    """

    name = "seed_gnn"

    def __init__(self, dim: int = 16, layers: int = 2, activation: str = "tanh",
                 aggr: str = "add", loss: str = "auto", lr: float = 1e-2, batch_size: int = 2048, epochs: int = 100,
                 reg: float = 1e-4, seed: int = 0, patience: int = 5, eval_every: int = 1,
                 valid_fraction: float = 0.1, max_seconds: float | None = None,
                 refit: bool = True):
        self.dim = dim
        self.layers = layers
        self.activation = activation
        self.aggr = aggr
        self.loss = loss
        self.lr = lr
        self.batch_size = batch_size
        self.epochs = epochs
        self.reg = reg
        self.seed = seed
        self.patience = patience
        self.eval_every = eval_every
        self.valid_fraction = valid_fraction
        self.max_seconds = max_seconds
        self.refit = refit

    @classmethod
    def search_space(cls, trial) -> dict:
        return {"lr": trial.suggest_float("lr", 1e-3, 5e-2, log=True),
                "dim": trial.suggest_categorical("dim", [16, 32, 64]),
                "layers": trial.suggest_int("layers", 1, 3),
                "reg": trial.suggest_float("reg", 1e-6, 1e-2, log=True)}

    def build_module(self, dataset: Dataset) -> SeedGNNModule:
        m = dataset.matrix("train").tocoo()
        pairs = torch.stack([torch.as_tensor(m.row, dtype=torch.long),
                             torch.as_tensor(m.col, dtype=torch.long) + dataset.n_users])
        return SeedGNNModule(dataset.n_users, dataset.n_items, self.dim, self.layers,
                             self.activation, edge_index(dataset, "train"), pairs, self.aggr)

    def loss_kind(self, dataset: Dataset) -> str:
        if self.loss not in ("auto", "bce", "mse", "bpr"):
            raise ValueError(f"loss must be 'auto', 'bce', 'mse' or 'bpr', got {self.loss!r}")
        if self.loss == "auto":
            return "mse" if dataset.explicit else "bce"
        return self.loss

    def fit(self, dataset: Dataset, callbacks=()) -> SeedGNN:
        kind = self.loss_kind(dataset)
        config: TrainConfig = self.train_config()

        def loss_fn(module: SeedGNNModule, batch: Batch) -> Tensor:
            items = torch.cat([batch.pos, batch.neg])
            user_h, item_h = module(batch.users, items)  # [B, d], [2B, d]
            b = len(batch.pos)
            pos = (user_h * item_h[:b]).sum(dim=1) + module.b_r  # [B] R_ij
            neg = (user_h * item_h[b:]).sum(dim=1) + module.b_r
            ego = module.ego(batch.users, items)
            l2 = config.reg * sum(e.pow(2).sum() for e in ego) / (2 * b)
            if kind == "mse":
                return F.mse_loss(pos, batch.ratings) + l2
            if kind == "bpr":
                return bpr_loss(pos, neg, ego, config.reg)
            logits = torch.cat([pos, neg])
            labels = torch.cat([torch.ones(b), torch.zeros(b)])
            return F.binary_cross_entropy_with_logits(logits, labels) + l2

        self.loss_ = kind
        return Trainer(self, dataset, config, loss_fn).fit(callbacks)

    def score(self, users, items=None) -> Tensor:
        """Predicted preference :math:`R_{ij} = H_i \\cdot H_j + b_r` (a rating under MSE)."""
        return super().score(users, items) + float(self.module_.b_r.detach())

    # ---------------------------------------------------------------- teaching view
    def trace(self) -> SeedGNNTrace:
        """Every intermediate value of the forward pass over the training graph."""
        ds = self.check_fitted()
        module: SeedGNNModule = self.module_
        labels = ([f"user {u}" for u in ds.user_ids] + [f"item {i}" for i in ds.item_ids])
        src, dst = module.edge_index
        layers: list[LayerTrace] = []
        with torch.no_grad():
            h = module.embedding.weight.detach().clone()
            h0 = h
            for t, conv in enumerate(module.convs, start=1):
                messages = conv.W_e(h[src])  # [E, d]
                aggregated = torch.zeros_like(h).index_add_(0, dst, messages)  # [N, d]
                if conv.aggr == "mean":
                    degree = torch.bincount(dst, minlength=h.shape[0]).clamp(min=1)
                    aggregated = aggregated / degree.unsqueeze(1)
                self_term = conv.W_h(h)
                pre = self_term + aggregated + conv.b_h
                h_out = conv.sigma(pre)
                edge_pre = (conv.W_e1(h[module.pairs[0]]) + conv.W_e2(h[module.pairs[1]])
                            + conv.b_e)
                weights = {"W_h": conv.W_h.weight.clone(), "W_e": conv.W_e.weight.clone(),
                           "b_h": conv.b_h.clone(), "W_e1": conv.W_e1.weight.clone(),
                           "W_e2": conv.W_e2.weight.clone(), "b_e": conv.b_e.clone()}
                layers.append(LayerTrace(t, h, messages, aggregated, self_term, conv.b_h.clone(),
                                         pre, h_out, edge_pre, conv.sigma(edge_pre), weights))
                h = h_out
            users, items = h[: module.n_users], h[module.n_users:]
            b_r = float(module.b_r)
            scores = users @ items.T + b_r
        return SeedGNNTrace(labels, module.edge_index.clone(), module.pairs.clone(), h0, layers,
                            b_r, scores)


def seed_example() -> Dataset:
    """The article's worked example: u1 rated i1 5 and i2 4, u2 rated i1 3 and i2 2."""
    inter = pd.DataFrame({
        "user": np.array([0, 0, 1, 1], dtype=np.int64),
        "item": np.array([0, 1, 0, 1], dtype=np.int64),
        "rating": np.array([5, 4, 3, 2], dtype=np.float32),
        "timestamp": np.full(4, np.nan),
    })
    return Dataset(interactions=inter, user_ids=np.array(["u1", "u2"], dtype=object),
                   item_ids=np.array(["i1", "i2"], dtype=object), name="seed example",
                   explicit=True, item_texts=["", ""], user_texts=["", ""])
