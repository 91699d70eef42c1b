"""Closed-form models with their defaults against their papers' settings.

The graph filters (``gf_cf``, ``bspm``) and EASE choose their settings on a
validation split carved from the training part by default, then refit on all
of it (``recsys_core.models.selection``). This script compares, on data none
of those settings were tuned for, each default with the papers' fixed
settings: MovieTweetings-100K (5-core) or the bundled sample, a per-user
random 75/25 train/test split with no validation part (what a user who
uploads a file and presses Train gets), all items ranked, training items
masked. Prints one JSON line per model and setting: Recall/NDCG @10 and @20,
fit seconds (including the validation grid) and the values chosen.

    timeout 1200 .venv/bin/python benchmarks/closed_form.py
    timeout 1200 .venv/bin/python benchmarks/closed_form.py --data sample
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recsys_core.data import load  # noqa: E402
from recsys_core.evaluate import ranking_metrics  # noqa: E402
from recsys_core.models import make  # noqa: E402

BENCH = ROOT.parent / "shared" / "bench" / "movietweetings-100k"

#: (model, setting label, parameters): "default" leaves the settings to validation.
RUNS = (
    ("popularity", "default", {}),
    ("gf_cf", "paper", {"ideal_weight": 0.3, "n_factors": 256}),
    ("gf_cf", "default", {}),
    ("bspm", "paper (Gowalla)", {"ideal_weight": 0.2, "n_factors": 448, "sharpen_time": 2.5}),
    ("bspm", "default", {}),
    ("ease", "paper (ML-20M)", {"l2": 500.0}),
    ("ease", "default", {}),
)


def load_data(which: str):
    if which == "movietweetings":
        ds = load(BENCH / "ratings.dat", items=BENCH / "movies.dat", kcore=5,
                  name="movietweetings-100k")
    else:
        sample = ROOT / "sample_data"
        ds = load(sample / "interactions.csv", items=sample / "items.csv", name="sample")
    return ds.split("random", test=0.25, valid=0.0, seed=0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("movietweetings", "sample"), default="movietweetings")
    args = parser.parse_args(argv)
    ds = load_data(args.data)
    for name, setting, params in RUNS:
        start = time.perf_counter()
        model = make(name, **params).fit(ds)
        seconds = time.perf_counter() - start
        metrics = ranking_metrics(model, model.dataset_, part="test", ks=(10, 20))
        selection = getattr(model, "selection_", None)
        print(json.dumps({
            "dataset": ds.name, "model": name, "setting": setting,
            "recall@10": round(metrics["recall@10"], 4), "ndcg@10": round(metrics["ndcg@10"], 4),
            "recall@20": round(metrics["recall@20"], 4), "ndcg@20": round(metrics["ndcg@20"], 4),
            "fit_s": round(seconds, 1),
            "chosen": selection["chosen"] if selection else None,
            "grid_size": len(selection["grid"]) if selection else 0}), flush=True)


if __name__ == "__main__":
    main()
