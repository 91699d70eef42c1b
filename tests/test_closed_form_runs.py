"""Closed-form models through the CLI and the run store: fit time, popularity's ties,
re-evaluations kept beside the training metrics, and LightGCN's adjacency built quietly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_core.cli import main
from recsys_core.data import load
from recsys_core.models import make
from recsys_core.models.popularity import tie_broken_scores
from recsys_core.runs import RunStore

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tied_csv(tmp_path_factory) -> Path:
    """80 users x 5 of 40 items each: item counts cluster around 10, so most counts tie."""
    rng = np.random.default_rng(3)
    rows = [(f"u{u:03d}", f"i{i:02d}") for u in range(80)
            for i in rng.choice(40, size=5, replace=False)]
    path = tmp_path_factory.mktemp("tied") / "interactions.csv"
    pd.DataFrame(rows, columns=["user", "item"]).to_csv(path, index=False)
    return path


def train_json(capsys, csv: Path, home: Path, model: str, *extra: str) -> dict:
    assert main(["train", str(csv), "--model", model, "--home", str(home), "--json",
                 *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_tie_broken_scores_by_hand():
    # counts 2, 2, 2, 0, 5, 2: item 4 first, then the four 2s by index, item 3 last
    scores = tie_broken_scores(np.array([2, 2, 2, 0, 5, 2]))
    assert scores.tolist() == [2.75, 2.5, 2.25, 0.0, 5.0, 2.0]
    assert np.argsort(-scores, kind="stable").tolist() == [4, 0, 1, 2, 5, 3]


def test_popularity_lists_equally_popular_items_lower_index_first(tied_csv):
    ds = load(tied_csv).split("random", seed=0)
    model = make("popularity").fit(ds)
    counts = np.bincount(ds.train_interactions["item"].to_numpy(), minlength=ds.n_items)
    assert len(set(counts)) < len(counts) / 2  # the data really is full of ties
    expected = np.lexsort((np.arange(ds.n_items), -counts))  # count desc, then index
    items, _ = model.recommend([ds.user_ids[0]], k=ds.n_items, exclude_seen=False)
    assert items[0].tolist() == ds.item_ids[expected].tolist()
    assert model.score([0])[0].floor().tolist() == counts.astype(float).tolist()


def test_popularity_train_metrics_equal_evaluate_on_the_saved_run(tmp_path, capsys, tied_csv):
    out = train_json(capsys, tied_csv, tmp_path, "popularity")
    assert main(["evaluate", out["run_id"], "-k", "10", "20", "--home", str(tmp_path),
                 "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    again = {f"{r['metric']}@{r['k']}": r["value"] for r in records
             if r["segment"] == "all" and r["protocol"] == "full ranking"}
    shared = {key: again[key] for key in out["test"]}  # evaluate adds coverage, popularity
    assert out["test"] and shared == pytest.approx(out["test"], abs=1e-9)  # JSON: 10 digits


@pytest.mark.parametrize("model", ["popularity", "gf_cf", "bspm", "ease"])
def test_train_json_reports_fit_seconds(tmp_path, capsys, tied_csv, model):
    out = train_json(capsys, tied_csv, tmp_path, model)
    assert isinstance(out["seconds"], float) and out["seconds"] >= 0
    row = RunStore(tmp_path).get(out["run_id"])
    assert row["duration"] == pytest.approx(out["seconds"], abs=0.05)


def test_evaluate_keeps_the_training_metrics_and_records_the_re_evaluation(tmp_path, capsys,
                                                                            tied_csv):
    out = train_json(capsys, tied_csv, tmp_path, "gf_cf", "--param", "n_factors=8",
                     "--param", "ideal_weight=0.3")
    store = RunStore(tmp_path)
    original = store.get(out["run_id"])["metrics"]
    assert store.evaluations(out["run_id"]) == []
    assert main(["evaluate", out["run_id"], "-k", "5", "--home", str(tmp_path)]) == 0
    assert "differs from the metrics stored" not in capsys.readouterr().out
    assert store.get(out["run_id"])["metrics"] == original  # not overwritten, not merged
    assert json.loads((tmp_path / "runs" / out["run_id"] / "metrics.json").read_text()) == original
    [record] = store.evaluations(out["run_id"])
    _, ds = store.load(out["run_id"])
    assert record["dataset"] == {"name": ds.name, "hash": ds.content_hash(), "part": "test",
                                 "interactions": len(ds.test)}
    assert record["ks"] == [5] and record["segments"] is False and record["evaluated"] > 0
    assert set(record["metrics"]) >= {"recall@5", "ndcg@5", "map@5", "map_over_relevant@5"}
    assert "recall@5" not in original
    # the run listing still shows the training-time numbers
    from ui.run_archive import RunArchive

    table = RunArchive(tmp_path).table()
    assert table.loc[table["run"] == out["run_id"], "ndcg@20"].item() == original["ndcg@20"]


def test_lightgcn_builds_its_adjacency_without_torch_beta_warnings(tmp_path):
    # A fresh interpreter: torch prints each of these warnings once per process.
    code = ("import warnings; warnings.simplefilter('always'); "
            "from recsys_core.data import load; from recsys_core.models import make; "
            f"ds = load({str(REPO / 'sample_data' / 'interactions.csv')!r}).split('random'); "
            "m = make('lightgcn', epochs=1, dim=8, layers=1, refit=False).fit(ds); "
            "m.score([0, 1]); print('ok')")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env={"PATH": "", "HF_HUB_OFFLINE": "1",
                                            "GRAPHREC_HOME": str(tmp_path)})
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    assert "Sparse CSR tensor support is in beta" not in done.stderr
    assert "Sparse invariant checks are implicitly disabled" not in done.stderr
