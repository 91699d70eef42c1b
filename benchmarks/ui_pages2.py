"""Benchmarks of the train, embeddings, recommendations and evaluation pages.

Prints one JSON line per figure:

- ``pca_gowalla``: seconds to project every Gowalla node (users + items, 64-d
  LightGCN embeddings propagated over the paper's training graph) with PCA;
  target under 3 s.
- ``recommend_top20``: milliseconds for one user's top-20 through
  ``Recommender.recommend`` (original ids in and out, seen items masked) on
  the bundled sample, per model; target under 50 ms.
- ``page_render``: seconds of one script run of each page (Streamlit AppTest,
  in process) on the sample's saved runs, first (cold caches) and again
  (cached results); target under 2 s cached.

Usage: ``python benchmarks/ui_pages2.py [--skip-gowalla] [--epochs 2]``. The
runs are trained into a temporary ``GRAPHREC_HOME`` (the text-embedding cache
is copied in, so texts encoded before are not encoded again).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BENCH = ROOT.parent / "shared" / "bench"


def emit(**record) -> None:
    print(json.dumps(record), flush=True)


def pca_gowalla() -> None:
    import torch

    from recsys_core.data import load
    from recsys_core.graph import normalized_adjacency
    from recsys_core.models.lightgcn import propagate
    from recsys_core.viz.projection import project

    folder = BENCH / "gowalla"
    if not (folder / "train.txt").exists():
        emit(figure="pca_gowalla", skipped=f"no data in {folder}")
        return
    ds = load(folder / "train.txt", test=folder / "test.txt")
    torch.manual_seed(0)
    ego = torch.randn(ds.n_users + ds.n_items, 64) * 0.1  # LightGCN's initialisation
    with torch.no_grad():
        x = propagate(normalized_adjacency(ds), ego, 3).numpy()  # [U + I, 64]
    times = []
    for _ in range(3):
        start = time.perf_counter()
        proj = project(x, "pca")
        times.append(time.perf_counter() - start)
    emit(figure="pca_gowalla", nodes=int(x.shape[0]), dim=int(x.shape[1]),
         seconds_median=round(float(np.median(times)), 4), seconds_all=[round(t, 4) for t in times],
         points_projected=int(len(proj.rows)), target_seconds=3.0)


def train_sample_runs(epochs: int) -> dict[str, str]:
    import functools

    from recsys_core.data import load
    from recsys_core.jobs import JobRegistry, train_and_save
    from ui.run_archive import RunArchive

    sample = ROOT / "sample_data"
    ds = load(sample / "interactions.csv", items=sample / "items.csv",
              users=sample / "users.csv", name="sample").split("random", test=0.2, valid=0.1,
                                                              seed=0)
    registry, ids = JobRegistry(), {}
    for model in ("lightgcn", "text_lightgcn"):
        start = time.perf_counter()
        job = registry.submit(model, functools.partial(
            train_and_save, ds=ds, dataset_name="sample", model_name=model,
            params={"epochs": epochs, "patience": 0}, store=RunArchive()))
        status = registry.wait(job)
        if status.state != "done":
            raise RuntimeError(f"training {model} failed: {status.error}")
        ids[model] = status.result.run_id
        emit(figure="train_job", model=model, epochs=epochs,
             seconds=round(time.perf_counter() - start, 2), text_cache=status.result.text_cache)
    return ids


def recommend_top20(ids: dict[str, str]) -> None:
    from ui.run_archive import RunArchive

    archive = RunArchive()
    for model_name, run_id in ids.items():
        model, ds = archive.load(run_id)
        users = ds.user_ids[:60]
        model.recommend([users[0]], k=20)  # warm-up: final embeddings computed once
        times = []
        for user in users[10:]:
            start = time.perf_counter()
            model.recommend([user], k=20)
            times.append((time.perf_counter() - start) * 1000)
        emit(figure="recommend_top20", model=model_name, users=len(times),
             ms_median=round(float(np.median(times)), 3),
             ms_p95=round(float(np.percentile(times, 95)), 3), target_ms=50.0)


def page_renders(ids: dict[str, str]) -> None:
    from streamlit.testing.v1 import AppTest

    for page in ("train", "embeddings", "recommendations", "evaluation"):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600).run()
        at.switch_page(f"pages/{page}.py")
        timings = []
        for _ in range(2):
            start = time.perf_counter()
            at.run()
            timings.append(time.perf_counter() - start)
            if at.exception:
                raise RuntimeError(f"{page}: {[e.value for e in at.exception]}")
        emit(figure="page_render", page=page, seconds_first=round(timings[0], 3),
             seconds_cached=round(timings[1], 3), target_seconds_cached=2.0,
             how="one AppTest script run of app.py + the page, sample data, saved runs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-gowalla", action="store_true")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    if not args.skip_gowalla:
        pca_gowalla()
    home = Path(tempfile.mkdtemp(prefix="graphrec-bench-"))
    cache = ROOT / ".graphrec" / "cache" / "text"
    if cache.is_dir():
        shutil.copytree(cache, home / "cache" / "text")
    os.environ["GRAPHREC_HOME"] = str(home)
    os.chdir(ROOT)
    try:
        ids = train_sample_runs(args.epochs)
        recommend_top20(ids)
        page_renders(ids)
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
