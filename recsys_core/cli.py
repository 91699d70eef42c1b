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
import sys
from collections.abc import Callable, Sequence
from typing import Any

from recsys_core.data.report import DataError

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
                                     "errors": ds.report.errors}}, default=_json_default))
        return EXIT_OK
    print(f"Dataset {ds.name}")
    print("\nSchema")
    for role, column in ds.schema.get("columns", {}).items():
        how = "inferred" if role in ds.schema.get("inferred", []) else "given"
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


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


# ---------------------------------------------------------------------- entry point

#: Every command's ``add_<name>`` function, in the order ``--help`` lists them.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [add_info]


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
    except DataError as err:
        if getattr(args, "json", False):
            print(json.dumps({"ok": False, "error": str(err), "file": err.file,
                              "column": err.column, "rows": err.rows}))
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
