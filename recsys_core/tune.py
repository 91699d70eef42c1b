r"""Budgeted hyperparameter search on validation, then a refit on the whole training part.

A study draws settings from the model's own search space
(``ModelClass.search_space(trial)``, beside each model in
:mod:`recsys_core.models`) with Optuna's TPE sampler (Bergstra et al.,
"Algorithms for Hyper-Parameter Optimization", NeurIPS 2011; seeded, so a
study is reproducible up to timing), trains each on the training part
less a validation part, and scores it by validation NDCG@20 — the metric
early stopping watches (:data:`recsys_core.train.EARLY_STOP_METRIC`).
The validation part is the dataset's own when it has one, otherwise
``valid_fraction`` of each user's training interactions
(:func:`recsys_core.train.carve_validation`); the test part is never read.

Trained models report their validation NDCG@20 after every epoch; Optuna's
median rule (``MedianPruner``: stop a trial whose best value so far is below
the median of earlier trials at the same epoch, after ``warmup_trials``
complete trials and ``warmup_epochs`` epochs) ends hopeless trials early, by
raising :class:`~recsys_core.train.StopTraining` inside the trainer's
callback. The budget is wall-clock: no trial starts after it, and a running
trial is stopped at it (its best epoch so far counts). Closed-form models
(graph filters) have no epochs: each trial is one fit and one validation.

The best setting is then refit on train + validation: the best trial's model
is retrained from scratch on all training interactions for the epoch count
its early stopping chose (:meth:`recsys_core.train.Trainer.refit`); a staged
or gated model (``text_lightgcn``, ``text_sage``, whose refit covers several
stages and keeps the gate) reruns the best setting with ``refit`` on (seeded:
the same selection) instead; a closed-form model is fitted on train +
validation.
The first trial (``defaults_first``, on) is the model's defaults, enqueued
before TPE draws anything, so a study is never worse on validation than
pressing Train without one, and its other trials count as its warm-up.
That run is saved with the study id and the best parameters (``tune_`` in
its training record). Every trial is stored in the run store (``studies``
and ``trials`` tables) with its parameters, value, state and duration.
"""

from __future__ import annotations

import inspect
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from recsys_core.data.dataset import Dataset
from recsys_core.train import (
    EARLY_STOP_METRIC,
    StopTraining,
    Trainer,
    TrainEvent,
    carve_validation,
    merge_validation,
)

COMPLETE, PRUNED, FAIL = "complete", "pruned", "fail"


@dataclass
class TuneConfig:
    """Settings of a study."""

    budget_min: float = 10.0  # wall-clock minutes for the search (the refit comes after)
    trials: int | None = None  # at most this many trials (None: as many as the budget allows)
    seed: int = 0  # seeds the sampler, the models and a carved validation part
    valid_fraction: float = 0.1  # share of each user's training items validated on, when carved
    warmup_trials: int = 3  # random trials before TPE models the space; none pruned before them
    warmup_epochs: int = 3  # epochs a trial always gets before it can be pruned
    refit: bool = True  # refit the best setting on train + validation and return that model
    defaults_first: bool = True  # trial 0 is the model's defaults: a search starts from them

    def __post_init__(self) -> None:
        problems = [f"{name} must be {rule}, got {getattr(self, name)!r}" for name, ok, rule in (
            ("budget_min", self.budget_min > 0, "positive"),
            ("trials", self.trials is None or self.trials >= 1, "at least 1 or None"),
            ("valid_fraction", 0 < self.valid_fraction < 1, "in (0, 1)"),
            ("warmup_trials", self.warmup_trials >= 0, "at least 0"),
            ("warmup_epochs", self.warmup_epochs >= 0, "at least 0"),
        ) if not ok]
        if problems:
            raise ValueError("invalid tuning settings: " + "; ".join(problems))


@dataclass
class TuneProgress:
    """What a progress callback sees after each trial (and each epoch of a running trial)."""

    study_id: str
    fraction: float  # 0..1: budget or trial count used, whichever is further
    trial: int  # number of the current or last trial (0-based)
    complete: int  # trials finished so far, by state
    pruned: int
    failed: int
    best_value: float | None  # best validation NDCG@20 so far
    message: str  # one line for people


