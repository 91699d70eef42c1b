"""Run store round trips, crash safety (a save killed halfway), and the train/evaluate/recommend CLI."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

# The model tests' dataset, loaded by path: a plain "from conftest import" picks up whichever
# conftest module another test folder registered first when several folders run together.
_spec = importlib.util.spec_from_file_location("models_conftest",
                                               Path(__file__).parent / "models" / "conftest.py")
_models_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_models_conftest)
small_dataset = _models_conftest.small_dataset

import recsys_core.runs as runs_module  # noqa: E402
from recsys_core.cli import main  # noqa: E402
from recsys_core.models import make  # noqa: E402
from recsys_core.runs import RunStore  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fitted():
    ds = small_dataset()
    return make("mf", dim=8, lr=0.05, batch_size=512, epochs=3).fit(ds)


def test_save_load_round_trip(tmp_path, fitted):
    store = RunStore(tmp_path)
    run_id = store.save(fitted, metrics={"ndcg@20": np.float32(0.25)}, name="first")
    model, ds = store.load(run_id)
    original = fitted.dataset_
    assert torch.allclose(model.score([0, 5]), fitted.score([0, 5]))
    assert list(ds.user_ids) == list(original.user_ids) and ds.user_ids.dtype == object
    assert list(ds.item_ids) == list(original.item_ids)
    pd.testing.assert_frame_equal(ds.train, original.train.reset_index(drop=True))
    pd.testing.assert_frame_equal(ds.test, original.test.reset_index(drop=True))
    assert ds.item_texts == original.item_texts and ds.content_hash() == original.content_hash()
    assert ds.split_info == json.loads(json.dumps(original.split_info))
    items, _ = model.recommend([original.user_ids[3]], k=5)
    assert np.array_equal(items, fitted.recommend([original.user_ids[3]], k=5)[0])
    assert model.best_epoch_ == fitted.best_epoch_ and len(model.history_) == 3

    listing = store.list()
    assert listing["run_id"].tolist() == [run_id]
    row = store.get(run_id)
    assert row["name"] == "first" and row["model"] == "mf" and row["status"] == "finished"
    assert row["dataset_name"] == "small" and row["dataset_hash"] == original.content_hash()
    assert row["metrics"] == {"ndcg@20": pytest.approx(0.25)}
    assert row["config"]["params"]["dim"] == 8
    assert row["finished"] >= row["created"] and row["duration"] > 0
    assert (tmp_path / "runs" / run_id / "weights.safetensors").exists()


def test_delete_and_unknown_run(tmp_path, fitted):
    store = RunStore(tmp_path)
    run_id = store.save(fitted)
    store.delete(run_id)
    assert store.list().empty and not (tmp_path / "runs" / run_id).exists()
    with pytest.raises(KeyError, match="unknown run"):
        store.load(run_id)


def test_failed_save_leaves_previous_state(tmp_path, fitted, monkeypatch):
    store = RunStore(tmp_path)
    first = store.save(fitted, name="kept")

    def broken(ds, folder):
        folder.mkdir()
        (folder / "half.parquet").write_bytes(b"PAR1")
        raise OSError("disk full")

    monkeypatch.setattr(runs_module, "write_dataset", broken)
    with pytest.raises(OSError, match="disk full"):
        store.save(fitted, name="lost")
    assert store.list()["run_id"].tolist() == [first]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [first]


def test_save_killed_halfway_leaves_previous_state_readable(tmp_path):
    # A child process saves one run, then is SIGKILLed in the middle of a second save
    # (after the weights are written, while the dataset is being written).
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(REPO / "tests" / "models")!r})
        from conftest import small_dataset
        import recsys_core.runs as runs
        from recsys_core.models import make
        store = runs.RunStore({str(tmp_path)!r})
        model = make("popularity").fit(small_dataset())
        print(store.save(model, name="first"), flush=True)
        real = runs.write_dataset
        def dying(ds, folder):
            real(ds, folder)
            os.kill(os.getpid(), signal.SIGKILL)
        runs.write_dataset = dying
        store.save(model, name="second")
        print("not reached", flush=True)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=REPO, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == -9, proc.stderr
    first = proc.stdout.split()[0]
    assert "not reached" not in proc.stdout
    leftovers = [p.name for p in (tmp_path / "runs").iterdir() if p.name.startswith(".tmp-")]
    assert len(leftovers) == 1  # the killed save's temporary folder, never a run folder

    store = RunStore(tmp_path)  # opening the store cleans up after the dead process
    assert store.list()["run_id"].tolist() == [first]
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [first]
    model, ds = store.load(first)
    assert model.score([0]).shape == (1, ds.n_items)


def test_orphan_run_folder_is_reindexed(tmp_path, fitted):
    store = RunStore(tmp_path)
    run_id = store.save(fitted)
    store._query("DELETE FROM runs")  # as if the process died between rename and index
    assert RunStore(tmp_path).list()["run_id"].tolist() == [run_id]


def test_index_row_without_folder_is_dropped_on_open(tmp_path, fitted):
    store = RunStore(tmp_path)
    kept, gone = store.save(fitted, name="kept"), store.save(fitted, name="gone")
    # the folder removed by hand (or by another tool): the run can no longer be opened
    os.replace(tmp_path / "runs" / gone, tmp_path / "gone-elsewhere")
    assert RunStore(tmp_path).list()["run_id"].tolist() == [kept]


def test_cli_train_evaluate_recommend(tmp_path, capsys):
    data = tmp_path / "data"
    from recsys_core.data.synthetic import generate

    generate(seed=2, n_users=120, n_items=80, n_interactions=2000).write(data)
    home = str(tmp_path / "home")
    code = main(["train", str(data / "interactions.csv"), "--items", str(data / "items.csv"),
                 "--model", "lightgcn", "--epochs", "2", "--dim", "8", "--layers", "2",
                 "--batch-size", "512", "--home", home, "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] and out["epochs"] == 2 and out["params"]["layers"] == 2
    assert 0 <= out["test"]["ndcg@20"] <= 1
    run_id = out["run_id"]

    assert main(["evaluate", run_id, "-k", "10", "--home", home, "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    recall = [r for r in records if r["metric"] == "recall" and r["segment"] == "all"]
    assert recall[0]["k"] == 10 and 0 <= recall[0]["value"] <= 1
    assert "recall@10" in RunStore(home).get(run_id)["metrics"]

    assert main(["recommend", run_id, "--user", "u0001", "-k", "5", "--home", home,
                 "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec[0]["user"] == "u0001" and len(rec[0]["items"]) == 5
    assert [r["rank"] for r in rec[0]["items"]] == [1, 2, 3, 4, 5]
    scores = [r["score"] for r in rec[0]["items"]]
    assert scores == sorted(scores, reverse=True)

    assert main(["recommend", run_id, "--user", "nobody", "--home", home]) == 2
    assert "unknown user id 'nobody'" in capsys.readouterr().err
    assert main(["evaluate", "no-such-run", "--home", home]) == 2
    assert "unknown run 'no-such-run'" in capsys.readouterr().err


def test_cli_recommend_lists_only_unseen_items_as_valid_json(tmp_path, capsys):
    # Seed example: u1 saw i1 and i2 in training, u2 only i1; neither list may hold a seen item.
    inter = pd.DataFrame({"user": np.array([0, 0, 1, 1], dtype=np.int64),
                          "item": np.array([0, 1, 0, 1], dtype=np.int64),
                          "rating": np.array([5, 4, 3, 2], dtype=np.float32),
                          "timestamp": np.full(4, np.nan)})
    from recsys_core.data.dataset import Dataset

    ds = Dataset(inter, np.array(["u1", "u2"], dtype=object), np.array(["i1", "i2"], dtype=object),
                 name="seed", train=inter.iloc[[0, 1, 2]].reset_index(drop=True),
                 valid=inter.iloc[:0], test=inter.iloc[[3]].reset_index(drop=True))
    run_id = RunStore(tmp_path).save(make("popularity").fit(ds))
    assert main(["recommend", run_id, "--user", "u1", "--user", "u2", "-k", "5",
                 "--home", str(tmp_path), "--json"]) == 0
    out = capsys.readouterr().out
    assert "Infinity" not in out
    assert [[r["item"] for r in u["items"]] for u in json.loads(out)] == [[], ["i2"]]
