"""BPR training with uniform negative sampling, early stopping and callbacks.

The loop follows the LightGCN paper (He et al., SIGIR 2020, eq. 15): for a
batch of (user u, positive item i, negative item j) triples,

    loss = -mean log sigmoid(y_ui - y_uj)
           + reg * (||e_u^0||^2 + ||e_i^0||^2 + ||e_j^0||^2) / (2 * batch size)

with ``y_ui = e_u . e_i`` over final embeddings and the L2 term on the
batch's ego (layer-0) embeddings, optimised with Adam. Each epoch visits the
training interactions once in a seeded random order; each positive gets one
negative drawn uniformly from the items the user has not interacted with
(vectorised rejection sampling, no loop per sample).

Validation: early stopping watches NDCG@20 on the dataset's validation part
(``recsys_core.evaluate.ranking_metrics``, full ranking, training items
masked). A dataset without one gets it carved from its training
interactions (``valid_fraction`` of each user's items), never from test.
The best epoch's parameters are restored at the end. With ``refit`` (the
default) the model is then retrained from scratch on train + validation for
that many epochs (:meth:`Trainer.refit`): validation chose the epoch count, and
its interactions are given back to the final model rather than withheld.

Module protocol
---------------
Any ``torch.nn.Module`` with these three methods trains here (LightGCN, MF,
GAT and the text models use it; node indices are 0-based per kind):

``forward(users: LongTensor[B], items: LongTensor[M]) -> (Tensor[B, d], Tensor[M, d])``
    final embeddings of the requested users and items, with gradient; the
    score of a pair is their dot product.
``ego(users, items) -> (Tensor[B, d0], Tensor[M, d0])``
    the trainable layer-0 embeddings the L2 term regularises.
``embeddings() -> (Tensor[n_users, d], Tensor[n_items, d])``
    all final embeddings, for scoring.

The recommender owning the module (a
:class:`~recsys_core.models.base.EmbeddingRecommender`) provides
``build_module(dataset)`` and keeps the module in ``module_``; the trainer
calls its ``invalidate()`` after each update so scores are recomputed.

Callbacks are callables receiving a :class:`TrainEvent` after every epoch;
raising :class:`StopTraining` ends training cleanly (best epoch restored).
Same config and seed give identical results.

Within :func:`parallel` every trainer is data-parallel across the ranks of a
torchrun job (:mod:`recsys_core.distributed`): each rank trains on its slice
of every global batch, gradients are averaged, rank 0 validates for all.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import dataclasses
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from recsys_core.data.dataset import Dataset

#: Metric watched by early stopping.
EARLY_STOP_METRIC = "ndcg@20"


@dataclass
class TrainConfig:
    """Hyperparameters of a training run; defaults are the LightGCN paper's where it has one."""

    dim: int = 64  # embedding size (paper: 64)
    layers: int = 3  # propagation layers (paper: 3)
    lr: float = 1e-3  # Adam learning rate (paper: 0.001)
    batch_size: int = 2048  # BPR triples per step (paper: 2048)
    epochs: int = 200  # upper bound; early stopping usually ends sooner
    reg: float = 1e-4  # L2 weight on the batch's ego embeddings (paper: 1e-4)
    seed: int = 0  # seeds initialisation, shuffling, negatives and the carved validation
    patience: int = 5  # evaluations without a better validation NDCG@20 before stopping (0: never stop early)
    eval_every: int = 1  # epochs between validation evaluations
    valid_fraction: float = 0.1  # share of each user's training items held out when the dataset has no validation part
    max_seconds: float | None = None  # wall-clock budget for the whole run (None: no limit)
    threads: int | None = None  # torch threads (None: idle cores, see set_threads)
    # After early stopping picks the epoch count, retrain from scratch on train + validation
    # for that many epochs, so no training interaction is withheld from the final model
    # (False: keep the early-stopped model, trained without the validation part).
    refit: bool = True

    def __post_init__(self) -> None:
        # Caught here with the parameter's name, not deep in the loop as a ZeroDivisionError.
        problems = [f"{name} must be {rule}, got {getattr(self, name)!r}" for name, ok, rule in (
            ("dim", self.dim >= 1, "at least 1"),
            ("layers", self.layers >= 0, "at least 0"),
            ("lr", self.lr > 0, "positive"),
            ("batch_size", self.batch_size >= 1, "at least 1"),
            ("epochs", self.epochs >= 0, "at least 0 (0: the initial weights, untrained)"),
            ("reg", self.reg >= 0, "at least 0"),
            ("patience", self.patience >= 0, "at least 0"),
            ("eval_every", self.eval_every >= 1, "at least 1"),
            ("valid_fraction", 0 <= self.valid_fraction < 1, "in [0, 1)"),
            ("max_seconds", self.max_seconds is None or self.max_seconds > 0,
             "positive or None"),
            ("threads", self.threads is None or self.threads >= 1, "at least 1 or None"),
        ) if not ok]
        if problems:
            raise ValueError("invalid training settings: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainEvent:
    """What a callback sees after an epoch."""

    epoch: int  # 1-based
    epochs: int  # configured maximum
    loss: float  # mean training loss of the epoch
    metrics: dict[str, float]  # validation metrics ({} on epochs without evaluation)
    seconds: float  # wall time since training started
    best_epoch: int  # epoch with the best validation NDCG@20 so far (0: none yet)
    best_metric: float  # its NDCG@20
    steps: int  # optimiser steps so far

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class StopTraining(Exception):  # noqa: N818 - it is a signal, not an error
    """Raised by a callback to end training; the best epoch so far is kept."""


@dataclass
class Batch:
    """One step's training triples (item indices are 0-based)."""

    users: Tensor  # [B] long
    pos: Tensor  # [B] long, interacted items
    neg: Tensor  # [B] long, uniformly sampled non-interacted items
    ratings: Tensor = field(default_factory=lambda: torch.zeros(0))  # [B] ratings of (users, pos)


def default_threads() -> int:
    """``GRAPHREC_THREADS`` if set, else idle cores: ``min(4, cores - 1-minute load)``, at least 1.

    Sparse products and small dense ops on a busy machine run several times
    slower with more threads than free cores (threads wait on each other).
    Set ``GRAPHREC_THREADS`` (or ``TrainConfig.threads``) to pin the count when
    results must match bit for bit across machines of different load.
    """
    pinned = os.environ.get("GRAPHREC_THREADS", "").strip()
    if pinned.isdigit() and int(pinned) > 0:
        return int(pinned)
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not available on every platform
        load = 0.0
    return max(1, min(4, cores, int(cores - load + 0.5)))


def set_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads (default :func:`default_threads`); returns the number set."""
    n = threads or default_threads()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def bpr_loss(pos_scores: Tensor, neg_scores: Tensor, ego: Sequence[Tensor],
             reg: float) -> Tensor:
    """Mean BPR loss plus ``reg * sum ||ego||^2 / (2 B)``; scores are [B], ego tensors [B, d]."""
    ranking = -F.logsigmoid(pos_scores - neg_scores).mean()
    l2 = sum(e.pow(2).sum() for e in ego) / (2 * len(pos_scores))
    return ranking + reg * l2


class NegativeSampler:
    """Uniform negatives: items each user has no training interaction with.

    Vectorised rejection sampling: draw all, redraw the collisions, a few rounds.
    """

    def __init__(self, users: np.ndarray, items: np.ndarray, n_items: int, max_rounds: int = 30):
        self.n_items = n_items
        self.max_rounds = max_rounds
        keys = np.unique(users.astype(np.int64) * n_items + items.astype(np.int64))
        self.keys = torch.as_tensor(keys)  # [P] sorted user * n_items + item
        per_user = np.bincount(keys // n_items) if len(keys) else np.zeros(0, dtype=np.int64)
        # users who interacted with every item have no negative: do not redraw for them
        self.saturated = torch.as_tensor(per_user >= n_items)  # [max user + 1]

    def is_positive(self, users: Tensor, items: Tensor) -> Tensor:
        keys = users * self.n_items + items
        pos = torch.searchsorted(self.keys, keys).clamp(max=len(self.keys) - 1)
        return self.keys[pos] == keys

    def sample(self, users: Tensor, generator: torch.Generator) -> Tensor:
        neg = torch.randint(0, self.n_items, users.shape, generator=generator)
        for _ in range(self.max_rounds):
            bad = self.is_positive(users, neg)
            if len(self.saturated):
                known = users < len(self.saturated)
                bad &= ~(known & self.saturated[users.clamp(max=len(self.saturated) - 1)])
            n_bad = int(bad.sum())
            if n_bad == 0:
                break
            neg[bad] = torch.randint(0, self.n_items, (n_bad,), generator=generator)
        return neg


def carve_validation(ds: Dataset, fraction: float, seed: int = 0) -> Dataset:
    """A copy whose ``valid`` part is ``fraction`` of each user's training interactions.

    Users keep at least one training item; the test part is untouched. A
    dataset that already has validation interactions is returned unchanged.
    """
    if ds.valid is not None and len(ds.valid):
        return ds
    train = ds.train_interactions.reset_index(drop=True)
    if fraction <= 0 or len(train) == 0:
        return ds
    rng = np.random.default_rng(seed)
    users = train["user"].to_numpy()
    order = np.lexsort((rng.random(len(train)), users))  # random order within each user
    counts = np.bincount(users, minlength=ds.n_users)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(train), dtype=np.int64)
    rank[order] = np.arange(len(train)) - first[users[order]]
    held = np.minimum(np.floor(counts * fraction), counts - 1)[users]
    is_valid = rank < held
    info = dict(ds.split_info)
    info["valid_carved_from_train"] = fraction
    return ds.replace(train=train[~is_valid].reset_index(drop=True),
                      valid=train[is_valid].reset_index(drop=True),
                      test=ds.test,
                      split_info=info)


LossFn = Callable[[torch.nn.Module, Batch], Tensor]


class Trainer:
    """Owns a model's module, optimiser, sampler and epoch loop.

    ``Trainer(model, ds, config)`` builds and seeds ``model.module_`` and sets
    ``model.dataset_``. Use :meth:`step` / :meth:`train_steps` to time
    updates, or :meth:`fit` for the full loop with early stopping. ``loss_fn``
    replaces BPR (it gets the module and a :class:`Batch`). ``module`` continues
    training an already built module (a staged schedule) instead of a new one.
    """

    def __init__(self, model, dataset: Dataset, config: TrainConfig,
                 loss_fn: LossFn | None = None, module: torch.nn.Module | None = None):
        self.config = config
        set_threads(config.threads)
        self.dataset = carve_validation(dataset, config.valid_fraction, config.seed)
        torch.manual_seed(config.seed)
        self.model = model
        model.dataset_ = self.dataset
        model.module_ = model.build_module(self.dataset) if module is None else module
        model.invalidate()
        self.module = model.module_
        self.optimizer = torch.optim.Adam(self.module.parameters(), lr=config.lr)
        self.loss_fn = loss_fn or self._bpr
        train = self.dataset.train_interactions
        self.users = torch.as_tensor(train["user"].to_numpy(np.int64, copy=True))  # [E]
        self.items = torch.as_tensor(train["item"].to_numpy(np.int64, copy=True))  # [E]
        self.ratings = torch.as_tensor(train["rating"].to_numpy(np.float32, copy=True))  # [E]
        self.sampler = NegativeSampler(self.users.numpy(), self.items.numpy(), self.dataset.n_items)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.steps = 0
        self._batches: Iterator[Batch] | None = None
        self.negatives = self.generator  # draws negatives; a data-parallel rank gets its own
        self.parallel = _PARALLEL.get()  # set by `parallel`: train data-parallel over ranks
        if self.parallel is not None:
            self.parallel.attach(self)

    # ---------------------------------------------------------------- steps
    @property
    def steps_per_epoch(self) -> int:
        return max(1, math.ceil(len(self.users) / self.config.batch_size))

    def epoch_batches(self) -> Iterator[Batch]:
        """One epoch: every training interaction once, shuffled, with fresh negatives."""
        order = torch.randperm(len(self.users), generator=self.generator)
        for idx in self.index_batches(order):
            users = self.users[idx]
            yield Batch(users, self.items[idx], self.sampler.sample(users, self.negatives),
                        self.ratings[idx])

    def index_batches(self, order: Tensor) -> list[Tensor]:
        """The epoch's batches of interaction indices from its shuffled ``order``.

        Data-parallel, this rank's share of every global batch (``parallel``).
        """
        if self.parallel is not None:
            return self.parallel.batches(order, self.config.batch_size)
        return list(order.split(self.config.batch_size))

    def _bpr(self, module: torch.nn.Module, batch: Batch) -> Tensor:
        items = torch.cat([batch.pos, batch.neg])
        user_emb, item_emb = module(batch.users, items)  # [B, d], [2B, d]
        pos_emb, neg_emb = item_emb[: len(batch.pos)], item_emb[len(batch.pos):]
        pos_scores = (user_emb * pos_emb).sum(dim=1)  # [B]
        neg_scores = (user_emb * neg_emb).sum(dim=1)  # [B]
        ego_users, ego_items = module.ego(batch.users, items)
        return bpr_loss(pos_scores, neg_scores, (ego_users, ego_items), self.config.reg)

    def step(self, batch: Batch) -> float:
        """One optimiser update on ``batch``; returns its loss."""
        self.module.train()
        loss = self.loss_fn(self.module, batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.model.invalidate()
        self.steps += 1
        return float(loss.detach())

    def next_batch(self) -> Batch:
        """The next batch, starting a new epoch when one runs out."""
        for _ in range(2):
            if self._batches is None:
                self._batches = self.epoch_batches()
            try:
                return next(self._batches)
            except StopIteration:
                self._batches = None
        raise RuntimeError("the dataset has no training interactions")

    def train_steps(self, n: int) -> list[float]:
        """``n`` optimiser updates (crossing epochs as needed); their losses."""
        return [self.step(self.next_batch()) for _ in range(n)]

    def run_epoch(self) -> float:
        """One pass over the training interactions; mean loss."""
        self._batches = None
        losses = [self.step(batch) for batch in self.epoch_batches()]
        loss = float(np.mean(losses)) if losses else float("nan")
        return self.parallel.mean(loss) if self.parallel is not None else loss

    # ---------------------------------------------------------------- validation
    def validate(self) -> dict[str, float]:
        from recsys_core.evaluate import ranking_metrics

        self.model.invalidate()
        if self.parallel is not None:  # rank 0 evaluates; every rank acts on its numbers
            return self.parallel.first(
                lambda: ranking_metrics(self.model, self.dataset, part="valid", ks=(20,)))
        return ranking_metrics(self.model, self.dataset, part="valid", ks=(20,))

    @property
    def has_validation(self) -> bool:
        valid = self.dataset.valid
        return valid is not None and len(valid) > 0

    # ---------------------------------------------------------------- checkpoints
    def state(self) -> dict[str, Any]:
        """Everything the next epoch depends on: parameters, Adam moments, RNG states, steps."""
        _, keys, pos, has_gauss, cached = np.random.get_state()
        return {"module": self.module.state_dict(), "optimizer": self.optimizer.state_dict(),
                "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state(),
                "numpy_rng": {"keys": torch.as_tensor(keys.astype(np.int64)), "pos": int(pos),
                              "has_gauss": int(has_gauss), "cached": float(cached)},
                "steps": self.steps}

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state`'s output (same model, data and settings)."""
        self.module.load_state_dict(state["module"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        rng = state["numpy_rng"]
        np.random.set_state(("MT19937", rng["keys"].numpy().astype(np.uint32), rng["pos"],
                             rng["has_gauss"], rng["cached"]))
        self.steps = int(state["steps"])
        self.model.invalidate()

    # ---------------------------------------------------------------- loop
    def fit(self, callbacks: Sequence[Callable[[TrainEvent], Any]] = ()):
        """Train until ``epochs``, early stopping, ``max_seconds`` or a callback's StopTraining.

        Restores the best validated epoch and records ``history_``,
        ``best_epoch_``, ``best_metrics_``, ``epochs_trained_`` and
        ``train_seconds_`` on the model. Returns the model.
        """
        cfg = self.config
        start = time.perf_counter()
        best_metric, best_epoch, best_metrics = -math.inf, 0, {}
        best_state = None
        bad_evals = 0
        history: list[dict[str, Any]] = []
        stopped_by = "epochs"
        epoch = 0
        checkpoints = _CHECKPOINTS.get()  # set by `checkpointing`: save each epoch, resume
        stage = checkpoints.begin() if checkpoints is not None else 0
        saved = checkpoints.load(stage) if checkpoints is not None else None
        if saved is not None:
            self.load_state(saved["trainer"])
            start -= saved["seconds"]
            (epoch, best_metric, best_epoch, best_metrics, best_state, bad_evals, history,
             stopped_by) = (saved[k] for k in _LOOP_KEYS)

        def snapshot(finished: bool) -> None:
            if checkpoints is not None:
                loop = (epoch, best_metric, best_epoch, best_metrics, best_state, bad_evals,
                        history, stopped_by)
                checkpoints.save(stage, epoch, {"trainer": self.state(), "finished": finished,
                                                "seconds": time.perf_counter() - start,
                                                **dict(zip(_LOOP_KEYS, loop))})
        try:
            first = cfg.epochs + 1 if saved is not None and saved["finished"] else epoch + 1
            for epoch in range(first, cfg.epochs + 1):
                loss = self.run_epoch()
                metrics: dict[str, float] = {}
                evaluate_now = self.has_validation and (
                    epoch % max(cfg.eval_every, 1) == 0 or epoch == cfg.epochs)
                if evaluate_now:
                    metrics = self.validate()
                    value = metrics.get(EARLY_STOP_METRIC, 0.0)
                    if value > best_metric:
                        best_metric, best_epoch, best_metrics = value, epoch, metrics
                        best_state = copy.deepcopy(self.module.state_dict())
                        bad_evals = 0
                    else:
                        bad_evals += 1
                event = TrainEvent(epoch=epoch, epochs=cfg.epochs, loss=loss, metrics=metrics,
                                   seconds=time.perf_counter() - start, best_epoch=best_epoch,
                                   best_metric=max(best_metric, 0.0), steps=self.steps)
                if self.parallel is not None:  # rank 0's clock: every rank stops together
                    event = self.parallel.first(lambda event=event: event)
                history.append(event.to_dict())
                for callback in callbacks:
                    callback(event)
                if not math.isfinite(loss):
                    stopped_by = "diverged"
                    break
                if evaluate_now and cfg.patience > 0 and bad_evals >= cfg.patience:
                    stopped_by = "early stopping"
                    break
                if cfg.max_seconds is not None and event.seconds >= cfg.max_seconds:
                    stopped_by = "time limit"
                    break
                snapshot(finished=False)
        except StopTraining:
            stopped_by = "cancelled"
        if stopped_by != "cancelled" and not (saved is not None and saved["finished"]):
            snapshot(finished=True)
        if best_state is not None:
            self.module.load_state_dict(best_state)
        self.model.invalidate()
        model = self.model
        model.history_ = history
        model.best_epoch_ = best_epoch if best_state is not None else epoch
        model.best_metrics_ = best_metrics
        model.epochs_trained_ = len(history)
        model.stopped_by_ = stopped_by
        if (cfg.refit and best_state is not None and self.has_validation
                and stopped_by in ("epochs", "early stopping")):
            self.refit(model.best_epoch_, callbacks)
        model.train_seconds_ = time.perf_counter() - start
        return model

    def refit(self, epochs: int, callbacks: Sequence[Callable[[TrainEvent], Any]] = ()) -> None:
        """Retrain the model from scratch on train + validation for ``epochs`` epochs.

        Early stopping chose ``epochs`` on the validation part; this gives those
        interactions back to the model. Events continue the epoch numbering (no
        validation metrics: nothing is held out). The selection run's history,
        best epoch and metrics stay on the model; ``refit_epochs_`` and
        ``refit_interactions_`` record the refit. A cancelled refit restores the
        early-stopped model (``stopped_by_ = "cancelled"``).
        """
        model, selected = self.model, (self.model.module_, self.model.dataset_)
        record = {k: getattr(model, k) for k in ("history_", "best_epoch_", "best_metrics_",
                                                 "epochs_trained_", "stopped_by_")}
        merged = merge_validation(self.dataset)
        config = dataclasses.replace(self.config, epochs=epochs, patience=0, valid_fraction=0.0,
                                     max_seconds=None, refit=False)
        best = max(record["best_metrics_"].get(EARLY_STOP_METRIC, 0.0), 0.0)
        Trainer(model, merged, config, self.loss_fn).fit(
            relay_callbacks(callbacks, record["epochs_trained_"], record["best_epoch_"], best))
        cancelled = model.stopped_by_ == "cancelled"
        for key, value in record.items():
            setattr(model, key, value)
        if cancelled:
            model.module_, model.dataset_ = selected
            model.invalidate()
            model.stopped_by_ = "cancelled"
            return
        model.refit_epochs_ = epochs
        model.refit_interactions_ = len(merged.train_interactions)


#: Loop variables of :meth:`Trainer.fit` kept in a checkpoint, in unpacking order.
_LOOP_KEYS = ("epoch", "best_metric", "best_epoch", "best_metrics", "best_state", "bad_evals",
              "history", "stopped_by")
_CHECKPOINTS: contextvars.ContextVar[Any] = contextvars.ContextVar("checkpoints", default=None)
_PARALLEL: contextvars.ContextVar[Any] = contextvars.ContextVar("parallel", default=None)


@contextlib.contextmanager
def parallel(strategy) -> Iterator[Any]:
    """Within this block every :class:`Trainer` trains data-parallel through ``strategy``.

    ``strategy`` (:class:`recsys_core.distributed.DataParallel`) has
    ``attach(trainer)``, called when a trainer is built (wraps its loss for
    gradient averaging, gives it this rank's ``negatives`` generator);
    ``batches(order, batch_size)``, this rank's share of each global batch of
    the epoch's shuffled ``order``; ``mean(x)``, the mean of a number over
    ranks (the epoch loss); and ``first(fn)``, ``fn()`` computed on rank 0 and
    returned on every rank (validation metrics, the epoch event), so every rank
    takes the same early-stopping and time-limit decisions.
    """
    token = _PARALLEL.set(strategy)
    try:
        yield strategy
    finally:
        _PARALLEL.reset(token)


@contextlib.contextmanager
def checkpointing(checkpoints) -> Iterator[Any]:
    """Within this block every :meth:`Trainer.fit` checkpoints each epoch and resumes.

    ``checkpoints`` has ``begin() -> stage``, ``load(stage) -> state | None`` and
    ``save(stage, epoch, state)`` (:class:`recsys_core.checkpoint.CheckpointDir`).
    Each training loop asks ``begin`` for its stage number, continues from
    ``load``'s state when there is one (a loop that had finished is not rerun,
    its end state is restored) and saves its state after every epoch that
    does not end it and once when it ends (not when cancelled). Parameters,
    optimiser moments, RNG states, early-stopping counters and history are
    all restored, so a resumed fit gives the result of one that never stopped.
    """
    token = _CHECKPOINTS.set(checkpoints)
    try:
        yield checkpoints
    finally:
        _CHECKPOINTS.reset(token)


def relay_callbacks(callbacks: Sequence[Callable[[TrainEvent], Any]], offset: int,
                    best_epoch: int | None = None,
                    best_metric: float | None = None) -> list[Callable[[TrainEvent], Any]]:
    """Callbacks that see a follow-on run's events as continuing an earlier one.

    Epoch numbers (and the maximum) move on by ``offset``; ``best_epoch`` and
    ``best_metric``, when given, replace the follow-on run's own (a refit has no
    validation of its own to report).
    """
    def shifted(event: TrainEvent) -> TrainEvent:
        changes: dict[str, Any] = {"epoch": event.epoch + offset, "epochs": event.epochs + offset}
        if best_epoch is not None:
            changes["best_epoch"] = best_epoch
        if best_metric is not None:
            changes["best_metric"] = best_metric
        return dataclasses.replace(event, **changes)

    return [lambda e, cb=cb: cb(shifted(e)) for cb in callbacks]


def merge_validation(ds: Dataset) -> Dataset:
    """A copy whose training part is train + validation and whose validation part is empty."""
    valid = ds.valid if ds.valid is not None else ds.train_interactions.iloc[:0]
    train = pd.concat([ds.train_interactions, valid], ignore_index=True)
    info = {**ds.split_info, "refit_on_validation": int(len(valid))}
    return ds.replace(train=train, valid=valid.iloc[:0].reset_index(drop=True), test=ds.test,
                      split_info=info)


def train_bpr(model, dataset: Dataset, config: TrainConfig,
              callbacks: Sequence[Callable[[TrainEvent], Any]] = (),
              loss_fn: LossFn | None = None):
    """Fit ``model`` (an EmbeddingRecommender) on ``dataset``; see :class:`Trainer`."""
    return Trainer(model, dataset, config, loss_fn).fit(callbacks)


def history_frame(model) -> pd.DataFrame:
    """A fitted model's per-epoch history: epoch, loss, seconds and validation metrics."""
    rows = [{"epoch": h["epoch"], "loss": h["loss"], "seconds": h["seconds"], **h["metrics"]}
            for h in getattr(model, "history_", [])]
    return pd.DataFrame(rows)
