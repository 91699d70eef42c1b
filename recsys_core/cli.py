"""Command line: ``python -m recsys_core <command> ...``.

Each command is a pair of functions: ``add_<name>(subparsers)`` declares its
arguments and sets ``func``; ``run_<name>(args) -> int`` does the work and
returns the exit status. A new command is one more pair plus one entry in
:data:`COMMANDS`. Bad input (:class:`~recsys_core.data.DataError`) prints its
message and exits with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from recsys_core.cli_explain import add_explain
from recsys_core.cli_jobs import add_jobs
from recsys_core.cli_serve import add_serve
from recsys_core.cli_tune import add_tune
from recsys_core.data.report import DataError
from recsys_core.jsonutil import json_default

EXIT_OK, EXIT_BAD_INPUT = 0, 2


# ---------------------------------------------------------------------- shared arguments


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments every command reading a dataset accepts (mirrors ``data.load``)."""
    parser.add_argument("file", help="interaction file (CSV, TSV, .dat, u.data, .inter, "
                                     "LightGCN train.txt, parquet; .gz/.zip accepted)")
    parser.add_argument("--items", help="item metadata file joined by item id")
    parser.add_argument("--users", help="user metadata file joined by user id")
    parser.add_argument("--test", help="test file of a given split (e.g. LightGCN test.txt)")
    parser.add_argument("--format", help="csv, tsv, dat, ml100k, recbole, lightgcn, parquet "
                                         "(default: inferred)")
    parser.add_argument("--sep", help="delimiter (default: sniffed)")
    parser.add_argument("--column", action="append", default=[], metavar="ROLE=NAME",
                        help="column for a role, e.g. --column user=buyer (repeatable)")
    parser.add_argument("--threshold", type=float,
                        help="keep ratings >= THRESHOLD as implicit positives")
    parser.add_argument("--dedupe", default="last", choices=["last", "first", "mean", "max",
                                                             "error"],
                        help="rule for repeated (user, item) rows (default: last)")
    parser.add_argument("--kcore", type=int, default=0, help="k-core filter (default: off)")


def load_from_args(args: argparse.Namespace):
    """The Dataset described by :func:`add_data_arguments`'s arguments."""
    from recsys_core.data import load

    columns: dict[str, str | None] = {}
    for spec in args.column:
        role, sep, name = spec.partition("=")
        if not sep or not role.strip():
            raise DataError(f"--column expects ROLE=NAME (e.g. user=buyer), got {spec!r}")
        columns[role.strip()] = name.strip() or None
    return load(args.file, items=args.items, users=args.users, columns=columns or None,
                test=args.test, format=args.format, sep=args.sep, threshold=args.threshold,
                dedupe=args.dedupe, kcore=args.kcore)


# ---------------------------------------------------------------------- info


def add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="inferred schema, statistics and validation report of a file",
                       description="Load a file as GraphRec Studio would and describe it.")
    add_data_arguments(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run_info)


