"""Defaults against budgeted tuning + refit, per model, on the bundled sample, MovieTweetings-100K,
Gowalla and MovieLens-100K.

Protocol: a per-user random split, 80% train / 20% test (Gowalla: the LightGCN
paper's train.txt / test.txt; MovieLens-100K: Microsoft Recommenders' benchmark
split, see :func:`recommenders_split`); full ranking over all items, each user's
training items masked; NDCG and Recall @10 and @20 on the test part (and, for
MovieLens-100K, precision@10 and MAP@10 in both normalisations, as that
benchmark's table reports them). Nothing
here reads the test part before the final evaluation: with the defaults, a
trained model carves its early-stopping validation from the training part
and (``refit``, on by default) retrains on all of it; with ``--budget-min``,
:func:`recsys_core.tune.tune` searches the model's space on the same kind of
carved validation within the budget and refits the best setting on the whole
training part.

Prints one JSON line per (model, mode): ``mode`` is ``defaults`` or
``tuned``, with the budget, trial counts, best parameters, metrics and wall
seconds (tuned: search + refit), then a ``summary`` line per dataset: tuned
text_lightgcn against tuned lightgcn (NDCG@20 ratio), and each model's
defaults against its tuned run.

    timeout 3600 .venv/bin/python benchmarks/tune.py --data sample --budget-min 1
    timeout 3600 .venv/bin/python benchmarks/tune.py --data movietweetings --budget-min 2
    # seed-to-seed spread of the defaults on one split
    for s in 0 1 2; do .venv/bin/python benchmarks/tune.py --data movietweetings \
        --budget-min 0 --model-seed $s --models lightgcn text_lightgcn; done
    timeout 3600 .venv/bin/python benchmarks/tune.py --data gowalla --models lightgcn \\
        --budget-min 10 --max-train-min 10
    # MovieLens-100K: the GroupLens ml-100k folder (u.data, u.item, u.user)
    .venv/bin/python benchmarks/tune.py --data ml100k --ml100k PATH/ml-100k --budget-min 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from recsys_core.cli import parse_param  # noqa: E402
from recsys_core.data import load  # noqa: E402
from recsys_core.evaluate import ranking_metrics  # noqa: E402
from recsys_core.models import REGISTRY, make, model_class  # noqa: E402
from recsys_core.runs import RunStore  # noqa: E402
from recsys_core.tune import TuneConfig, tune  # noqa: E402

BENCH = ROOT.parent / "shared" / "bench"
MODELS = ("popularity", "mf", "lightgcn", "gf_cf", "bspm", "ease", "text_knn",
          "text_lightgcn", "text_sage")
METRICS = ("ndcg@10", "recall@10", "ndcg@20", "recall@20")
#: MovieLens-100K also reports what Microsoft Recommenders' benchmark table lists at K = 10.
ML100K_METRICS = ("precision@10", "map@10", "map_over_relevant@10")


def emit(**record) -> None:
    print(json.dumps(record, default=float), flush=True)


def recommenders_split(ratings: pd.DataFrame, train_share: float = 0.75,
                       seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Microsoft Recommenders' ``python_stratified_split`` (ratio 0.75, seed 42), as its
    MovieLens-100K benchmark splits: every row gets a uniform number from NumPy's global
    generator seeded with ``seed``, in file order; within each user the rows sorted by it
    whose rank / count is at most ``train_share`` train, the rest test. The same rows
    as that benchmark, so its published rows compare."""
    np.random.seed(seed)  # that splitter draws from the global generator
    frame = ratings.assign(_draw=np.random.rand(len(ratings)))
    frame = frame.sort_values(["user", "_draw"])
    by_user = frame.groupby("user")
    share = (by_user.cumcount() + 1) / by_user["user"].transform("count")
    frame = frame.drop(columns="_draw")
    return frame[share <= train_share], frame[share > train_share]


def load_ml100k(folder: Path):
    """MovieLens-100K from the GroupLens ``ml-100k`` folder, split as :func:`recommenders_split`
    does; every rating counts as an interaction (that benchmark ranks all of them)."""
    folder = Path(folder)
    if not (folder / "u.data").is_file():
        raise SystemExit(f"{folder}: no u.data; pass --ml100k with GroupLens' ml-100k folder")
    ratings = pd.read_csv(folder / "u.data", sep="\t", names=["user", "item", "rating",
                                                              "timestamp"])
    train, test = recommenders_split(ratings)
    items = folder / "u.item"
    return load(train, test=test, items=items if items.is_file() else None, name="ml-100k")


def load_data(which: str, seed: int, ml100k: Path | None = None):
    if which == "ml100k":
        return load_ml100k(ml100k)
    if which == "gowalla":
        data = BENCH / "gowalla"
        return load(str(data / "train.txt"), test=str(data / "test.txt"), name="gowalla")
    if which == "movietweetings":
        data = BENCH / "movietweetings-100k"
        ds = load(data / "ratings.dat", items=data / "movies.dat", kcore=5,
                  name="movietweetings-100k")
    else:
        sample = ROOT / "sample_data"
        ds = load(sample / "interactions.csv", items=sample / "items.csv",
                  users=sample / "users.csv", name="sample")
    return ds.split("random", test=0.2, valid=0.0, seed=seed)


