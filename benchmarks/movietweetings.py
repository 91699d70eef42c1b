"""Text + GNN models on warm and cold items: MovieTweetings-100k or the bundled sample.

Builds the Dataset with the project's readers (``ratings.dat`` + ``movies.dat``;
item text = title with year, and genres), keeps the 5-core, and holds out 20%
of the items entirely (``split("cold_items", fraction=0.2)``: all their
interactions go to test; the remaining interactions are split per user into
train / valid / test). Each model trains on train (early stopping on valid)
and is ranked on test under full ranking, training and validation items masked:

- ``warm``: held-out interactions with items that have training interactions,
  ranked among those items (the warm-start protocol, and how the product serves
  with ``include_cold=False``: items nobody interacted with are left out);
- ``warm_with_cold``: the same interactions when every item, cold ones
  included, competes for the list: the price a model pays on warm items for
  putting cold items into its lists is the gap to ``warm``;
- ``cold``: held-out interactions with held-out items, ranked among all items;
- ``cold_among_cold``: the same, ranked among the held-out items only.

Prints one JSON line per model with Recall@20 / NDCG@20 of each segment and
training seconds, a ``random`` line (uniform random scores, mean of 5 seeds)
as the floor for cold items, and a ``targets`` line: text_lightgcn's warm
NDCG@20 against LightGCN's, its cold Recall@20 against text_knn's and random's.

    timeout 3000 .venv/bin/python benchmarks/movietweetings.py
    timeout 3000 .venv/bin/python benchmarks/movietweetings.py --data sample
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recsys_core.data import load  # noqa: E402
from recsys_core.evaluate import evaluate  # noqa: E402
from recsys_core.models import REGISTRY, make  # noqa: E402
from recsys_core.text import dataset_text_features, get_encoder  # noqa: E402

BENCH = ROOT.parent / "shared" / "bench" / "movietweetings-100k"
MODELS = ("popularity", "mf", "lightgcn", "text_knn", "text_lightgcn", "text_sage")
BPR_MODELS = ("mf", "lightgcn", "text_lightgcn", "text_sage")
SEGMENTS = {"all": "all", "warm items": "warm_with_cold", "cold items": "cold",
            "cold items among cold": "cold_among_cold"}


class WithoutColdItems:
    """A model's scores with items that have no training interaction removed (-inf)."""

    def __init__(self, model, ds):
        self.model = model
        self.name = model.name
        counts = np.bincount(ds.train_interactions["item"].to_numpy(), minlength=ds.n_items)
        self.cold = torch.as_tensor(counts == 0)

    def score(self, users, items=None) -> torch.Tensor:
        scores = self.model.score(users).float().clone()
        scores[:, self.cold] = -torch.inf
        return scores


class RandomScores:
    """Uniform random scores: the chance level of a ranking."""

    name = "random"

    def __init__(self, n_items: int, seed: int):
        self.n_items = n_items
        self.generator = torch.Generator().manual_seed(seed)

    def score(self, users, items=None) -> torch.Tensor:
        return torch.rand(len(users), self.n_items, generator=self.generator)


def load_data(which: str):
    if which == "movietweetings":
        return load(BENCH / "ratings.dat", items=BENCH / "movies.dat", kcore=5,
                    name="movietweetings-100k")
    sample = ROOT / "sample_data"
    return load(sample / "interactions.csv", items=sample / "items.csv",
                users=sample / "users.csv", kcore=5, name="sample")


