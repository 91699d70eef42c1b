"""EASE: the closed form worked by hand, lambda chosen on validation, the memory limit, saving."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_core import evaluate as ev
from recsys_core.data.dataset import Dataset
from recsys_core.models import available, make
from recsys_core.models.ease import BYTES_PER_ENTRY, EASE, ease_weights, gram_matrix, max_items
from recsys_core.runs import RunStore


def frame(pairs) -> pd.DataFrame:
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return pd.DataFrame({"user": pairs[:, 0], "item": pairs[:, 1],
                         "rating": np.ones(len(pairs), np.float32),
                         "timestamp": np.full(len(pairs), np.nan)})


# X = [[1, 1, 0], [0, 1, 1], [1, 1, 1]]: 3 users x 3 items.
TRAIN = [(0, 0), (0, 1), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)]


def tiny(test=((0, 2),)) -> Dataset:
    train, test = frame(TRAIN), frame(list(test))
    return Dataset(pd.concat([train, test], ignore_index=True), np.array(["x", "y", "z"]),
                   np.array(["a", "b", "c"]), train=train, valid=frame([]), test=test,
                   explicit=False, name="tiny")


def test_closed_form_by_hand():
    # G = X^T X = [[2,2,1],[2,3,2],[1,2,2]]; G + I = [[3,2,1],[2,4,2],[1,2,3]], det 16,
    # P = adj / 16 = [[.5,-.25,0],[-.25,.5,-.25],[0,-.25,.5]], so B_ij = -P_ij / P_jj:
    expected = np.array([[0.0, 0.5, 0.0], [0.5, 0.0, 0.5], [0.0, 0.5, 0.0]])
    model = make("ease", l2=1.0).fit(tiny())
    np.testing.assert_allclose(model.weights_.numpy(), expected, atol=1e-6)
    # scores x_u B: user x = [1, 1, 0] -> [0.5, 0.5, 0.5]; user z = [1, 1, 1] -> [0.5, 1, 0.5]
    np.testing.assert_allclose(model.score([0, 2]).numpy(), [[0.5, 0.5, 0.5], [0.5, 1.0, 0.5]],
                               atol=1e-6)
    assert model.l2_ == 1.0 and model.selection_ is None


def test_weights_match_the_formula_on_random_data():
    rng = np.random.default_rng(0)
    x = (rng.random((40, 9)) < 0.35).astype(np.float64)
    x[:, 8] = 0  # an item nobody interacted with
    p = np.linalg.inv(x.T @ x + 7.0 * np.eye(9))
    reference = np.eye(9) - p / np.diag(p)[None, :]
    import scipy.sparse as sp

    b = ease_weights(gram_matrix(sp.csr_matrix(x)), 7.0).numpy()
    np.testing.assert_allclose(b, reference, atol=1e-6)
    assert np.all(np.diag(b) == 0) and np.all(b[:, 8] == 0)  # a cold item gets no votes


def test_l2_is_chosen_on_validation_then_refit_on_all_training(small_ds):
    model = make("ease").fit(small_ds)
    sel = model.selection_
    assert sel["validation"] == "the dataset's validation part" and sel["metric"] == "ndcg@20"
    assert [g["l2"] for g in sel["grid"]] == list(EASE.GRID)
    best = max(sel["grid"], key=lambda g: g["ndcg@20"])
    assert sel["chosen"] == {"l2": best["l2"]} and model.l2_ == best["l2"]
    # one grid score recomputed by hand: fit on train only, NDCG@20 on the validation part
    alone = make("ease", l2=best["l2"]).fit(small_ds)
    assert ev.ranking_metrics(alone, small_ds, part="valid")["ndcg@20"] == pytest.approx(
        best["ndcg@20"], abs=1e-9)
    # refit on train + validation: the final model saw every training interaction
    n = len(small_ds.train_interactions) + len(small_ds.valid)
    assert sel["refit_interactions"] == n == len(model.dataset_.train_interactions)
    assert len(model.dataset_.test) == len(small_ds.test)


def test_without_a_validation_part_one_is_carved_from_train(small_ds):
    no_valid = small_ds.replace(train=pd.concat([small_ds.train, small_ds.valid],
                                                ignore_index=True),
                                valid=small_ds.valid.iloc[:0], test=small_ds.test)
    model = make("ease").fit(no_valid)
    assert "carved" in model.selection_["validation"]
    assert len(model.dataset_.train_interactions) == len(no_valid.train_interactions)


def test_refuses_a_catalogue_too_large_and_names_the_limit(small_ds):
    # 120 items need 24 * 120^2 = 345,600 bytes; 0.0003 GB allows floor(sqrt(3e5 / 24)) = 111
    assert BYTES_PER_ENTRY == 24 and max_items(3e5) == 111
    with pytest.raises(ValueError, match=r"limit here is 111 items \(memory_gb=0.0003\)") as err:
        make("ease", memory_gb=0.0003).fit(small_ds)
    assert "120 items" in str(err.value) and "24 x n_items^2" in str(err.value)


def test_bad_l2_is_refused():
    with pytest.raises(ValueError, match="l2 must be > 0"):
        make("ease", l2=0.0).fit(tiny())


def test_run_store_round_trip(tmp_path, small_ds):
    model = make("ease").fit(small_ds)
    store = RunStore(tmp_path)
    run_id = store.save(model, metrics={"ndcg@20": 0.5})
    again, ds = store.load(run_id)
    users = np.arange(20)
    assert torch.equal(again.score(users), model.score(users))
    assert again.l2_ == model.l2_ and again.selection_["chosen"] == model.selection_["chosen"]
    assert store.config(run_id)["params"]["l2"] is None  # the parameter as given
    items, _ = again.recommend([ds.user_ids[0]], k=5)
    seen = set(ds.item_ids[ds.seen_matrix()[0].indices])
    assert len(items[0]) == 5 and not seen & set(items[0])


def test_listed_with_the_other_models():
    from ui.train_form import param_defaults

    assert "ease" in available()
    assert param_defaults("ease") == {"l2": None, "memory_gb": 8.0, "batch_size": 1024, "seed": 0}


def test_history_effects_are_exact_and_explanations_cite_them(small_ds):
    from recsys_core.explain import explain

    model = make("ease", l2=100.0).fit(small_ds)
    u = 3
    history = small_ds.matrix("train")[u].indices
    [[item]], _ = model.recommend([small_ds.user_ids[u]], k=1)
    i = small_ds.item_index(item)
    effects, method = model.history_effects(u, i, history)
    # the score is exactly the sum of the history items' weights
    assert effects.sum() == pytest.approx(float(model.score([u])[0, i]), abs=1e-5)
    ex = explain(model, small_ds, small_ds.user_ids[u], item)
    assert ex.evidence.influence_method == method and method.startswith("exact")
    assert ex.evidence.history and ex.faithful
