"""The run store: one folder per trained model, indexed in SQLite.

Layout under ``root`` (default ``$GRAPHREC_HOME`` or ``./.graphrec``)::

    runs.sqlite                 index: run id, name, dataset name + hash, model, config,
                                metrics (JSON), created / finished, duration, status
    runs/<run_id>/config.json   model name and parameters, dataset summary, training record
                 /weights.safetensors   the model's learned tensors
                 /metrics.json          test metrics computed when the run was trained
                 /evaluations.json      later re-evaluations (``evaluate``), beside them
                 /dataset/      id maps, texts, metadata and split frames as parquet, plus
                                dataset.json: enough to reload and serve the run without
                                the original files

Writes are atomic. A run is written into ``runs/.tmp-<run_id>-<pid>`` and
renamed into place with ``os.replace`` only when complete; the index row is
added afterwards in one SQLite transaction. A crash mid-save leaves at most a
temporary folder (removed when a store is next opened) and never touches
earlier runs; a complete folder whose index row was lost is re-indexed on
open. Weights are read back with safetensors (no pickle).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from safetensors.torch import load_file, save_file

from recsys_core.data.dataset import Dataset
from recsys_core.data.report import ValidationReport
from recsys_core.jsonutil import json_default
from recsys_core.process import pid_alive

RUN_COLUMNS = ("run_id", "name", "dataset_name", "dataset_hash", "model", "config", "metrics",
               "created", "finished", "duration", "status")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    name TEXT,
    dataset_name TEXT,
    dataset_hash TEXT,
    model TEXT,
    config TEXT,        -- JSON: model parameters and training record
    metrics TEXT,       -- JSON
    created REAL,       -- unix seconds: training started
    finished REAL,      -- unix seconds: saved
    duration REAL,      -- seconds of training
    status TEXT         -- finished | cancelled | stopped early ...
)
"""


# Hyperparameter searches (recsys_core.tune): one row per study and one per trial.
_TUNE_SCHEMA = """
CREATE TABLE IF NOT EXISTS studies (
    study_id TEXT PRIMARY KEY,
    model TEXT,
    dataset_name TEXT,
    dataset_hash TEXT,
    created REAL,       -- unix seconds
    finished REAL,
    budget_s REAL,      -- the search's wall-clock budget
    status TEXT,        -- running | finished | failed
    best_value REAL,    -- best validation NDCG@20
    best_params TEXT,   -- JSON
    run_id TEXT,        -- the refit run saved from the best setting
    info TEXT           -- JSON: metric, sampler, pruner, counts by state
);
CREATE TABLE IF NOT EXISTS trials (
    study_id TEXT,
    number INTEGER,
    state TEXT,         -- complete | pruned | fail
    value REAL,         -- validation NDCG@20 (best epoch; last reported when pruned)
    params TEXT,        -- JSON: the sampled hyperparameters
    best_epoch INTEGER,
    epochs INTEGER,     -- epochs trained
    duration REAL,      -- seconds
    message TEXT,
    PRIMARY KEY (study_id, number)
)
"""


def default_root() -> Path:
    """``$GRAPHREC_HOME`` or ``./.graphrec``."""
    return Path(os.environ.get("GRAPHREC_HOME") or ".graphrec")


