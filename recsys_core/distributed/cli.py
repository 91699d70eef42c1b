"""Command line of one rank: ``torchrun ... -m recsys_core.distributed train|score ...``.

``train`` takes exactly the arguments of ``python -m recsys_core train`` (the
same parser) plus the job's ``--timeout`` and ``--threads``; ``score`` takes a
saved run and an output folder. Every rank parses the same command line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from recsys_core.distributed.runtime import DEFAULT_TIMEOUT_S, run_rank


def _job_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                   help="longest wait of a rank for the others before the job fails "
                        f"(default: {DEFAULT_TIMEOUT_S:.0f})")
    p.add_argument("--threads", type=int, metavar="N",
                   help="torch threads per rank (default: cores / ranks on this machine)")


def build_parser() -> argparse.ArgumentParser:
    from recsys_core.cli import add_train
    from recsys_core.distributed.score import run_score
    from recsys_core.distributed.train import run_train

    parser = argparse.ArgumentParser(
        prog="torchrun --nproc-per-node N -m recsys_core.distributed",
        description="Data-parallel training and sharded batch scoring under torchrun.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_train(sub)
    train = sub.choices["train"]
    train.description = ("Train mf, lightgcn or text_lightgcn data-parallel on every rank "
                         "and save one run from rank 0 (options as python -m recsys_core train).")
    _job_options(train)
    train.set_defaults(func=run_train, what="no run was saved")
    score = sub.add_parser("score", help="top-k of every user of a saved run, one part per rank",
                           description="Each rank writes part-RANK.parquet (user, item, score, "
                                       "rank) under --out; rank 0 writes manifest.json.")
    score.add_argument("run", help="run id (see the run store)")
    score.add_argument("--out", required=True, help="output folder (shared by all ranks)")
    score.add_argument("-k", type=int, default=100, help="list length (default: 100)")
    score.add_argument("--include-seen", action="store_true",
                       help="keep training items in the lists")
    score.add_argument("--batch-size", type=int, default=1024,
                       help="users scored per matrix product (default: 1024)")
    score.add_argument("--home", help="run store folder (default: GRAPHREC_HOME or ./.graphrec)")
    score.add_argument("--json", action="store_true", help="print one JSON object (rank 0)")
    _job_options(score)
    score.set_defaults(func=run_score, what="no manifest was written")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_rank(lambda group: args.func(args, group), timeout_s=args.timeout,
                    threads=args.threads, what=args.what)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