def run_info(args: argparse.Namespace) -> int:
    ds = load_from_args(args)
    stats = ds.stats()
    if args.json:
        print(json.dumps({"ok": True, "schema": ds.schema, "stats": stats,
                          "report": {"notes": ds.report.notes, "warnings": ds.report.warnings,
                                     "errors": ds.report.errors}}, default=json_default))
        return EXIT_OK
    print(f"Dataset {ds.name}")
    print("\nSchema")
    for role, column in ds.schema.get("columns", {}).items():
        if role in {spec.partition("=")[0].strip() for spec in args.column}:
            how = "given"
        elif not ds.schema.get("header", True):
            how = "by position (no header)"
        else:
            how = "inferred"
        print(f"  {role:<10} {column if column is not None else '-':<24}"
              f"{how if column is not None else 'absent'}")
    print(f"  {'format':<10} {ds.schema.get('format')}")
    print(f"  {'ids':<10} users {ds.schema['id_type']['user']}, items {ds.schema['id_type']['item']}")
    print(f"  {'feedback':<10} {'explicit ratings' if ds.explicit else 'implicit'}")
    for kind in ("items", "users"):
        meta = ds.schema.get(kind) or {}
        if meta:
            frame = ds.items if kind == "items" else ds.users
            print(f"  {kind:<10} {', '.join(map(str, frame.columns))} "
                  f"(text from {', '.join(meta.get('text_columns', [])) or 'nothing'})")
    print("\nStatistics")
    rows = [("users", f"{stats['users']:,}"), ("items", f"{stats['items']:,}"),
            ("interactions", f"{stats['interactions']:,}"),
            ("density", f"{stats['density']:.6f}"),
            ("user degree", _degree(stats["user_degree"])),
            ("item degree", _degree(stats["item_degree"])),
            ("gini (item popularity)", f"{stats['gini_item_popularity']:.3f}"),
            ("content hash", stats["content_hash"])]
    if ds.explicit:
        hist = stats["rating_histogram"]
        rows.append(("ratings", ", ".join(f"{v:g}: {c:,}" for v, c in
                                          zip(hist["values"], hist["counts"]))))
    if stats.get("cold_catalogue_items"):
        rows.append(("items without interactions", f"{stats['cold_catalogue_items']:,}"))
    if "split" in stats:
        s = stats["split"]
        rows.append(("split", f"{s['method']}: train {s['train']:,}, valid {s['valid']:,}, "
                              f"test {s['test']:,}"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    print("\nValidation report")
    lines = ds.report.lines()
    for line in lines or ["ok"]:
        print(f"  {line}")
    return EXIT_OK


def _degree(d: dict[str, Any]) -> str:
    return f"min {d['min']}, median {d['median']:g}, mean {d['mean']:.2f}, max {d['max']}"


# ---------------------------------------------------------------------- train / evaluate / recommend


def add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model on a file and save it to the run store",
                       description="Load, split, train with early stopping, evaluate on the "
                                   "test part, save the run.")
    add_data_arguments(p)
    p.add_argument("--model", default="lightgcn", help="model name (default: lightgcn)")
    p.add_argument("--split", default="random",
                   help="random, temporal, time_cut, cold_items or given (default: random; "
                        "given when --test is used)")
    p.add_argument("--seed", type=int, help="seed of the split and the model (default: 0)")
    for flag, kind in (("--epochs", int), ("--dim", int), ("--layers", int), ("--lr", float),
                       ("--batch-size", int), ("--reg", float), ("--patience", int)):
        p.add_argument(flag, type=kind, help="model hyperparameter (default: the model's)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="any other model parameter, e.g. --param heads=4 (repeatable)")
    p.add_argument("--name", help="run name (default: '<model> on <dataset>')")
    p.add_argument("--home", help="run store folder (default: GRAPHREC_HOME or ./.graphrec)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--background", action="store_true",
                   help="queue a job in its own process, print its id and return at once "
                        "(see `jobs`)")
    p.add_argument("--nproc", type=int, metavar="N",
                   help="train data-parallel on N local processes under torchrun "
                        "(mf, lightgcn, text_lightgcn; README 'Scaling out')")
    p.set_defaults(func=run_train)


def _model_params(args: argparse.Namespace, cls) -> dict[str, Any]:
    import inspect

    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    params: dict[str, Any] = {}
    for key in ("epochs", "dim", "layers", "lr", "batch_size", "reg", "patience", "seed"):
        value = getattr(args, key, None)
        if value is not None and key in accepted:
            params[key] = value
    for spec in args.param:
        key, value = parse_param(spec)
        if key is None or key not in accepted:
            raise DataError(f"--param {spec!r}: {cls.name} takes "
                            f"{', '.join(sorted(accepted)) or 'no parameters'}")
        params[key] = value
    return params


def parse_param(spec: str) -> tuple[str | None, Any]:
    """``KEY=VALUE`` -> (key, value): VALUE read as JSON (numbers, true/false, lists), else
    kept as text; key None when there is no ``=``."""
    key, sep, raw = spec.partition("=")
    if not sep:
        return None, None
    try:
        return key.strip(), json.loads(raw)
    except ValueError:
        return key.strip(), raw


def run_train(args: argparse.Namespace) -> int:
    from recsys_core import models
    from recsys_core.evaluate import ranking_metrics
    from recsys_core.runs import RunStore

    if args.model not in models.available():
        raise DataError(f"unknown model {args.model!r}; choose one of: "
                        f"{', '.join(models.available())}")
    if getattr(args, "nproc", None) is not None:  # torchrun runs the ranks; its status is ours
        from recsys_core.distributed.launch import launch_train

        return launch_train(args)
    cls = models.model_class(args.model)
    params = _model_params(args, cls)
    ds = load_from_args(args)
    if not ds.is_split:
        ds = ds.split("given" if args.test else args.split, seed=args.seed or 0)
    if args.background:
        from recsys_core.cli_jobs import submit_background

        return submit_background(args, ds, params)
    model = models.make(args.model, **params)
    bar = None
    if not (args.no_progress or args.json):
        from tqdm import tqdm

        bar = tqdm(total=getattr(model, "epochs", None), unit="epoch", desc=args.model,
                   file=sys.stderr)

    def progress(event) -> None:
        if bar is not None:
            bar.update(1)
            shown = {"loss": f"{event.loss:.4f}"}
            if event.metrics:
                shown["ndcg@20"] = f"{event.metrics.get('ndcg@20', 0.0):.4f}"
            bar.set_postfix(shown)

    started = time.perf_counter()
    try:
        model.fit(ds, callbacks=[progress])
    finally:
        if bar is not None:
            bar.close()
    if getattr(model, "train_seconds_", None) is None:  # closed-form models without their own clock
        model.train_seconds_ = time.perf_counter() - started
    fitted = model.dataset_
    metrics = {}
    if fitted.test is not None and len(fitted.test):
        metrics = ranking_metrics(model, fitted, part="test", ks=(10, 20))
    store = RunStore(args.home)
    run_id = store.save(model, fitted, metrics=metrics, name=args.name)
    summary = {"ok": True, "run_id": run_id, "model": args.model, "params": model.get_params(),
               "dataset": fitted.name, "epochs": getattr(model, "epochs_trained_", None),
               "best_epoch": getattr(model, "best_epoch_", None),
               "stopped_by": getattr(model, "stopped_by_", None),
               "seconds": getattr(model, "train_seconds_", None), "test": metrics}
    if args.json:
        print(json.dumps(summary, default=json_default))
        return EXIT_OK
    print(f"run {run_id}: {args.model} on {fitted.name}")
    if summary["epochs"] is not None:
        print(f"  trained {summary['epochs']} epochs in {summary['seconds']:.1f} s "
              f"({summary['stopped_by']}; best epoch {summary['best_epoch']})")
    for key, value in metrics.items():
        print(f"  test {key:<14} {value:.4f}")
    return EXIT_OK


def add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="full-ranking metrics of a saved run on its test part",
                       description="Evaluate a saved run on its test part. The result is "
                                   "recorded beside the run (evaluations.json); the metrics "
                                   "stored at training are kept as they were.")
    p.add_argument("run", help="run id (see the run store)")
    p.add_argument("-k", "--ks", type=int, nargs="+", default=[5, 10, 20], help="cut-offs")
    p.add_argument("--segments", action="store_true", help="also by user activity and item coldness")
    p.add_argument("--home", help="run store folder (default: GRAPHREC_HOME or ./.graphrec)")
    p.add_argument("--json", action="store_true", help="print JSON records")
    p.set_defaults(func=run_evaluate)


def _load_run(args: argparse.Namespace):
    from recsys_core.runs import RunStore

    store = RunStore(args.home)
    try:
        model, ds = store.load(args.run)
    except KeyError as err:
        raise DataError(str(err.args[0])) from None
    return store, model, ds


def run_evaluate(args: argparse.Namespace) -> int:
    from recsys_core.evaluate import evaluate

    store, model, ds = _load_run(args)
    if ds.test is None or not len(ds.test):
        raise DataError(f"run {args.run!r}: its dataset has no test part to evaluate on")
    frame = evaluate(model, ds, ks=tuple(args.ks), part="test", segments=args.segments)
    overall = {f"{r.metric}@{int(r.k)}" if _finite_k(r.k) else str(r.metric): float(r.value)
               for r in frame[frame["segment"] == "all"].itertuples()}
    # Recorded beside the run's training-time metrics, which stay as they were.
    store.add_evaluation(args.run, overall, ds, part="test", ks=list(args.ks),
                         segments=bool(args.segments))
    if args.json:
        print(frame.to_json(orient="records"))
        return EXIT_OK
    print(f"run {args.run}: {model.name} on {ds.name} (test part, full ranking)")
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    original = store.get(args.run)["metrics"]
    changed = [key for key, value in overall.items() if isinstance(original.get(key), float)
               and not math.isclose(original[key], value, rel_tol=1e-6, abs_tol=1e-9)]
    if changed:
        print(f"note: differs from the metrics stored at training for {', '.join(changed)}")
    return EXIT_OK


def _finite_k(k: Any) -> bool:
    try:
        return k is not None and int(k) == k
    except (TypeError, ValueError):
        return False


def add_recommend(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recommend", help="top-k items of a saved run for a user")
    p.add_argument("run", help="run id (see the run store)")
    p.add_argument("--user", required=True, action="append", help="original user id (repeatable)")
    p.add_argument("-k", type=int, default=20, help="list length (default: 20)")
    p.add_argument("--include-seen", action="store_true", help="keep training items in the list")
    p.add_argument("--home", help="run store folder (default: GRAPHREC_HOME or ./.graphrec)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_recommend)


def run_recommend(args: argparse.Namespace) -> int:
    _, model, ds = _load_run(args)
    try:
        items, scores = model.recommend(args.user, k=args.k, exclude_seen=not args.include_seen)
    except KeyError as err:
        raise DataError(f"run {args.run!r}: {err.args[0]}") from None
    # A user with fewer recommendable items than the batch's widest list has -inf padding
    # (masked items): not recommendations, and not valid JSON either.
    result = [{"user": user, "items": [
        {"rank": r + 1, "item": item, "title": ds.item_title(ds.item_index(item)),
         "score": float(score)} for r, (item, score) in enumerate(zip(row_items, row_scores))
        if math.isfinite(score)]}
        for user, row_items, row_scores in zip(args.user, items, scores)]
    if args.json:
        print(json.dumps(result, default=json_default))
        return EXIT_OK
    for entry in result:
        print(f"user {entry['user']}: top {len(entry['items'])} ({model.name})")
        for rec in entry["items"]:
            print(f"  {rec['rank']:>3}. {rec['title']}  [{rec['item']}]  {rec['score']:.4f}")
    return EXIT_OK


# ---------------------------------------------------------------------- entry point

#: Every command's ``add_<name>`` function, in the order ``--help`` lists them.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_info, add_train, add_evaluate, add_recommend, add_explain, add_serve, add_tune,
    add_jobs]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m recsys_core",
        description="GraphRec Studio: LLM + GNN recommendation from the command line.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or EXIT_OK)
    except BrokenPipeError:  # output piped into `head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except DataError as err:
        if getattr(args, "json", False):
            print(json.dumps({"ok": False, "error": str(err), "file": err.file,
                              "column": err.column, "rows": err.rows}))
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
