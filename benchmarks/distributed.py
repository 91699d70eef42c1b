"""Data-parallel training and sharded scoring on Gowalla: 1 process vs torchrun ranks.

Prints JSON lines:

- ``phase="train"``: for mf and lightgcn at one global batch (default 2048, the
  paper's), seconds per epoch and training pairs (BPR triples) per second,
  for one process with every core and for ``--ranks`` ranks under torchrun
  with the cores divided between them (threads balanced: ranks x threads =
  cores), and for one process on one thread (the per-core reference). Epochs are capped at ``--max-batches`` global batches (stated in
  each line as ``batches_per_epoch``) so a run takes minutes; no validation,
  no refit: the timing is of training steps alone. Epoch 1 and 2 are
  reported; ``epoch_s`` is the last.
- ``phase="score"``: users per second of the sharded top-k job
  (``recsys_core.distributed score``, k = 100, training items masked) for the
  same shapes, from the slowest rank's scoring time (loading the run
  excluded) and the job's wall time.

    python benchmarks/distributed.py                     # mf + lightgcn, 1 vs 2 ranks
    python benchmarks/distributed.py --models mf --max-batches 50

Data: ../shared/bench/gowalla (the LightGCN paper's split; 810,128 training
interactions, 29,858 users, 40,981 items).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_DATA = ROOT.parent / "shared" / "bench" / "gowalla"


def emit(**record) -> None:
    print(json.dumps(record), flush=True)


def load_gowalla(data: Path):
    from recsys_core.data import load

    return load(str(data / "train.txt"), test=str(data / "test.txt"), name="gowalla")


# ---------------------------------------------------------------- one training job (a rank)
def train_job(args) -> int:
    """Runs in each rank (or alone, without torchrun): time capped epochs, print from rank 0."""
    import torch

    from recsys_core import models
    from recsys_core.train import Trainer

    params = {"dim": 64, "batch_size": args.batch_size, "epochs": args.epochs, "patience": 0,
              "valid_fraction": 0.0, "refit": False, "seed": 0}
    if args.model == "lightgcn":
        params["layers"] = 3
    original = Trainer.index_batches

    def capped(self, order):  # the first --max-batches global batches of each epoch
        return original(self, order)[: args.max_batches]

    Trainer.index_batches = capped
    ds = load_gowalla(Path(args.data))
    model = models.make(args.model, **params)
    epochs: list[float] = []

    def timing(event) -> None:
        epochs.append(event.seconds)

    def fit(group=None) -> int:
        steps = min(args.max_batches, -(-len(ds.train_interactions) // args.batch_size))
        if group is None:
            model.fit(ds, callbacks=[timing])
            ranks, threads = 1, torch.get_num_threads()
        else:
            from recsys_core.distributed.data_parallel import DataParallel
            from recsys_core.train import parallel

            strategy = DataParallel(group)
            with parallel(strategy):
                model.fit(ds, callbacks=strategy.rank_zero([timing]))
            ranks, threads = group.world, group.threads
            if group.rank != 0:
                return 0
        per_epoch = [b - a for a, b in zip([0.0, *epochs], epochs)]
        emit(phase="train", model=args.model, ranks=ranks, threads_per_rank=threads,
             load_avg=round(os.getloadavg()[0], 2),
             global_batch=args.batch_size, batches_per_epoch=steps,
             pairs_per_epoch=steps * args.batch_size,
             epoch_seconds=[round(s, 3) for s in per_epoch], epoch_s=round(per_epoch[-1], 3),
             pairs_per_s=round(steps * args.batch_size / per_epoch[-1], 1))
        return 0

    if "WORLD_SIZE" not in os.environ:
        return fit()
    from recsys_core.distributed.runtime import run_rank

    return run_rank(fit, timeout_s=600, what="no timing")


# ---------------------------------------------------------------- the driver
def _cores() -> int:
    from recsys_core.distributed.runtime import cores

    return cores()


def _torchrun(ranks: int, argv: list[str]) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            "--nproc-per-node", str(ranks), *argv]


def _run(command: list[str], env: dict, timeout: float) -> str:
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-2000:]}")
    return done.stdout


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--models", nargs="+", default=["mf", "lightgcn"])
    parser.add_argument("--ranks", type=int, default=2, help="ranks to compare with 1 process")
    parser.add_argument("--batch-size", type=int, default=2048, help="global batch")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-batches", type=int, default=60, help="global batches per epoch")
    parser.add_argument("--no-score", action="store_true", help="skip the scoring comparison")
    parser.add_argument("--train-job", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.train_job:
        return train_job(args)

    cores = _cores()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("GRAPHREC_THREADS", None)  # each job sets its own: all cores, or cores / ranks
    emit(phase="setup", cores=cores, ranks=args.ranks, load_avg=round(os.getloadavg()[0], 2),
         data=str(args.data))
    job = [str(Path(__file__).resolve()), "--train-job", "--data", args.data,
           "--batch-size", str(args.batch_size), "--epochs", str(args.epochs),
           "--max-batches", str(args.max_batches)]
    # (ranks, threads per rank): threads balanced (ranks x threads = cores), plus one
    # process on one thread, the per-core reference.
    shapes = [(1, cores), (args.ranks, max(1, cores // args.ranks))]
    if cores > 1:
        shapes.insert(1, (1, 1))
    for model in args.models:
        for ranks, threads in shapes:
            one = [sys.executable, *job, "--model", model]
            command = one if ranks == 1 else _torchrun(ranks, [*job, "--model", model])
            sys.stdout.write(_run(command, {**env, "GRAPHREC_THREADS": str(threads),
                                            "OMP_NUM_THREADS": str(threads)}, 900))
            sys.stdout.flush()
    if not args.no_score:
        score(args, env, cores)
    return 0


def score(args, env: dict, cores: int) -> None:
    """Save an untrained mf run (scoring cost does not depend on the weights), score it."""
    from recsys_core import models
    from recsys_core.runs import RunStore

    with tempfile.TemporaryDirectory() as home:
        ds = load_gowalla(Path(args.data))
        model = models.make("mf", dim=64, epochs=0, valid_fraction=0.0, refit=False).fit(ds)
        run_id = RunStore(home).save(model, ds)
        shapes = [(1, cores), (args.ranks, max(1, cores // args.ranks))]
        if cores > 1:
            shapes.insert(1, (1, 1))
        for ranks, threads in shapes:
            out = Path(home) / f"scores-{ranks}-{threads}"
            started = time.perf_counter()
            _run(_torchrun(ranks, ["-m", "recsys_core.distributed", "score", run_id, "--out",
                                   str(out), "-k", "100", "--home", home,
                                   "--threads", str(threads)]),
                 {**env, "OMP_NUM_THREADS": str(threads)}, 900)
            wall = time.perf_counter() - started
            manifest = json.loads((out / "manifest.json").read_text())
            emit(phase="score", model="mf", ranks=ranks, threads_per_rank=manifest[
                "threads_per_rank"], users=manifest["users"], k=manifest["k"],
                 rows=manifest["rows"], score_s=round(manifest["score_seconds"], 2),
                 users_per_s=round(manifest["users_per_second"], 1),
                 job_wall_s=round(wall, 2), load_avg=round(os.getloadavg()[0], 2))


if __name__ == "__main__":
    sys.exit(main())
