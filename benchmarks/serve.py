"""Load benchmark of the HTTP service: the real server, C concurrent clients, loopback only.

For each run (one on the bundled sample, one on Gowalla) this starts
``python -m recsys_core serve RUN --index exact|faiss`` on a free 127.0.0.1
port, then for C = 1, 8, 32 sends a bounded number of
``GET /v1/users/{u}/recommendations?k=20`` requests (random known users,
seeded) from C keep-alive connections, and prints one JSON line per level:
throughput, p50/p95/p99 latency, error count. Beside it, the in-process
latency of the same call (``recsys_core.serve.service.recommendations``).
For Gowalla it also prints exact vs FAISS recall@20 and per-query latency.

The load generator is a minimal HTTP/1.1 keep-alive client on asyncio
streams (a few microseconds per request), so the figures measure the
server rather than a heavyweight client library. Server and client share
the machine's cores: the server runs with one torch/FAISS thread.

    python benchmarks/serve.py                       # sample + Gowalla (trains runs first)
    python benchmarks/serve.py --skip-gowalla --requests 500
    python benchmarks/serve.py --gowalla-run RUN --home DIR    # reuse a saved run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOWALLA = ROOT.parent / "shared" / "bench" / "gowalla"
TARGET_P99_MS = {"sample": 50.0, "gowalla": 100.0}


def emit(**record) -> None:
    print(json.dumps(record), flush=True)


def percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {"p50_ms": round(float(np.percentile(a, 50)), 3),
            "p95_ms": round(float(np.percentile(a, 95)), 3),
            "p99_ms": round(float(np.percentile(a, 99)), 3)}


# ---------------------------------------------------------------------- runs


def train_run(home: Path, args: list[str], name: str) -> str:
    """Train with the CLI into ``home``; the run id."""
    out = subprocess.run([sys.executable, "-m", "recsys_core", "train", *args, "--home", str(home),
                          "--json", "--name", name], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    emit(phase="train", run=summary["run_id"], model=summary["model"], dataset=summary["dataset"],
         seconds=summary["seconds"], test=summary["test"])
    return summary["run_id"]


# ---------------------------------------------------------------------- server and clients


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: Path, run_id: str, index: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "recsys_core", "serve", run_id, "--home",
                             str(home), "--port", str(port), "--index", index,
                             "--log-level", "warning"], cwd=ROOT,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    deadline = time.monotonic() + 600  # building an index on a big catalogue takes a while
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return proc, port
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not start")


async def _client(port: int, paths: list[str], latencies: list[float], errors: list[str]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for path in paths:
            start = time.perf_counter()
            try:
                writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                body = await reader.readexactly(length)
                if status != 200 or not body.startswith(b"{"):
                    errors.append(f"{status}: {body[:120]!r}")
            except (OSError, asyncio.IncompleteReadError, StopIteration, ValueError) as err:
                errors.append(f"{type(err).__name__}: {err}")
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            latencies.append((time.perf_counter() - start) * 1000.0)
    finally:
        writer.close()


async def _load(port: int, paths: list[str], concurrency: int) -> tuple[list[float], list[str],
                                                                         float]:
    latencies: list[float] = []
    errors: list[str] = []
    shares = [paths[i::concurrency] for i in range(concurrency)]
    start = time.perf_counter()
    await asyncio.gather(*(_client(port, share, latencies, errors) for share in shares))
    return latencies, errors, time.perf_counter() - start


def http_levels(label: str, index: str, port: int, users: list[str], run_id: str,
                requests: int, levels: list[int], k: int) -> None:
    from urllib.parse import quote

    rng = np.random.default_rng(0)
    warm = [f"/v1/users/{quote(u, safe='')}/recommendations?k={k}" for u in users[:50]]
    asyncio.run(_load(port, warm, 4))
    for c in levels:
        paths = [f"/v1/users/{quote(users[i], safe='')}/recommendations?k={k}"
                 for i in rng.integers(0, len(users), requests)]
        latencies, errors, wall = asyncio.run(_load(port, paths, c))
        stats = percentiles(latencies)
        emit(phase="http", dataset=label, run=run_id, index=index, concurrency=c,
             requests=requests, k=k, throughput_rps=round(requests / wall, 1), **stats,
             errors=len(errors), first_error=errors[0] if errors else None,
             target_p99_ms=TARGET_P99_MS[label] if c == 32 else None,
             meets_target=(stats["p99_ms"] < TARGET_P99_MS[label] and not errors)
             if c == 32 else None)


# ---------------------------------------------------------------------- in process


def in_process(label: str, home: Path, run_id: str, index: str, users: list[str], k: int,
               n: int = 1000):
    """The same call without HTTP; returns the served run for further checks."""
    import torch

    from recsys_core.runs import RunStore
    from recsys_core.serve import service
    from recsys_core.serve.runs import open_run

    torch.set_num_threads(1)
    start = time.perf_counter()
    run = open_run(RunStore(home), run_id, index=index)
    opened = time.perf_counter() - start
    rng = np.random.default_rng(1)
    picks = [users[i] for i in rng.integers(0, len(users), n)]
    for u in picks[:20]:
        service.recommendations(run, u, k)
    times = []
    for u in picks:
        t = time.perf_counter()
        service.recommendations(run, u, k)
        times.append((time.perf_counter() - t) * 1000.0)
    emit(phase="in_process", dataset=label, run=run_id, index=index, k=k, calls=n,
         open_seconds=round(opened, 2), **percentiles(times), index_decision=run.index.reason)
    return run


def exact_vs_faiss(exact_run, faiss_run, users: list[str], k: int = 20, n: int = 1000) -> None:
    """recall@k of the FAISS list against the exact one on users not used to gate it."""
    from recsys_core.serve import service

    if faiss_run.engine is None:
        emit(phase="exact_vs_faiss", faiss_used=False, reason=faiss_run.index.reason)
        return
    rng = np.random.default_rng(2)
    recalls = []
    for i in rng.choice(len(users), min(n, len(users)), replace=False):
        exact = {r["item"] for r in service.recommendations(exact_run, users[i], k)["items"]}
        approx = {r["item"] for r in service.recommendations(faiss_run, users[i], k)["items"]}
        recalls.append(len(exact & approx) / max(1, len(exact)))
    record = faiss_run.engine.record
    emit(phase="exact_vs_faiss", users=len(recalls), k=k,
         recall_at_20=round(float(np.mean(recalls)), 4), kind=record.kind, nlist=record.nlist,
         search=record.search, gate_recall_at_10=round(record.recall_at_10, 4),
         build_seconds=round(record.build_seconds, 1))


# ---------------------------------------------------------------------- main


def bench(label: str, home: Path, run_id: str, indexes: list[str], requests: int,
          levels: list[int], k: int) -> None:
    from recsys_core.runs import RunStore

    _, ds = RunStore(home).load(run_id)
    users = [str(u) for u in ds.user_ids]
    served = {}
    for index in indexes:
        served[index] = in_process(label, home, run_id, index, users, k)
        proc, port = start_server(home, run_id, index)
        try:
            http_levels(label, index, port, users, run_id, requests, levels, k)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    if "faiss" in served and "exact" in served:
        exact_vs_faiss(served["exact"], served["faiss"], users, k)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, default=ROOT / ".graphrec-bench-serve",
                        help="run store for the benchmark's runs")
    parser.add_argument("--sample-run", help="saved run on the sample (default: train lightgcn)")
    parser.add_argument("--gowalla-run", help="saved run on Gowalla (default: train mf)")
    parser.add_argument("--gowalla-epochs", type=int, default=10)
    parser.add_argument("--skip-gowalla", action="store_true")
    parser.add_argument("--requests", type=int, default=2000, help="requests per level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("-k", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    home = args.home
    home.mkdir(parents=True, exist_ok=True)
    sample = args.sample_run or train_run(
        home, [str(ROOT / "sample_data" / "interactions.csv"), "--items",
               str(ROOT / "sample_data" / "items.csv"), "--model", "lightgcn", "--epochs", "30",
               "--no-progress"], "lightgcn on the sample")
    bench("sample", home, sample, ["exact"], args.requests, args.concurrency, args.k)
    if args.skip_gowalla:
        return
    gowalla = args.gowalla_run or train_run(
        home, [str(GOWALLA / "train.txt"), "--test", str(GOWALLA / "test.txt"), "--model", "mf",
               "--epochs", str(args.gowalla_epochs), "--no-progress"], "mf on gowalla")
    bench("gowalla", home, gowalla, ["exact", "faiss"], args.requests, args.concurrency, args.k)


if __name__ == "__main__":
    main()
