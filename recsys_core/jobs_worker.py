"""``python -m recsys_core.jobs_worker JOB_ID``: the process that runs one training or tuning job.

Started by :meth:`recsys_core.jobs_store.JobStore.dispatch` (never by hand) in
its own session, with ``GRAPHREC_HOME`` pointing at the store and its output
appended to ``jobs/<JOB_ID>/worker.log``. It

1. checks that the job's row names this process as its worker (else exits);
2. beats a heartbeat into the row every second from a thread, and ends itself
   at once if the row stops naming it (cancelled, or marked interrupted by an
   observer that took it for dead), so a job never has two workers;
3. reads the dataset persisted at submission, trains with
   :func:`recsys_core.train.checkpointing` over ``jobs/<JOB_ID>/checkpoints``
   (so a second attempt continues from the newest valid checkpoint), records
   every epoch's loss and metrics in the row, evaluates on the test part and
   saves the run, tagged ``job_`` = id, attempts and the epoch it resumed from
   (at ``nice`` 19, ``GRAPHREC_JOB_NICE``: the dashboard's page runs and browsers on
   the same cores go first, so a training never slows someone's page by more than
   the few percent of CPU the scheduler leaves it);
   a ``tune`` job runs :func:`recsys_core.jobs.tune_and_save` instead, without
   checkpoints (a resumed search starts again; the earlier study is kept,
   marked interrupted);
4. marks the job done (or failed with the error's one-line message; the
   traceback goes to the log), removes its checkpoints once done, and calls
   ``dispatch`` so the next queued job starts in the slot it frees.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from typing import Any

from recsys_core.jobs_store import DONE, FAILED, HEARTBEAT_S, RUNNING, JobStore

#: Seconds between progress writes while epochs come faster (the chart needs no more).
WRITE_EVERY_S = 0.25


class Heartbeat(threading.Thread):
    """Writes the heartbeat; ends the process when the row no longer names this worker."""

    def __init__(self, store: JobStore, job_id: str):
        super().__init__(name=f"heartbeat-{job_id}", daemon=True)
        self.store, self.job_id, self.pid = store, job_id, os.getpid()
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(HEARTBEAT_S):
            try:
                mine = self.store._update(self.job_id, {"heartbeat": time.time()},
                                          "AND status = ? AND pid = ?", (RUNNING, self.pid))
            except Exception as err:  # noqa: BLE001 - a locked database: beat again next time
                print(f"heartbeat not written: {err}", flush=True)
                continue
            if not mine and not self.stopped.is_set():
                print("the job no longer names this worker (cancelled or taken over): "
                      "stopping", flush=True)
                os._exit(3)

    def stop(self) -> None:
        self.stopped.set()


class WorkerContext:
    """What :func:`recsys_core.jobs.train_and_save` reports through, written to the job row."""

    cancelled = False  # cancel kills the worker; nothing inside it polls for it

    def __init__(self, store: JobStore, job_id: str, events: list[dict[str, Any]], checkpoints):
        self.store, self.job_id, self.checkpoints = store, job_id, checkpoints
        self.events = events
        self.stage = "starting"
        self._pending: dict[str, Any] = {}
        self._written = 0.0

    def _write(self, force: bool = False, **values: Any) -> None:
        self._pending.update(values)
        if force or time.monotonic() - self._written >= WRITE_EVERY_S:
            self.store.update(self.job_id, **self._pending)
            self._pending, self._written = {}, time.monotonic()

    def flush(self) -> None:
        if self._pending:
            self._write(force=True)

    def check(self) -> None:
        """Nothing to check: a cancelled worker is stopped from outside."""

    def set_stage(self, stage: str, message: str = "") -> None:
        self.stage = stage
        self._write(force=True, stage=stage, progress=0.0, message=message or stage)

    def report(self, progress: float, message: str | None = None) -> None:
        values: dict[str, Any] = {"progress": min(max(float(progress), 0.0), 1.0)}
        if message is not None:
            values["message"] = message
        self._write(**values)

    def count_progress(self, done: int, total: int) -> None:
        self.report(done / total if total else 1.0, f"{self.stage}: {done:,}/{total:,}")

    def train_callback(self):
        def on_epoch(event) -> None:
            data = event.to_dict() if hasattr(event, "to_dict") else dict(event)
            # A resumed loop repeats no epoch, but a restarted stage may: keep the newest.
            self.events = [e for e in self.events if e["epoch"] < data["epoch"]] + [data]
            self.checkpoints.meta["epoch"] = data["epoch"]
            # The row is written every few seconds; the checkpoint carries every epoch's
            # record so a worker killed between writes resumes with none missing.
            self.checkpoints.meta["events"] = self.events
            parts = [f"epoch {data['epoch']}/{data['epochs']}", f"loss {data['loss']:.4f}"]
            parts += [f"{k} {v:.4f}" for k, v in data.get("metrics", {}).items()
                      if k in ("recall@20", "ndcg@20")]
            self._write(events=self.events, epoch=data["epoch"], epochs=data["epochs"],
                        progress=data["epoch"] / max(data["epochs"], 1),
                        message=" · ".join(parts))

        return on_epoch


class RunSaver:
    """The ``store`` of :func:`~recsys_core.jobs.train_and_save`: a RunStore save tagged with the job."""

    def __init__(self, root, tag: dict[str, Any]):
        from recsys_core.runs import RunStore

        self.store, self.tag = RunStore(root), tag

    def save(self, model, ds, dataset_name: str, evaluation=None, roc=None, outcome=None) -> str:
        from recsys_core.run_metrics import run_metrics

        model.job_ = dict(self.tag)
        named = ds.replace(name=dataset_name) if ds.name != dataset_name else ds
        return self.store.save(model, named, run_metrics(evaluation, roc),
                               name=f"{model.name} on {dataset_name}")


def run(store: JobStore, job_id: str) -> int:
    """Run the job (its row must name this process); the exit status."""
    record = store.get(job_id, refresh=False)
    if record.status != RUNNING or record.pid != os.getpid():
        print(f"job {job_id} is {record.status} with worker pid {record.pid}; "
              f"this is pid {os.getpid()}: nothing to do", flush=True)
        return 2
    beat = Heartbeat(store, job_id)
    beat.start()
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} worker pid {os.getpid()} starts {job_id} "
          f"({record.label}), attempt {record.attempts}", flush=True)
    context = None
    try:
        from recsys_core.checkpoint import CheckpointDir
        from recsys_core.jobs import train_and_save, tune_and_save
        from recsys_core.runs import read_dataset
        from recsys_core.train import checkpointing

        checkpoints = CheckpointDir(store.checkpoint_dir(job_id))
        latest = checkpoints.latest()
        resumed = record.attempts > 1
        from_epoch = int(latest.get("epoch", 0)) if latest else 0
        events = [e for e in (latest or {}).get("events", record.events)
                  if e["epoch"] <= from_epoch]
        if resumed and record.kind != "tune":
            print(f"resuming from epoch {from_epoch}"
                  + (f" (checkpoint stage {latest['stage']}, epoch {latest['stage_epoch']})"
                     if latest else " (no checkpoint: training from the start)"), flush=True)
            store.update(job_id, resumed_from=from_epoch, events=events, epoch=from_epoch)
        context = WorkerContext(store, job_id, events, checkpoints)
        context.set_stage("loading data", "reading the dataset saved at submission")
        ds = read_dataset(store.dataset_dir(record.dataset_hash))
        saver = RunSaver(store.root, {"id": job_id, "attempts": record.attempts,
                                      "resumed": resumed,
                                      "resumed_from_epoch": from_epoch if resumed else None})
        if record.kind == "tune":
            # Trials must not continue from one another's checkpoints: a search runs
            # unchecked, and a resumed tuning job starts its search again.
            if resumed and saver.store.close_studies(job_id, "interrupted"):
                print("the interrupted attempt's study is kept as interrupted; searching "
                      "again", flush=True)
            outcome = tune_and_save(context, ds, record.dataset_name, record.model,
                                    record.params, record.options, store=saver,
                                    study_store=saver.store, job_id=job_id)
        else:
            with checkpointing(checkpoints):
                outcome = train_and_save(context, ds, record.dataset_name, record.model,
                                         record.params, store=saver)
        for name in checkpoints.skipped:
            print(f"damaged checkpoint {name} skipped; the one before it was used", flush=True)
        context.flush()
        beat.stop()  # before the row stops saying running, or the beat would end the process
        if record.kind == "tune":
            note = " (search restarted after an interruption)" if resumed else ""
            done = (f"saved as run {outcome.run_id} after {outcome.seconds:.1f} s of search "
                    f"and refit, {outcome.stopped_by}{note}" if outcome.run_id else
                    f"search finished in {outcome.seconds:.1f} s, {outcome.stopped_by}; no "
                    "refit asked for, so no run saved")
        else:
            note = f" (resumed from epoch {from_epoch})" if resumed else ""
            done = (f"saved as run {outcome.run_id} after {outcome.seconds:.1f} s of "
                    f"training, stopped by {outcome.stopped_by}{note}")
        mine = store._update(job_id, {
            "status": DONE, "stage": "done", "progress": 1.0, "run_id": outcome.run_id,
            "finished": time.time(), "message": done},
            "AND status = ? AND pid = ? AND cancel = 0", (RUNNING, os.getpid()))
        if not mine:  # cancelled while saving: the run must not stay
            if outcome.run_id:
                saver.store.delete(outcome.run_id)
                print(f"cancelled while saving: run {outcome.run_id} removed", flush=True)
            return 1
        checkpoints.clear()
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} done: run {outcome.run_id}", flush=True)
        return 0
    except Exception as err:  # the job fails; its row says why, the log has the traceback
        traceback.print_exc()
        if context is not None:
            try:
                context.flush()
            except Exception:  # noqa: BLE001 - the failure itself matters more
                pass
        beat.stop()
        store._update(job_id, {"status": FAILED, "stage": "failed", "finished": time.time(),
                               "message": f"{type(err).__name__}: {err}"},
                      "AND status = ? AND pid = ?", (RUNNING, os.getpid()))
        return 1
    finally:
        beat.stop()
        sys.stdout.flush()
        store.dispatch()  # the slot this worker held goes to the next queued job


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m recsys_core.jobs_worker JOB_ID", file=sys.stderr)
        return 2
    try:  # interactive work (the dashboard's page runs) goes first on shared cores
        os.nice(int(os.environ.get("GRAPHREC_JOB_NICE", "19")))
    except (OSError, ValueError):
        pass
    store = JobStore()
    try:
        return run(store, argv[0])
    except KeyError as err:
        print(f"error: {err.args[0]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
