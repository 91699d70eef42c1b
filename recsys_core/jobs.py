"""Background jobs: long work (training, evaluation) on threads, with progress and cancel.

A :class:`JobRegistry` owns jobs; :meth:`JobRegistry.submit` starts one
thread per job running ``work(context)``. The work reports through its
:class:`JobContext` (stage, progress, per-epoch training events) and checks
for cancellation; :meth:`JobContext.train_callback` is a training callback
(see :mod:`recsys_core.train`) that records each epoch and raises
:class:`~recsys_core.train.StopTraining` once cancel is requested, so a
training run ends cleanly at the next epoch boundary.

At most ``max_running`` jobs run at once (default one: the CPU cores are
shared, and two trainings at once only make both slower); the rest wait,
queued, in submission order. A registry lives outside any web request (the
dashboard keeps one per server process), so jobs keep running while pages
change. Every public method is thread-safe; readers get snapshots.

:func:`train_and_save` is the work of a training job: encode the texts a
text model needs (its own progress; instant when the encoder's cache has
them), fit with the context's callback, evaluate on the test part, save.
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

QUEUED, RUNNING, DONE, CANCELLED, FAILED = "queued", "running", "done", "cancelled", "failed"
FINISHED = (DONE, CANCELLED, FAILED)


class JobCancelled(Exception):  # noqa: N818 - a signal, not an error
    """Raised inside a job's work when cancel was requested (outside a training loop)."""


@dataclass
class JobStatus:
    """A consistent snapshot of one job, safe to read while the job runs."""

    id: str
    label: str
    state: str  # queued | running | done | cancelled | failed
    stage: str  # what the job is doing now, e.g. "encoding item texts"
    progress: float  # 0..1 within the current stage
    message: str  # one line for people, e.g. "epoch 3/20 · loss 0.512"
    events: list[dict[str, Any]]  # training events so far (TrainEvent.to_dict())
    error: str | None  # the failure's one-line message
    created: float  # time.time() at submission
    started: float | None
    finished: float | None
    meta: dict[str, Any] = field(default_factory=dict)  # what was submitted (model, dataset...)
    result: Any = None  # what the work returned (when done)

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.time()) - self.started

    def history(self) -> pd.DataFrame:
        """Training events as a frame: epoch, loss, seconds and one column per metric."""
        rows = [{"epoch": e["epoch"], "loss": e["loss"], "seconds": e["seconds"],
                 **e.get("metrics", {})} for e in self.events]
        return pd.DataFrame(rows, columns=None if rows else ["epoch", "loss", "seconds"])


class Job:
    """One unit of background work; mutated only through its context and the registry."""

    def __init__(self, job_id: str, label: str, work: Callable[[JobContext], Any],
                 meta: dict[str, Any] | None = None):
        self.id = job_id
        self.label = label
        self.work = work
        self.meta = dict(meta or {})
        self.state = QUEUED
        self.stage = "waiting"
        self.progress = 0.0
        self.message = "queued"
        self.events: list[dict[str, Any]] = []
        self.error: str | None = None
        self.traceback: str | None = None
        self.result: Any = None
        self.created = time.time()
        self.started: float | None = None
        self.finished: float | None = None
        self.cancel_requested = threading.Event()
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def status(self) -> JobStatus:
        with self.lock:
            return JobStatus(
                id=self.id, label=self.label, state=self.state, stage=self.stage,
                progress=self.progress, message=self.message, events=list(self.events),
                error=self.error, created=self.created, started=self.started,
                finished=self.finished, meta=dict(self.meta), result=self.result)

    def __repr__(self) -> str:
        return f"Job(id={self.id!r}, label={self.label!r}, state={self.state!r})"