@dataclass
class TuneResult:
    """A finished study."""

    study_id: str
    model_name: str
    best_params: dict[str, Any]  # the best trial's sampled parameters
    best_value: float  # its validation NDCG@20
    best_epoch: int | None  # the epoch early stopping chose in it
    trials: list[dict[str, Any]] = field(default_factory=list)  # every trial's record
    seconds: float = 0.0  # search wall time
    refit_seconds: float = 0.0
    model: Any = None  # the refit model (None when refit is off or nothing completed)
    run_id: str | None = None  # where the refit run was saved

    def counts(self) -> dict[str, int]:
        return _counts(self.trials)


class _Pruned(StopTraining):
    """The pruner's verdict, raised inside the training loop."""


class _OutOfTime(StopTraining):
    """The budget ran out during a trial."""


def validation_value(model, ds: Dataset) -> float:
    """The NDCG@20 a fitted model earned on validation.

    A gated model's best gate value, else the best epoch's (what early stopping
    kept), else a fresh full ranking of the validation part.
    """
    gate_values = getattr(model, "gate_values_", None)
    if gate_values:
        return float(max(gate_values.values()))
    best = getattr(model, "best_metrics_", None)
    if best and EARLY_STOP_METRIC in best:
        return float(best[EARLY_STOP_METRIC])
    from recsys_core.evaluate import ranking_metrics

    return float(ranking_metrics(model, ds, part="valid", ks=(20,))[EARLY_STOP_METRIC])


