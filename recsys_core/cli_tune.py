"""``python -m recsys_core tune FILE --model M [--budget-min 10] [--trials N]``: search and refit.

Searches the model's hyperparameters on a validation part carved from the
training part (never the test part) within a wall-clock budget
(:mod:`recsys_core.tune`), refits the best setting on train + validation,
evaluates it on the test part and saves it as a run; every trial is stored
with the study.
"""

from __future__ import annotations

import argparse
import json
import sys

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def add_tune(sub: argparse._SubParsersAction) -> None:
    from recsys_core.cli import add_data_arguments

    p = sub.add_parser("tune", help="search a model's hyperparameters on validation, refit the "
                                    "best on all training data and save it",
                       description=__doc__.split("\n\n")[0])
    add_data_arguments(p)
    p.add_argument("--model", default="lightgcn", help="model name (default: lightgcn)")
    p.add_argument("--split", default="random",
                   help="random, temporal, time_cut, cold_items or given (default: random; "
                        "given when --test is used)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the split, the sampler and the models (default: 0)")
    p.add_argument("--budget-min", type=float, default=10.0,
                   help="wall-clock minutes for the search; the refit comes after (default: 10)")
    p.add_argument("--trials", type=int, help="at most this many trials (default: the budget's)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="a fixed model parameter, e.g. --param epochs=50 (repeatable)")
    p.add_argument("--no-refit", action="store_true", help="search only: save no run")
    p.add_argument("--home", help="run store folder (default: GRAPHREC_HOME or ./.graphrec)")
    p.add_argument("--background", action="store_true",
                   help="run the search as a job in its own worker process: print the job id "
                        "and return at once (follow it with `jobs wait ID`)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run_tune)


def run_tune(args: argparse.Namespace) -> int:
    from recsys_core import models
    from recsys_core.cli import _model_params, load_from_args
    from recsys_core.data.report import DataError
    from recsys_core.jsonutil import json_default
    from recsys_core.runs import RunStore
    from recsys_core.tune import TuneConfig, tune

    if args.model not in models.available():
        raise DataError(f"unknown model {args.model!r}; choose one of: "
                        f"{', '.join(models.available())}")
    params = _model_params(args, models.model_class(args.model))
    try:
        config = TuneConfig(budget_min=args.budget_min, trials=args.trials, seed=args.seed,
                            refit=not args.no_refit)
    except ValueError as err:
        raise DataError(str(err)) from None
    ds = load_from_args(args)
    if not ds.is_split:
        ds = ds.split("given" if args.test else args.split, seed=args.seed)
    if args.background:
        from recsys_core.cli_jobs import submit_background

        options = {"budget_min": args.budget_min, "trials": args.trials, "seed": args.seed,
                   "refit": not args.no_refit}
        return submit_background(args, ds, params, kind="tune", options=options)
    bar = None
    if not (args.no_progress or args.json):
        from tqdm import tqdm

        bar = tqdm(total=100, unit="%", desc=f"tune {args.model}", file=sys.stderr)

    def progress(p) -> None:
        if bar is not None:
            bar.n = int(round(100 * p.fraction))
            best = "-" if p.best_value is None else f"{p.best_value:.4f}"
            bar.set_postfix({"trial": p.trial, "done": p.complete, "pruned": p.pruned,
                             "best": best})

    try:
        result = tune(args.model, ds, config, base_params=params, store=RunStore(args.home),
                      progress=progress)
    except ValueError as err:
        raise DataError(str(err)) from None
    finally:
        if bar is not None:
            bar.close()
    test = {}
    if result.run_id is not None:
        test = RunStore(args.home).get(result.run_id)["metrics"]
    summary = {"ok": True, "study_id": result.study_id, "model": args.model,
               "dataset": ds.name, "budget_min": args.budget_min, "trials": result.counts(),
               "best_params": result.best_params, "best_value": result.best_value,
               "best_epoch": result.best_epoch, "search_seconds": result.seconds,
               "refit_seconds": result.refit_seconds, "run_id": result.run_id, "test": test}
    if args.json:
        print(json.dumps(summary, default=json_default))
        return EXIT_OK
    counts = result.counts()
    print(f"study {result.study_id}: {args.model} on {ds.name}, {len(result.trials)} trials in "
          f"{result.seconds:.0f} s ({counts['complete']} complete, {counts['pruned']} pruned, "
          f"{counts['fail']} failed)")
    print(f"  best validation ndcg@20 {result.best_value:.4f} (trial "
          f"{result.model.tune_['best_trial'] if result.model is not None else '?'}"
          f", best epoch {result.best_epoch})")
    for key, value in result.best_params.items():
        print(f"  {key:<14} {value:.4g}" if isinstance(value, float) else f"  {key:<14} {value}")
    if result.run_id:
        print(f"run {result.run_id}: refit on train + validation in {result.refit_seconds:.1f} s")
        for key, value in test.items():
            if isinstance(value, float):
                print(f"  test {key:<14} {value:.4f}")
    return EXIT_OK
