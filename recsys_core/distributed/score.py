"""Sharded batch scoring: every user's top-k of a saved run, one parquet part per rank.

Each rank loads the run, takes its contiguous run of user batches
(:func:`~recsys_core.distributed.sharding.user_batches`) and ranks every item
for them with the model's own ``recommend`` (training and validation items
masked unless ``--include-seen``), so a user's list is exactly what one
process returns. Rank ``r`` writes ``part-RRRRR.parquet`` with columns
``user, item, score, rank`` (original ids, rank 1..k; masked padding is never
written) through a temporary file. After every rank has written its part,
rank 0 writes ``manifest.json`` (run, k, the parts with their row and user
counts, ranks, seconds), also atomically, and removes parts of earlier jobs
that the manifest does not list. The manifest is removed first thing, so a
folder is complete exactly when it has one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch.distributed as dist

from recsys_core.data.report import DataError
from recsys_core.distributed.runtime import Group
from recsys_core.distributed.sharding import user_batches

MANIFEST = "manifest.json"


def part_name(rank: int) -> str:
    return f"part-{rank:05d}.parquet"


def score_users(model, ds, users: list[np.ndarray], k: int, exclude_seen: bool) -> pd.DataFrame:
    """Top-k rows (user, item, score, rank) for batches of user indices, in order."""
    frames = []
    for idx in users:
        ids = ds.user_ids[idx]
        items, scores = model.recommend(ids, k=k, exclude_seen=exclude_seen)  # [b, k'] each
        finite = np.isfinite(scores)  # -inf: padding of users with fewer allowed items
        rows, cols = np.nonzero(finite)
        frames.append(pd.DataFrame({"user": ids[rows], "item": items[rows, cols],
                                    "score": scores[rows, cols].astype(np.float32),
                                    "rank": (cols + 1).astype(np.int32)}))
    if not frames:
        return pd.DataFrame({"user": ds.user_ids[:0], "item": ds.item_ids[:0],
                             "score": np.zeros(0, np.float32), "rank": np.zeros(0, np.int32)})
    return pd.concat(frames, ignore_index=True)


def _write_atomic(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_parts(out: str | os.PathLike) -> pd.DataFrame:
    """The union of a finished job's parts (the ones its manifest lists), in rank order."""
    out = Path(out)
    manifest = out / MANIFEST
    if not manifest.is_file():
        raise DataError(f"{out}: no {MANIFEST}: the scoring job did not finish")
    parts = json.loads(manifest.read_text())["parts"]
    return pd.concat([pd.read_parquet(out / p["file"]) for p in parts], ignore_index=True)


def run_score(args: argparse.Namespace, group: Group) -> int:
    from recsys_core.runs import RunStore

    if not isinstance(args.k, int) or args.k < 1:
        raise DataError(f"-k must be a positive integer, got {args.k}")
    if args.batch_size < 1:
        raise DataError(f"--batch-size must be at least 1, got {args.batch_size}")
    started = time.perf_counter()
    try:
        model, ds = RunStore(args.home).load(args.run)
    except KeyError as err:
        raise DataError(str(err.args[0])) from None
    out = Path(args.out)
    if group.rank == 0:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise DataError(f"--out {out}: cannot create the folder ({err.strerror})") from None
        (out / MANIFEST).unlink(missing_ok=True)  # incomplete until this job writes it
    group.barrier()
    if not out.is_dir():
        raise DataError(f"--out {out}: not a folder this rank can see (every rank writes its "
                        f"part there: use a shared file system across nodes)")
    batches = user_batches(ds.n_users, args.batch_size, group.rank, group.world)
    loaded = time.perf_counter()
    frame = score_users(model, ds, batches, args.k, not args.include_seen)
    scored = time.perf_counter()
    name = part_name(group.rank)
    _write_atomic(out / name, lambda tmp: frame.to_parquet(tmp, index=False))
    users = int(sum(len(b) for b in batches))
    part = {"rank": group.rank, "file": name, "users": users, "rows": int(len(frame)),
            "first_user": int(batches[0][0]) if batches else None,
            "score_seconds": scored - loaded}
    parts: list = [None] * group.world
    dist.all_gather_object(parts, part)  # every part is on disk
    if group.rank != 0:
        return 0
    listed = {p["file"] for p in parts}
    for stale in out.glob("part-*.parquet"):
        if stale.name not in listed:
            stale.unlink(missing_ok=True)
    slowest = max(p["score_seconds"] for p in parts)
    manifest = {"run_id": args.run, "model": model.name, "dataset": ds.name, "k": args.k,
                "exclude_seen": not args.include_seen, "ranks": group.world,
                "nodes": group.nodes, "threads_per_rank": group.threads,
                "users": int(ds.n_users), "rows": int(sum(p["rows"] for p in parts)),
                "columns": ["user", "item", "score", "rank"], "parts": parts,
                "score_seconds": slowest,
                "users_per_second": ds.n_users / slowest if slowest > 0 else None,
                "seconds": time.perf_counter() - started, "created": time.time()}
    _write_atomic(out / MANIFEST, lambda tmp: Path(tmp).write_text(json.dumps(manifest, indent=1)))
    if args.json:
        print(json.dumps({"ok": True, **{k: v for k, v in manifest.items() if k != "parts"}}))
    else:
        print(f"scored {ds.n_users:,} users of run {args.run} on {group.world} ranks: "
              f"{manifest['rows']:,} rows in {len(parts)} parts under {out} "
              f"in {slowest:.2f} s")
    sys.stdout.flush()
    return 0
