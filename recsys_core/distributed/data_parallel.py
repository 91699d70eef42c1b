"""Data-parallel BPR training: the strategy :func:`recsys_core.train.parallel` takes.

Every rank holds a full replica of the model. Per step, rank ``r`` computes
the loss of its slice of the global batch (:func:`~recsys_core.distributed.
sharding.shard_batches`) and ``torch.nn.parallel.DistributedDataParallel``
averages the gradients over ranks during the backward pass (Li et al.,
"PyTorch Distributed: Experiences on Accelerating Data Parallel Training",
VLDB 2020), so every rank applies the same Adam update and the replicas stay
bit-identical. DDP wraps the whole loss (the module and the loss function
together, :class:`LossModule`), so any loss a model defines (the text
models' content towers and alignment terms included) is averaged.

Rank 0 alone evaluates on validation and its metrics and epoch record reach
every rank (``first``), so all ranks take the same early-stopping and
time-limit decisions; a callback's StopTraining on rank 0 is broadcast the
same way (:meth:`DataParallel.rank_zero`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel

from recsys_core.data.report import DataError
from recsys_core.distributed.runtime import Group
from recsys_core.distributed.sharding import rank_seed, shard_batches
from recsys_core.train import StopTraining


class LossModule(torch.nn.Module):
    """``forward(batch) = loss_fn(module, batch)``: the unit DDP wraps and reduces.

    Every trainable parameter joins the loss with weight zero, so each one
    has a gradient every step, as DDP's reducer expects, even those a stage
    leaves out (the text projection before text is added): their gradient is
    0, Adam then leaves them where they are, and DDP needs no graph traversal
    per step to find unused parameters.
    """

    def __init__(self, module: torch.nn.Module, loss_fn: Callable[[torch.nn.Module, Any], Tensor]):
        super().__init__()
        self.module = module
        self.loss_fn = loss_fn
        self.trainable = [p for p in module.parameters() if p.requires_grad]

    def forward(self, batch) -> Tensor:
        loss = self.loss_fn(self.module, batch)
        return loss + sum(p.reshape(-1)[:1].sum() for p in self.trainable) * 0.0


class DataParallel:
    """Trains every :class:`~recsys_core.train.Trainer` built under ``parallel(self)`` across ranks."""

    def __init__(self, group: Group):
        self.group = group
        self.wrappers = 0  # trainers attached (a staged model builds several)

    # ------------------------------------------------------------ Trainer hooks
    def attach(self, trainer) -> None:
        """Own negatives and dropout draws per rank; the loss through DDP."""
        seed = rank_seed(trainer.config.seed + self.wrappers, self.group.rank)
        trainer.negatives = torch.Generator().manual_seed(seed)
        # Dropout and other draws of the loss differ per rank (the initialisation, seeded
        # before this, is the same everywhere, and DDP copies rank 0's anyway).
        torch.manual_seed(seed + 1)
        ddp = DistributedDataParallel(LossModule(trainer.module, trainer.loss_fn),
                                      forward_sync_buffers=False,  # buffers are data, equal everywhere
                                      gradient_as_bucket_view=True)  # no second copy of gradients
        trainer.loss_fn = lambda module, batch: ddp(batch)
        self.wrappers += 1

    def batches(self, order: Tensor, batch_size: int) -> list[Tensor]:
        return shard_batches(order, batch_size, self.group.rank, self.group.world)

    def mean(self, value: float) -> float:
        t = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(t)
        return float(t[0]) / self.group.world

    def first(self, fn: Callable[[], Any]) -> Any:
        box = [fn() if self.group.rank == 0 else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    # ------------------------------------------------------------ callbacks
    def rank_zero(self, callbacks: Sequence[Callable[[Any], Any]]) -> list[Callable[[Any], Any]]:
        """One callback: runs ``callbacks`` on rank 0; a StopTraining there stops every rank."""
        def run(event) -> None:
            stop = False
            if self.group.rank == 0:
                try:
                    for callback in callbacks:
                        callback(event)
                except StopTraining:
                    stop = True
            if self.first(lambda: stop):
                raise StopTraining

        return [run]


def fingerprint(ds) -> dict[str, Any]:
    """What must agree across ranks: content hash, sizes and split sizes."""
    def size(part) -> int:
        return 0 if part is None else int(len(part))

    return {"hash": ds.content_hash(), "users": int(ds.n_users), "items": int(ds.n_items),
            "train": size(ds.train_interactions), "valid": size(ds.valid),
            "test": size(ds.test)}


def check_fingerprints(prints: Sequence[dict[str, Any]]) -> None:
    """Raise a DataError naming every rank whose dataset differs from rank 0's."""
    bad = []
    for rank, fp in enumerate(prints[1:], start=1):
        diff = [f"{k} {prints[0][k]} vs {fp.get(k)}" for k in prints[0] if fp.get(k) != prints[0][k]]
        if diff:
            bad.append(f"rank {rank} ({', '.join(diff)})")
    if bad:
        raise DataError("the ranks loaded different data than rank 0: " + "; ".join(bad)
                        + ". Every rank must read the same files with the same split options")


def agree_on_dataset(group: Group, ds) -> dict[str, Any]:
    """Gather every rank's :func:`fingerprint` and stop the job if any differs."""
    prints: list[Any] = [None] * group.world
    dist.all_gather_object(prints, fingerprint(ds))
    check_fingerprints(prints)
    return prints[0]
