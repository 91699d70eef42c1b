r"""Text-GraphSAGE: an inductive GNN whose only node inputs are language-model texts.

GraphSAGE (Hamilton, Ying & Leskovec, "Inductive Representation Learning on
Large Graphs", NeurIPS 2017) with mean aggregation over the user-item
training graph (PyG :class:`~torch_geometric.nn.SAGEConv`). Nodes have no ID
embeddings: a node is its text feature :math:`t_n` (an item's text embedding;
a user's profile text and/or the mean of their training items' texts,
:func:`recsys_core.text.user_text_features`),

.. math::
    h^{(0)}_n = W_0 t_n, \qquad
    h^{(l+1)}_n = \sigma\Big(W^{(l)}_1 h^{(l)}_n
        + W^{(l)}_2 \frac{1}{|\mathcal{N}(n)|}\sum_{m \in \mathcal{N}(n)} h^{(l)}_m + b^{(l)}\Big),
    \qquad \hat y_{ui} = h^{(L)\top}_u h^{(L)}_i,

with :math:`\sigma` = LeakyReLU between layers and none after the last.
Trained with BPR (Rendle et al., UAI 2009) and L2 on the batch's
:math:`h^{(0)}`. Because nothing is tied to a node's identity, the same
weights embed nodes never seen in training: an item with no interactions is
:math:`h` of its text with an empty neighbourhood, a new user is a new node
linked to the items they like.

Training tricks, and why:

- **Target-edge removal**: each step passes messages over the training graph
  without the batch's positive edges, so a score cannot come from the edge it
  is asked to predict (the disjoint message / supervision edges of
  PinSage-style link prediction; Ying et al., KDD 2018).
- **Item neighbourhood dropout**: each step a random share ``cold_dropout``
  of items lose all their edges, so the network learns to place items from
  their text alone — exactly the situation of a cold item at serving time.
- Negatives without training interactions are skipped (nothing is known
  about them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import SAGEConv

from recsys_core.coldstart import ColdStartMixin
from recsys_core.data.dataset import Dataset
from recsys_core.graph import edge_index as graph_edge_index
from recsys_core.models.base import EmbeddingRecommender
from recsys_core.text import TextEncoder, dataset_text_features, get_encoder


class TextSAGEModule(torch.nn.Module):
    """Input projection plus ``layers`` SAGEConv layers over text features.

    Follows the embedding protocol of :mod:`recsys_core.train`.
    """

    def __init__(self, n_users: int, n_items: int, dim: int, layers: int, edge_index: Tensor,
                 user_text: Tensor, item_text: Tensor):
        super().__init__()
        self.n_users, self.n_items, self.layers = n_users, n_items, layers
        self.project = torch.nn.Linear(item_text.shape[1], dim, bias=False)  # W_0
        self.convs = torch.nn.ModuleList(SAGEConv(dim, dim, aggr="mean") for _ in range(layers))
        self.edge_index = edge_index  # [2, 2E] training graph, both directions; not saved
        self.register_buffer("text", torch.cat([user_text, item_text]), persistent=False)  # [N, t]
        degree = torch.bincount(edge_index[0], minlength=n_users + n_items)
        self.register_buffer("warm", degree > 0, persistent=False)  # [N]
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_uniform_(self.project.weight)
        for conv in self.convs:
            conv.reset_parameters()

    def encode(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """Node features [N', t] and edges [2, E'] -> final embeddings [N', dim]."""
        h = self.project(x)  # [N', dim]
        for layer, conv in enumerate(self.convs):
            h = conv(h, edge_index)
            if layer < self.layers - 1:
                h = F.leaky_relu(h, 0.2)
        return h

    def all_nodes(self, edge_index: Tensor | None = None) -> Tensor:
        """[N, dim] embeddings of every node over ``edge_index`` (default: the training graph)."""
        return self.encode(self.text, self.edge_index if edge_index is None else edge_index)

    def forward(self, users: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
        h = self.all_nodes()
        return h[users], h[items + self.n_users]

    def ego(self, users: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
        return self.project(self.text[users]), self.project(self.text[items + self.n_users])

    def embeddings(self) -> tuple[Tensor, Tensor]:
        h = self.all_nodes()
        return h[: self.n_users], h[self.n_users:]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(users={self.n_users}, items={self.n_items}, "
                f"text_dim={self.text.shape[1]}, dim={self.project.out_features}, "
                f"layers={self.layers})")


class TextSAGE(ColdStartMixin, EmbeddingRecommender):
    """Inductive GraphSAGE over text features, trained with BPR; see the module docstring.

    Training parameters as :class:`~recsys_core.models.lightgcn.LightGCN`, plus:

    Args:
        threads: torch threads while training (None: the trainer's default).
        text_model: local sentence-transformers folder (None: bundled all-MiniLM-L6-v2).
        cold_dropout: share of items whose edges are all dropped in each step.
        rating_weighted / profile_weight / use_profiles: how user text features
            are built (:func:`recsys_core.text.user_text_features`).
    """

    name = "text_sage"

    def __init__(self, dim: int = 64, layers: int = 2, lr: float = 1e-3, batch_size: int = 2048,
                 epochs: int = 200, reg: float = 1e-4, seed: int = 0, patience: int = 5,
                 eval_every: int = 1, valid_fraction: float = 0.1,
                 max_seconds: float | None = None, threads: int | None = None,
                 text_model: str | None = None,
                 cold_dropout: float = 0.2, rating_weighted: bool = False,
                 profile_weight: float = 0.5, use_profiles: bool = True):
        self.dim = dim
        self.layers = layers
        self.lr = lr
        self.batch_size = batch_size
        self.epochs = epochs
        self.reg = reg
        self.seed = seed
        self.patience = patience
        self.eval_every = eval_every
        self.valid_fraction = valid_fraction
        self.max_seconds = max_seconds
        self.threads = threads
        self.text_model = text_model
        self.cold_dropout = cold_dropout
        self.rating_weighted = rating_weighted
        self.profile_weight = profile_weight
        self.use_profiles = use_profiles

    def encoder(self) -> TextEncoder:
        return get_encoder(self.text_model)

    def build_module(self, dataset: Dataset) -> TextSAGEModule:
        items, users = dataset_text_features(
            dataset, self.encoder(), rating_weighted=self.rating_weighted,
            profile_weight=self.profile_weight, use_profiles=self.use_profiles)
        return TextSAGEModule(dataset.n_users, dataset.n_items, self.dim, self.layers,
                              graph_edge_index(dataset, "train"), torch.as_tensor(users),
                              torch.as_tensor(items))

    def fit(self, dataset: Dataset, callbacks: Sequence[Any] = ()) -> TextSAGE:
        from recsys_core.train import train_bpr

        return train_bpr(self, dataset, self.train_config(), callbacks, loss_fn=self.loss)

    def loss(self, module: TextSAGEModule, batch) -> Tensor:
        """BPR over a per-step message graph (target edges removed, some items isolated)."""
        n_users, n_items = module.n_users, module.n_items
        keep = module.warm[batch.neg + n_users]
        users, pos, neg = batch.users[keep], batch.pos[keep], batch.neg[keep]
        if len(users) == 0:
            return module.project.weight.sum() * 0.0
        src, dst = module.edge_index  # [2E] each
        edge_user = torch.minimum(src, dst)  # users are numbered before items
        edge_item = torch.maximum(src, dst) - n_users
        dropped = torch.rand(n_items) < self.cold_dropout  # [I]
        target = torch.isin(edge_user * n_items + edge_item, users * n_items + pos)
        message_edges = module.edge_index[:, ~(dropped[edge_item] | target)]
        h = module.all_nodes(message_edges)  # [N, d]
        u, p, n = h[users], h[pos + n_users], h[neg + n_users]
        ranking = -F.logsigmoid((u * p).sum(1) - (u * n).sum(1)).mean()
        ego_users, ego_items = module.ego(users, torch.cat([pos, neg]))
        l2 = (ego_users.pow(2).sum() + ego_items.pow(2).sum()) / (2 * len(users))
        return ranking + self.reg * l2

    # ---------------------------------------------------------------- cold start
    def text_user_vector(self, text_vector: Tensor) -> Tensor:
        with torch.no_grad():  # a node with no edges: the root weights alone speak
            return self.module_.encode(text_vector.unsqueeze(0), torch.zeros(2, 0, dtype=torch.long))[0]

    def items_user_vector(self, items: np.ndarray) -> Tensor:
        """Add the user as a new node linked to ``items`` and run the trained network."""
        module = self.module_
        with torch.no_grad():
            idx = torch.as_tensor(items) + module.n_users
            text = module.text[idx].mean(0)
            text = text / text.norm().clamp_min(1e-12)
            new = module.text.shape[0]  # the new user's node id
            x = torch.cat([module.text, text.unsqueeze(0)])  # [N + 1, t]
            links = torch.stack([torch.cat([torch.full_like(idx, new), idx]),
                                 torch.cat([idx, torch.full_like(idx, new)])])
            h = module.encode(x, torch.cat([module.edge_index, links], dim=1))
            return h[new]

    def scoring_item_vectors(self) -> Tensor:
        return self._final()[1]
