"""Load-and-validate benchmark: a 1,000,000-row interaction CSV.

Writes a synthetic CSV (user_id, item_id, rating, timestamp; skewed item
popularity, some duplicate pairs) into a temporary folder, then loads it with
``recsys_core.data.load`` in a fresh Python subprocess, so the figures include
reading, parsing, column inference, validation, de-duplication and id mapping.

Peak memory is the child's peak resident set size, read by the parent with
``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` after the child exits (it
includes the interpreter and the imported libraries).

Prints one JSON line: {"rows", "seconds", "peak_mb", ...}; and, when
../shared/bench/gowalla exists, a second line for loading the LightGCN
train.txt / test.txt pair the same way.

    python benchmarks/load.py [--rows 1000000] [--seed 0] [--bench DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from recsys_core.data import load
t1 = time.perf_counter()
ds = load(sys.argv[1], test=sys.argv[2] if len(sys.argv) > 2 else None)
stats = ds.stats()
t2 = time.perf_counter()
print(json.dumps({"seconds": t2 - t1, "import_seconds": t1 - t0, "users": ds.n_users,
                  "items": ds.n_items, "interactions": ds.n_interactions,
                  "warnings": len(ds.report.warnings)}))
"""


def write_csv(path: Path, rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_users, n_items = rows // 20, rows // 50
    # Zipf-like item popularity, uniform users, ratings 1-5, times over five years.
    item_p = 1.0 / np.arange(1, n_items + 1) ** 0.8
    item_p /= item_p.sum()
    frame = pd.DataFrame({
        "user_id": rng.integers(1, n_users + 1, rows),
        "item_id": rng.choice(n_items, size=rows, p=item_p) + 1,
        "rating": rng.integers(1, 6, rows),
        "timestamp": rng.integers(1_500_000_000, 1_660_000_000, rows),
    })
    frame.to_csv(path, index=False)


def measure(*files: Path) -> dict:
    """Load ``files`` in a fresh interpreter; its time and peak RSS."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", CHILD, *map(str, files)], capture_output=True,
                          text=True, env=env, check=False)
    if done.returncode != 0:
        sys.exit(done.stderr)
    child = json.loads(done.stdout.strip().splitlines()[-1])
    # RUSAGE_CHILDREN is the maximum over waited-for children, and each run is measured
    # in its own grandchild-free subprocess: run the largest file first.
    child["peak_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    return child


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bench", type=Path, default=ROOT.parent / "shared" / "bench")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "interactions.csv"
        write_csv(path, args.rows, args.seed)
        child = measure(path)
        print(json.dumps({
            "benchmark": "load_csv",
            "rows": args.rows,
            "file_mb": round(path.stat().st_size / 2**20, 1),
            "seconds": round(child["seconds"], 3),
            "import_seconds": round(child["import_seconds"], 3),
            "peak_mb": child["peak_mb"],
            "peak_method": "resource.getrusage(RUSAGE_CHILDREN).ru_maxrss of the loading subprocess",
            "users": child["users"],
            "items": child["items"],
            "interactions": child["interactions"],
        }))
    gowalla = args.bench / "gowalla"
    if (gowalla / "train.txt").exists():
        child = measure(gowalla / "train.txt", gowalla / "test.txt")
        print(json.dumps({
            "benchmark": "load_gowalla",
            "rows": child["interactions"],
            "seconds": round(child["seconds"], 3),
            "peak_mb_max_so_far": child["peak_mb"],
            "users": child["users"],
            "items": child["items"],
        }))


if __name__ == "__main__":
    main()
