r"""Graph attention network over the user-item graph (Veličković et al.,
"Graph Attention Networks", ICLR 2018), trained for ranking with BPR.

Every node starts from a learnable ID embedding :math:`h^{(0)}`. Each layer
is a PyG :class:`~torch_geometric.nn.conv.GATConv` over the bipartite graph
(self loops added), averaging ``heads`` attention heads:

.. math::
    h^{(l+1)}_i = \frac{1}{K}\sum_{k=1}^{K} \Big(\sum_{j \in \mathcal{N}(i) \cup \{i\}}
    \alpha^{k}_{ij} W^{k} h^{(l)}_j\Big) + b, \qquad
    \alpha^{k}_{ij} = \operatorname{softmax}_j\big(\operatorname{LeakyReLU}
    (a^{k\top} [W^{k} h_i \,\|\, W^{k} h_j])\big),

with ELU between layers. As in LightGCN, the final embedding is the mean of
layers 0..L and a score is :math:`e_u^\top e_i`: attention decides how much
each neighbour counts, where LightGCN fixes it at
:math:`1/\sqrt{|\mathcal{N}(i)||\mathcal{N}(j)|}`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import GATConv

from recsys_core.data.dataset import Dataset
from recsys_core.graph import edge_index
from recsys_core.models.base import EmbeddingRecommender


class GATModule(torch.nn.Module):
    """ID embeddings and GATConv layers; follows the embedding protocol of :mod:`recsys_core.train`."""

    def __init__(self, n_users: int, n_items: int, dim: int, layers: int, heads: int,
                 edges: Tensor):
        super().__init__()
        self.n_users, self.n_items = n_users, n_items
        self.embedding = torch.nn.Embedding(n_users + n_items, dim)
        self.convs = torch.nn.ModuleList(
            [GATConv(dim, dim, heads=heads, concat=False) for _ in range(layers)])
        self.edge_index = edges  # [2, 2E]; rebuilt from the dataset, never saved
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.normal_(self.embedding.weight, std=0.1)
        for conv in self.convs:
            conv.reset_parameters()

    def propagate_all(self) -> Tensor:
        h = self.embedding.weight  # [N, d]
        total = h
        for k, conv in enumerate(self.convs):
            h = conv(h, self.edge_index)  # [N, d]
            if k < len(self.convs) - 1:
                h = F.elu(h)
            total = total + h
        return total / (len(self.convs) + 1)

    def forward(self, users: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
        out = self.propagate_all()
        return out[users], out[items + self.n_users]

    def ego(self, users: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
        weight = self.embedding.weight
        return weight[users], weight[items + self.n_users]

    def embeddings(self) -> tuple[Tensor, Tensor]:
        out = self.propagate_all()
        return out[: self.n_users], out[self.n_users:]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(users={self.n_users}, items={self.n_items}, "
                f"dim={self.embedding.embedding_dim}, layers={len(self.convs)})")


class GAT(EmbeddingRecommender):
    """GAT recommender; see the module docstring."""

    name = "gat"

    def __init__(self, dim: int = 64, layers: int = 2, heads: int = 2, lr: float = 1e-2,
                 batch_size: int = 2048, epochs: int = 200, reg: float = 1e-4, seed: int = 0,
                 patience: int = 5, eval_every: int = 1, valid_fraction: float = 0.1,
                 max_seconds: float | None = None, refit: bool = True):
        self.dim = dim
        self.layers = layers
        self.heads = heads
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
                "dim": trial.suggest_categorical("dim", [32, 64]),
                "layers": trial.suggest_int("layers", 1, 3),
                "heads": trial.suggest_categorical("heads", [1, 2, 4]),
                "reg": trial.suggest_float("reg", 1e-6, 1e-2, log=True)}

    def build_module(self, dataset: Dataset) -> GATModule:
        return GATModule(dataset.n_users, dataset.n_items, self.dim, self.layers, self.heads,
                         edge_index(dataset, "train"))
