"""How work is divided between ranks: training batches and scoring users.

Training (data parallelism, as ``torch.utils.data.DistributedSampler`` with
``drop_last=True``, but batch by batch): every rank draws the same seeded
permutation of the training interactions each epoch; the last ``n mod W``
positions of it sit the epoch out, so every rank gets ``n // W`` interactions
and the same number of steps. Global batch ``j`` is
``order[j B : (j + 1) B]`` as in one process, and rank ``r`` trains on the
``r``-th of its ``W`` equal slices (``B / W`` interactions). With gradients
averaged across ranks (each rank's loss is the mean over its slice), a step
of ``W`` ranks sees the same interactions as the single-process step ``j``
and follows the same gradient up to the negatives drawn (each rank draws
its own, from :func:`rank_seed`) and floating-point summation order.

Scoring: users are cut into batches of ``batch_size`` in index order, as one
process would score them, and each rank takes a contiguous run of whole
batches, so every user's list is computed exactly as in one process.
"""

from __future__ import annotations

import numpy as np
from torch import Tensor


def check_global_batch(batch_size: int, world: int) -> None:
    """``batch_size`` is the global batch; ``world`` ranks must split it evenly."""
    if batch_size < world or batch_size % world:
        raise ValueError(f"batch size {batch_size} is the global batch and must be a multiple "
                         f"of the {world} ranks (each trains on batch size / ranks)")


def shard_batches(order: Tensor, batch_size: int, rank: int, world: int) -> list[Tensor]:
    """Rank ``rank``'s slice of every global batch of the epoch's permutation ``order`` [n].

    Returns ``ceil((n - n mod W) / B)`` index tensors, each of ``B / W``
    indices (the last may be shorter, by the same amount on every rank).
    Across ranks the slices are disjoint and cover ``order[: n - n mod W]``.
    """
    check_global_batch(batch_size, world)
    if not 0 <= rank < world:
        raise ValueError(f"rank {rank} is not in 0..{world - 1}")
    used = len(order) - len(order) % world  # drop_last: equal shares, equal step counts
    out = []
    for start in range(0, used, batch_size):
        chunk = order[start:min(start + batch_size, used)]
        share = len(chunk) // world  # len(chunk) is a multiple of world: B and used both are
        out.append(chunk[rank * share:(rank + 1) * share])
    return out


def rank_seed(seed: int, rank: int) -> int:
    """A seed for rank ``rank``'s own random draws (negatives, dropout), distinct per rank."""
    return int(np.random.SeedSequence([seed, rank, 0x6E6567]).generate_state(1, np.uint64)[0]
               % (2 ** 63))


def user_batches(n_users: int, batch_size: int, rank: int, world: int) -> list[np.ndarray]:
    """Rank ``rank``'s contiguous run of the batches ``[0, B), [B, 2B), ...`` of user indices.

    Batch counts per rank differ by at most one; the ranks' batches in rank
    order are exactly one process's batches.
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    starts = np.arange(0, n_users, batch_size)
    mine = np.array_split(starts, world)[rank]
    return [np.arange(s, min(s + batch_size, n_users)) for s in mine]