class JobContext:
    """What a job's work uses to report progress and notice cancellation."""

    def __init__(self, job: Job):
        self._job = job

    @property
    def cancelled(self) -> bool:
        return self._job.cancel_requested.is_set()

    @property
    def stage(self) -> str:
        return self._job.stage

    def check(self) -> None:
        """Raise :class:`JobCancelled` if cancel was requested."""
        if self.cancelled:
            raise JobCancelled(f"job {self._job.label!r} was cancelled")

    def set_stage(self, stage: str, message: str = "") -> None:
        """Start a new stage (progress resets to 0); checks for cancellation first."""
        self.check()
        with self._job.lock:
            self._job.stage = stage
            self._job.progress = 0.0
            self._job.message = message or stage

    def report(self, progress: float, message: str | None = None) -> None:
        """Progress within the current stage, clipped to [0, 1]."""
        with self._job.lock:
            self._job.progress = min(max(float(progress), 0.0), 1.0)
            if message is not None:
                self._job.message = message

    def count_progress(self, done: int, total: int) -> None:
        """A ``progress(done, total)`` callback (e.g. for text encoding); cancellable."""
        self.report(done / total if total else 1.0, f"{self._job.stage}: {done:,}/{total:,}")
        self.check()

    def train_callback(self) -> Callable[[Any], None]:
        """A training callback: records each epoch's event and stops training on cancel."""

        def on_epoch(event) -> None:
            data = event.to_dict() if hasattr(event, "to_dict") else dict(event)
            parts = [f"epoch {data['epoch']}/{data['epochs']}", f"loss {data['loss']:.4f}"]
            parts += [f"{name} {value:.4f}" for name, value in data.get("metrics", {}).items()
                      if name in ("recall@20", "ndcg@20")]
            with self._job.lock:
                self._job.events.append(data)
                self._job.progress = data["epoch"] / max(data["epochs"], 1)
                self._job.message = " · ".join(parts)
            if self.cancelled:
                from recsys_core.train import StopTraining

                raise StopTraining(f"job {self._job.label!r} was cancelled")

        return on_epoch