def test_metrics(model, extra: tuple[str, ...] = ()) -> dict[str, float]:
    values = ranking_metrics(model, model.dataset_, part="test", ks=(10, 20))
    return {k: round(values[k], 4) for k in METRICS + extra}


def choices(model) -> dict:
    """What a fused model chose on validation (None for the others)."""
    return {"gate": getattr(model, "gate_", None),
            "cold_weight": getattr(model, "cold_weight_", None)}


def fixed_params(name: str, args) -> dict:
    accepted = model_class(name).__init__.__code__.co_varnames
    params = {}
    if args.max_train_min and "max_seconds" in accepted:
        params["max_seconds"] = args.max_train_min * 60
    if args.threads and "threads" in accepted:
        params["threads"] = args.threads
    if args.model_seed is not None and "seed" in accepted:
        params["seed"] = args.model_seed
    for key, value in map(parse_param, args.param):  # e.g. reg=1e-3, where a model takes it
        if key in accepted:
            params[key] = value
    return params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=("sample", "movietweetings", "gowalla", "ml100k"),
                        default="sample")
    parser.add_argument("--ml100k", type=Path, default=os.environ.get("GRAPHREC_ML100K"),
                        help="GroupLens' ml-100k folder (u.data, u.item) for --data ml100k "
                        "(default: $GRAPHREC_ML100K)")
    parser.add_argument("--models", nargs="+", help=f"default: {' '.join(MODELS)} (registered)")
    parser.add_argument("--budget-min", type=float, default=1.0,
                        help="tuning budget per model in minutes (0: defaults only)")
    parser.add_argument("--trials", type=int, help="at most this many trials per model")
    parser.add_argument("--max-train-min", type=float,
                        help="cap on every training run (defaults and trials), minutes")
    parser.add_argument("--threads", type=int, help="torch threads for models that take it")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model-seed", type=int,
                        help="the models' own seed (default --seed): the split stays the same")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="a fixed model parameter (repeatable), for every model that "
                        "takes it: the defaults run and every trial")
    args = parser.parse_args()
    names = [m for m in (args.models or MODELS) if m in REGISTRY]
    start = time.perf_counter()
    ds = load_data(args.data, args.seed, args.ml100k)
    extra = ML100K_METRICS if args.data == "ml100k" else ()
    emit(event="loaded", data=args.data, dataset=repr(ds), train=len(ds.train),
         test=len(ds.test), seconds=round(time.perf_counter() - start, 1))
    store = RunStore(tempfile.mkdtemp(prefix="graphrec-tune-bench-"))
    results: dict[tuple[str, str], dict] = {}
    for name in names:
        params = fixed_params(name, args)
        t0 = time.perf_counter()
        try:
            model = make(name, **params).fit(ds)
        except ValueError as err:  # a model that refuses this dataset says why, the rest go on
            emit(data=args.data, model=name, mode="defaults", error=str(err))
            continue
        row = {"data": args.data, "model": name, "mode": "defaults", **test_metrics(model, extra),
               "seconds": round(time.perf_counter() - t0, 1),
               "epochs": getattr(model, "epochs_trained_", None),
               "refit_epochs": getattr(model, "refit_epochs_", None), **choices(model)}
        results[(name, "defaults")] = row
        emit(**row)
        if args.budget_min <= 0:
            continue
        t0 = time.perf_counter()
        try:
            result = tune(name, ds, TuneConfig(budget_min=args.budget_min, trials=args.trials,
                                               seed=args.seed),
                          base_params=params, store=store)
        except ValueError as err:
            emit(data=args.data, model=name, mode="tuned", error=str(err))
            continue
        model = result.model
        row = {"data": args.data, "model": name, "mode": "tuned", "budget_min": args.budget_min,
               **test_metrics(model, extra), "seconds": round(time.perf_counter() - t0, 1),
               "search_seconds": round(result.seconds, 1),
               "refit_seconds": round(result.refit_seconds, 1), "trials": result.counts(),
               "best_valid_ndcg@20": round(result.best_value, 4),
               "best_params": result.best_params, "best_epoch": result.best_epoch,
               **choices(model)}
        results[(name, "tuned")] = row
        emit(**row)
    summary = {"event": "summary", "data": args.data, "budget_min": args.budget_min}
    tuned = {m: r for (m, mode), r in results.items() if mode == "tuned"}
    if "text_lightgcn" in tuned and "lightgcn" in tuned:
        summary["text_lightgcn_vs_lightgcn_tuned_ndcg@20"] = round(
            tuned["text_lightgcn"]["ndcg@20"] / max(tuned["lightgcn"]["ndcg@20"], 1e-12), 4)
    summary["defaults_over_tuned_ndcg@20"] = {
        m: round(results[(m, "defaults")]["ndcg@20"] / max(r["ndcg@20"], 1e-12), 4)
        for m, r in tuned.items()}
    everything = [r for r in results.values()]
    if everything:
        best = max(everything, key=lambda r: r["ndcg@20"])
        summary["best"] = {"model": best["model"], "mode": best["mode"],
                           "ndcg@20": best["ndcg@20"], "ndcg@10": best["ndcg@10"]}
    summary["seconds"] = round(time.perf_counter() - start, 1)
    emit(**summary)


if __name__ == "__main__":
    main()
