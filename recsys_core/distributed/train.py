"""``train`` on every rank: the same data, data-parallel training, one run saved by rank 0.

Each rank loads and splits the file exactly as ``python -m recsys_core train``
does (same arguments, same seeded split), and the ranks compare dataset
fingerprints before training. The model's own ``fit`` runs unchanged inside
:func:`recsys_core.train.parallel`, so staged models (text_lightgcn) and the
refit on train + validation are data-parallel too. After the last epoch every
rank meets at a barrier; only then does rank 0 evaluate on the test part and
save one ordinary run (:meth:`RunStore.save`, atomic) whose training record
says how many ranks and nodes trained it. A job that fails before that point
saves nothing.
"""

from __future__ import annotations

import argparse
import json
import sys

from recsys_core.data.report import DataError
from recsys_core.distributed.data_parallel import DataParallel, agree_on_dataset
from recsys_core.distributed.runtime import Group
from recsys_core.distributed.sharding import check_global_batch
from recsys_core.jsonutil import json_default

#: Models whose training is data-parallel (BPR trainers over an embedding module).
SUPPORTED = ("mf", "lightgcn", "text_lightgcn")


def check_model(name: str) -> None:
    if name not in SUPPORTED:
        raise DataError(f"model {name!r} does not train across ranks; choose one of: "
                        f"{', '.join(SUPPORTED)}")


def run_train(args: argparse.Namespace, group: Group) -> int:
    from recsys_core import cli, models
    from recsys_core.evaluate import ranking_metrics
    from recsys_core.runs import RunStore
    from recsys_core.train import parallel

    if getattr(args, "nproc", None) is not None:
        raise DataError("--nproc starts torchrun from 'python -m recsys_core train'; under "
                        "torchrun give the number of ranks with --nproc-per-node")
    if getattr(args, "background", False):
        raise DataError("--background queues a single-process job; it does not combine with "
                        "torchrun")
    check_model(args.model)
    cls = models.model_class(args.model)
    params = cli._model_params(args, cls)
    model = models.make(args.model, **params)
    try:
        check_global_batch(model.batch_size, group.world)
    except ValueError as err:
        raise DataError(f"--batch-size: {err}") from None
    if getattr(model, "max_seconds", None) and args.model == "text_lightgcn":
        # Its stages split the budget by each rank's own clock, which could disagree.
        raise DataError("max_seconds is not supported for text_lightgcn across ranks; "
                        "bound training with --epochs")
    ds = cli.load_from_args(args)
    if not ds.is_split:
        ds = ds.split("given" if args.test else args.split, seed=args.seed or 0)
    agree_on_dataset(group, ds)
    strategy = DataParallel(group)
    quiet = args.no_progress or args.json or group.rank != 0

    def progress(event) -> None:
        if not quiet:
            shown = f"  ndcg@20 {event.metrics['ndcg@20']:.4f}" if "ndcg@20" in event.metrics else ""
            print(f"epoch {event.epoch}/{event.epochs}  loss {event.loss:.4f}{shown}  "
                  f"({event.seconds:.1f} s)", file=sys.stderr, flush=True)

    if not quiet:
        print(f"training {args.model} on {group.world} ranks ({group.nodes} node(s), "
              f"{group.backend}, {group.threads} thread(s) per rank, global batch "
              f"{model.batch_size})", file=sys.stderr, flush=True)
    with parallel(strategy):
        model.fit(ds, callbacks=strategy.rank_zero([progress]))
    group.barrier()  # every rank has finished training: the run is complete
    if group.rank != 0:
        return 0
    model.distributed_ = {**group.record(), "global_batch": model.batch_size,
                          "batch_per_rank": model.batch_size // group.world}
    fitted = model.dataset_
    metrics = {}
    if fitted.test is not None and len(fitted.test):
        metrics = ranking_metrics(model, fitted, part="test", ks=(10, 20))
    run_id = RunStore(args.home).save(model, fitted, metrics=metrics, name=args.name)
    summary = {"ok": True, "run_id": run_id, "model": args.model, "params": model.get_params(),
               "dataset": fitted.name, "epochs": getattr(model, "epochs_trained_", None),
               "best_epoch": getattr(model, "best_epoch_", None),
               "stopped_by": getattr(model, "stopped_by_", None),
               "seconds": getattr(model, "train_seconds_", None), "test": metrics,
               "distributed": model.distributed_}
    if args.json:
        print(json.dumps(summary, default=json_default), flush=True)
        return 0
    print(f"run {run_id}: {args.model} on {fitted.name} ({group.world} ranks, "
          f"{group.nodes} node(s))")
    if summary["epochs"] is not None:
        print(f"  trained {summary['epochs']} epochs in {summary['seconds']:.1f} s "
              f"({summary['stopped_by']}; best epoch {summary['best_epoch']})")
    for key, value in metrics.items():
        print(f"  test {key:<14} {value:.4f}")
    sys.stdout.flush()
    return 0