class RunStore:
    """Save, list, load and delete trained runs; see the module docstring."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_root()
        self.runs_dir = self.root / "runs"
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / "runs.sqlite"
        with self._connect() as con:
            con.execute(_SCHEMA)
            con.executescript(_TUNE_SCHEMA)
        self._clean_temporaries()
        self._reindex_orphans()

    # ------------------------------------------------------------------ sqlite
    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.db_path, timeout=30)
        con.row_factory = sqlite3.Row
        return con

    def _query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with closing(self._connect()) as con, con:
            return con.execute(sql, params).fetchall()

    # ------------------------------------------------------------------ save
    def save(self, model, ds: Dataset | None = None, metrics: dict[str, Any] | None = None,
             name: str | None = None) -> str:
        """Write a fitted model, its dataset (default ``model.dataset_``) and metrics; the run id."""
        ds = ds if ds is not None else model.check_fitted()
        finished = time.time()
        duration = float(getattr(model, "train_seconds_", 0.0))
        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{model.name}-{secrets.token_hex(3)}"
        metrics = _jsonable(metrics or {})
        config = {
            "run_id": run_id,
            "name": name or f"{model.name} on {ds.name}",
            "model": model.name,
            "params": _jsonable(model.get_params()),
            "dataset": {"name": ds.name, "hash": ds.content_hash(), "users": ds.n_users,
                        "items": ds.n_items, "interactions": ds.n_interactions},
            "train": _jsonable({k: getattr(model, k) for k in
                                ("best_epoch_", "epochs_trained_", "stopped_by_",
                                 "train_seconds_", "best_metrics_", "history_",
                                 "refit_epochs_", "refit_interactions_", "gate_",
                                 "gate_values_", "tune_", "job_", "distributed_",
                                 "selection_")
                                if hasattr(model, k)}),
            "created": finished - duration,
            "finished": finished,
        }
        status = {"cancelled": "cancelled"}.get(getattr(model, "stopped_by_", ""), "finished")
        config["status"] = status
        tmp = self.runs_dir / f".tmp-{run_id}-{os.getpid()}"
        try:
            tmp.mkdir()
            _write_json(tmp / "config.json", config)
            _write_json(tmp / "metrics.json", metrics)
            save_file(model.state_tensors(), str(tmp / "weights.safetensors"))
            write_dataset(ds, tmp / "dataset")
            os.replace(tmp, self.runs_dir / run_id)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._index(config, metrics)
        return run_id

    def _index(self, config: dict[str, Any], metrics: dict[str, Any]) -> None:
        row = (config["run_id"], config["name"], config["dataset"]["name"],
               config["dataset"]["hash"], config["model"],
               json.dumps({"params": config["params"], "train": {
                   k: v for k, v in config["train"].items() if k != "history_"}}),
               json.dumps(metrics), config["created"], config["finished"],
               config["finished"] - config["created"], config.get("status", "finished"))
        with closing(self._connect()) as con, con:
            con.execute(f"INSERT OR REPLACE INTO runs VALUES ({', '.join('?' * len(row))})", row)

    def set_metrics(self, run_id: str, metrics: dict[str, Any]) -> None:
        """Replace a run's metrics (file and index), atomically."""
        folder = self._folder(run_id)
        metrics = _jsonable(metrics)
        _write_json(folder / "metrics.json", metrics)
        self._query("UPDATE runs SET metrics = ? WHERE run_id = ?", (json.dumps(metrics), run_id))

    def add_evaluation(self, run_id: str, metrics: dict[str, Any], dataset: Dataset,
                       part: str = "test", **details: Any) -> dict[str, Any]:
        """Record a later evaluation of a run beside its original metrics; the record.

        The run's ``metrics`` (what it scored when it was trained) are never
        changed: a re-evaluation can use other cut-offs, segments or data, and
        the run's listing must keep showing what training produced. Each
        record says when (``evaluated``, unix seconds), on which data
        (``dataset``: name, content hash, part and its interaction count) and
        ``metrics``; ``details`` (e.g. ``ks``) are stored as given. Records are
        appended to ``runs/<run_id>/evaluations.json``, written atomically.
        """
        folder = self._folder(run_id)
        frame = getattr(dataset, part, None)
        record = _jsonable({
            "evaluated": time.time(),
            "dataset": {"name": dataset.name, "hash": dataset.content_hash(), "part": part,
                        "interactions": 0 if frame is None else int(len(frame))},
            "metrics": metrics, **details})
        _write_json(folder / "evaluations.json", [*self.evaluations(run_id), record])
        return record

    def evaluations(self, run_id: str) -> list[dict[str, Any]]:
        """Re-evaluations recorded by :meth:`add_evaluation`, oldest first (empty if none)."""
        path = self._folder(run_id) / "evaluations.json"
        return json.loads(path.read_text()) if path.is_file() else []

    # ------------------------------------------------------------------ read
    def list(self) -> pd.DataFrame:
        """One row per run, newest first; config and metrics parsed into dicts."""
        rows = self._query("SELECT * FROM runs ORDER BY finished DESC")
        frame = pd.DataFrame([dict(r) for r in rows], columns=list(RUN_COLUMNS))
        for col in ("config", "metrics"):
            frame[col] = [json.loads(v) if v else {} for v in frame[col]]
        return frame

    def get(self, run_id: str) -> dict[str, Any]:
        """The index row of a run as a dict (config and metrics parsed)."""
        rows = self._query("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            raise KeyError(f"unknown run {run_id!r} in {self.root}")
        row = dict(rows[0])
        row["config"] = json.loads(row["config"] or "{}")
        row["metrics"] = json.loads(row["metrics"] or "{}")
        return row

    def _folder(self, run_id: str) -> Path:
        self.get(run_id)  # raises for unknown ids
        folder = self.runs_dir / run_id
        if not folder.is_dir():
            raise FileNotFoundError(f"run {run_id!r} is indexed but its folder {folder} is missing")
        return folder

    def config(self, run_id: str) -> dict[str, Any]:
        """The run's full config.json (with training history)."""
        return json.loads((self._folder(run_id) / "config.json").read_text())

    def load(self, run_id: str):
        """``(model, dataset)`` of a saved run, ready to score and recommend."""
        from recsys_core.models import make

        folder = self._folder(run_id)
        config = json.loads((folder / "config.json").read_text())
        ds = read_dataset(folder / "dataset")
        model = make(config["model"], **config["params"])
        model.load_state_tensors(load_file(str(folder / "weights.safetensors")), ds)
        for key, value in config.get("train", {}).items():
            setattr(model, key, value)
        model.run_id_ = run_id
        return model, ds

    def delete(self, run_id: str) -> None:
        """Remove a run from the index, then its folder."""
        self.get(run_id)
        self._query("DELETE FROM runs WHERE run_id = ?", (run_id,))
        folder = self.runs_dir / run_id
        if folder.exists():
            trash = self.runs_dir / f".tmp-deleted-{run_id}-{os.getpid()}"
            os.replace(folder, trash)
            shutil.rmtree(trash, ignore_errors=True)

    # ------------------------------------------------------------------ tuning studies
    def save_study(self, study: dict[str, Any]) -> None:
        """Insert or update a study row (keys as the ``studies`` columns; JSON fields as dicts)."""
        row = {**study, "best_params": json.dumps(_jsonable(study.get("best_params") or {})),
               "info": json.dumps(_jsonable(study.get("info") or {}))}
        cols = ("study_id", "model", "dataset_name", "dataset_hash", "created", "finished",
                "budget_s", "status", "best_value", "best_params", "run_id", "info")
        self._query(f"INSERT OR REPLACE INTO studies VALUES ({', '.join('?' * len(cols))})",
                    tuple(row.get(c) for c in cols))

    def save_trial(self, study_id: str, trial: dict[str, Any]) -> None:
        """Insert or update one trial of a study."""
        cols = ("number", "state", "value", "params", "best_epoch", "epochs", "duration",
                "message")
        row = {**trial, "params": json.dumps(_jsonable(trial.get("params") or {}))}
        self._query(f"INSERT OR REPLACE INTO trials VALUES (?, {', '.join('?' * len(cols))})",
                    (study_id, *(row.get(c) for c in cols)))

    def close_studies(self, job_id: str, status: str) -> int:
        """Set ``status`` on the running studies a job started (its worker is gone); how many."""
        rows = self._query("SELECT study_id, info FROM studies WHERE status = 'running'")
        ids = [r["study_id"] for r in rows if json.loads(r["info"] or "{}").get("job_id") == job_id]
        for study_id in ids:
            self._query("UPDATE studies SET status = ?, finished = ? WHERE study_id = ?",
                        (status, time.time(), study_id))
        return len(ids)

    def studies(self) -> pd.DataFrame:
        """One row per tuning study, newest first; JSON fields parsed."""
        rows = self._query("SELECT * FROM studies ORDER BY created DESC")
        frame = pd.DataFrame([dict(r) for r in rows])
        for col in ("best_params", "info"):
            if col in frame:
                frame[col] = [json.loads(v) if v else {} for v in frame[col]]
        return frame

    def trials(self, study_id: str) -> pd.DataFrame:
        """A study's trials in order: number, state, value, params (dict), epochs, duration."""
        rows = self._query("SELECT * FROM trials WHERE study_id = ? ORDER BY number", (study_id,))
        if not rows and not self._query("SELECT 1 FROM studies WHERE study_id = ?", (study_id,)):
            raise KeyError(f"unknown tuning study {study_id!r} in {self.root}")
        frame = pd.DataFrame([dict(r) for r in rows],
                             columns=["study_id", "number", "state", "value", "params",
                                      "best_epoch", "epochs", "duration", "message"])
        frame["params"] = [json.loads(v) if v else {} for v in frame["params"]]
        return frame

    # ------------------------------------------------------------------ recovery
    def _clean_temporaries(self) -> None:
        """Remove temporary folders of saves whose process is gone."""
        for tmp in self.runs_dir.glob(".tmp-*"):
            pid = tmp.name.rsplit("-", 1)[-1]
            if not (pid.isdigit() and pid_alive(int(pid))):
                shutil.rmtree(tmp, ignore_errors=True)

    def _reindex_orphans(self) -> None:
        """Index complete run folders whose index row is missing (crash after the rename),
        and drop rows whose folder is gone (removed outside the store): such a run
        cannot be opened, and listing it would offer every page a broken choice."""
        known = {r["run_id"] for r in self._query("SELECT run_id FROM runs")}
        for run_id in sorted(known):
            if not (self.runs_dir / run_id).is_dir():
                self._query("DELETE FROM runs WHERE run_id = ?", (run_id,))
        for folder in self.runs_dir.iterdir():
            if folder.name.startswith(".") or folder.name in known or not folder.is_dir():
                continue
            try:
                config = json.loads((folder / "config.json").read_text())
                metrics = json.loads((folder / "metrics.json").read_text())
            except (OSError, ValueError):
                continue
            self._index(config, metrics)

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r})"


