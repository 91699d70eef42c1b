"""One rank of a data-parallel training check, started by torchrun from test_torchrun.py.

Usage: dp_worker.py DATA_CSV OUT_DIR [--mismatch | --text]. Trains mf and lightgcn on
the same seeded split under ``recsys_core.train.parallel`` and writes, per
rank, ``rank-R.pt``: the final parameters, each epoch's interaction indices
this rank trained on, the number of training interactions and the metrics.
``--mismatch`` makes rank 1 drop one interaction (the fingerprint check must stop the job);
``--text`` trains text_lightgcn instead (two stages, the gate and the refit: several trainers).
"""

import os
import sys

import torch

from recsys_core import models
from recsys_core.data import load
from recsys_core.distributed.data_parallel import DataParallel, agree_on_dataset
from recsys_core.distributed.runtime import run_rank
from recsys_core.evaluate import ranking_metrics
from recsys_core.train import Trainer, parallel

PARAMS = {"dim": 16, "epochs": 4, "batch_size": 64, "patience": 0, "refit": False, "seed": 3}


def main(group) -> int:
    data, out = sys.argv[1], sys.argv[2]
    text = "--text" in sys.argv
    items = os.path.join(os.path.dirname(data), "items.csv") if text else None
    ds = load(data, items=items).split("random", seed=0)
    if "--mismatch" in sys.argv and group.rank == 1:
        ds = ds.replace(train=ds.train_interactions.iloc[1:], valid=ds.valid, test=ds.test)
    agree_on_dataset(group, ds)
    record = {}
    for name, params in ([("text_lightgcn", {**PARAMS, "epochs": 2, "refit": True})] if text
                         else [("mf", PARAMS), ("lightgcn", PARAMS)]):
        used: list[torch.Tensor] = []
        original = Trainer.index_batches

        def recording(self, order, used=used, original=original, name=name):
            batches = original(self, order)
            used.append(torch.cat(batches) if batches else order[:0])
            record.setdefault(f"{name}_batch_sizes", []).append([len(b) for b in batches])
            return batches

        Trainer.index_batches = recording
        try:
            model = models.make(name, **params)
            with parallel(DataParallel(group)):
                model.fit(ds)
        finally:
            Trainer.index_batches = original
        record[name] = {
            "state": model.state_tensors(),
            "used": used,
            "n_train": len(model.dataset_.train_interactions),
            "valid": model.best_metrics_,
            "test": ranking_metrics(model, model.dataset_, part="test", ks=(20,)),
        }
    tmp = os.path.join(out, f".rank-{group.rank}.pt.tmp")
    torch.save(record, tmp)
    os.replace(tmp, os.path.join(out, f"rank-{group.rank}.pt"))
    return 0


if __name__ == "__main__":
    sys.exit(run_rank(main, timeout_s=60, what="the check did not finish"))