class JobRegistry:
    """Starts, tracks and cancels jobs; see the module docstring."""

    def __init__(self, max_running: int = 1):
        if max_running < 1:
            raise ValueError(f"max_running must be at least 1, got {max_running}")
        self.max_running = max_running
        self._slots = threading.BoundedSemaphore(max_running)
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def submit(self, label: str, work: Callable[[JobContext], Any],
               meta: dict[str, Any] | None = None) -> str:
        """Queue ``work(context)`` on a new thread; returns the job id."""
        with self._lock:
            job = Job(f"job-{next(self._ids)}", label, work, meta)
            self._jobs[job.id] = job
        job.thread = threading.Thread(target=self._run, args=(job,), name=job.id, daemon=True)
        job.thread.start()
        return job.id

    def _run(self, job: Job) -> None:
        with self._slots:
            with job.lock:
                if job.cancel_requested.is_set():
                    job.state, job.message, job.finished = CANCELLED, "cancelled before it started", time.time()
                    job.done.set()
                    return
                job.state, job.stage, job.message, job.started = RUNNING, "starting", "starting", time.time()
            context = JobContext(job)
            try:
                result = job.work(context)
            except JobCancelled:
                self._finish(job, CANCELLED, "cancelled")
            except Exception as exc:  # the job fails; the server and other jobs go on
                with job.lock:
                    job.error = f"{type(exc).__name__}: {exc}"
                    job.traceback = traceback.format_exc()
                self._finish(job, FAILED, job.error)
            else:
                with job.lock:
                    job.result = result
                cancelled = job.cancel_requested.is_set() or getattr(result, "cancelled", False)
                if cancelled:
                    self._finish(job, CANCELLED, "cancelled")
                else:
                    self._finish(job, DONE, "finished")

    @staticmethod
    def _finish(job: Job, state: str, message: str) -> None:
        with job.lock:
            job.state, job.message, job.finished = state, message, time.time()
            if state == DONE:
                job.progress, job.stage = 1.0, "done"
        job.done.set()

    # ------------------------------------------------------------------ queries
    def get(self, job_id: str) -> JobStatus:
        with self._lock:
            if job_id not in self._jobs:
                raise KeyError(f"no job {job_id!r}")
            job = self._jobs[job_id]
        return job.status()

    def list(self, meta: dict[str, Any] | None = None) -> list[JobStatus]:
        """Every job's status, oldest first; ``meta`` keeps jobs whose meta has those values."""
        with self._lock:
            jobs = list(self._jobs.values())
        out = [job.status() for job in jobs]
        if meta:
            out = [s for s in out if all(s.meta.get(k) == v for k, v in meta.items())]
        return out

    def active(self, meta: dict[str, Any] | None = None) -> list[JobStatus]:
        """Jobs queued or running."""
        return [s for s in self.list(meta) if not s.is_finished]

    # ------------------------------------------------------------------ control
    def cancel(self, job_id: str) -> None:
        """Ask a job to stop; it ends at its next check (a training epoch boundary)."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise KeyError(f"no job {job_id!r}")
        job.cancel_requested.set()
        with job.lock:
            if job.state in (QUEUED, RUNNING):
                job.message = "cancelling..."

    def wait(self, job_id: str, timeout: float | None = None) -> JobStatus:
        """Block until the job finishes (or ``timeout`` seconds pass); its status."""
        with self._lock:
            job = self._jobs[job_id]
        job.done.wait(timeout)
        return job.status()

    def forget_finished(self, meta: dict[str, Any] | None = None) -> int:
        """Drop finished jobs (matching ``meta``); returns how many were dropped."""
        with self._lock:
            gone = [j for j in self._jobs.values() if j.state in FINISHED
                    and all(j.meta.get(k) == v for k, v in (meta or {}).items())]
            for job in gone:
                del self._jobs[job.id]
        return len(gone)


# ====================================================================== training runs
#: Cut-offs evaluated when a run finishes.
EVAL_KS = (5, 10, 20, 50)


@dataclass
class TrainOutcome:
    """What a training job returns."""

    model_name: str
    dataset_name: str
    stopped_by: str  # "epochs" | "early stopping" | "time limit" | "cancelled" | "diverged"
    seconds: float  # training time
    run_id: str | None = None  # where the run was saved (None when cancelled)
    metrics: dict[str, float] = field(default_factory=dict)  # best validation metrics
    text_cache: str = ""  # how text features were obtained, e.g. "600 of 600 from cache"

    @property
    def cancelled(self) -> bool:
        return self.stopped_by == "cancelled"


def encode_texts(context: JobContext, model, ds) -> str:
    """Encode the texts a text model needs, reporting progress; "" for other models.

    The vectors land in the encoder's on-disk cache, so the model's own
    ``fit`` reads them back at once; a second run encodes nothing.
    """
    if not hasattr(model, "encoder"):
        return ""
    from recsys_core.text import item_text_embeddings

    encoder = model.encoder()
    context.set_stage("encoding item texts")
    item_text_embeddings(ds, encoder, progress=context.count_progress)
    hits, total = encoder.last_hits, encoder.last_hits + encoder.last_misses
    profiles = [t for t in ds.user_texts if isinstance(t, str) and t.strip()]
    if profiles:
        context.set_stage("encoding user profiles")
        encoder.encode(profiles, progress=context.count_progress)
        hits += encoder.last_hits
        total += encoder.last_hits + encoder.last_misses
    return f"{hits:,} of {total:,} distinct texts from cache"


def train_and_save(context: JobContext, ds, dataset_name: str, model_name: str,
                   params: dict[str, Any], store=None, ks=EVAL_KS) -> TrainOutcome:
    """The work of a training job: encode texts, fit, evaluate on test, save the run.

    ``store`` is anything with ``save(model, dataset, dataset_name, evaluation,
    roc, outcome) -> run id`` (None: nothing is saved). A cancelled fit stops
    at the next epoch boundary and is not saved.
    """
    from recsys_core import models

    context.set_stage("preparing")
    model = models.make(model_name, **params)
    text_note = encode_texts(context, model, ds)
    context.set_stage("training", f"training {model_name}")
    model.fit(ds, callbacks=[context.train_callback()])
    outcome = TrainOutcome(model_name, dataset_name, getattr(model, "stopped_by_", "epochs"),
                           float(getattr(model, "train_seconds_", 0.0)),
                           metrics=dict(getattr(model, "best_metrics_", {})),
                           text_cache=text_note)
    if outcome.cancelled or context.cancelled:
        outcome.stopped_by = "cancelled"
        return outcome
    evaluation = roc = None
    fitted = model.dataset_
    if fitted.test is not None and len(fitted.test):
        from recsys_core.evaluate import classification_pairs, evaluate, roc_curve_points

        context.set_stage("evaluating", "evaluating on the test part")
        evaluation = evaluate(model, fitted, ks=ks, name=model_name)
        context.report(0.7)
        pairs = classification_pairs(model, fitted)
        if pairs["label"].any() and not pairs["label"].all():
            roc = roc_curve_points(pairs["label"], pairs["score"], max_points=200)
    if store is not None:
        context.set_stage("saving", "saving the run")
        outcome.run_id = store.save(model, fitted, dataset_name, evaluation, roc, outcome)
    return outcome


def tune_and_save(context: JobContext, ds, dataset_name: str, model_name: str,
                  params: dict[str, Any], options: dict[str, Any], store=None,
                  study_store=None, ks=EVAL_KS, job_id: str | None = None) -> TrainOutcome:
    """The work of a tuning job: search on validation, refit the best, evaluate, save.

    ``params`` stay fixed unless the search draws the same name (``epochs``,
    ``patience`` and ``max_seconds`` are left to the search and the budget);
    ``options`` are :class:`~recsys_core.tune.TuneConfig` fields. The progress
    bar follows the budget during the search, then the refit's epochs (whose
    loss and metrics reach the job's chart). ``study_store`` (a
    :class:`~recsys_core.runs.RunStore`) receives the study and its trials,
    tagged with ``job_id``; ``store`` saves the refit run as in
    :func:`train_and_save`.
    """
    from recsys_core import models
    from recsys_core.train import StopTraining
    from recsys_core.tune import TuneConfig, tune

    config = TuneConfig(**options)
    fixed = {k: v for k, v in params.items() if k not in ("epochs", "patience", "max_seconds")}
    context.set_stage("preparing")
    note = encode_texts(context, models.make(model_name, **fixed), ds)
    context.set_stage("tuning", f"searching {model_name} for {config.budget_min:g} min")

    def progress(p) -> None:
        best = "" if p.best_value is None else f" · best NDCG@20 {p.best_value:.4f}"
        context.report(p.fraction, f"{p.message} · {p.complete} done, {p.pruned} pruned{best}")
        if context.cancelled:
            raise StopTraining("cancelled")

    def save(model) -> str | None:
        if context.cancelled or store is None:
            return None
        fitted = model.dataset_
        evaluation = roc = None
        if fitted.test is not None and len(fitted.test):
            from recsys_core.evaluate import classification_pairs, evaluate, roc_curve_points

            context.set_stage("evaluating", "evaluating on the test part")
            evaluation = evaluate(model, fitted, ks=ks, name=model_name)
            pairs = classification_pairs(model, fitted)
            if pairs["label"].any() and not pairs["label"].all():
                roc = roc_curve_points(pairs["label"], pairs["score"], max_points=200)
        context.set_stage("saving", "saving the run")
        return store.save(model, fitted, dataset_name, evaluation, roc)

    on_epoch = context.train_callback()

    def refitting(event) -> None:
        if context.stage != "refitting":
            context.set_stage("refitting", "retraining the best setting on all training data")
        on_epoch(event)

    result = tune(model_name, ds, config, base_params=fixed, store=study_store,
                  progress=progress, save_run=save, refit_callbacks=[refitting],
                  info={"job_id": job_id} if job_id else None)
    cancelled = context.cancelled or (config.refit and store is not None
                                      and result.run_id is None)
    stopped = "cancelled" if cancelled else (
        f"tuning ({len(result.trials)} trials, best validation NDCG@20 {result.best_value:.4f})")
    return TrainOutcome(model_name, dataset_name, stopped, result.seconds + result.refit_seconds,
                        run_id=result.run_id,
                        metrics=dict(getattr(result.model, "best_metrics_", {}) or {}),
                        text_cache=note)
