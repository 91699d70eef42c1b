"""Durable training jobs: a queue in the run store's SQLite file, one OS process per job.

A job is a row of the ``jobs`` table in ``$GRAPHREC_HOME/runs.sqlite`` (the
run store's database) and a folder ``$GRAPHREC_HOME/jobs/<job_id>/`` holding
its worker's log (``worker.log``) and its checkpoints (``checkpoints/``, see
:mod:`recsys_core.checkpoint`). Nothing about a job lives only in the memory
of the process that submitted it: any process that opens a :class:`JobStore`
on the same folder (the dashboard after a restart, ``python -m recsys_core
jobs``, another person's browser session) sees, cancels and resumes it.

Submission persists the dataset content-addressed under
``datasets/<fingerprint>/`` (the run store's dataset files, written to a
temporary folder and renamed), so the worker needs no browser, no server and
no original file, and a resumed job trains on exactly the same data.

Lifecycle::

    queued -> running -> done | failed
                      -> cancelled            (cancel: worker killed, checkpoints and any
                                               run it saved removed)
                      -> interrupted -> (resume) queued -> running ...

Each job runs in its own process, ``python -m recsys_core.jobs_worker JOB_ID``,
started with ``start_new_session=True`` so it is not in the submitter's
process group and outlives it (a dashboard restart, a closed terminal). The
worker beats a heartbeat into its row every :data:`HEARTBEAT_S` seconds. A
running job whose worker process is gone, or whose heartbeat is older than
:data:`STALE_S` seconds (another host, a reused pid, a hung machine), is
marked ``interrupted`` with the last epoch it reached.

Queue: FIFO by the time a job was queued (submission or resume). A job
starts only while fewer than its ``slots`` jobs run (default: CPU cores
divided by each job's torch threads, at least one; ``GRAPHREC_MAX_JOBS``
overrides), and a job waits while an earlier one waits. There is no
scheduler daemon: :meth:`JobStore.dispatch` starts what may start, in one
write transaction so two processes never start the same job, and it runs
whenever a job is submitted or resumed, whenever a worker ends (the worker
itself starts the next job), and whenever anyone reads the store (so a slot
freed by a dead worker is reused once anyone looks).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recsys_core.jsonutil import json_default
from recsys_core.process import pid_alive as _pid_alive

QUEUED, RUNNING, DONE, FAILED, CANCELLED, INTERRUPTED = (
    "queued", "running", "done", "failed", "cancelled", "interrupted")
FINISHED = (DONE, FAILED, CANCELLED)
#: Seconds between a worker's heartbeats.
HEARTBEAT_S = 1.0
#: A running job whose heartbeat is this old is interrupted (well inside the 10 s promise,
#: and several beats longer than a busy machine takes to start a Python process).
STALE_S = 6.0

JOB_COLUMNS = ("job_id", "kind", "label", "dataset_name", "dataset_hash", "model", "params",
               "status", "stage", "progress", "epoch", "epochs", "events", "pid", "host",
               "heartbeat", "run_id", "message", "origin", "created", "queued", "started",
               "finished", "slots", "cancel", "attempts", "resumed_from", "options")
#: What a job does: ``train`` fits one model; ``tune`` searches its hyperparameters on
#: validation within a budget and refits the best (:func:`recsys_core.jobs.tune_and_save`).
KINDS = ("train", "tune")

if TYPE_CHECKING:
    import pandas as pd

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    kind TEXT,          -- train | tune
    label TEXT,         -- e.g. "lightgcn on ml-100k"
    dataset_name TEXT,
    dataset_hash TEXT,  -- fingerprint: the data is in datasets/<dataset_hash>/
    model TEXT,
    params TEXT,        -- JSON: model hyperparameters
    status TEXT,        -- queued | running | done | failed | cancelled | interrupted
    stage TEXT,         -- what the worker does now: encoding item texts, training, ...
    progress REAL,      -- 0..1 within the stage
    epoch INTEGER,      -- last epoch reached
    epochs INTEGER,     -- configured maximum (refit epochs included once known)
    events TEXT,        -- JSON list: one TrainEvent dict per epoch so far (loss, metrics)
    pid INTEGER,        -- worker process id
    host TEXT,          -- where the worker runs
    heartbeat REAL,     -- unix seconds of the worker's last beat
    run_id TEXT,        -- the saved run (done)
    message TEXT,       -- one line for people
    origin TEXT,        -- JSON: who started it (via browser|cli|python, session, user, host, pid)
    created REAL,       -- submitted, unix seconds
    queued REAL,        -- FIFO key: submitted or resumed
    started REAL,       -- first worker start
    finished REAL,
    slots INTEGER,      -- at most this many jobs run while this one starts
    cancel INTEGER,     -- 1: cancel requested (a worker elsewhere stops itself)
    attempts INTEGER,   -- worker starts (1 + resumes)
    resumed_from INTEGER, -- epoch the latest resume continued from (NULL: never resumed)
    options TEXT        -- JSON: settings of the kind (tune: budget_min, trials, seed)
)
"""
#: Columns added after the first release, with their types: added to older databases on open.
_ADDED_COLUMNS = {"options": "TEXT"}


