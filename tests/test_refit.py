"""Refit after early stopping: the chosen epoch count, retrained on train + validation."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
import torch

from recsys_core.data.synthetic import generate
from recsys_core.models import make
from recsys_core.train import StopTraining, TrainConfig, bpr_loss, merge_validation, train_bpr

SETTINGS = dict(dim=16, lr=0.05, batch_size=256, epochs=30, patience=2)


@pytest.fixture(scope="module")
def ds():
    data = generate(seed=2, n_users=150, n_items=90, n_interactions=3000).to_dataset("refit")
    return data.split("random", test=0.2, valid=0.1, seed=0)


def _pairs(frame) -> set[tuple[int, int]]:
    return set(zip(frame["user"].tolist(), frame["item"].tolist()))


def test_refit_trains_a_new_model_on_train_and_validation_for_the_best_epoch(ds):
    seen: dict[int, set] = defaultdict(set)  # module id -> (user, item) pairs it trained on
    epochs: dict[int, int] = defaultdict(int)

    def counting_bpr(module, batch):
        seen[id(module)].update(zip(batch.users.tolist(), batch.pos.tolist()))
        items = torch.cat([batch.pos, batch.neg])
        users, item_emb = module(batch.users, items)
        b = len(batch.pos)
        return bpr_loss((users * item_emb[:b]).sum(1), (users * item_emb[b:]).sum(1),
                        module.ego(batch.users, items), 1e-4)

    events = []
    model = make("mf", **SETTINGS)
    train_bpr(model, ds, TrainConfig(**SETTINGS), callbacks=[events.append],
              loss_fn=counting_bpr)
    for event in events:
        epochs[event.epoch] += 1
    assert model.stopped_by_ == "early stopping"
    assert len(seen) == 2  # the early-stopped module, then a fresh one
    selection, refit = seen.values()
    assert selection == _pairs(ds.train)  # validation never trained on while selecting
    assert refit == _pairs(ds.train) | _pairs(ds.valid)  # every training-part pair, once more
    assert id(model.module_) == list(seen)[1]
    assert model.refit_epochs_ == model.best_epoch_
    assert model.refit_interactions_ == len(ds.train) + len(ds.valid)
    # Events: the selection epochs, then the refit's, numbered on; no validation in the refit.
    n = model.epochs_trained_
    assert [e.epoch for e in events] == list(range(1, n + model.best_epoch_ + 1))
    assert all(e.metrics for e in events[:n]) and not any(e.metrics for e in events[n:])
    assert all(e.best_epoch == model.best_epoch_ for e in events[n:])
    # The model ranks with the refit data: validation items are now masked as training items.
    assert len(model.dataset_.valid) == 0 and len(model.dataset_.train) == len(refit)
    assert model.dataset_.test.equals(ds.test)


def test_refit_off_keeps_the_early_stopped_model(ds):
    model = make("mf", **SETTINGS, refit=False).fit(ds)
    assert not hasattr(model, "refit_epochs_")
    assert len(model.dataset_.valid) == len(ds.valid)


def test_refit_and_selection_differ_only_by_the_validation_data(ds):
    refit = make("lightgcn", **SETTINGS).fit(ds)
    selected = make("lightgcn", **SETTINGS, refit=False).fit(ds)
    assert refit.best_epoch_ == selected.best_epoch_  # same seeded selection run
    assert [(h["loss"], h["metrics"]) for h in refit.history_] == \
        [(h["loss"], h["metrics"]) for h in selected.history_]
    assert not np.allclose(refit.item_embeddings(), selected.item_embeddings())


def test_a_cancelled_refit_restores_the_early_stopped_model(ds):
    selected = make("mf", **SETTINGS, refit=False).fit(ds)

    def cancel_in_refit(event):
        if not event.metrics:  # refit epochs carry no validation metrics
            raise StopTraining

    model = make("mf", **SETTINGS).fit(ds, callbacks=[cancel_in_refit])
    assert model.stopped_by_ == "cancelled"
    assert len(model.dataset_.valid) == len(ds.valid)
    np.testing.assert_array_equal(model.item_embeddings(), selected.item_embeddings())


def test_merge_validation_moves_validation_into_train(ds):
    merged = merge_validation(ds)
    assert _pairs(merged.train) == _pairs(ds.train) | _pairs(ds.valid)
    assert len(merged.valid) == 0 and merged.test.equals(ds.test)
    assert merged.split_info["refit_on_validation"] == len(ds.valid)
