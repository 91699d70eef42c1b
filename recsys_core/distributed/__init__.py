"""Training and scoring across processes and machines with ``torch.distributed``.

Run under torchrun, which starts one process (rank) per slot, on one machine
or many (``--nnodes``, ``--rdzv-endpoint``)::

    torchrun --nproc-per-node 2 -m recsys_core.distributed train FILE --model mf ...
    torchrun --nproc-per-node 2 -m recsys_core.distributed score RUN --out DIR -k 100

``python -m recsys_core train ... --nproc N`` starts the first on one machine.

- :mod:`~recsys_core.distributed.sharding`: each rank's slice of every global
  batch (drop_last, same step count everywhere) and of the users to score.
- :mod:`~recsys_core.distributed.data_parallel`: the strategy that
  :func:`recsys_core.train.parallel` hands every Trainer (DDP gradient
  averaging, per-rank negatives, rank-0 validation broadcast), and the
  dataset fingerprint check.
- :mod:`~recsys_core.distributed.runtime`: the process group, threads per
  rank, heartbeats and the message naming a failed rank.
- :mod:`~recsys_core.distributed.train`, :mod:`~recsys_core.distributed.score`:
  the two commands; :mod:`~recsys_core.distributed.launch` starts torchrun.
"""

from recsys_core.distributed.sharding import rank_seed, shard_batches, user_batches

__all__ = ["rank_seed", "shard_batches", "user_batches"]