class JobError(ValueError):
    """A job operation that cannot be done (unknown id, wrong state); the message says why."""


@dataclass
class JobRecord:
    """A snapshot of one job row; ``position`` is its place in the queue (1: next)."""

    job_id: str
    kind: str
    label: str
    dataset_name: str
    dataset_hash: str
    model: str
    params: dict[str, Any]
    status: str
    stage: str
    progress: float
    epoch: int
    epochs: int
    events: list[dict[str, Any]]
    pid: int | None
    host: str
    heartbeat: float | None
    run_id: str | None
    message: str
    origin: dict[str, Any]
    created: float
    queued: float
    started: float | None
    finished: float | None
    slots: int
    cancel: int
    attempts: int
    resumed_from: int | None
    options: dict[str, Any] = field(default_factory=dict)
    position: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def elapsed(self) -> float:
        """Seconds since the job first started (to its end when finished)."""
        if self.started is None:
            return 0.0
        return (self.finished or time.time()) - self.started

    @property
    def started_by(self) -> str:
        """Who started the job and from where, e.g. "browser session 3f2a… · alice@host pid 42"."""
        o = self.origin
        via = o.get("via", "python")
        who = f"{o.get('user', '?')}@{o.get('host', '?')} pid {o.get('pid', '?')}"
        if via == "browser":
            return f"browser session {o.get('session', '?')} · {who}"
        return f"{'CLI' if via == 'cli' else via} · {who}"

    def history(self) -> pd.DataFrame:
        """Epochs so far: epoch, loss, seconds and one column per validation metric."""
        import pandas as pd

        rows = [{"epoch": e["epoch"], "loss": e["loss"], "seconds": e["seconds"],
                 **e.get("metrics", {})} for e in self.events]
        return pd.DataFrame(rows, columns=None if rows else ["epoch", "loss", "seconds"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (events left out; see :meth:`history`)."""
        keys = ("job_id", "kind", "label", "status", "stage", "progress", "epoch", "epochs",
                "pid", "host", "run_id", "message", "dataset_name", "dataset_hash", "model",
                "params", "options", "created", "started", "finished", "attempts",
                "resumed_from", "position")
        return {**{k: getattr(self, k) for k in keys}, "started_by": self.started_by,
                "origin": self.origin}


def job_threads() -> int:
    """Torch threads each worker uses: ``GRAPHREC_THREADS`` or ``min(4, cores)``."""
    pinned = os.environ.get("GRAPHREC_THREADS", "").strip()
    if pinned.isdigit() and int(pinned) > 0:
        return int(pinned)
    return max(1, min(4, os.cpu_count() or 1))


def default_slots() -> int:
    """Jobs that may run at once: ``GRAPHREC_MAX_JOBS`` or cores // threads per job (>= 1)."""
    pinned = os.environ.get("GRAPHREC_MAX_JOBS", "").strip()
    if pinned.isdigit() and int(pinned) > 0:
        return int(pinned)
    return max(1, (os.cpu_count() or 1) // job_threads())


def dataset_fingerprint(ds) -> str:
    """Content hash of a dataset with its split: same ids, texts, interactions and parts."""
    h = hashlib.sha256(ds.content_hash().encode())
    for part in ("train", "valid", "test"):
        frame = getattr(ds, part)
        h.update(part.encode())
        if frame is not None:
            for col in ("user", "item"):
                h.update(frame[col].to_numpy().astype("int64").tobytes())
    h.update(json.dumps(ds.split_info, sort_keys=True, default=json_default).encode())
    return h.hexdigest()[:20]


def origin_of(via: str = "python", session: str | None = None) -> dict[str, Any]:
    """Who is submitting: how (browser | cli | python), from which session, user, host and pid."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = str(os.getuid()) if hasattr(os, "getuid") else "?"
    out = {"via": via, "user": user, "host": socket.gethostname(), "pid": os.getpid()}
    if session:
        out["session"] = session
    return out


#: Worker processes this process started, by pid: polled so an exited one is reaped at once
#: (an unreaped child is a zombie, which ``kill(pid, 0)`` would call alive).
_CHILDREN: dict[int, subprocess.Popen] = {}


def pid_alive(pid: int | None) -> bool:
    """Whether process ``pid`` on this host runs (zombies count as gone); a worker this
    process started is asked directly, which also reaps it."""
    if not pid:
        return False
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    return _pid_alive(pid)


class JobStore:
    """The jobs of the run store at ``root``; see the module docstring.

    ``max_running`` is the concurrency limit given to jobs submitted through
    this store (default :func:`default_slots`).
    """

    def __init__(self, root: str | os.PathLike | None = None, max_running: int | None = None):
        from recsys_core.runs import default_root

        if max_running is not None and max_running < 1:
            raise JobError(f"max_running must be at least 1, got {max_running}")
        self.root = Path(root) if root is not None else default_root()
        self.root.mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / "runs.sqlite"
        self.max_running = max_running
        with closing(self._connect()) as con, con:
            con.execute(_SCHEMA)
            have = {row["name"] for row in con.execute("PRAGMA table_info(jobs)")}
            for name, kind in _ADDED_COLUMNS.items():
                if name not in have:
                    con.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")

    def __repr__(self) -> str:
        return f"JobStore({str(self.root)!r})"

    # ------------------------------------------------------------------ sqlite
    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        con.row_factory = sqlite3.Row
        return con

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE): no two dispatchers interleave."""
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            yield con
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    def _rows(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with closing(self._connect()) as con:
            return con.execute(sql, params).fetchall()

    def update(self, job_id: str, **values: Any) -> int:
        """Set columns of one job row (JSON columns given as Python objects); rows changed."""
        return self._update(job_id, values)

    def _update(self, job_id: str, values: dict[str, Any], where: str = "",
                where_params: tuple = ()) -> int:
        for key in ("params", "events", "origin", "options"):
            if key in values and not isinstance(values[key], str):
                values[key] = json.dumps(values[key], default=json_default)
        sets = ", ".join(f"{k} = ?" for k in values)
        with closing(self._connect()) as con:
            cur = con.execute(f"UPDATE jobs SET {sets} WHERE job_id = ? {where}",
                              (*values.values(), job_id, *where_params))
            return cur.rowcount

    # ------------------------------------------------------------------ paths
    def job_dir(self, job_id: str) -> Path:
        return self.root / "jobs" / job_id

    def log_path(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "worker.log"

    def checkpoint_dir(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "checkpoints"

    def dataset_dir(self, fingerprint: str) -> Path:
        return self.root / "datasets" / fingerprint

    # ------------------------------------------------------------------ submit
    def persist_dataset(self, ds) -> str:
        """Write ``ds`` under ``datasets/<fingerprint>/`` unless there already; the fingerprint."""
        from recsys_core.runs import write_dataset

        fingerprint = dataset_fingerprint(ds)
        final = self.dataset_dir(fingerprint)
        if (final / "dataset.json").exists():
            return fingerprint
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".tmp-{fingerprint}-{os.getpid()}-{secrets.token_hex(2)}"
        try:
            write_dataset(ds, tmp)
            try:
                os.replace(tmp, final)
            except OSError:  # another submitter renamed the same data into place first
                if not (final / "dataset.json").exists():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return fingerprint

    def submit(self, ds, dataset_name: str, model: str, params: dict[str, Any] | None = None,
               origin: dict[str, Any] | None = None, kind: str = "train",
               label: str | None = None, options: dict[str, Any] | None = None) -> str:
        """Queue a job for ``model`` on ``ds``; starts it if a slot is free. Its id.

        ``kind`` is ``train`` (fit ``params``) or ``tune`` (search from ``params`` with
        ``options``, the :class:`~recsys_core.tune.TuneConfig` fields, then refit).
        """
        from recsys_core import models

        if kind not in KINDS:
            raise JobError(f"unknown job kind {kind!r}; choose one of: {', '.join(KINDS)}")
        options = json.loads(json.dumps(options or {}, default=json_default))
        if kind == "tune":
            from recsys_core.tune import TuneConfig

            try:
                TuneConfig(**options)
            except (TypeError, ValueError) as err:
                raise JobError(str(err)) from None
        elif options:
            raise JobError(f"a {kind} job takes no options, got {', '.join(sorted(options))}")
        if model not in models.available():
            raise JobError(f"unknown model {model!r}; choose one of: "
                           f"{', '.join(models.available())}")
        if not ds.is_split:
            raise JobError(f"dataset {dataset_name!r} is not split: a job trains on the "
                           "training part and evaluates on the test part")
        params = json.loads(json.dumps(params or {}, default=json_default))
        models.make(model, **params)  # bad hyperparameters fail here, with their name
        fingerprint = self.persist_dataset(ds)
        job_id = f"job-{time.strftime('%m%d%H%M%S')}-{secrets.token_hex(2)}"
        now = time.time()
        default_label = f"{'tune ' if kind == 'tune' else ''}{model} on {dataset_name}"
        row = {"job_id": job_id, "kind": kind, "label": label or default_label,
               "dataset_name": dataset_name, "dataset_hash": fingerprint, "model": model,
               "params": json.dumps(params), "status": QUEUED, "stage": "queued",
               "progress": 0.0, "epoch": 0, "epochs": int(params.get("epochs") or 0),
               "events": "[]", "pid": None, "host": "", "heartbeat": None, "run_id": None,
               "message": "queued", "origin": json.dumps(origin or origin_of()),
               "created": now, "queued": now, "started": None, "finished": None,
               "slots": self.max_running or default_slots(), "cancel": 0, "attempts": 0,
               "resumed_from": None, "options": json.dumps(options)}
        self.job_dir(job_id).mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as con:
            con.execute(f"INSERT INTO jobs ({', '.join(row)}) VALUES "
                        f"({', '.join('?' * len(row))})", tuple(row.values()))
        self.dispatch()
        return job_id

    # ------------------------------------------------------------------ scheduling
    def dispatch(self) -> list[str]:
        """Mark dead workers' jobs interrupted, then start queued jobs that fit; ids started."""
        started = []
        with self._write() as con:
            self._reap(con)
            running = con.execute("SELECT COUNT(*) FROM jobs WHERE status = ?",
                                  (RUNNING,)).fetchone()[0]
            queue = con.execute("SELECT job_id, slots FROM jobs WHERE status = ? "
                                "ORDER BY queued, rowid", (QUEUED,)).fetchall()
            for row in queue:
                if running >= max(int(row["slots"] or 1), 1):
                    break  # FIFO: nothing overtakes the head of the queue
                pid = self._spawn(row["job_id"])
                now = time.time()
                con.execute("UPDATE jobs SET status = ?, pid = ?, host = ?, heartbeat = ?, "
                            "started = COALESCE(started, ?), attempts = attempts + 1, "
                            "stage = 'starting', message = 'starting the worker' "
                            "WHERE job_id = ?",
                            (RUNNING, pid, socket.gethostname(), now, now, row["job_id"]))
                running += 1
                started.append(row["job_id"])
        return started

    def _spawn(self, job_id: str) -> int:
        """Start the worker process, detached from this one's session; its pid."""
        log = self.log_path(job_id)
        log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "GRAPHREC_HOME": str(self.root.resolve()),
               "GRAPHREC_THREADS": os.environ.get("GRAPHREC_THREADS") or str(job_threads())}
        package_root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "recsys_core.jobs_worker", job_id],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                cwd=package_root, start_new_session=True, close_fds=True)
        _CHILDREN[proc.pid] = proc
        return proc.pid

    def _reap(self, con: sqlite3.Connection) -> None:
        here, now = socket.gethostname(), time.time()
        for row in con.execute("SELECT job_id, pid, host, heartbeat, epoch, cancel FROM jobs "
                               "WHERE status = ?", (RUNNING,)).fetchall():
            age = now - (row["heartbeat"] or 0.0)
            gone = row["host"] == here and not pid_alive(row["pid"])
            if not gone and age <= STALE_S:
                continue
            why = (f"worker pid {row['pid']} is gone" if gone
                   else f"no heartbeat from worker pid {row['pid']} for {age:.0f} s")
            if row["cancel"]:
                con.execute("UPDATE jobs SET status = ?, message = ?, finished = ? "
                            "WHERE job_id = ?", (CANCELLED, "cancelled", now, row["job_id"]))
                continue
            con.execute("UPDATE jobs SET status = ?, stage = 'interrupted', message = ? "
                        "WHERE job_id = ?",
                        (INTERRUPTED, f"interrupted after epoch {row['epoch'] or 0}: {why}; "
                                      "resume continues from the last checkpoint",
                         row["job_id"]))

    # ------------------------------------------------------------------ read
    def list(self, refresh: bool = True) -> list[JobRecord]:
        """Every job, oldest first, with queue positions (``refresh``: dispatch first)."""
        if refresh:
            self.dispatch()
        records = [self._record(r) for r in self._rows("SELECT * FROM jobs ORDER BY created, rowid")]
        queued = sorted((r for r in records if r.status == QUEUED), key=lambda r: r.queued)
        for n, record in enumerate(queued, 1):
            record.position = n
        return records

    def get(self, job_id: str, refresh: bool = True) -> JobRecord:
        """One job (``KeyError`` naming it when unknown)."""
        if refresh:
            self.dispatch()
        for record in self.list(refresh=False):
            if record.job_id == job_id:
                return record
        raise KeyError(f"unknown job {job_id!r} in {self.root}")

    def wait(self, job_id: str, timeout: float | None = None, poll: float = 0.5,
             until: tuple[str, ...] = (*FINISHED, INTERRUPTED)) -> JobRecord:
        """Poll until the job's status is in ``until`` or ``timeout`` seconds pass; the record."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            record = self.get(job_id)
            if record.status in until or (deadline is not None and time.monotonic() >= deadline):
                return record
            time.sleep(poll)

    def log(self, job_id: str) -> str:
        self.get(job_id, refresh=False)
        path = self.log_path(job_id)
        return path.read_text(errors="replace") if path.exists() else ""

    @staticmethod
    def _record(row: sqlite3.Row) -> JobRecord:
        data = dict(row)
        for key, empty in (("params", {}), ("events", []), ("origin", {}), ("options", {})):
            data[key] = json.loads(data[key]) if data[key] else empty
        data["progress"] = float(data["progress"] or 0.0)
        data["epoch"], data["epochs"] = int(data["epoch"] or 0), int(data["epochs"] or 0)
        data["host"], data["message"] = data["host"] or "", data["message"] or ""
        data["stage"] = data["stage"] or ""
        data["attempts"], data["cancel"] = int(data["attempts"] or 0), int(data["cancel"] or 0)
        return JobRecord(**{k: data[k] for k in JOB_COLUMNS})

    # ------------------------------------------------------------------ control
    def cancel(self, job_id: str, wait_s: float = 10.0) -> JobRecord:
        """Stop a job: a queued one never starts; a running worker is killed; no run is left."""
        with self._write() as con:
            row = con.execute("SELECT status, pid, host FROM jobs WHERE job_id = ?",
                              (job_id,)).fetchone()
            if row is None:
                raise KeyError(f"unknown job {job_id!r} in {self.root}")
            if row["status"] in FINISHED:
                raise JobError(f"job {job_id} is already {row['status']}; nothing to cancel")
            con.execute("UPDATE jobs SET status = ?, cancel = 1, stage = 'cancelled', "
                        "message = 'cancelled', finished = ? WHERE job_id = ?",
                        (CANCELLED, time.time(), job_id))
        if row["status"] == RUNNING and row["host"] == socket.gethostname():
            _stop_process(row["pid"], wait_s)
        self._discard_outputs(job_id)
        self.dispatch()
        return self.get(job_id, refresh=False)

    def _discard_outputs(self, job_id: str) -> None:
        """Remove the job's checkpoints and any run its worker saved (a cancelled job has none)."""
        from recsys_core.checkpoint import CheckpointDir
        from recsys_core.runs import RunStore

        CheckpointDir(self.checkpoint_dir(job_id)).clear()
        store = RunStore(self.root)  # opening removes the temporary folders of dead saves
        store.close_studies(job_id, CANCELLED)
        runs = store.list()
        for run_id, config in zip(runs["run_id"], runs["config"]):
            if (config.get("train", {}).get("job_") or {}).get("id") == job_id:
                store.delete(run_id)

    def resume(self, job_id: str) -> JobRecord:
        """Queue an interrupted (or failed) job again; its worker continues from the checkpoint."""
        with self._write() as con:
            self._reap(con)
            row = con.execute("SELECT status FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            if row is None:
                raise KeyError(f"unknown job {job_id!r} in {self.root}")
            if row["status"] not in (INTERRUPTED, FAILED):
                raise JobError(f"job {job_id} is {row['status']}; only an interrupted or "
                               "failed job can be resumed")
            con.execute("UPDATE jobs SET status = ?, stage = 'queued', message = ?, pid = NULL, "
                        "queued = ?, finished = NULL, cancel = 0 WHERE job_id = ?",
                        (QUEUED, "queued to resume from the last checkpoint", time.time(),
                         job_id))
        self.dispatch()
        return self.get(job_id, refresh=False)


def _stop_process(pid: int | None, wait_s: float) -> None:
    """SIGTERM the worker's process group, SIGKILL it if still there after a moment; wait."""
    if not pid:
        return
    for sig, grace in ((signal.SIGTERM, 2.0), (signal.SIGKILL, wait_s)):
        try:
            os.killpg(pid, sig)  # the worker leads its own session: its group id is its pid
        except ProcessLookupError:
            return
        except PermissionError:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(0.05)
