"""The validated text gate of the fused models: the blend by hand, the selection rule, and
the gate's verdict on informative against random item texts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recsys_core.data.synthetic import generate
from recsys_core.models import make
from recsys_core.models.text_gate import COLD_GRID, GATE_GRID, blend, score_ratio, select_gate


def test_blend_scores_equal_the_formula_for_warm_and_cold_nodes():
    gen = torch.Generator().manual_seed(0)
    a_u, a_i = torch.randn(3, 2, generator=gen), torch.randn(4, 2, generator=gen)
    f_u, f_i = torch.randn(3, 5, generator=gen), torch.randn(4, 5, generator=gen)
    warm_u = torch.tensor([True, True, False])
    warm_i = torch.tensor([True, False, True, False])
    g, kappa = 0.3, 2.0
    users, items = blend(a_u, a_i, f_u, f_i, warm_u, warm_i, g, kappa)
    assert users.shape == (3, 2 + 3 * 5) and items.shape == (4, 2 + 3 * 5)
    got = users @ items.T
    for u in range(3):
        for i in range(4):
            if warm_u[u] and warm_i[i]:
                expected = (1 - g) * a_u[u] @ a_i[i] + g * f_u[u] @ f_i[i]
            else:  # text-only scores, on the ID model's scale
                expected = (g + (1 - g) * kappa) * f_u[u] @ f_i[i]
            assert float(got[u, i]) == pytest.approx(float(expected), abs=1e-5)
    # g = 1 is the fused view alone; g = 0 the ID view on warm pairs.
    users, items = blend(a_u, a_i, f_u, f_i, warm_u, warm_i, 1.0, kappa)
    torch.testing.assert_close(users @ items.T, f_u @ f_i.T)
    users, items = blend(a_u, a_i, f_u, f_i, warm_u, warm_i, 0.0, kappa)
    torch.testing.assert_close((users @ items.T)[:2][:, [0, 2]], (a_u @ a_i.T)[:2][:, [0, 2]])


def test_score_ratio_is_the_rms_ratio_over_warm_pairs():
    a_u, a_i = torch.ones(2, 1), torch.full((3, 1), 3.0)
    f_u, f_i = torch.ones(2, 1), torch.ones(3, 1)
    warm = torch.tensor([True, True, False])
    assert score_ratio(a_u, a_i, f_u, f_i, torch.tensor([True, True]), warm) == pytest.approx(3.0)


def test_select_gate_keeps_the_smallest_weight_within_one_standard_error():
    users = 100
    rng = np.random.default_rng(0)
    base = rng.random(users)
    noise = rng.normal(0, 0.05, users)

    def run(gains):
        state = {}

        def set_gate(g):
            state["g"] = g

        def validate():
            return base + gains[state["g"]]

        chosen, means = select_gate(validate, set_gate)
        assert state["g"] == chosen  # the chosen weight is left set
        return chosen, means

    # A clear gain at 0.5 (every user gains 0.05): chosen.
    chosen, means = run({g: (0.05 if g == 0.5 else 0.0) + 0 * noise for g in GATE_GRID})
    assert chosen == 0.5 and means[0.5] == pytest.approx(base.mean() + 0.05)
    # A gain smaller than the noise of the paired differences: text stays off.
    chosen, _ = run({g: (noise + 0.002 if g == 1.0 else 0.0) for g in GATE_GRID})
    assert chosen == 0.0


def test_select_gate_can_keep_the_largest_weight_within_one_standard_error():
    """The cold items' rule: weights that cost nothing measurable are all fine, the largest
    wins; a weight that costs every user loses."""
    users = 80
    base = np.random.default_rng(1).random(users)
    state = {}

    def set_weight(w):
        state["w"] = w

    # Weights up to 0.5 score the same; 0.75 and 1 cost every user 0.02 and 0.1.
    loss = {0.0: 0.0, 0.25: 0.0, 0.5: 0.0, 0.75: 0.02, 1.0: 0.1}
    chosen, means = select_gate(lambda: base - loss[state["w"]], set_weight, COLD_GRID,
                                prefer="largest")
    assert chosen == 0.5 and state["w"] == 0.5
    assert means[1.0] == pytest.approx(base.mean() - 0.1)
    # The same values with the gate's preference keep the smallest.
    assert select_gate(lambda: base - loss[state["w"]], set_weight, COLD_GRID)[0] == 0.0
    with pytest.raises(ValueError, match="prefer must be"):
        select_gate(lambda: base, set_weight, COLD_GRID, prefer="middle")


def _taste_dataset():
    return generate(seed=1, n_users=300, n_items=150, n_interactions=4000).to_dataset(
        "taste").split("random", test=0.2, valid=0.1, seed=0)


GATED = dict(epochs=40, batch_size=256, threads=1, use_profiles=False)


@pytest.fixture(scope="module")
def taste(text_home):
    return _taste_dataset()


@pytest.fixture(scope="module")
def informative(taste):
    return make("text_lightgcn", **GATED).fit(taste)


@pytest.mark.slow
def test_gate_uses_informative_text_and_switches_noise_off(taste, informative):
    """Item texts written from each community's vocabulary earn a text weight; random
    words in their place (same interactions) get weight 0: the ID-only model on warm items."""
    assert informative.gate_ > 0
    assert informative.gate_values_[informative.gate_] > informative.gate_values_[0.0]
    rng = np.random.default_rng(0)
    words = np.array("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima "
                     "mike november oscar papa quebec romeo".split())
    noise = taste.replace(item_texts=[" ".join(rng.choice(words, 8)) for _ in range(taste.n_items)],
                          user_texts=[""] * taste.n_users)
    noisy = make("text_lightgcn", **GATED).fit(noise)
    assert noisy.gate_ == 0.0
    # Weight 0: warm items are scored by stage 1 (plain LightGCN) alone.
    module = noisy.module_
    with torch.no_grad():
        id_users, id_items = module.id_embeddings()
    warm_items = module.warm[module.n_users:].numpy()
    served = noisy.score(np.arange(5)).numpy()[:, warm_items]
    expected = (id_users[:5] @ id_items.T).numpy()[:, warm_items]
    np.testing.assert_allclose(served, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_refit_keeps_the_gate_and_uses_validation(taste, informative):
    model = informative
    train, valid = len(taste.train), len(taste.valid)
    assert model.refit_interactions_ == train + valid
    assert len(model.dataset_.train) == train + valid and len(model.dataset_.valid) == 0
    # Each stage is refit for the epoch count its early stopping chose.
    ndcg = [h["metrics"]["ndcg@20"] for h in model.history_]
    stage_one = model.stage_epochs_[0]
    first, second = model.refit_epochs_
    assert first == int(np.argmax(ndcg[:stage_one])) + 1
    kept_text = model.best_epoch_ > stage_one
    assert second == (model.best_epoch_ - stage_one if kept_text else 0)
    assert model.epochs_trained_ == sum(model.stage_epochs_)  # the selection run's record
    assert float(model.module_.gate) == model.gate_
    # The refit graph has the validation edges: every validation pair is now a training edge.
    adj = model.module_.adj
    rows = torch.tensor(taste.valid["user"].to_numpy())
    cols = torch.tensor(taste.valid["item"].to_numpy()) + model.module_.n_users
    dense = adj.to_dense()
    assert bool((dense[rows, cols] > 0).all())


def test_stage_one_is_lightgcn_so_text_weight_zero_serves_lightgcns_scores(taste):
    """Same seed and settings: stage 1 starts from LightGCN's initial ID table, sees the same
    batches and negatives and follows the same gradient (the text terms never reach the
    IDs), so with text weight 0 every warm pair scores what plain LightGCN gives it."""
    assert taste.matrix("train").getnnz(axis=0).min() > 0  # no cold item: nothing differs
    common = dict(epochs=4, batch_size=256, refit=False)
    plain = make("lightgcn", **common).fit(taste)
    fused = make("text_lightgcn", **common, use_profiles=False).fit(taste)
    assert fused.stage_epochs_[0] == plain.epochs_trained_
    with torch.no_grad():
        fused.module_.gate.fill_(0.0)
    fused.invalidate()
    users = np.arange(taste.n_users)
    np.testing.assert_allclose(fused.score(users).numpy(), plain.score(users).numpy(),
                               rtol=1e-4, atol=1e-5)


def test_old_runs_without_gate_buffers_load_as_all_text(taste):
    model = make("text_lightgcn", **{**GATED, "epochs": 3, "refit": False}).fit(taste)
    state = {k: v for k, v in model.state_tensors().items()
             if k not in ("gate", "score_ratio", "id_embedding")}
    old = make("text_lightgcn", **GATED).load_state_tensors(state, model.dataset_)
    assert float(old.module_.gate) == 1.0
    with torch.no_grad():
        fused = model.module_.fused_embeddings()[1].numpy()
    np.testing.assert_allclose(old.item_embeddings(), fused, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_text_sage_gate_blends_an_id_model_and_keeps_cold_text_scores(text_home, split):
    model = make("text_sage", lr=0.01, batch_size=128, epochs=6, threads=1,
                 use_profiles=False).fit(split)
    assert model.gate_ in GATE_GRID and set(model.gate_values_) == set(GATE_GRID)
    assert model.refit_interactions_ == len(split.train) + len(split.valid)
    cold = split.cold_items
    scores = model.score([0, 1]).numpy()
    module = model.module_
    with torch.no_grad():
        users, items = module.fused_embeddings()
    g, kappa = model.gate_, float(module.score_ratio)
    expected = (g + (1 - g) * kappa) * (users[:2] @ items[cold].T).numpy()
    np.testing.assert_allclose(scores[:, cold], expected, rtol=1e-4, atol=1e-5)
    # The saved state round-trips, gate and ID view included.
    again = make("text_sage", **model.get_params()).load_state_tensors(model.state_tensors(),
                                                                     model.dataset_)
    np.testing.assert_allclose(again.score([0, 1]).numpy(), scores, rtol=1e-5, atol=1e-6)


def _cold_taste():
    """The taste data with 10% of the items held out: cold items in every list."""
    return generate(seed=1, n_users=300, n_items=150, n_interactions=4000).to_dataset(
        "taste").split("cold_items", fraction=0.1, valid=0.1, seed=0)


def test_cold_weight_is_chosen_with_cold_items_in_the_validation_lists(text_home):
    """Cold items blown up 30-fold flood every list at weight 1: the weight chosen is the
    largest one within one standard error of the best, measured with cold items ranked
    among all items, and it multiplies cold items' scores only."""
    ds = _cold_taste()
    params = {**GATED, "epochs": 6, "refit": False, "cold_item_scale": 30.0}
    model = make("text_lightgcn", **params).fit(ds)
    values = model.cold_weight_values_
    assert set(values) == set(COLD_GRID)
    assert values[1.0] < values[0.0]  # flooded lists
    assert model.cold_weight_ < 1.0 and float(model.module_.cold_weight) == model.cold_weight_
    # The means are the validation NDCG@20 with cold items in the lists, measured again here.
    from recsys_core.models.text_gate import per_user_ndcg

    chosen = model.cold_weight_
    per_weight = {}
    for w in COLD_GRID:
        model.module_.cold_weight.fill_(w)
        model.invalidate()
        per_weight[w] = per_user_ndcg(model, model.dataset_, part="valid", k=20)
        assert per_weight[w].mean() == pytest.approx(values[w], abs=1e-9)
    best = max(COLD_GRID, key=lambda w: (values[w], w))
    within = [w for w in COLD_GRID if values[w] >= values[best] - (
        (per_weight[best] - per_weight[w]).std(ddof=1) / np.sqrt(len(per_weight[w])))]
    assert chosen == max(within)
    # Cold items' scores scale with the weight; warm items' do not move.
    model.module_.cold_weight.fill_(1.0)
    model.invalidate()
    full = model.score(np.arange(20)).numpy()
    model.module_.cold_weight.fill_(chosen)
    model.invalidate()
    weighted = model.score(np.arange(20)).numpy()
    cold = ds.cold_items
    warm = np.setdiff1d(np.arange(ds.n_items), cold)
    np.testing.assert_allclose(weighted[:, cold], chosen * full[:, cold], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(weighted[:, warm], full[:, warm], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_refit_keeps_the_cold_weight_and_old_runs_load_at_weight_one(text_home):
    ds = _cold_taste()
    model = make("text_lightgcn", **{**GATED, "epochs": 6, "cold_item_scale": 30.0}).fit(ds)
    assert model.refit_interactions_ == len(ds.train) + len(ds.valid)
    assert float(model.module_.cold_weight) == model.cold_weight_ < 1.0
    saved = model.state_tensors()
    again = make("text_lightgcn", **GATED).load_state_tensors(saved, model.dataset_)
    assert float(again.module_.cold_weight) == model.cold_weight_
    old = make("text_lightgcn", **GATED).load_state_tensors(
        {k: v for k, v in saved.items() if k != "cold_weight"}, model.dataset_)
    assert float(old.module_.cold_weight) == 1.0
