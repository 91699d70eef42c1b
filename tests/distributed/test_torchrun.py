"""Real torchrun jobs: 2 ranks, gloo over loopback, a tiny synthetic graph.

Tolerance of the 1-rank vs 2-rank comparison: the same global batch, seed and
interactions per step; only the negatives (drawn per rank) and the order of
floating-point sums differ, so NDCG@20 on validation and test must agree within
0.03 absolute (measured: about 0.01 for mf and 0.01 for lightgcn on this graph).
"""

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_core import models
from recsys_core.data import load
from recsys_core.data.synthetic import generate
from recsys_core.distributed.score import MANIFEST, read_parts
from recsys_core.distributed.sharding import user_batches
from recsys_core.evaluate import ranking_metrics
from recsys_core.runs import RunStore

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("dp_worker.py")
TOLERANCE = 0.03  # NDCG@20, absolute; see the module docstring
JOB_TIMEOUT = 240  # seconds for one torchrun job on a busy 2-core machine


def _env(home: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), GRAPHREC_HOME=str(home), GRAPHREC_THREADS="1",
               OMP_NUM_THREADS="1")
    env.pop("GRAPHREC_DEBUG", None)
    return env


def _torchrun(args, home: Path, timeout=JOB_TIMEOUT) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", "2", *map(str, args)]
    return subprocess.run(command, cwd=ROOT, env=_env(home), capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("graph")
    generate(seed=1, n_users=200, n_items=80, n_interactions=4000).write(folder)
    return folder / "interactions.csv"


@pytest.fixture(scope="module")
def worker_ranks(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("ranks")
    done = _torchrun([WORKER, data, out], out)
    assert done.returncode == 0, done.stderr[-3000:]
    return [torch.load(out / f"rank-{r}.pt", weights_only=False) for r in range(2)]


@pytest.mark.parametrize("name", ["mf", "lightgcn"])
def test_parameters_bit_identical_across_ranks(worker_ranks, name):
    first, second = (r[name]["state"] for r in worker_ranks)
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key
    assert not torch.equal(first[next(iter(first))], torch.zeros_like(first[next(iter(first))]))


@pytest.mark.parametrize("name", ["mf", "lightgcn"])
def test_every_training_interaction_once_per_epoch(worker_ranks, name):
    n = worker_ranks[0][name]["n_train"]
    epochs = list(zip(*(r[name]["used"] for r in worker_ranks)))
    assert len(epochs) == 4
    for used in epochs:
        both = torch.cat(used).tolist()
        assert len(both) == len(set(both)) == n - n % 2  # disjoint; only the drop_last tail is out
        assert set(both) <= set(range(n))
        assert len(used[0]) == len(used[1])
    sizes = [r[f"{name}_batch_sizes"] for r in worker_ranks]
    assert sizes[0] == sizes[1] and sizes[0][0][0] == 32  # global batch 64 = 2 x 32


@pytest.mark.parametrize("name", ["mf", "lightgcn"])
def test_two_ranks_match_one_process_within_tolerance(worker_ranks, data, name):
    import dp_worker  # noqa: E402 - beside this file: the same settings as the ranks used

    ds = load(data).split("random", seed=0)
    single = models.make(name, **dp_worker.PARAMS).fit(ds)
    test = ranking_metrics(single, single.dataset_, part="test", ks=(20,))
    ranks = worker_ranks[0][name]
    assert abs(ranks["valid"]["ndcg@20"] - single.best_metrics_["ndcg@20"]) <= TOLERANCE
    assert abs(ranks["test"]["ndcg@20"] - test["ndcg@20"]) <= TOLERANCE
    assert ranks["test"]["ndcg@20"] > 0.2  # trained, not the untrained floor


def test_text_lightgcn_stages_and_refit_stay_identical_across_ranks(data, tmp_path):
    done = _torchrun([WORKER, data, tmp_path, "--text"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    first, second = (torch.load(tmp_path / f"rank-{r}.pt", weights_only=False)["text_lightgcn"]
                     for r in range(2))
    assert len(first["used"]) > 4  # stage 1, stage 2 and the refit of both each trained here
    for key in first["state"]:
        assert torch.equal(first["state"][key], second["state"][key]), key
    assert first["test"]["ndcg@20"] > 0.2


def test_ranks_with_different_data_stop_with_a_message(data, tmp_path):
    done = _torchrun([WORKER, data, tmp_path, "--mismatch"], tmp_path)
    assert done.returncode != 0
    assert "rank 1 (" in done.stderr and "train " in done.stderr
    assert "Every rank must read the same files" in done.stderr
    assert not list(tmp_path.glob("rank-*.pt"))


@pytest.fixture(scope="module")
def trained_run(data, tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    done = _torchrun(["-m", "recsys_core.distributed", "train", data, "--model", "mf",
                      "--epochs", "3", "--batch-size", "64", "--home", home, "--json",
                      "--timeout", "60"], home)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return home, summary


def test_cli_saves_one_ordinary_run_that_says_ranks(trained_run):
    home, summary = trained_run
    store = RunStore(home)
    assert list(store.list()["run_id"]) == [summary["run_id"]]
    record = store.config(summary["run_id"])["train"]["distributed_"]
    assert record["ranks"] == 2 and record["nodes"] == 1 and record["batch_per_rank"] == 32
    model, ds = store.load(summary["run_id"])  # evaluate / recommend / serve use it unchanged
    again = ranking_metrics(model, ds, part="test", ks=(10, 20))
    assert again["ndcg@20"] == pytest.approx(summary["test"]["ndcg@20"], abs=1e-9)


def test_sharded_scoring_union_equals_single_process_top_k(trained_run, tmp_path):
    home, summary = trained_run
    out = tmp_path / "scores"
    out.mkdir()
    (out / "part-00007.parquet").write_bytes(b"stale")  # from an earlier, wider job
    done = _torchrun(["-m", "recsys_core.distributed", "score", summary["run_id"], "--out", out,
                      "-k", "15", "--batch-size", "64", "--home", home, "--timeout", "60"], home)
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = json.loads((out / MANIFEST).read_text())
    assert [p["file"] for p in manifest["parts"]] == ["part-00000.parquet", "part-00001.parquet"]
    assert sorted(p.name for p in out.glob("part-*")) == ["part-00000.parquet",
                                                          "part-00001.parquet"]
    union = read_parts(out)
    assert list(union.columns) == ["user", "item", "score", "rank"]
    model, ds = RunStore(home).load(summary["run_id"])
    items, scores = model.recommend(list(ds.user_ids), k=15)  # one process, every user at once
    rows = [(u, i, r + 1) for u, row in zip(ds.user_ids, items) for r, i in enumerate(row)]
    expected = pd.DataFrame(rows, columns=["user", "item", "rank"])
    assert len(union) == len(expected) == manifest["rows"] == 15 * ds.n_users
    pd.testing.assert_frame_equal(union[["user", "item", "rank"]].astype(str),
                                  expected.astype(str))
    np.testing.assert_allclose(union["score"], scores.reshape(-1), rtol=1e-6, atol=1e-6)
    # each rank scored whole batches of one process's batching, in order
    assert [p["users"] for p in manifest["parts"]] == [
        sum(len(b) for b in user_batches(ds.n_users, 64, r, 2)) for r in range(2)]


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            child = int(stat.parent.name)
            found += [child, *_children(child)]
    return found


def _rank_pid(root: int, rank: int) -> int | None:
    for pid in _children(root):
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in env and b"recsys_core.distributed" in \
                Path(f"/proc/{pid}/cmdline").read_bytes():
            return pid
    return None


def test_killed_rank_fails_the_job_naming_it_and_saves_nothing(data, tmp_path):
    home = tmp_path / "home"
    command = [sys.executable, "-m", "recsys_core", "train", str(data), "--model", "mf",
               "--epochs", "100000", "--patience", "0", "--batch-size", "8", "--home", str(home),
               "--nproc", "2"]
    proc = subprocess.Popen(command, cwd=ROOT, env=_env(home), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(JOB_TIMEOUT, proc.kill)  # a hung job fails the test, not CI
    watchdog.start()
    try:
        seen = []
        for line in proc.stderr:  # rank 0's progress: training is under way
            seen.append(line)
            if line.startswith("epoch 2/"):
                break
        pid = _rank_pid(proc.pid, 1)
        assert pid is not None, "".join(seen)
        os.kill(pid, signal.SIGKILL)  # during epoch 3, almost surely mid-way
        err = "".join(seen) + proc.stderr.read()
        proc.wait()
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert f"error: rank 0: rank 1 (pid {pid}" in err and "died; no run was saved" in err, err
    assert "rank 1 (local rank 1" in err and "SIGKILL" in err  # torchrun's report, condensed
    assert "Traceback" not in err
    assert RunStore(home).list().empty
    assert not [p for p in (home / "runs").iterdir()]


def test_hung_rank_ends_the_job_at_the_timeout_naming_it(data, tmp_path):
    home = tmp_path / "home"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
               "2", "-m", "recsys_core.distributed", "train", str(data), "--model", "mf",
               "--epochs", "100000", "--patience", "0", "--batch-size", "8", "--home", str(home),
               "--timeout", "5"]
    proc = subprocess.Popen(command, cwd=ROOT, env=_env(home), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(JOB_TIMEOUT, proc.kill)
    watchdog.start()
    pid = None
    try:
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if pid is None and line.startswith("epoch 2/"):
                pid = _rank_pid(proc.pid, 1)
                assert pid is not None, "".join(seen)
                os.kill(pid, signal.SIGSTOP)  # alive, silent: only the timeout can tell
            if line.startswith("error: rank 0:"):
                os.kill(pid, signal.SIGCONT)  # let torchrun stop it without waiting 30 s
                break
        err = "".join(seen) + proc.stderr.read()
        proc.wait()
    finally:
        watchdog.cancel()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert "error: rank 0: rank 1 stopped responding" in err, err
    assert "no run was saved" in err
    assert RunStore(home).list().empty
