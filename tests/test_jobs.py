import threading

import pytest

from recsys_core.jobs import CANCELLED, DONE, FAILED, QUEUED, RUNNING, JobRegistry
from recsys_core.train import StopTraining, TrainEvent


def _event(epoch, epochs=10, loss=1.0, metrics=None):
    return TrainEvent(epoch=epoch, epochs=epochs, loss=loss, metrics=metrics or {},
                      seconds=0.1 * epoch, best_epoch=0, best_metric=0.0, steps=epoch)


def test_job_runs_reports_and_returns():
    registry = JobRegistry()

    def work(ctx):
        ctx.set_stage("counting")
        for i in range(1, 5):
            ctx.count_progress(i, 4)
        return 42

    job_id = registry.submit("count", work, meta={"dataset": "sample"})
    status = registry.wait(job_id, timeout=10)
    assert status.state == DONE and status.result == 42
    assert status.progress == 1.0 and status.stage == "done"
    assert status.finished >= status.started >= status.created
    assert [s.id for s in registry.list({"dataset": "sample"})] == [job_id]
    assert registry.list({"dataset": "other"}) == []


def test_train_callback_records_events_and_cancel_raises_stop_training():
    registry = JobRegistry()
    go_on = threading.Event()
    seen = []

    def work(ctx):
        callback = ctx.train_callback()
        epoch = 0
        try:
            for epoch in range(1, 11):
                callback(_event(epoch, loss=1.0 / epoch, metrics={"ndcg@20": 0.01 * epoch}))
                seen.append(epoch)
                if epoch == 2:
                    go_on.wait(5)
        except StopTraining:
            return {"stopped_at": epoch}
        return {"stopped_at": None}

    job_id = registry.submit("train", work)
    for _ in range(500):
        if len(registry.get(job_id).events) == 2:
            break
        threading.Event().wait(0.01)
    mid = registry.get(job_id)
    assert mid.state == RUNNING
    assert mid.progress == pytest.approx(0.2)
    assert mid.message == "epoch 2/10 · loss 0.5000 · ndcg@20 0.0200"
    registry.cancel(job_id)
    go_on.set()
    status = registry.wait(job_id, timeout=10)
    # The epoch after the cancel request is recorded, then training stops.
    assert status.state == CANCELLED
    assert status.result == {"stopped_at": 3}
    assert seen == [1, 2]
    history = status.history()
    assert history["epoch"].tolist() == [1, 2, 3]
    assert history["ndcg@20"].tolist() == pytest.approx([0.01, 0.02, 0.03])


def test_failure_is_recorded_not_raised():
    registry = JobRegistry()

    def work(ctx):
        raise ValueError("column 'rating' has text in row 3")

    status = registry.wait(registry.submit("bad", work), timeout=10)
    assert status.state == FAILED
    assert status.error == "ValueError: column 'rating' has text in row 3"


def test_jobs_queue_one_at_a_time_and_queued_cancel_never_starts():
    registry = JobRegistry(max_running=1)
    release = threading.Event()
    started = []

    def slow(ctx):
        started.append("slow")
        release.wait(10)
        return "slow"

    def quick(ctx):
        started.append("quick")
        return "quick"

    first = registry.submit("slow", slow)
    second = registry.submit("quick", quick)
    third = registry.submit("never", quick)
    for _ in range(500):
        if registry.get(first).state == RUNNING:
            break
        threading.Event().wait(0.01)
    assert registry.get(second).state == QUEUED
    assert [s.id for s in registry.active()] == [first, second, third]
    registry.cancel(third)
    release.set()
    assert registry.wait(first, 10).state == DONE
    assert registry.wait(second, 10).state == DONE
    cancelled = registry.wait(third, 10)
    assert cancelled.state == CANCELLED and cancelled.started is None
    assert started == ["slow", "quick"]
    assert registry.forget_finished() == 3 and registry.list() == []


def test_stage_change_after_cancel_stops_work():
    registry = JobRegistry()
    reached = []
    gate = threading.Event()

    def work(ctx):
        ctx.set_stage("encoding")
        gate.wait(5)
        ctx.set_stage("training")  # raises: cancel was requested meanwhile
        reached.append("training")

    job_id = registry.submit("staged", work)
    for _ in range(500):
        if registry.get(job_id).stage == "encoding":
            break
        threading.Event().wait(0.01)
    registry.cancel(job_id)
    gate.set()
    assert registry.wait(job_id, 10).state == CANCELLED
    assert reached == []


def test_unknown_job_and_bad_registry():
    registry = JobRegistry()
    with pytest.raises(KeyError, match="no job 'job-9'"):
        registry.get("job-9")
    with pytest.raises(KeyError, match="no job 'job-9'"):
        registry.cancel("job-9")
    with pytest.raises(ValueError, match="max_running must be at least 1, got 0"):
        JobRegistry(max_running=0)


@pytest.mark.slow
def test_text_encoding_reports_progress_then_reads_the_cache(monkeypatch, tmp_path):
    import numpy as np
    import pandas as pd

    from recsys_core import models
    from recsys_core.data.dataset import Dataset
    from recsys_core.jobs import encode_texts

    monkeypatch.setenv("GRAPHREC_HOME", str(tmp_path))
    texts = [f"A film about {w} and {v}" for w in ("dragons", "ghosts", "heists")
             for v in ("trains", "islands", "robots", "kings")]
    inter = pd.DataFrame({"user": np.zeros(12, np.int64), "item": np.arange(12, dtype=np.int64),
                          "rating": np.ones(12, np.float32), "timestamp": np.full(12, np.nan)})
    ds = Dataset(inter, np.array(["u"], dtype=object), np.arange(12), item_texts=texts,
                 user_texts=["I like dragons"])
    registry = JobRegistry()
    seen = []

    def work(ctx):
        original = ctx.count_progress

        def spy(done, total):
            seen.append((ctx.stage, done, total))
            original(done, total)

        ctx.count_progress = spy
        return encode_texts(ctx, models.make("text_lightgcn"), ds)

    job_id = registry.submit("encode", work)
    first = registry.wait(job_id, 300)
    assert first.state == DONE, first.error
    assert first.result == "0 of 13 distinct texts from cache"
    items = [(d, t) for stage, d, t in seen if stage == "encoding item texts"]
    assert items[0] == (0, 12) and items[-1] == (12, 12) and len(items) >= 2
    assert [(d, t) for stage, d, t in seen if stage == "encoding user profiles"][-1] == (1, 1)
    seen.clear()
    job_id = registry.submit("encode again", work)
    assert registry.wait(job_id, 300).result == "13 of 13 distinct texts from cache"
    assert seen == [("encoding item texts", 12, 12), ("encoding user profiles", 1, 1)]