def tune(model_name: str, dataset: Dataset, config: TuneConfig | None = None,
         base_params: dict[str, Any] | None = None, store=None,
         progress: Callable[[TuneProgress], Any] | None = None,
         pruner=None, sampler=None, refit_callbacks=(),
         save_run: Callable[[Any], str] | None = None,
         info: dict[str, Any] | None = None) -> TuneResult:
    """Search ``model_name``'s space on validation within the budget, then refit the best.

    ``base_params`` are fixed model parameters (the search overrides them where it
    draws the same name). ``store`` (a :class:`~recsys_core.runs.RunStore`, optional)
    receives the study, every trial and the refit run. ``progress`` gets a
    :class:`TuneProgress`; raising :class:`~recsys_core.train.StopTraining` from it
    ends the search (the refit still runs on the best trial so far). ``pruner``
    replaces the median pruner and ``sampler`` the seeded TPE sampler;
    ``refit_callbacks`` see the refit's training events.
    ``save_run(model) -> run id`` saves the refit model instead of ``store.save``
    with test metrics (the dashboard saves its full evaluation). ``info`` is kept in
    the study's record (a job id, say). Returns a
    :class:`TuneResult`.
    """
    import optuna

    from recsys_core import models

    config = config or TuneConfig()
    cls = models.model_class(model_name)
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    base = {k: v for k, v in (base_params or {}).items() if k in accepted}
    unknown = sorted(set(base_params or {}) - accepted)
    if unknown:
        raise ValueError(f"{model_name} takes no parameter {', '.join(map(repr, unknown))}; "
                         f"it takes {', '.join(sorted(accepted)) or 'none'}")
    if dataset.train is None:
        raise ValueError(f"dataset {dataset.name!r} is not split: tuning needs a training part "
                         "to validate on (split it first)")
    ds = carve_validation(dataset, config.valid_fraction, config.seed)
    if ds.valid is None or not len(ds.valid):
        raise ValueError(f"dataset {dataset.name!r} has too few training interactions per user "
                         "to carve a validation part")
    if "seed" in accepted:
        base.setdefault("seed", config.seed)
    trained = "refit" in accepted
    if trained:
        base["refit"] = False  # trials validate; only the final setting is refit

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = sampler or optuna.samplers.TPESampler(
        seed=config.seed, n_startup_trials=max(config.warmup_trials, 1))
    pruner = pruner or optuna.pruners.MedianPruner(n_startup_trials=config.warmup_trials,
                                                   n_warmup_steps=config.warmup_epochs)
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    if config.defaults_first:
        defaults = default_setting(cls, base)
        if defaults:
            study.enqueue_trial(defaults)
    study_id = f"{time.strftime('%Y%m%d-%H%M%S')}-tune-{model_name}-{secrets.token_hex(3)}"
    budget = config.budget_min * 60.0
    start = time.perf_counter()
    deadline = start + budget
    record = {"study_id": study_id, "model": model_name, "dataset_name": dataset.name,
              "dataset_hash": dataset.content_hash(), "created": time.time(), "finished": None,
              "budget_s": budget, "status": "running", "best_value": None, "best_params": {},
              "run_id": None, "info": {"metric": f"validation {EARLY_STOP_METRIC}",
                                       "sampler": type(sampler).__name__,
                                       "pruner": type(pruner).__name__,
                                       "base_params": base,
                                       "valid_interactions": int(len(ds.valid)),
                                       **(info or {})}}
    if store is not None:
        store.save_study(record)
    trials: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None

    def report(trial_number: int, message: str) -> None:
        if progress is None:
            return
        used = (time.perf_counter() - start) / budget
        if config.trials:
            used = max(used, len(trials) / config.trials)
        states = [t["state"] for t in trials]
        progress(TuneProgress(study_id, min(used, 1.0), trial_number, states.count(COMPLETE),
                              states.count(PRUNED), states.count(FAIL),
                              best["value"] if best else None, message))

    stopped = False
    empty_space = False
    while not stopped and (config.trials is None or len(trials) < config.trials):
        if time.perf_counter() >= deadline or empty_space:
            break
        trial = study.ask()
        t0 = time.perf_counter()
        sampled = cls.search_space(trial)
        empty_space = not sampled  # nothing to search: one trial says it all
        params = {**base, **sampled}
        if "max_seconds" in accepted:
            params["max_seconds"] = max(deadline - time.perf_counter(), 1.0)
        entry = {"number": trial.number, "params": sampled, "state": FAIL, "value": None,
                 "best_epoch": None, "epochs": None, "duration": None, "message": ""}
        last: dict[str, Any] = {"value": None, "why": None}

        def on_epoch(event: TrainEvent, trial=trial, last=last) -> None:
            if event.metrics:
                value = float(event.metrics.get(EARLY_STOP_METRIC, 0.0))
                last["value"] = max(value, last["value"] or 0.0)
                trial.report(value, step=event.epoch)
                if trial.should_prune():
                    last["why"] = PRUNED
                    raise _Pruned(f"pruned at epoch {event.epoch}")
            if trained and time.perf_counter() >= deadline:
                last["why"] = "budget"
                raise _OutOfTime("budget spent")
            try:
                report(trial.number, f"trial {trial.number}: epoch {event.epoch}/{event.epochs}")
            except StopTraining:
                last["why"] = "stop"
                raise

        try:
            model = models.make(model_name, **params)
            model.fit(ds, callbacks=[on_epoch])
            if last["why"] == "stop":
                raise StopTraining("search stopped")
            pruned = last["why"] == PRUNED
            value = validation_value(model, ds)
            if not math.isfinite(value):
                raise ValueError(f"validation {EARLY_STOP_METRIC} is {value}")
        except StopTraining:
            stopped = True  # the caller's progress callback asked to stop
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            entry["message"] = "search stopped"
        except (ValueError, RuntimeError) as err:  # a setting the model refuses
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            entry["message"] = f"{type(err).__name__}: {err}"
        else:
            entry.update(best_epoch=getattr(model, "best_epoch_", None),
                         epochs=getattr(model, "epochs_trained_", None))
            if pruned:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                entry.update(state=PRUNED, value=last["value"],
                             message=f"pruned after epoch {entry['epochs']}")
            else:
                study.tell(trial, value)
                entry.update(state=COMPLETE, value=value,
                             message=getattr(model, "stopped_by_", "") or "fitted")
                if best is None or value > best["value"]:
                    best = {**entry, "model_params": params, "model": model}
        entry["duration"] = time.perf_counter() - t0
        trials.append(entry)
        if store is not None:
            store.save_trial(study_id, entry)
        report(trial.number, f"trial {trial.number} {entry['state']}"
                             + (f": {entry['value']:.4f}" if entry["value"] is not None else ""))
    seconds = time.perf_counter() - start

    if best is None:
        record.update(status="failed", finished=time.time(),
                      info={**record["info"], "counts": _counts(trials)})
        if store is not None:
            store.save_study(record)
        raise ValueError(f"no trial of {model_name} completed within "
                         f"{config.budget_min:g} min ({len(trials)} tried: "
                         + "; ".join(t["message"] for t in trials[-3:]) + ")")
    result = TuneResult(study_id, model_name, best["params"], best["value"], best["best_epoch"],
                        trials, seconds)
    if config.refit:
        t0 = time.perf_counter()
        final = {k: v for k, v in best["model_params"].items() if k != "max_seconds"}
        if trained and _plain_bpr(cls):
            # The best trial's model, early-stopped on validation: retrain it from scratch
            # on train + validation for its chosen epochs (no second selection run).
            model = best["model"]
            model.max_seconds, model.refit = None, True
            Trainer(model, ds, model.train_config()).refit(best["best_epoch"],
                                                           list(refit_callbacks))
            model.train_seconds_ = time.perf_counter() - t0
        elif trained:
            # Staged or gated models refit inside their own fit: rerun the best setting
            # (seeded, so the same selection) with refit on.
            model = models.make(model_name, **{**final, "refit": True})
            model.fit(ds, callbacks=list(refit_callbacks))
        else:
            model = models.make(model_name, **final).fit(merge_validation(ds),
                                                         callbacks=list(refit_callbacks))
        result.refit_seconds = time.perf_counter() - t0
        model.tune_ = {"study_id": study_id, "best_params": best["params"],
                       "best_value": best["value"], "best_trial": best["number"],
                       "best_epoch": best["best_epoch"], "trials": len(trials),
                       "budget_min": config.budget_min}
        result.model = model
        if getattr(model, "stopped_by_", "") == "cancelled":
            pass  # stopped by a refit callback: nothing to save
        elif save_run is not None:
            result.run_id = save_run(model)
        elif store is not None:
            metrics = {}
            fitted = model.dataset_
            if fitted.test is not None and len(fitted.test):
                from recsys_core.evaluate import ranking_metrics

                metrics = ranking_metrics(model, fitted, part="test", ks=(10, 20))
            result.run_id = store.save(model, fitted, metrics=metrics,
                                       name=f"{model_name} on {dataset.name} (tuned)")
    record.update(status="finished", finished=time.time(), best_value=best["value"],
                  best_params=best["params"], run_id=result.run_id,
                  info={**record["info"], "counts": _counts(trials), "seconds": seconds,
                        "refit_seconds": result.refit_seconds,
                        "best_trial": best["number"], "best_epoch": best["best_epoch"]})
    if store is not None:
        store.save_study(record)
    return result


