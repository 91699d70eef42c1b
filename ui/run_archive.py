"""Saved runs as the dashboard pages use them, on top of :class:`recsys_core.runs.RunStore`.

A run's ``metrics`` (one JSON document, written atomically with the run)
holds what the pages show about it:

- ``recall@20``, ``ndcg@20``, ... : the test metrics of segment "all" (full ranking);
- ``evaluation``: the records of :func:`recsys_core.evaluate.evaluate`'s tidy frame;
- ``roc``: ROC points ``{"fpr": [...], "tpr": [...]}`` (sampled negatives).
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from recsys_core.run_metrics import EVAL_COLUMNS, run_metrics  # noqa: F401 - re-exported
from recsys_core.runs import default_root

#: Metrics shown in the runs table (from the test evaluation, segment "all").
TABLE_METRICS = (("recall", 20), ("ndcg", 20), ("precision", 20))


class RunArchive:
    """The dashboard's view of a :class:`~recsys_core.runs.RunStore` rooted at ``root``."""

    def __init__(self, root: str | os.PathLike | None = None):
        from recsys_core.runs import RunStore

        self.store = RunStore(root if root is not None else default_root())

    def __repr__(self) -> str:
        return f"RunArchive({self.store!r})"

    def save(self, model, ds, dataset_name: str, evaluation: pd.DataFrame | None = None,
             roc: pd.DataFrame | None = None, outcome: Any = None) -> str:
        """Store a fitted model, its dataset (named as in the session) and its results."""
        named = ds.replace(name=dataset_name) if ds.name != dataset_name else ds
        return self.store.save(model, named, run_metrics(evaluation, roc),
                               name=f"{model.name} on {dataset_name}")

    def delete(self, run_id: str) -> None:
        self.store.delete(run_id)

    def load(self, run_id: str):
        """``(model, dataset)`` of a run, the model ready to score."""
        return self.store.load(run_id)

    def table(self) -> pd.DataFrame:
        """One row per finished run, newest first: run, dataset, model, test metrics,
        epochs, how training stopped, duration and date."""
        runs = self.store.list()
        columns = ["run", "dataset", "model", *(f"{m}@{k}" for m, k in TABLE_METRICS),
                   "epochs", "stopped by", "duration (s)", "date"]
        rows = []
        for r in runs.itertuples():
            if r.status == "cancelled":
                continue
            train = r.config.get("train", {})
            row = {"run": r.run_id, "dataset": r.dataset_name, "model": r.model}
            for metric, k in TABLE_METRICS:
                row[f"{metric}@{k}"] = r.metrics.get(f"{metric}@{k}")
            row["epochs"] = train.get("epochs_trained_")
            row["stopped by"] = train.get("stopped_by_", "")
            row["duration (s)"] = round(float(r.duration or 0.0), 1)
            row["date"] = pd.Timestamp(r.finished, unit="s").strftime("%Y-%m-%d %H:%M")
            rows.append(row)
        return pd.DataFrame(rows, columns=columns)

    def evaluation(self, run_id: str) -> pd.DataFrame:
        """The run's tidy evaluation frame with ``run`` and ``dataset`` columns (empty if none)."""
        row = self.store.get(run_id)
        records = row["metrics"].get("evaluation")
        if not records:
            return pd.DataFrame()
        frame = pd.DataFrame.from_records(records, columns=EVAL_COLUMNS)
        frame["k"] = frame["k"].astype("Int64")
        return frame.assign(run=run_id, dataset=row["dataset_name"])

    def roc(self, run_id: str) -> pd.DataFrame | None:
        points = self.store.get(run_id)["metrics"].get("roc")
        return pd.DataFrame(points) if points else None
