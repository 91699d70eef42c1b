"""The metrics document saved with a run: headline test numbers, tidy records, ROC points.

A run's ``metrics`` (one JSON document, written atomically with the run)
holds what the dashboard pages and ``jobs`` show about it:

- ``recall@20``, ``ndcg@20``, ... : the test metrics of segment "all" (full ranking);
- ``evaluation``: the records of :func:`recsys_core.evaluate.evaluate`'s tidy frame;
- ``roc``: ROC points ``{"fpr": [...], "tpr": [...]}`` (sampled negatives).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from recsys_core.evaluate import FULL_RANKING

EVAL_COLUMNS = ["model", "metric", "k", "segment", "protocol", "value"]


def run_metrics(evaluation: pd.DataFrame | None, roc: pd.DataFrame | None) -> dict[str, Any]:
    """The metrics document of a run: headline numbers, the tidy records and ROC points."""
    out: dict[str, Any] = {}
    if evaluation is not None and not evaluation.empty:
        main = evaluation[(evaluation["segment"] == "all")
                          & (evaluation["protocol"] == FULL_RANKING)]
        for row in main.itertuples():
            out[f"{row.metric}@{int(row.k)}"] = float(row.value)
        records = evaluation[EVAL_COLUMNS].astype({"k": "object"})
        records["k"] = [None if pd.isna(k) else int(k) for k in records["k"]]
        out["evaluation"] = records.to_dict("records")
    if roc is not None:
        out["roc"] = {"fpr": roc["fpr"].astype(float).tolist(),
                      "tpr": roc["tpr"].astype(float).tolist()}
    return out