def default_setting(cls, base: dict[str, Any]) -> dict[str, Any]:
    """The point of ``cls.search_space`` that the model's defaults (or ``base``) pick.

    Each parameter the space draws takes its value from ``base``, else from the
    signature's default; one whose value lies outside the space's range (or
    choices) is left for the sampler.
    """
    signature = inspect.signature(cls.__init__).parameters
    probe = _DefaultProbe({name: base.get(name, p.default) for name, p in signature.items()
                           if name != "self" and p.default is not inspect.Parameter.empty})
    cls.search_space(probe)
    return probe.values


class _DefaultProbe:
    """A stand-in for an Optuna trial that answers each ``suggest_*`` with the default."""

    def __init__(self, defaults: dict[str, Any]):
        self.defaults = defaults
        self.values: dict[str, Any] = {}

    def _pick(self, name: str, fits: Callable[[Any], bool], fallback: Any) -> Any:
        value = self.defaults.get(name, inspect.Parameter.empty)
        if value is not inspect.Parameter.empty and fits(value):
            self.values[name] = value
            return value
        return fallback

    def suggest_float(self, name: str, low: float, high: float, **_: Any) -> float:
        return self._pick(name, lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
                          and low <= v <= high, low)

    def suggest_int(self, name: str, low: int, high: int, **_: Any) -> int:
        return self._pick(name, lambda v: isinstance(v, int) and not isinstance(v, bool)
                          and low <= v <= high, low)

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return self._pick(name, lambda v: v in list(choices), list(choices)[0])


def _plain_bpr(cls) -> bool:
    """A model trained by the plain BPR loop (its ``fit`` is the shared one)."""
    from recsys_core.models.base import EmbeddingRecommender

    return issubclass(cls, EmbeddingRecommender) and cls.fit is EmbeddingRecommender.fit


def _counts(trials: list[dict[str, Any]]) -> dict[str, int]:
    states = [t["state"] for t in trials]
    return {s: states.count(s) for s in (COMPLETE, PRUNED, FAIL)}
