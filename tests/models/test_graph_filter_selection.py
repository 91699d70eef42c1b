"""GF-CF / BSPM defaults: settings chosen on a validation split of the training part, then refit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_core import evaluate as ev
from recsys_core.models import make
from recsys_core.models.graph_filter import BSPM, GFCF, GraphFilter
from recsys_core.runs import RunStore


@pytest.fixture(scope="module")
def bspm(small_ds):
    return make("bspm").fit(small_ds)


def test_bspm_chooses_every_setting_from_its_grid(bspm, small_ds):
    sel = bspm.selection_
    assert sel["validation"] == "the dataset's validation part" and sel["metric"] == "ndcg@20"
    grid = sel["grid"]
    # 120 items: k capped at rank 119; weight 0 is scored once per time (k plays no part)
    ks = [64, 119]
    n_weighted = len([w for w in BSPM.GRID["ideal_weight"] if w])
    assert len(grid) == len(BSPM.GRID["sharpen_time"]) * (1 + n_weighted * len(ks))
    assert {g["n_factors"] for g in grid} == set(ks)
    best = max(grid, key=lambda g: g["ndcg@20"])
    assert sel["chosen"] == {k: best[k] for k in ("ideal_weight", "n_factors", "sharpen_time")}
    used = (bspm.ideal_weight_, bspm.n_factors_, bspm.sharpen_time_)
    assert used == (best["ideal_weight"], best["n_factors"], best["sharpen_time"])
    assert (bspm.ideal_weight, bspm.n_factors, bspm.sharpen_time) == (None, None, None)


def test_a_grid_score_equals_the_explicit_model_on_validation(bspm, small_ds):
    # The grid combines one propagation per time; a filter fitted with one setting on the
    # training part and ranked on validation must score exactly what the grid recorded.
    entry = next(g for g in bspm.selection_["grid"]
                 if g["ideal_weight"] == 0.3 and g["sharpen_time"] == 1.0 and g["n_factors"] == 119)
    alone = GraphFilter(ideal_weight=0.3, n_factors=119, sharpen_time=1.0).fit(small_ds)
    assert alone.selection_ is None
    ndcg = ev.ranking_metrics(alone, small_ds, part="valid")["ndcg@20"]
    assert ndcg == pytest.approx(entry["ndcg@20"], abs=1e-5)


def test_refit_uses_train_and_validation_and_never_the_test_part(bspm, small_ds):
    n = len(small_ds.train_interactions) + len(small_ds.valid)
    assert len(bspm.dataset_.train_interactions) == n == bspm.selection_["refit_interactions"]
    assert bspm.dataset_.test.equals(small_ds.test)
    # the final filter is the explicit one with the chosen values, fitted on train + validation
    chosen = bspm.selection_["chosen"]
    explicit = make("bspm", **chosen).fit(bspm.dataset_)
    np.testing.assert_allclose(explicit.score(np.arange(10)).numpy(),
                               bspm.score(np.arange(10)).numpy(), atol=1e-5)


def test_explicit_parameters_win(small_ds):
    model = make("bspm", sharpen_time=1.0, n_factors=32).fit(small_ds)
    assert {g["sharpen_time"] for g in model.selection_["grid"]} == {1.0}
    assert {g["n_factors"] for g in model.selection_["grid"]} == {32}
    assert model.sharpen_time_ == 1.0 and model.n_factors_ == 32
    fixed = make("gf_cf", ideal_weight=0.3, n_factors=16).fit(small_ds)
    assert fixed.selection_ is None and fixed.ideal_weight_ == 0.3
    assert len(fixed.dataset_.train_interactions) == len(small_ds.train_interactions)


def test_gf_cf_carves_validation_when_the_dataset_has_none(small_ds):
    merged = pd.concat([small_ds.train, small_ds.valid], ignore_index=True)
    no_valid = small_ds.replace(train=merged, valid=small_ds.valid.iloc[:0], test=small_ds.test)
    model = make("gf_cf").fit(no_valid)
    assert "carved" in model.selection_["validation"]
    assert {g["sharpen_time"] for g in model.selection_["grid"]} == {0.0}  # GF-CF never sharpens
    assert len(model.dataset_.train_interactions) == len(merged)
    assert model.item_embeddings().shape[1] == model.n_factors_  # embeddings even if weight is 0


def test_no_validation_possible_falls_back_to_the_papers_settings():
    from recsys_core.data.dataset import Dataset

    def frame(pairs):
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        return pd.DataFrame({"user": pairs[:, 0], "item": pairs[:, 1],
                             "rating": np.ones(len(pairs), np.float32),
                             "timestamp": np.full(len(pairs), np.nan)})

    # 2 or 3 training items per user: a 10% carve holds none out, so nothing to validate on
    train = frame([(0, 0), (0, 1), (1, 1), (1, 2), (2, 0), (2, 2), (2, 3), (3, 3), (3, 4),
                   (4, 0), (4, 4), (5, 1), (5, 2), (5, 3)])
    test = frame([(0, 2), (1, 3), (2, 4), (3, 0), (4, 1), (5, 5)])
    ds = Dataset(pd.concat([train, test], ignore_index=True), np.arange(6),
                 np.array(list("abcdef")), train=train, valid=frame([]), test=test,
                 explicit=False)
    model = make("bspm", n_factors=3).fit(ds)
    assert model.selection_ is None
    assert (model.ideal_weight_, model.sharpen_time_) == (BSPM.FALLBACK["ideal_weight"],
                                                          BSPM.FALLBACK["sharpen_time"])
    assert GFCF.FALLBACK["ideal_weight"] == 0.3


def test_chosen_values_survive_the_run_store(tmp_path, bspm):
    store = RunStore(tmp_path)
    run_id = store.save(bspm)
    again, _ = store.load(run_id)
    assert (again.ideal_weight_, again.n_factors_, again.sharpen_time_) == (
        bspm.ideal_weight_, bspm.n_factors_, bspm.sharpen_time_)
    assert torch.allclose(again.score(np.arange(8)), bspm.score(np.arange(8)), atol=1e-5)
    recorded = store.config(run_id)["train"]["selection_"]
    assert recorded["chosen"] == bspm.selection_["chosen"] and len(recorded["grid"]) > 1
    assert store.get(run_id)["config"]["train"]["selection_"]["chosen"] == recorded["chosen"]
