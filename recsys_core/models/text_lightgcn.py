r"""Text-LightGCN: LightGCN over ID embeddings fused with projected language-model text.

Every node starts from a learnable ID embedding plus a learned projection of
its frozen text embedding :math:`s_n` (:mod:`recsys_core.text`: an item's
text; for a user the article's text feature :math:`t_u`, the profile text
combined with the mean text of their training items),

.. math::
    e^{(0)}_n = m_n\, x_n + W s_n, \qquad
    E^{(l+1)} = \tilde A E^{(l)}, \qquad
    z_n = \frac{1}{L+1} \sum_{l=0}^{L} e^{(l)}_n,

with :math:`\tilde A = D^{-1/2} A D^{-1/2}` the normalised training graph
(LightGCN, He et al., SIGIR 2020) and :math:`m_n = 0` for nodes without
training interactions (their ID was never trained). Two content towers map
text alone into the same space, :math:`c_i = g(t_i)` and :math:`c_u = h(t_u)`
(two-layer MLPs), where :math:`t_u` is the article's user text feature: the
profile text combined with the mean text of the user's training items. The score is :math:`\hat y_{ui} = \tilde z_u^\top \tilde z_i`
where :math:`\tilde z_i = z_i` for items with training interactions and
:math:`\tilde z_i = c_i` for items without (likewise for users).

Training minimises, over (user, positive, negative) triples,

.. math::
    \mathcal{L} = \mathrm{BPR}(z_u, z_{i^+}, z_{i^-})
    + \mathrm{BPR}(\hat u, \hat\imath^{+}, \hat\imath^{-})
    + \lambda_a \big(\lVert c_i - \mathrm{sg}(z_i)\rVert^2 + \lVert c_u - \mathrm{sg}(z_u)\rVert^2\big)
    + \lambda \lVert \Theta_{\text{batch}} \rVert^2,
    \qquad \mathrm{BPR}(u, p, n) = -\log\sigma(u^\top p - u^\top n),

where in the second (content) term each item is :math:`\hat\imath = c_i` with
probability ``item_dropout`` and :math:`\mathrm{sg}(z_i)` otherwise (users
likewise with ``user_dropout``), and ``sg`` stops gradients. Why these choices:

- **ID dropout into the content view** (DropoutNet, Volkovs et al., NeurIPS
  2017): an item with no interactions has no ID and no neighbours, so at
  serving time only its text tower speaks. Scoring a random share of the
  batch's items (and users) through their content view, mixed with graph
  views of the others, trains the towers with BPR against the same vectors
  that rank warm items: cold scores land on the warm scale, so cold items can
  be ranked among all items, and the text-only pair :math:`c_u^\top c_i`
  serves a user given as a sentence.
- **Stopped gradients into the graph view** in that term: a first version
  that substituted content views inside the main BPR term pulled the graph
  embeddings towards text and lost warm accuracy (validation NDCG@20 peaked
  after one epoch on MovieTweetings); decoupled, the graph view trains exactly
  as a fused LightGCN and the towers learn to fit into its space.
- **Alignment** of the content view to the (stopped) graph view (as in
  CLCRec, Wei et al., MM 2021, here as a regression rather than contrastive)
  makes :math:`c_i` a predictor of where the item's collaborative embedding
  would be, which is what a cold item needs.
- **Staged training** (``warmup``, on by default): LightGCN is linear, so
  text in :math:`e^{(0)}` adds a propagated linear text model to the
  propagated IDs. Trained jointly from the start, the text part fits within a
  few epochs and begins to overfit while the IDs are still immature, and early
  stopping ends both there (on MovieTweetings: best epoch 9-19, warm NDCG@20
  about 2% below plain LightGCN). So stage 1 trains the graph view with IDs
  alone (exactly LightGCN) to early stopping, and stage 2 adds :math:`W t`
  from :math:`W = 0` (the model starts where stage 1 ended) and trains
  everything on to early stopping again; if stage 2 never validates better,
  stage 1 is kept with :math:`W = 0`. The towers train in both stages.
- **Warm-only validation**: early stopping ranks the validation interactions,
  all on items with training edges, among those items. Cold items' tower
  scores only push validation positives down as the towers improve, which
  stopped training after a handful of epochs in an earlier version.
- **History text in a user's** :math:`e^{(0)}` (``history_in_graph``, on by
  default): the history mean contains the very positives being trained on,
  which invites memorising them; ``history_in_graph=False`` keeps only the
  profile text there (the history still reaches :math:`z_u` through
  propagation).
- Negatives without training interactions are skipped: nothing is known
  about them, and pushing them down would teach the towers to bury exactly
  the items cold start is for.
- **Length calibration of cold items** (``calibrate_cold``, on by default):
  the towers regress onto graph vectors, and a regression predicts a shrunken
  vector, so tower vectors come out shorter than the graph vectors of warm
  items, by a factor that varied from run to run (cold items then rarely
  reached a list: on one MovieTweetings split cold Recall@20 was 1.5x
  random). When training ends, cold items' :math:`c_i` are scaled by the
  ratio of the mean graph-vector length to the mean tower-vector length over
  warm items: the tower gives the direction, the warm items the length.
- **A validated weight of cold items** (``select_cold``, on by default;
  :mod:`recsys_core.models.text_gate`): after the gate, every score of an
  item without training edges is multiplied by :math:`w \in \{0, .25, .5,
  .75, 1\}`, the largest weight whose validation NDCG@20 with cold items in
  the lists is within one standard error of the best. The towers say how well
  a cold item suits a user, not how rarely such items are reached: on a random
  MovieLens-100K split the 43 items left without training edges took places in
  warm users' lists at :math:`w = 1` (NDCG@10 .376 against .434 below the
  warm items). Kept through the refit.
- ``cold_item_scale`` multiplies cold items' :math:`c_i` when serving: the
  calibration knob between cold items and warm items in one list, on top of
  the validated weight.
- **A validated text gate** (``gate``, on by default;
  :mod:`recsys_core.models.text_gate`): stage 1 *is* an ID-only LightGCN (with
  the same seed it starts from LightGCN's initial table, draws the same batches
  and negatives, and the text terms never reach the IDs, so on data where every
  item has training edges it is LightGCN to rounding), so its ID table is kept,
  and warm scores blend the two views,
  :math:`(1-g)\,a_u^\top a_i + g\,\tilde z_u^\top \tilde z_i` with
  :math:`a` stage 1's propagated IDs. The text weight :math:`g \in
  \{0, .25, .5, .75, 1\}` is chosen on validation NDCG@20 by the
  one-standard-error rule (the smallest weight within one standard error of
  the best), so text enters only where it measurably helps: on data whose
  texts carry no signal (titles alone, noise) :math:`g = 0` and warm ranking
  is plain LightGCN's, which is why the fused model does not lose to the
  ID-only one; cold items keep their tower scores whatever :math:`g` is
  (rescaled to the blend's score scale). Without the gate, stage 2's keep-or-
  discard rule was the only guard, and a validation gain of a few tenths of a
  percent (mostly a few more epochs of ID training) let noisy text through.
- **Defaults for data nobody tuned them for**: Adam at lr 1e-2 (as
  :class:`~recsys_core.models.lightgcn.LightGCN`): at 1e-3 validation NDCG is
  flat for the first epochs on a sparse catalogue and early stopping ended
  stage 1 after a handful of epochs, an immature ID model that stage 2 could
  not recover. ``refit`` (on) then retrains both stages from scratch on train
  + validation for the epoch counts chosen on validation, keeping the gate.

Measured with ``benchmarks/movietweetings.py`` before the gate and the refit
existed (MovieTweetings-100K, cold-item split holding out 20% of items, seed 0,
lr 5e-3, defaults otherwise): warm
NDCG@20 (warm items ranked among items with training edges) 0.1891 against
LightGCN's 0.1814 (+4.3%), 0.1217 when cold items compete for the same lists;
cold-item Recall@20 ranked among all items 0.1867 against text_knn's 0.0529
and random's 0.0084 (0.1104 without the length calibration). Trained in one
stage with cold items in the validation lists, the same split gave 0.1792
warm and 0.0537 cold. The README has the whole table.

Cold users: ``recommend_for_text`` scores :math:`h(t)` for the sentence
embedding :math:`t`; ``recommend_for_items`` folds the user into the graph
without retraining: :math:`e^{(0)}_u = W t_u` with :math:`t_u` the mean
liked-item text (zero with ``history_in_graph=False``: no ID, no profile) and
:math:`e^{(l+1)}_u = \sum_{i} e^{(l)}_i / \sqrt{n (d_i + 1)}` over the
:math:`n` liked items (the new user's own effect on the items is ignored,
which is exact for one layer).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from recsys_core.coldstart import ColdStartMixin
from recsys_core.data.dataset import Dataset
from recsys_core.graph import normalized_adjacency
from recsys_core.models.base import EmbeddingRecommender
from recsys_core.models.lightgcn import propagate
from recsys_core.models.text_gate import (
    COLD_GRID,
    blend,
    per_user_ndcg,
    score_ratio,
    select_gate,
)
from recsys_core.text import (
    TextEncoder,
    dataset_text_features,
    get_encoder,
    user_profile_embeddings,
)


def _bpr(users: Tensor, pos: Tensor, neg: Tensor) -> Tensor:
    """Mean BPR loss of [B, d] user, positive and negative vectors."""
    return -F.logsigmoid((users * pos).sum(1) - (users * neg).sum(1)).mean()


def content_tower(text_dim: int, dim: int) -> torch.nn.Sequential:
    """Text [t] -> embedding [dim]: Linear, LeakyReLU, Linear."""
    return torch.nn.Sequential(torch.nn.Linear(text_dim, dim), torch.nn.LeakyReLU(0.2),
                               torch.nn.Linear(dim, dim))


class TextLightGCNModule(torch.nn.Module):
    """ID + projected text ego embeddings, LightGCN propagation and two content towers.

    Follows the embedding protocol of :mod:`recsys_core.train`; ``forward``
    returns the graph view, :meth:`content` the text-only view.
    """

    def __init__(self, n_users: int, n_items: int, dim: int, layers: int, adj: Tensor,
                 user_text: Tensor, item_text: Tensor, user_graph_text: Tensor | None = None,
                 text_lr_scale: float = 1.0, text_in_graph: bool = True,
                 cold_item_scale: float = 1.0):
        super().__init__()
        self.cold_item_scale = cold_item_scale  # c_i multiplier for items without edges
        self.text_in_graph = text_in_graph  # False: e^(0) is the ID alone (plain LightGCN)
        self.text_lr_scale = text_lr_scale  # W = scale * W': Adam moves W at scale * lr
        self.n_users, self.n_items, self.layers = n_users, n_items, layers
        text_dim = item_text.shape[1]
        self.embedding = torch.nn.Embedding(n_users + n_items, dim)  # ID embeddings x_n
        # Drawn before any other parameter, as LightGCN's table: the same seed gives stage 1
        # the same initial IDs as LightGCN (see TextLightGCN.build_module).
        self._reset_id_parameters()
        self.project = torch.nn.Linear(text_dim, dim, bias=False)  # W
        self.user_tower = content_tower(text_dim, dim)  # h
        self.item_tower = content_tower(text_dim, dim)  # g
        self.adj = adj  # [N, N] CSR; rebuilt from the dataset, never saved
        # Frozen inputs, recomputed from the text cache on load (not saved). ``text`` feeds
        # the towers; ``graph_text`` feeds e^(0) (users: profile text only, by default).
        self.register_buffer("text", torch.cat([user_text, item_text]), persistent=False)  # [N, t]
        graph_users = user_text if user_graph_text is None else user_graph_text
        self.register_buffer("graph_text", torch.cat([graph_users, item_text]),
                             persistent=False)  # [N, t]
        self.history_in_graph = user_graph_text is None
        degree = torch.diff(adj.crow_indices())
        self.register_buffer("warm", degree > 0, persistent=False)  # [N] has training edges
        # Length calibration of cold items' tower vectors, set when training ends (saved).
        self.register_buffer("cold_norm_ratio", torch.ones(()))
        # Weight of cold items' scores against warm items', chosen on validation (saved).
        self.register_buffer("cold_weight", torch.ones(()))
        # The validated gate (recsys_core.models.text_gate), set when training ends (saved):
        # stage 1's ID table (the ID-only LightGCN), the text weight g and the score scale kappa.
        self.register_buffer("id_embedding", torch.zeros(n_users + n_items, dim))
        self.register_buffer("gate", torch.ones(()))
        self.register_buffer("score_ratio", torch.ones(()))
        self._reset_text_parameters()

    def reset_parameters(self) -> None:
        self._reset_id_parameters()
        self._reset_text_parameters()

    def _reset_id_parameters(self) -> None:
        torch.nn.init.normal_(self.embedding.weight, std=0.1)  # LightGCN's initialisation

    def _reset_text_parameters(self) -> None:
        torch.nn.init.xavier_uniform_(self.project.weight)
        with torch.no_grad():  # same initial W whatever the scale
            self.project.weight.div_(self.text_lr_scale)
        for tower in (self.user_tower, self.item_tower):
            for layer in tower:
                if isinstance(layer, torch.nn.Linear):
                    layer.reset_parameters()

    def ego_all(self) -> Tensor:
        """[N, dim] layer-0 embeddings ``m * x + W t``."""
        ids = self.embedding.weight * self.warm.unsqueeze(1)
        if not self.text_in_graph:
            return ids
        return ids + self.graph_project(self.graph_text)

    def warm_layer0(self) -> Tensor:
        """[N, dim] or [N, 2 dim] layer-0 rows whose LightGCN propagation scores warm pairs.

        Between two nodes with training edges the gated score is
        ``(1 - g) a_u . a_i + g f_u . f_i`` (:mod:`~recsys_core.models.text_gate`), one dot
        product of ``[sqrt(1 - g) a | sqrt(g) f]``. Propagation acts column by column,
        so propagating ``[sqrt(1 - g) m x_id | sqrt(g) e^(0)]`` yields exactly those
        blocks: edge-removal explanations re-propagate this one table.
        """
        g = float(self.gate.clamp(0.0, 1.0))
        if g >= 1.0:
            return self.ego_all()
        return torch.cat([(1.0 - g) ** 0.5 * self.id_layer0(), g ** 0.5 * self.ego_all()], dim=1)

    def id_layer0(self) -> Tensor:
        """[N, dim] stage 1's ID-only layer 0: its ID table on warm nodes, zero on cold ones."""
        return self.id_embedding * self.warm.unsqueeze(1)

    def graph_project(self, text: Tensor) -> Tensor:
        """[*, t] -> [*, dim] projected text ``W t`` of layer 0."""
        return self.text_lr_scale * self.project(text)

    def forward(self, users: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
        """Graph view z of the given users [B, d] and items [M, d]."""
        nodes = torch.cat([users, items + self.n_users])
        out = propagate(self.adj, self.ego_all(), self.layers, nodes)  # [B + M, d]
        return out[: len(users)], out[len(users):]

    def content(self, users: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
        """Text-only view c of the given users [B, d] and items [M, d]."""
        return (self.user_tower(self.text[users]),
                self.item_tower(self.text[items + self.n_users]))

    def ego(self, users: Tensor, items: Tensor) -> tuple[Tensor, Tensor]:
        weight = self.embedding.weight
        return weight.index_select(0, users), weight.index_select(0, items + self.n_users)

    def layer_embeddings(self) -> list[Tensor]:
        """[E^0, ..., E^L], each [N, d]."""
        out = [self.ego_all()]
        for _ in range(self.layers):
            out.append(self.adj @ out[-1])
        return out

    def views(self) -> tuple[Tensor, Tensor]:
        """Graph view z [N, d] and unscaled text-tower view c [N, d] of every node."""
        z = propagate(self.adj, self.ego_all(), self.layers)
        c = torch.cat([self.user_tower(self.text[: self.n_users]),
                       self.item_tower(self.text[self.n_users:])])
        return z, c

    def fused_embeddings(self) -> tuple[Tensor, Tensor]:
        """The fused view: graph vectors of warm nodes, (scaled) tower vectors of cold ones."""
        z, c = self.views()  # [N, d] each
        scale = torch.ones(len(c), 1)
        scale[self.n_users:] = self.cold_item_scale * self.cold_norm_ratio * self.cold_weight
        out = torch.where(self.warm.unsqueeze(1), z, scale * c)  # cold nodes speak through text
        return out[: self.n_users], out[self.n_users:]

    def id_embeddings(self) -> tuple[Tensor, Tensor]:
        """The ID-only view: stage 1's LightGCN over the warm nodes' ID table."""
        out = propagate(self.adj, self.id_layer0(), self.layers)
        return out[: self.n_users], out[self.n_users:]

    def embeddings(self) -> tuple[Tensor, Tensor]:
        fused_users, fused_items = self.fused_embeddings()
        if float(self.gate) >= 1.0:  # all text: the fused view as it is
            return fused_users, fused_items
        id_users, id_items = self.id_embeddings()
        warm = self.warm
        return blend(id_users, id_items, fused_users, fused_items, warm[: self.n_users],
                     warm[self.n_users:], float(self.gate), float(self.score_ratio))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(users={self.n_users}, items={self.n_items}, "
                f"dim={self.embedding.embedding_dim}, text_dim={self.text.shape[1]}, "
                f"layers={self.layers})")


class TextLightGCN(ColdStartMixin, EmbeddingRecommender):
    """LightGCN fused with text embeddings, trained for cold start; see the module docstring.

    Training parameters as :class:`~recsys_core.models.lightgcn.LightGCN`
    (Adam, BPR, early stopping on validation NDCG@20; the same defaults, L2 1e-3
    included, so stage 1 is that LightGCN), plus:

    Args:
        threads: torch threads while training (None: the trainer's default).
        text_model: local sentence-transformers folder (None: bundled all-MiniLM-L6-v2).
        item_dropout: probability that an item in a batch is seen through its text tower only.
        user_dropout: the same for users.
        align: weight of the content-to-graph alignment loss.
        history_in_graph: put the user's full text feature (profile + history mean)
            into their e^(0); off: only the profile text (history reaches the
            user through propagation anyway).
        text_reg: multiplier of the L2 weight on the batch's projected texts ``W t``.
        text_lr_scale: ``W = text_lr_scale * W'`` with ``W'`` trained, so Adam moves the
            text projection at ``text_lr_scale * lr`` (same initial ``W``).
        split_content: train each tower against the other side's stopped graph view
            (module docstring) instead of mixed views on both sides.
        text_in_graph: add ``W t`` to e^(0); off: e^(0) is the ID alone.
        cold_item_scale: multiplier of cold items' tower vectors when scoring.
        calibrate_cold: scale cold items' tower vectors to the mean length of warm items'
            graph vectors (measured when training ends), before ``cold_item_scale``.
        warmup: staged training: the ID graph view alone to early stopping, then
            ``W t`` added (from zero) and trained on; the better validated stage is kept.
            ``epochs`` and ``patience`` apply to each stage, ``max_seconds`` to both.
        gate: after staged training, blend the ID-only (stage 1) and fused scores with a
            text weight chosen on validation NDCG@20 (:mod:`recsys_core.models.text_gate`).
        select_cold: then choose on validation, with cold items in the lists, the weight
            of cold items' scores against warm items' (``cold_weight_``).
        refit: retrain both stages from scratch on train + validation for the epochs
            chosen on validation, keeping the chosen gate and cold weight.
        rating_weighted / profile_weight / use_profiles: how user text features
            are built (:func:`recsys_core.text.user_text_features`).
    """

    name = "text_lightgcn"

    def __init__(self, dim: int = 64, layers: int = 3, lr: float = 1e-2, batch_size: int = 2048,
                 epochs: int = 200, reg: float = 1e-3, seed: int = 0, patience: int = 5,
                 eval_every: int = 1, valid_fraction: float = 0.1,
                 max_seconds: float | None = None, threads: int | None = None,
                 text_model: str | None = None,
                 item_dropout: float = 0.5, user_dropout: float = 0.5, align: float = 0.1,
                 history_in_graph: bool = True, text_reg: float = 0.0,
                 text_lr_scale: float = 1.0, split_content: bool = False,
                 text_in_graph: bool = True, cold_item_scale: float = 1.0,
                 warmup: bool = True, calibrate_cold: bool = True, gate: bool = True,
                 select_cold: bool = True, rating_weighted: bool = False,
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
        self.item_dropout = item_dropout
        self.user_dropout = user_dropout
        self.align = align
        self.history_in_graph = history_in_graph
        self.text_reg = text_reg
        self.text_lr_scale = text_lr_scale
        self.split_content = split_content
        self.text_in_graph = text_in_graph
        self.cold_item_scale = cold_item_scale
        self.warmup = warmup
        self.calibrate_cold = calibrate_cold
        self.gate = gate
        self.select_cold = select_cold
        self.rating_weighted = rating_weighted
        self.profile_weight = profile_weight
        self.use_profiles = use_profiles

    @classmethod
    def search_space(cls, trial) -> dict:
        # LightGCN's space plus how fast and how far text moves (projection step, alignment).
        return {"lr": trial.suggest_float("lr", 1e-3, 5e-2, log=True),
                "dim": trial.suggest_categorical("dim", [32, 64, 128]),
                "layers": trial.suggest_int("layers", 1, 4),
                "reg": trial.suggest_float("reg", 1e-6, 1e-2, log=True),
                "patience": trial.suggest_categorical("patience", [3, 5, 10]),
                "text_lr_scale": trial.suggest_float("text_lr_scale", 0.1, 10.0, log=True),
                "align": trial.suggest_float("align", 0.01, 1.0, log=True)}

    def encoder(self) -> TextEncoder:
        return get_encoder(self.text_model)

    def build_module(self, dataset: Dataset) -> TextLightGCNModule:
        # The trainer has just seeded torch; loading the encoder may draw from it (layer
        # initialisers), so the state is put back for the ID table to draw as LightGCN's.
        seeded = torch.get_rng_state()
        encoder = self.encoder()
        items, users = dataset_text_features(
            dataset, encoder, rating_weighted=self.rating_weighted,
            profile_weight=self.profile_weight, use_profiles=self.use_profiles)
        graph_users = None
        if not self.history_in_graph:
            graph_users = np.zeros_like(users)  # [U, t]
            if self.use_profiles and any(isinstance(t, str) and t.strip()
                                         for t in dataset.user_texts):
                graph_users = user_profile_embeddings(dataset, encoder)[0]
            graph_users = torch.as_tensor(graph_users)
        adj = normalized_adjacency(dataset, "train")
        torch.set_rng_state(seeded)
        return TextLightGCNModule(dataset.n_users, dataset.n_items, self.dim, self.layers, adj,
                                  torch.as_tensor(users), torch.as_tensor(items), graph_users,
                                  self.text_lr_scale, self.text_in_graph, self.cold_item_scale)

    def fit(self, dataset: Dataset, callbacks: Sequence[Any] = ()) -> TextLightGCN:
        """Train (staged when ``warmup``: IDs first, then text added), gate the text on
        validation, refit on train + validation (``refit``); returns ``self``."""
        from recsys_core.train import Trainer

        config = dataclasses.replace(self.train_config(), refit=False)  # both stages refit below
        # Early stopping ranks validation interactions, all on items with training edges;
        # cold items (scored by the towers) only push those down, so they are left out.
        self._warm_validation = True
        self._stage_best = None
        try:
            first = Trainer(self, dataset, config, self.loss)
            module = self.module_
            staged = self.warmup and module.text_in_graph
            if staged:
                module.text_in_graph = False  # stage 1: the graph view is plain LightGCN
            first.fit(callbacks)
            stage_one = module.embedding.weight.detach().clone()  # the ID-only model
            if staged:
                self._add_text_stage(dataset, config, module, callbacks)
            self._calibrate_cold_items(module)
            if staged and self.gate:
                self._choose_gate(module, stage_one)
        finally:
            self._warm_validation = False
        if self.select_cold and first.has_validation:
            self._choose_cold_weight(module)
        if (self.refit and first.has_validation
                and self.stopped_by_ in ("epochs", "early stopping")):
            self._refit(first.dataset, config, callbacks)
        self.invalidate()
        return self

    def _set_gate_views(self, module: TextLightGCNModule, stage_one: Tensor) -> None:
        """Keep stage 1's IDs as the ID-only view and measure the score scale kappa."""
        n = module.n_users
        with torch.no_grad():
            module.id_embedding.copy_(stage_one)
            fused_users, fused_items = module.fused_embeddings()
            id_users, id_items = module.id_embeddings()
            module.score_ratio.fill_(score_ratio(id_users, id_items, fused_users, fused_items,
                                                 module.warm[:n], module.warm[n:]))

    def _choose_gate(self, module: TextLightGCNModule, stage_one: Tensor) -> None:
        """Text weight g with the best validation NDCG@20 (:mod:`~recsys_core.models.text_gate`)."""
        self._set_gate_views(module, stage_one)

        def set_gate(g: float) -> None:
            module.gate.fill_(g)
            self.invalidate()

        self.gate_, self.gate_values_ = select_gate(self._validate, set_gate)

    def _choose_cold_weight(self, module: TextLightGCNModule) -> None:
        """Weight of cold items' scores, validated with them in the lists (module docstring)."""
        if bool(module.warm[module.n_users:].all()):  # every item has training edges
            self.cold_weight_, self.cold_weight_values_ = float(module.cold_weight), {}
            return

        def set_weight(w: float) -> None:
            module.cold_weight.fill_(w)
            self.invalidate()

        self.cold_weight_, self.cold_weight_values_ = select_gate(
            self._validate, set_weight, COLD_GRID, prefer="largest")

    def _validate(self) -> np.ndarray:
        """Per-user validation NDCG@20 as the model scores now (cold items masked while
        ``_warm_validation`` is set)."""
        return per_user_ndcg(self, self.dataset_, part="valid", k=20)

    def _refit(self, selected: Dataset, config, callbacks: Sequence[Any]) -> None:
        """Both stages again from scratch on train + validation, for the epochs chosen on
        validation; the chosen gate is kept. A cancelled refit keeps the selected model."""
        from recsys_core.train import EARLY_STOP_METRIC, Trainer, merge_validation, relay_callbacks

        keys = ("history_", "best_epoch_", "best_metrics_", "epochs_trained_", "stopped_by_",
                "train_seconds_")
        record = {k: getattr(self, k) for k in keys}
        before = (self.module_, self.dataset_)
        gate, cold_weight = float(self.module_.gate), float(self.module_.cold_weight)
        first_epochs, second_epochs = self._stage_best or (record["best_epoch_"], None)
        merged = merge_validation(selected)
        base = dataclasses.replace(config, patience=0, valid_fraction=0.0, max_seconds=None)
        best = max(record["best_metrics_"].get(EARLY_STOP_METRIC, 0.0), 0.0)

        def relay(offset: int):
            return relay_callbacks(callbacks, offset, record["best_epoch_"], best)

        offset = record["epochs_trained_"]
        started = time.perf_counter()
        trainer = Trainer(self, merged, dataclasses.replace(base, epochs=first_epochs), self.loss)
        module = self.module_
        staged = second_epochs is not None
        if staged:
            module.text_in_graph = False  # stage 1 again: IDs alone
        trainer.fit(relay(offset))
        cancelled = self.stopped_by_ == "cancelled"
        if staged and not cancelled:
            stage_one = module.embedding.weight.detach().clone()
            module.text_in_graph = True
            with torch.no_grad():
                module.project.weight.zero_()
            if second_epochs > 0:
                Trainer(self, merged, dataclasses.replace(base, epochs=second_epochs), self.loss,
                        module=module).fit(relay(offset + first_epochs))
                cancelled = self.stopped_by_ == "cancelled"
        record["train_seconds_"] += time.perf_counter() - started
        for key, value in record.items():
            setattr(self, key, value)
        if cancelled:
            self.module_, self.dataset_ = before
            self.stopped_by_ = "cancelled"
            return
        self._calibrate_cold_items(module)
        module.cold_weight.fill_(cold_weight)
        if staged and self.gate:
            self._set_gate_views(module, stage_one)
            module.gate.fill_(gate)
        self.refit_epochs_ = (first_epochs, second_epochs) if staged else first_epochs
        self.refit_interactions_ = len(merged.train_interactions)

    def _calibrate_cold_items(self, module: TextLightGCNModule) -> None:
        """Set ``cold_norm_ratio``: mean graph-vector length / mean tower length, warm items."""
        ratio = torch.ones(())
        warm = module.warm.clone()
        warm[: module.n_users] = False  # [N]: warm items
        if self.calibrate_cold and warm.any():
            with torch.no_grad():
                z, c = module.views()  # [N, d] each
                ratio = z[warm].norm(dim=1).mean() / c[warm].norm(dim=1).mean().clamp_min(1e-12)
        module.cold_norm_ratio.copy_(ratio)

    def load_state_tensors(self, tensors, dataset: Dataset) -> TextLightGCN:
        # Runs saved before the calibration or the gate existed: cold items unscaled, all text.
        ids = tensors["embedding.weight"]
        tensors = {"cold_norm_ratio": torch.ones(()), "cold_weight": torch.ones(()),
                   "gate": torch.ones(()),
                   "score_ratio": torch.ones(()), "id_embedding": torch.zeros_like(ids), **tensors}
        return super().load_state_tensors(tensors, dataset)

    def _add_text_stage(self, dataset: Dataset, config, module: TextLightGCNModule,
                        callbacks: Sequence[Any]) -> None:
        """Stage 2: add ``W t`` (from W = 0, so it starts at stage 1's best) and train on."""
        from recsys_core.train import EARLY_STOP_METRIC, Trainer, TrainEvent

        first = {"history": self.history_, "best_epoch": self.best_epoch_,
                 "metrics": self.best_metrics_, "seconds": self.train_seconds_,
                 "state": copy.deepcopy(module.state_dict())}
        module.text_in_graph = True
        with torch.no_grad():
            module.project.weight.zero_()
        left = None if config.max_seconds is None else config.max_seconds - first["seconds"]
        self._stage_best = (first["best_epoch"], 0)
        if self.stopped_by_ in ("cancelled", "diverged") or (left is not None and left <= 0):
            return  # W = 0: the stage-1 model, with text still off in effect
        offset, base = len(first["history"]), first["seconds"]

        def shifted(event):  # stage 2's events continue stage 1's epoch numbers and clock
            return dataclasses.replace(
                event, epoch=event.epoch + offset, epochs=event.epochs + offset,
                seconds=event.seconds + base,
                best_epoch=event.best_epoch + offset if event.best_epoch else first["best_epoch"])

        events = [lambda e, cb=cb: cb(shifted(e)) for cb in callbacks]
        Trainer(self, dataset, dataclasses.replace(config, max_seconds=left), self.loss,
                module=module).fit(events)
        second_best = self.best_metrics_.get(EARLY_STOP_METRIC, -1.0)
        if second_best < first["metrics"].get(EARLY_STOP_METRIC, -1.0):
            module.load_state_dict(first["state"])  # text did not help: keep stage 1, W = 0
            with torch.no_grad():
                module.project.weight.zero_()
            self.best_epoch_, self.best_metrics_ = first["best_epoch"], first["metrics"]
            self._stage_best = (first["best_epoch"], 0)
        else:
            self._stage_best = (first["best_epoch"], self.best_epoch_)
            self.best_epoch_ += offset
        self.history_ = first["history"] + [shifted(TrainEvent(**h)).to_dict()
                                            for h in self.history_]
        self.epochs_trained_ = len(self.history_)
        self.train_seconds_ += base
        self.stage_epochs_ = (offset, self.epochs_trained_ - offset)

    def score(self, users, items=None) -> Tensor:
        scores = super().score(users, items)
        if getattr(self, "_warm_validation", False):
            scores = scores.clone()
            cold = ~self.module_.warm[self.module_.n_users:]  # [I]
            scores[:, cold if items is None else cold[torch.as_tensor(np.asarray(items))]] = -torch.inf
        return scores

    def loss(self, module: TextLightGCNModule, batch) -> Tensor:
        """Graph BPR + content BPR (stopped graph views) + alignment + L2 (module docstring)."""
        keep = module.warm[batch.neg + module.n_users]  # skip negatives never interacted with
        users, pos, neg = batch.users[keep], batch.pos[keep], batch.neg[keep]
        if len(users) == 0:
            return module.embedding.weight.sum() * 0.0
        items = torch.cat([pos, neg])
        z_users, z_items = module(users, items)  # [B, d], [2B, d]
        c_users, c_items = module.content(users, items)  # [B, d], [2B, d]
        b = len(users)
        graph = _bpr(z_users, z_items[:b], z_items[b:])
        # Content pass: a random share of users / items is seen through its text tower,
        # the rest through the stopped graph view, so the towers learn to score on the
        # graph's scale without pulling the graph view towards text.
        drop_users = (torch.rand(b) < self.user_dropout).unsqueeze(1)  # [B, 1]
        drop_items = (torch.rand(2 * b) < self.item_dropout).unsqueeze(1)  # [2B, 1]
        if self.split_content:
            # Each tower against the other side's serving view: cold items meet warm users'
            # graph vectors, a sentence-user meets warm items' graph vectors.
            i = torch.where(drop_items, c_items, z_items.detach())
            content = (_bpr(z_users.detach(), i[:b], i[b:])
                       + _bpr(c_users, z_items[:b].detach(), z_items[b:].detach()))
        else:
            u = torch.where(drop_users, c_users, z_users.detach())
            i = torch.where(drop_items, c_items, z_items.detach())
            content = _bpr(u, i[:b], i[b:])
        align = ((c_items - z_items.detach()).pow(2).sum(1).mean()
                 + (c_users - z_users.detach()).pow(2).sum(1).mean())
        ego_users, ego_items = module.ego(users, items)
        l2 = (ego_users.pow(2).sum() + ego_items.pow(2).sum()
              + c_users.pow(2).sum() + c_items.pow(2).sum()) / (2 * b)
        if self.text_reg:
            nodes = torch.cat([users, items + module.n_users])
            l2 = l2 + self.text_reg * module.graph_project(module.graph_text[nodes]).pow(2).sum() / (2 * b)
        return graph + content + self.align * align + self.reg * l2

    # ---------------------------------------------------------------- cold start
    def text_user_vector(self, text_vector: Tensor) -> Tensor:
        with torch.no_grad():
            return self.module_.user_tower(text_vector.unsqueeze(0))[0]

    def items_user_vector(self, items: np.ndarray) -> Tensor:
        module = self.module_
        with torch.no_grad():
            layers = module.layer_embeddings()  # L+1 x [N, d]
            idx = torch.as_tensor(items) + module.n_users
            text = module.text[idx].mean(0)  # [t]
            text = text / text.norm().clamp_min(1e-12)
            degree = torch.diff(module.adj.crow_indices())[idx].float()  # [n]
            weight = (1.0 / torch.sqrt(len(items) * (degree + 1.0))).unsqueeze(1)  # [n, 1]
            total = (module.graph_project(text) if module.history_in_graph and module.text_in_graph
                     else torch.zeros(module.embedding.embedding_dim))  # e_u^(0): no ID, no profile
            for layer in layers[:-1]:
                total = total + (weight * layer[idx]).sum(0)  # e_u^(l+1)
            return total / (module.layers + 1)

    def scoring_item_vectors(self) -> Tensor:
        # Cold-start user vectors live in the fused view's space (towers, fold-in), not the gate's.
        with torch.no_grad():
            return self.module_.fused_embeddings()[1]
