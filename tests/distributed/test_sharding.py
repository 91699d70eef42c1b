"""How ranks divide the work: training batches, scoring users, per-rank seeds, fingerprints."""

import pytest
import torch

from recsys_core.data.report import DataError
from recsys_core.distributed.data_parallel import check_fingerprints
from recsys_core.distributed.sharding import (
    check_global_batch,
    rank_seed,
    shard_batches,
    user_batches,
)


def test_hand_worked_two_ranks():
    order = torch.tensor([7, 3, 9, 0, 5, 1, 8, 2, 6, 4, 10])  # n = 11, B = 4, W = 2
    # drop_last: position 10 (item 10) sits out; global batches [7 3 9 0] [5 1 8 2] [6 4]
    assert [b.tolist() for b in shard_batches(order, 4, 0, 2)] == [[7, 3], [5, 1], [6]]
    assert [b.tolist() for b in shard_batches(order, 4, 1, 2)] == [[9, 0], [8, 2], [4]]


@pytest.mark.parametrize("n,batch,world", [(100, 8, 2), (101, 8, 2), (103, 12, 3), (5, 4, 4),
                                           (64, 64, 2), (3, 2, 2)])
def test_shards_are_disjoint_equal_and_match_single_process_batches(n, batch, world):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(n))
    shards = [shard_batches(order, batch, r, world) for r in range(world)]
    used = torch.cat([torch.cat(s) for s in shards if s]) if any(shards) else order[:0]
    assert len(set(used.tolist())) == len(used) == n - n % world  # each used once, < W dropped
    assert set(order[n - n % world:].tolist()).isdisjoint(used.tolist())
    assert len({len(s) for s in shards}) == 1  # the same number of steps on every rank
    for step in range(len(shards[0])):
        sizes = {len(s[step]) for s in shards}
        assert len(sizes) == 1  # equal slices: the mean of the ranks' means is the global mean
        # the union of a step's slices is the single-process batch of that step
        union = torch.cat([s[step] for s in shards])
        single = list(order[: n - n % world].split(batch))[step]
        assert union.tolist() == single.tolist()


def test_one_rank_is_the_single_process_split():
    order = torch.randperm(50)
    assert [b.tolist() for b in shard_batches(order, 16, 0, 1)] == \
        [b.tolist() for b in order.split(16)]


def test_global_batch_must_split_evenly():
    check_global_batch(2048, 4)
    with pytest.raises(ValueError, match="multiple of the 3 ranks"):
        check_global_batch(2048, 3)
    with pytest.raises(ValueError, match="global batch"):
        shard_batches(torch.arange(10), 1, 0, 2)
    with pytest.raises(ValueError, match="rank 2 is not in 0..1"):
        shard_batches(torch.arange(10), 4, 2, 2)


def test_user_batches_are_one_process_batches_in_rank_order():
    per_rank = [user_batches(23, 5, r, 2) for r in range(2)]
    flat = [b.tolist() for rank in per_rank for b in rank]
    assert flat == [list(range(s, min(s + 5, 23))) for s in range(0, 23, 5)]
    assert [len(r) for r in per_rank] == [3, 2]
    assert user_batches(3, 10, 1, 2) == []  # more ranks than batches: nothing to do
    with pytest.raises(ValueError, match="at least 1"):
        user_batches(3, 0, 0, 1)


def test_rank_seeds_differ_and_repeat():
    seeds = {rank_seed(0, r) for r in range(8)} | {rank_seed(1, r) for r in range(8)}
    assert len(seeds) == 16
    assert rank_seed(5, 1) == rank_seed(5, 1)


def test_fingerprint_mismatch_names_the_rank_and_the_difference():
    same = {"hash": "abc", "users": 3, "items": 4, "train": 10, "valid": 2, "test": 3}
    check_fingerprints([same, dict(same)])
    with pytest.raises(DataError) as err:
        check_fingerprints([same, dict(same), {**same, "train": 9, "hash": "abd"}])
    message = str(err.value)
    assert "rank 2" in message and "rank 1" not in message
    assert "train 10 vs 9" in message and "hash abc vs abd" in message