def metrics_row(frame) -> dict[str, float]:
    frame = frame[(frame["k"] == 20) & frame["metric"].isin(["recall", "ndcg"])]
    row = {}
    for segment, label in SEGMENTS.items():
        part = frame[frame["segment"] == segment]
        for metric in ("recall", "ndcg"):
            values = part.loc[part["metric"] == metric, "value"]
            if len(values):
                row[f"{label}_{metric}@20"] = round(float(values.iloc[0]), 5)
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("movietweetings", "sample"), default="movietweetings")
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=5e-3, help="Adam lr of every BPR model")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--max-seconds", type=float, default=600.0, help="per-model budget")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads for every model (1 is much faster on a busy shared CPU)")
    parser.add_argument("--param", action="append", default=[],
                        help="extra model parameter, e.g. text_lightgcn.item_dropout=0.5")
    args = parser.parse_args(argv)

    if args.threads:
        # Every trainer calls train.set_threads(config.threads); pin one count for all
        # models, including those without a ``threads`` parameter.
        import recsys_core.train as train

        torch.set_num_threads(args.threads)
        train.set_threads = lambda threads=None: args.threads

    start = time.perf_counter()
    ds = load_data(args.data)
    split = ds.split("cold_items", fraction=0.2, seed=args.seed)
    info = split.split_info
    print(json.dumps({"dataset": ds.name, "users": ds.n_users, "items": ds.n_items,
                      "interactions": ds.n_interactions, "train": info["train"],
                      "valid": info["valid"], "test": info["test"],
                      "cold_items": info["cold_items"],
                      "load_seconds": round(time.perf_counter() - start, 2)}), flush=True)
    start = time.perf_counter()
    dataset_text_features(split, get_encoder())  # fills the text cache once for every model
    print(json.dumps({"text_features_seconds": round(time.perf_counter() - start, 2)}), flush=True)

    extra: dict[str, dict] = {}
    for item in args.param:
        key, value = item.split("=", 1)
        model, name = key.split(".", 1)
        extra.setdefault(model, {})[name] = json.loads(value)

    results: dict[str, dict] = {}
    for name in args.models:
        if name not in REGISTRY:
            print(json.dumps({"model": name, "error": "not registered"}), flush=True)
            continue
        params = {}
        if name in BPR_MODELS:
            params = dict(lr=args.lr, epochs=args.epochs, patience=args.patience,
                          max_seconds=args.max_seconds, seed=args.seed)
        params.update(extra.get(name, {}))
        model = make(name, **params)
        start = time.perf_counter()
        model.fit(split)
        seconds = time.perf_counter() - start
        warm = metrics_row(evaluate(WithoutColdItems(model, split), split, ks=(20,)))
        row = {"model": name, "warm_recall@20": warm["warm_with_cold_recall@20"],
               "warm_ndcg@20": warm["warm_with_cold_ndcg@20"],
               **metrics_row(evaluate(model, split, ks=(20,))),
               "train_seconds": round(seconds, 2),
               "epochs": getattr(model, "epochs_trained_", None),
               "best_epoch": getattr(model, "best_epoch_", None)}
        print(json.dumps(row), flush=True)
        results[name] = row

    rows = [metrics_row(evaluate(RandomScores(split.n_items, seed), split, ks=(20,)))
            for seed in range(5)]
    mean = {key: round(float(np.mean([r[key] for r in rows])), 5) for key in rows[0]}
    print(json.dumps({"model": "random", **mean, "train_seconds": 0.0}), flush=True)
    if {"lightgcn", "text_knn", "text_lightgcn"} <= results.keys():
        fused, gcn, knn = results["text_lightgcn"], results["lightgcn"], results["text_knn"]
        print(json.dumps({
            "targets": "text_lightgcn",
            "warm_ndcg@20_vs_lightgcn": round(fused["warm_ndcg@20"] / gcn["warm_ndcg@20"], 4),
            "cold_recall@20_vs_text_knn": round(fused["cold_recall@20"] / knn["cold_recall@20"], 3),
            "cold_recall@20_vs_random": round(fused["cold_recall@20"] / mean["cold_recall@20"], 2),
            "ok": bool(fused["warm_ndcg@20"] >= gcn["warm_ndcg@20"]
                       and fused["cold_recall@20"] >= knn["cold_recall@20"]
                       and fused["cold_recall@20"] >= 10 * mean["cold_recall@20"])}), flush=True)


if __name__ == "__main__":
    main()
