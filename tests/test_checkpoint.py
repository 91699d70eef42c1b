"""Per-epoch checkpoints: a fit stopped after any epoch and run again gives the same model."""

from __future__ import annotations

import pytest
import torch

from recsys_core.checkpoint import KEEP, CheckpointDir
from recsys_core.data.synthetic import generate
from recsys_core.models import make
from recsys_core.train import checkpointing

# Early stopping after 3 flat checks, then a refit on train + validation: two training loops.
PARAMS = {"epochs": 8, "dim": 16, "patience": 3}


class Crash(Exception):
    """Stands in for the process dying between two epochs."""


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Bit-for-bit comparisons need the same torch thread count in every fit."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRAPHREC_THREADS", "1")
        yield


@pytest.fixture(scope="module")
def ds():
    syn = generate(seed=1, n_users=120, n_items=80, n_interactions=2000)
    return syn.to_dataset("small").split("random", test=0.2, valid=0.1, seed=0)


@pytest.fixture(scope="module")
def reference(ds):
    return make("lightgcn", **PARAMS).fit(ds)


def _crash_at(epoch):
    def callback(event):
        if event.epoch == epoch:
            raise Crash

    return callback


def _same_model(a, b):
    assert [h["loss"] for h in a.history_] == [h["loss"] for h in b.history_]
    assert a.best_epoch_ == b.best_epoch_ and a.refit_epochs_ == b.refit_epochs_
    for (name, x), y in zip(a.state_tensors().items(), b.state_tensors().values()):
        assert torch.equal(x, y), name


@pytest.mark.parametrize("crash_epoch", [3, 11])  # in the selection loop / in the refit
def test_resumed_fit_equals_uninterrupted(ds, reference, tmp_path, crash_epoch):
    with pytest.raises(Crash), checkpointing(CheckpointDir(tmp_path)):
        make("lightgcn", **PARAMS).fit(ds, callbacks=[_crash_at(crash_epoch)])
    checkpoints = CheckpointDir(tmp_path)
    seen = []
    with checkpointing(checkpoints):
        resumed = make("lightgcn", **PARAMS).fit(ds, callbacks=[lambda e: seen.append(e.epoch)])
    # The crash hit the callback of `crash_epoch`: the epoch before it was the last saved.
    assert seen[0] == crash_epoch
    if crash_epoch == 3:
        assert checkpoints.resumed_from == {"stage": 0, "stage_epoch": 2}
    else:  # the selection loop had ended (8 epochs); the refit loop had done 2 of its own
        assert reference.epochs_trained_ == 8
        assert checkpoints.resumed_from == {"stage": 1, "stage_epoch": 2}
    _same_model(resumed, reference)


def test_truncated_checkpoint_is_detected_and_the_previous_one_used(ds, reference, tmp_path):
    with pytest.raises(Crash), checkpointing(CheckpointDir(tmp_path)):
        make("lightgcn", **PARAMS).fit(ds, callbacks=[_crash_at(6)])
    names = sorted(p.name for p in tmp_path.glob("*.pt"))
    assert names == ["s00-e00004.pt", "s00-e00005.pt"]  # two kept per loop
    newest = tmp_path / "s00-e00005.pt"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # cut off halfway
    checkpoints = CheckpointDir(tmp_path)
    seen = []
    with checkpointing(checkpoints):
        resumed = make("lightgcn", **PARAMS).fit(ds, callbacks=[lambda e: seen.append(e.epoch)])
    assert checkpoints.skipped == ["s00-e00005.pt"]
    assert checkpoints.resumed_from == {"stage": 0, "stage_epoch": 4}
    assert seen[0] == 5
    _same_model(resumed, reference)


def test_checkpoint_files_round_trip_prune_and_reject_changed_bytes(tmp_path):
    box = CheckpointDir(tmp_path)
    box.meta["epoch"] = 7
    stage = box.begin()
    for epoch in range(1, 5):
        box.save(stage, epoch, {"w": torch.full((3,), float(epoch)), "finished": False})
    assert len(list(tmp_path.glob("*.pt"))) == KEEP == 2
    assert torch.equal(CheckpointDir(tmp_path).load(0)["w"], torch.full((3,), 4.0))
    assert box.latest() == {"epoch": 7, "stage": 0, "stage_epoch": 4}
    newest = tmp_path / "s00-e00004.pt"
    data = bytearray(newest.read_bytes())
    data[-10] ^= 0xFF  # same size, one byte changed: only the digest notices
    newest.write_bytes(bytes(data))
    again = CheckpointDir(tmp_path)
    assert torch.equal(again.load(0)["w"], torch.full((3,), 3.0))
    assert again.skipped == ["s00-e00004.pt"]
    assert again.load(1) is None  # a loop with no checkpoint starts afresh
    box.clear()
    assert list(tmp_path.iterdir()) == []
