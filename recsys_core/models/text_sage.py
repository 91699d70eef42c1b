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
- **A validated gate against an ID-only model** (``gate``, on by default;
  :mod:`recsys_core.models.text_gate`): a network that sees nothing but text
  ranks warm items only as well as the texts allow, which on data with thin
  texts is well below an ID model. So an ID-only LightGCN is trained beside
  it (LightGCN's defaults, the same dim, epochs and patience) and warm scores
  blend the two, :math:`(1-g)\,a_u^\top a_i + g\,h_u^\top h_i`, with the text
  weight :math:`g` chosen on validation NDCG@20 by the one-standard-error
  rule; :math:`g = 0` is the ID model itself. Items and users without
  training edges keep the text network's scores (rescaled to the blend's
  scale), so cold start is unchanged. The price is a second model's training
  time. With ``refit`` both are retrained on train + validation for the epoch
  counts chosen on validation.
"""

from __future__ import annotations

import dataclasses
import time
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
from recsys_core.models.text_gate import blend, per_user_ndcg, score_ratio, select_gate
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
        # The validated gate (recsys_core.models.text_gate), set when training ends (saved):
        # final vectors of an ID-only LightGCN, the text weight g and the score scale kappa.
        self.register_buffer("id_users", torch.zeros(n_users, dim))
        self.register_buffer("id_items", torch.zeros(n_items, dim))
        self.register_buffer("gate", torch.ones(()))
        self.register_buffer("score_ratio", torch.ones(()))
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

    def fused_embeddings(self) -> tuple[Tensor, Tensor]:
        """The text network's own user [U, d] and item [I, d] vectors."""
        h = self.all_nodes()
        return h[: self.n_users], h[self.n_users:]

    def embeddings(self) -> tuple[Tensor, Tensor]:
        users, items = self.fused_embeddings()
        if float(self.gate) >= 1.0:  # all text
            return users, items
        return blend(self.id_users, self.id_items, users, items, self.warm[: self.n_users],
                     self.warm[self.n_users:], float(self.gate), float(self.score_ratio))

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
        gate: also train an ID-only LightGCN (same dim, epochs and patience; LightGCN's
            own lr and L2, since the text network's do not transfer to a table) and blend
            its scores with the text network's, with a text weight chosen on validation
            NDCG@20 (:mod:`recsys_core.models.text_gate`); cold items keep text scores.
        refit: retrain the text network (and the ID-only model) from scratch on train +
            validation for the epochs chosen on validation, keeping the chosen gate.
        rating_weighted / profile_weight / use_profiles: how user text features
            are built (:func:`recsys_core.text.user_text_features`).
    """

    name = "text_sage"

    def __init__(self, dim: int = 64, layers: int = 2, lr: float = 1e-3, batch_size: int = 2048,
                 epochs: int = 200, reg: float = 1e-4, seed: int = 0, patience: int = 5,
                 eval_every: int = 1, valid_fraction: float = 0.1,
                 max_seconds: float | None = None, threads: int | None = None,
                 text_model: str | None = None,
                 cold_dropout: float = 0.2, gate: bool = True, rating_weighted: bool = False,
                 profile_weight: float = 0.5, use_profiles: bool = True,
                 refit: bool = True):
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
        self.refit = refit
        self.threads = threads
        self.text_model = text_model
        self.cold_dropout = cold_dropout
        self.gate = gate
        self.rating_weighted = rating_weighted
        self.profile_weight = profile_weight
        self.use_profiles = use_profiles

    @classmethod
    def search_space(cls, trial) -> dict:
        return {"lr": trial.suggest_float("lr", 3e-4, 3e-2, log=True),
                "dim": trial.suggest_categorical("dim", [32, 64, 128]),
                "layers": trial.suggest_int("layers", 1, 3),
                "reg": trial.suggest_float("reg", 1e-6, 1e-2, log=True),
                "patience": trial.suggest_categorical("patience", [3, 5, 10]),
                "cold_dropout": trial.suggest_float("cold_dropout", 0.0, 0.5)}

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
        """Train the text network; with ``gate``, an ID-only LightGCN beside it and the text
        weight chosen on validation; with ``refit``, both again on train + validation."""
        from recsys_core.train import (
            EARLY_STOP_METRIC,
            Trainer,
            merge_validation,
            relay_callbacks,
            train_bpr,
        )

        # The refit comes below, together with the ID-only model's.
        config = dataclasses.replace(self.train_config(), refit=False)
        train_bpr(self, dataset, config, callbacks, loss_fn=self.loss)
        selected, record = self.dataset_, self._record()
        usable = selected.valid is not None and len(selected.valid) > 0 and \
            self.stopped_by_ in ("epochs", "early stopping")
        id_model = None
        if self.gate and usable:
            id_model = self._id_model(epochs=self.epochs, patience=self.patience).fit(
                selected, relay_callbacks(callbacks, record["epochs_trained_"]))
            if id_model.stopped_by_ == "cancelled":
                self.stopped_by_ = "cancelled"
                return self
            self._set_id_view(id_model)
            self.gate_, self.gate_values_ = select_gate(self._validate, self._set_gate)
        if not (self.refit and usable):
            self.invalidate()
            return self
        start, gate = time.perf_counter(), float(self.module_.gate)
        before = self.module_
        merged = merge_validation(selected)
        best = max(record["best_metrics_"].get(EARLY_STOP_METRIC, 0.0), 0.0)
        relay = relay_callbacks(callbacks, record["epochs_trained_"], record["best_epoch_"], best)
        Trainer(self, merged, dataclasses.replace(
            config, epochs=record["best_epoch_"], patience=0, valid_fraction=0.0,
            max_seconds=None), self.loss).fit(relay)
        cancelled = self.stopped_by_ == "cancelled"
        if id_model is not None and not cancelled:
            id_refit = self._id_model(epochs=id_model.best_epoch_, patience=0).fit(merged)
            self._set_id_view(id_refit)
            self.module_.gate.fill_(gate)
        for key, value in record.items():
            setattr(self, key, value)
        self.train_seconds_ += time.perf_counter() - start
        if cancelled:  # keep the model selected on validation
            self.module_, self.dataset_ = before, selected
            self.stopped_by_ = "cancelled"
            self.invalidate()
            return self
        self.refit_epochs_ = record["best_epoch_"]
        self.refit_interactions_ = len(merged.train_interactions)
        self.invalidate()
        return self

    def _record(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("history_", "best_epoch_", "best_metrics_",
                                             "epochs_trained_", "stopped_by_", "train_seconds_")}

    def _id_model(self, epochs: int, patience: int):
        from recsys_core.models.lightgcn import LightGCN

        # LightGCN's own learning rate and L2: the text network's (Adam on an MLP) do not
        # transfer to an embedding table.
        return LightGCN(dim=self.dim, batch_size=self.batch_size, epochs=epochs,
                        seed=self.seed, patience=patience,
                        eval_every=self.eval_every, valid_fraction=0.0, refit=False)

    def _set_id_view(self, id_model) -> None:
        """Store the ID-only model's final vectors and the score scale kappa."""
        module = self.module_
        n = module.n_users
        with torch.no_grad():
            id_users, id_items = (torch.as_tensor(v) for v in id_model._final())
            module.id_users.copy_(id_users)
            module.id_items.copy_(id_items)
            users, items = module.fused_embeddings()
            module.score_ratio.fill_(score_ratio(id_users, id_items, users, items,
                                                 module.warm[:n], module.warm[n:]))

    def _set_gate(self, g: float) -> None:
        self.module_.gate.fill_(g)
        self.invalidate()

    def _validate(self) -> np.ndarray:
        return per_user_ndcg(self, self.dataset_, part="valid", k=20)

    def load_state_tensors(self, tensors, dataset: Dataset) -> TextSAGE:
        # Runs saved before the gate existed: the text network alone.
        dim = tensors["project.weight"].shape[0]
        tensors = {"gate": torch.ones(()), "score_ratio": torch.ones(()),
                   "id_users": torch.zeros(dataset.n_users, dim),
                   "id_items": torch.zeros(dataset.n_items, dim), **tensors}
        return super().load_state_tensors(tensors, dataset)

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
        # Cold-start user vectors come from the text network, so score its own item vectors.
        with torch.no_grad():
            return self.module_.fused_embeddings()[1]
