"""GF-CF / BSPM graph filters against a dense numpy reference of the formulas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.linalg
import torch

from recsys_core import evaluate as ev
from recsys_core.data.dataset import Dataset
from recsys_core.models import make
from recsys_core.models.graph_filter import BSPM, GFCF, GraphFilter, rk4_coefficients

# 6 users x 6 items; item 5 has no training interaction (cold).
TRAIN = [(0, 0), (0, 1), (1, 1), (1, 2), (2, 0), (2, 2), (2, 3), (3, 3), (3, 4),
         (4, 0), (4, 4), (5, 1), (5, 2), (5, 3)]
TEST = [(0, 2), (1, 3), (2, 4), (3, 0), (4, 1), (5, 5)]


def frame(pairs):
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return pd.DataFrame({"user": pairs[:, 0], "item": pairs[:, 1],
                         "rating": np.ones(len(pairs), np.float32),
                         "timestamp": np.full(len(pairs), np.nan)})


@pytest.fixture(scope="module")
def ds():
    train, test = frame(TRAIN), frame(TEST)
    return Dataset(pd.concat([train, test], ignore_index=True),
                   user_ids=np.array([10, 11, 12, 13, 14, 15]),
                   item_ids=np.array(["a", "b", "c", "d", "e", "f"]),
                   train=train, valid=frame([]), test=test, explicit=False)


def reference_parts(k):
    """Dense numpy R, P = R~^T R~ and the ideal low-pass matrix, straight from the formulas."""
    r = np.zeros((6, 6))
    for u, i in TRAIN:
        r[u, i] = 1.0
    du, di = r.sum(1), r.sum(0)
    inv = lambda d: np.where(d > 0, 1 / np.sqrt(np.where(d > 0, d, 1)), 0.0)  # noqa: E731
    rn = np.diag(inv(du)) @ r @ np.diag(inv(di))
    p = rn.T @ rn
    _, _, vt = np.linalg.svd(rn)
    v = vt[:k].T
    ideal = np.diag(inv(di)) @ v @ v.T @ np.diag(np.sqrt(di))
    return r, p, ideal


def test_gf_cf_matches_dense_reference(ds):
    model = GraphFilter(ideal_weight=0.3, n_factors=3, svd_iters=10).fit(ds)
    r, p, ideal = reference_parts(3)
    expected = r @ p + 0.3 * r @ ideal
    np.testing.assert_allclose(model.score(np.arange(6)).numpy(), expected, atol=1e-5)


def test_bspm_one_rk4_step_matches_polynomial(ds):
    model = GraphFilter(ideal_weight=0.2, n_factors=2, sharpen_time=2.5, svd_iters=10).fit(ds)
    r, p, ideal = reference_parts(2)
    s0 = r @ p + 0.2 * r @ ideal
    c = rk4_coefficients(2.5)
    poly = sum(cj * np.linalg.matrix_power(p, j) for j, cj in enumerate(c))
    np.testing.assert_allclose(model.score(np.arange(6)).numpy(), s0 @ poly, atol=1e-4)


def test_many_rk4_steps_solve_the_sharpening_ode(ds):
    # ds/dt = -sP has the solution s(T) = s(0) expm(-T P).
    model = GraphFilter(ideal_weight=0.0, sharpen_time=1.5, sharpen_steps=40).fit(ds)
    r, p, _ = reference_parts(1)
    exact = (r @ p) @ scipy.linalg.expm(-1.5 * p)
    np.testing.assert_allclose(model.score(np.arange(6)).numpy(), exact, atol=1e-5)


def test_rk4_coefficients_by_hand():
    assert rk4_coefficients(2.0) == pytest.approx([1, -2, 2, -8 / 6, 16 / 24])
    assert rk4_coefficients(0.0) == [1.0, 0.0, 0.0, -0.0, 0.0]


def test_item_subset_batches_and_cold_items(ds):
    model = GraphFilter(ideal_weight=0.3, n_factors=3, svd_iters=10, batch_size=2).fit(ds)
    full = model.score(torch.tensor([0, 3, 5]))
    assert full.shape == (3, 6)
    np.testing.assert_allclose(model.score([0, 3, 5], items=[4, 1]).numpy(), full[:, [4, 1]].numpy())
    big = GraphFilter(ideal_weight=0.3, n_factors=3, svd_iters=10, batch_size=100).fit(ds)
    np.testing.assert_allclose(big.score([0, 3, 5]).numpy(), full.numpy(), atol=1e-6)
    assert torch.all(full[:, 5] == 0)  # no training signal reaches a cold item


def test_registry_defaults_leave_the_filter_settings_to_validation():
    gf, bspm = make("gf_cf"), make("bspm")
    assert isinstance(gf, GFCF) and isinstance(bspm, BSPM)
    assert (gf.ideal_weight, gf.n_factors, gf.sharpen_time) == (None, None, 0.0)
    assert (bspm.ideal_weight, bspm.n_factors, bspm.sharpen_time, bspm.sharpen_steps) == (
        None, None, None, 1)
    # without validation to choose on, the papers' settings are used
    assert GFCF.FALLBACK == {"ideal_weight": 0.3, "n_factors": 256, "sharpen_time": 0.0}
    assert BSPM.FALLBACK == {"ideal_weight": 0.2, "n_factors": 448, "sharpen_time": 2.5}
    assert repr(make("gf_cf", n_factors=8)).startswith("GFCF(ideal_weight=None, n_factors=8,")


def test_recommend_returns_original_ids_and_excludes_seen(ds):
    model = make("gf_cf", n_factors=3).fit(ds)
    ids, scores = model.recommend([10, 13], k=2)
    assert ids.shape == (2, 2) and scores.shape == (2, 2)
    assert not {"a", "b"} & set(ids[0])  # user 10 trained on a, b
    assert not {"d", "e"} & set(ids[1])
    assert np.all(np.diff(scores, axis=1) <= 0)


def test_state_round_trip_and_evaluation(ds):
    model = make("bspm", n_factors=3).fit(ds)
    clone = make("bspm", n_factors=3).load_state_tensors(model.state_tensors(), ds)
    assert torch.equal(model.score([0, 1, 2]), clone.score([0, 1, 2]))
    assert model.item_embeddings().shape == (6, 3) and model.user_embeddings().shape == (6, 3)
    metrics = ev.ranking_metrics(model, ds, part="test", ks=(2,))
    assert 0.0 <= metrics["recall@2"] <= 1.0


def test_fit_emits_one_event_and_rejects_bad_parameters(ds):
    events = []
    make("gf_cf", n_factors=2).fit(ds, callbacks=[events.append])
    assert len(events) == 1 and events[0].epoch == 1
    with pytest.raises(ValueError, match="sharpen_steps >= 1"):
        GraphFilter(sharpen_steps=0).fit(ds)


def test_unfitted_model_says_so():
    with pytest.raises(RuntimeError, match="GFCF is not fitted yet"):
        GFCF().score([0])


def test_torch_fallback_product_equals_the_compiled_kernel(ds, monkeypatch):
    import recsys_core.models.graph_filter as gf

    model = GraphFilter(ideal_weight=0.3, n_factors=3, sharpen_time=1.0, svd_iters=10).fit(ds)
    compiled = model.score(np.arange(6))
    monkeypatch.setattr(gf, "numba", None)
    np.testing.assert_allclose(model.score(np.arange(6)).numpy(), compiled.numpy(), atol=1e-5)
