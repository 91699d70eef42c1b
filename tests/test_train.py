"""The BPR training loop: loss, sampling, carved validation, determinism, early stopping, cancel."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch

# The model tests' dataset, loaded by path: a plain "from conftest import" picks up whichever
# conftest module another test folder registered first when several folders run together.
_spec = importlib.util.spec_from_file_location("models_conftest",
                                               Path(__file__).parent / "models" / "conftest.py")
_models_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_models_conftest)
small_dataset = _models_conftest.small_dataset

from recsys_core.models import make  # noqa: E402
from recsys_core.train import (  # noqa: E402
    NegativeSampler,
    StopTraining,
    TrainConfig,
    Trainer,
    TrainEvent,
    bpr_loss,
    carve_validation,
    default_threads,
    history_frame,
)


@pytest.fixture(scope="module")
def ds():
    return small_dataset()


def test_bpr_loss_by_hand():
    pos = torch.tensor([2.0, 0.0])
    neg = torch.tensor([1.0, 1.0])
    ego = (torch.tensor([[1.0, 2.0], [0.0, 1.0]]), torch.tensor([[3.0, 0.0], [0.0, 0.0]]))
    # -mean(log sigmoid(1), log sigmoid(-1)) + 0.1 * (1 + 4 + 1 + 9) / (2 * 2)
    expected = -(math.log(1 / (1 + math.exp(-1))) + math.log(1 / (1 + math.exp(1)))) / 2
    expected += 0.1 * 15 / 4
    assert bpr_loss(pos, neg, ego, reg=0.1).item() == pytest.approx(expected, rel=1e-6)


def test_negative_sampler_never_returns_positives_and_is_uniform():
    users = np.array([0, 0, 0, 1])
    items = np.array([0, 1, 2, 5])
    sampler = NegativeSampler(users, items, n_items=10)
    g = torch.Generator().manual_seed(0)
    batch_users = torch.zeros(20000, dtype=torch.long)
    neg = sampler.sample(batch_users, g)
    assert not sampler.is_positive(batch_users, neg).any()
    counts = np.bincount(neg.numpy(), minlength=10)
    assert counts[:3].sum() == 0
    # 7 allowed items, 20000 draws: each near 2857
    assert np.all(np.abs(counts[3:] - 20000 / 7) < 200), counts
    assert sampler.is_positive(torch.tensor([1, 1]), torch.tensor([5, 0])).tolist() == [True, False]


def test_negative_sampler_copes_with_a_user_who_saw_every_item():
    users = np.array([0, 0, 1])
    items = np.array([0, 1, 0])
    sampler = NegativeSampler(users, items, n_items=2)
    neg = sampler.sample(torch.tensor([0, 1, 1, 1]), torch.Generator().manual_seed(0))
    assert neg[1:].tolist() == [1, 1, 1]  # user 1's only negative
    assert 0 <= int(neg[0]) < 2  # user 0 has none: any item, without endless redraws


def test_carved_validation_comes_from_train_only(ds):
    no_valid = ds.replace(valid=ds.valid.iloc[:0])
    carved = carve_validation(no_valid, 0.2, seed=0)
    assert carved.test is ds.test
    key = lambda f: set(zip(f["user"], f["item"]))  # noqa: E731
    assert key(carved.train) | key(carved.valid) == key(ds.train)
    assert not key(carved.train) & key(carved.valid)
    assert len(carved.valid) == pytest.approx(0.2 * len(ds.train), rel=0.15)
    # every user keeps a training item
    assert set(carved.train["user"]) == set(ds.train["user"])
    assert carve_validation(ds, 0.2) is ds  # an existing validation part is kept


def test_same_seed_same_model_different_seed_different(ds):
    params = dict(dim=8, layers=2, lr=0.05, batch_size=512, epochs=2, patience=0)
    a = make("lightgcn", seed=7, **params).fit(ds)
    b = make("lightgcn", seed=7, **params).fit(ds)
    c = make("lightgcn", seed=8, **params).fit(ds)
    assert np.array_equal(a.user_embeddings(), b.user_embeddings())
    assert np.array_equal(a.item_embeddings(), b.item_embeddings())
    assert [h["loss"] for h in a.history_] == [h["loss"] for h in b.history_]
    assert not np.array_equal(a.user_embeddings(), c.user_embeddings())


def test_early_stopping_restores_the_best_epoch(ds):
    # a high learning rate overfits quickly: validation NDCG peaks, then falls
    # (refit off: the early-stopped model itself, not one retrained on train + validation)
    model = make("mf", dim=32, lr=0.2, batch_size=256, epochs=40, patience=2, reg=0.0,
                 refit=False)
    model.fit(ds)
    history = history_frame(model)
    assert model.stopped_by_ == "early stopping"
    assert model.best_epoch_ < model.epochs_trained_ <= 40
    assert model.epochs_trained_ - model.best_epoch_ == 2
    best = history["ndcg@20"].max()
    assert history.loc[model.best_epoch_ - 1, "ndcg@20"] == best
    from recsys_core.evaluate import ranking_metrics

    again = ranking_metrics(model, model.dataset_, part="valid")["ndcg@20"]
    assert again == pytest.approx(best, abs=1e-9)


def test_callbacks_see_events_and_can_cancel(ds):
    events: list[TrainEvent] = []

    def cancel_after_two(event: TrainEvent) -> None:
        events.append(event)
        if event.epoch == 2:
            raise StopTraining

    model = make("mf", dim=8, lr=0.05, batch_size=512, epochs=30).fit(ds, [cancel_after_two])
    assert model.stopped_by_ == "cancelled"
    assert [e.epoch for e in events] == [1, 2] and model.epochs_trained_ == 2
    assert events[0].epochs == 30 and events[0].seconds > 0 and math.isfinite(events[0].loss)
    assert "ndcg@20" in events[0].metrics and "recall@20" in events[0].metrics
    assert events[1].steps == 2 * events[0].steps
    assert model.best_epoch_ in (1, 2)


def test_trainer_steps_api(ds):
    model = make("lightgcn", dim=8, layers=1, batch_size=300)
    trainer = Trainer(model, ds, TrainConfig(dim=8, layers=1, batch_size=300, lr=0.05))
    assert trainer.steps_per_epoch == math.ceil(len(ds.train) / 300)
    before = model.score([0]).clone()
    losses = trainer.train_steps(trainer.steps_per_epoch + 2)  # crosses an epoch boundary
    assert len(losses) == trainer.steps_per_epoch + 2 and trainer.steps == len(losses)
    assert not torch.equal(model.score([0]), before)  # the cache follows the parameters


def test_default_threads_is_sane():
    assert 1 <= default_threads() <= 4


def test_bad_settings_are_refused_by_name(ds):
    with pytest.raises(ValueError, match=r"batch_size must be at least 1, got 0"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match=r"eval_every must be at least 1, got 0; "
                                         r"valid_fraction must be in \[0, 1\), got 1.0"):
        TrainConfig(eval_every=0, valid_fraction=1.0)
    assert TrainConfig(epochs=0).epochs == 0  # the initial weights, as the teaching view shows
    with pytest.raises(ValueError, match="invalid training settings: lr must be positive"):
        make("mf", lr=0.0).fit(ds)


def test_thread_count_can_be_pinned_from_the_environment(monkeypatch):
    monkeypatch.setenv("GRAPHREC_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.setenv("GRAPHREC_THREADS", "not a number")
    assert 1 <= default_threads() <= 4