# ---------------------------------------------------------------------- dataset files

_FRAMES = ("interactions", "train", "valid", "test")


def write_dataset(ds: Dataset, folder: Path) -> None:
    """Everything a run needs of its dataset, as parquet plus one JSON file."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"name": ds.name, "explicit": bool(ds.explicit), "schema": _jsonable(ds.schema),
            "split_info": _jsonable(ds.split_info), "cold_items": np.asarray(ds.cold_items).tolist(),
            "report": {"notes": ds.report.notes, "warnings": ds.report.warnings,
                       "errors": ds.report.errors},
            "frames": [f for f in _FRAMES if getattr(ds, f) is not None],
            "user_ids_object": np.asarray(ds.user_ids).dtype == object,
            "item_ids_object": np.asarray(ds.item_ids).dtype == object}
    for part in meta["frames"]:
        getattr(ds, part).reset_index(drop=True).to_parquet(folder / f"{part}.parquet", index=False)
    pd.DataFrame({"id": ds.user_ids}).to_parquet(folder / "user_ids.parquet", index=False)
    pd.DataFrame({"id": ds.item_ids}).to_parquet(folder / "item_ids.parquet", index=False)
    pd.DataFrame({"text": list(ds.item_texts)}, dtype=object).to_parquet(
        folder / "item_texts.parquet", index=False)
    pd.DataFrame({"text": list(ds.user_texts)}, dtype=object).to_parquet(
        folder / "user_texts.parquet", index=False)
    _write_meta_frame(ds.items, folder / "items.parquet")
    _write_meta_frame(ds.users, folder / "users.parquet")
    _write_json(folder / "dataset.json", meta)


def read_dataset(folder: Path) -> Dataset:
    """The Dataset written by :func:`write_dataset`."""
    meta = json.loads((folder / "dataset.json").read_text())
    frames = {part: pd.read_parquet(folder / f"{part}.parquet") for part in meta["frames"]}
    user_ids = pd.read_parquet(folder / "user_ids.parquet")["id"].to_numpy()
    item_ids = pd.read_parquet(folder / "item_ids.parquet")["id"].to_numpy()
    if meta["user_ids_object"]:
        user_ids = user_ids.astype(object)
    if meta["item_ids_object"]:
        item_ids = item_ids.astype(object)
    report = ValidationReport(**meta["report"])
    return Dataset(
        interactions=frames["interactions"], user_ids=user_ids, item_ids=item_ids,
        items=pd.read_parquet(folder / "items.parquet"),
        users=pd.read_parquet(folder / "users.parquet"),
        item_texts=[str(t) for t in pd.read_parquet(folder / "item_texts.parquet")["text"]],
        user_texts=[str(t) for t in pd.read_parquet(folder / "user_texts.parquet")["text"]],
        name=meta["name"], explicit=meta["explicit"], schema=meta["schema"], report=report,
        train=frames.get("train"), valid=frames.get("valid"), test=frames.get("test"),
        split_info=meta["split_info"], cold_items=np.asarray(meta["cold_items"], dtype=np.int64))


def _write_meta_frame(frame: pd.DataFrame, path: Path) -> None:
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    try:
        frame.to_parquet(path, index=False)
    except (ValueError, TypeError):  # pyarrow rejects mixed-type object columns: keep them as text

        fixed = frame.copy()
        for col in fixed.columns:
            if fixed[col].dtype == object:
                fixed[col] = fixed[col].map(lambda v: None if v is None else str(v))
        fixed.to_parquet(path, index=False)


def _write_json(path: Path, data: Any) -> None:
    """Write JSON via a temporary file and ``os.replace`` (readers never see half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=json_default))
    os.replace(tmp, path)


def _jsonable(data: Any) -> Any:
    """``data`` round-tripped through JSON (numpy scalars become Python numbers)."""
    return json.loads(json.dumps(data, default=json_default))
