"""text_lightgcn: the fused ID + text LightGCN, its cold-item path and its fold-in."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.metrics import roc_auc_score

from recsys_core.graph import normalize_bipartite
from recsys_core.models import make
from recsys_core.models.lightgcn import propagate
from recsys_core.models.text_lightgcn import TextLightGCN
from recsys_core.text import TextEncoder

# The fused view itself: the validated gate, the cold items' weight and the refit on
# train + validation are tested in tests/models/test_text_gate.py.
FAST = dict(lr=0.01, batch_size=128, epochs=8, patience=0, threads=1, use_profiles=False,
            gate=False, select_cold=False, refit=False)


@pytest.fixture(scope="module")
def fitted(text_home, split) -> TextLightGCN:
    return make("text_lightgcn", **FAST).fit(split)


def test_fit_trains_and_reports(fitted):
    # Two stages of 8 epochs (IDs alone, then text added), numbered as one run.
    assert fitted.stage_epochs_ == (8, 8)
    assert fitted.epochs_trained_ == 16 and [h["epoch"] for h in fitted.history_] == list(range(1, 17))
    seconds = [h["seconds"] for h in fitted.history_]
    assert seconds == sorted(seconds)
    losses = [h["loss"] for h in fitted.history_[:8]]
    assert losses[-1] < losses[0]
    assert "TextLightGCNModule(users=50, items=32, dim=64, text_dim=384, layers=3)" == repr(
        fitted.module_)


def test_cold_items_speak_through_the_text_tower(fitted, split):
    module = fitted.module_
    items = torch.as_tensor(fitted.item_embeddings())
    cold = torch.as_tensor(split.cold_items)
    assert len(cold) > 0
    with torch.no_grad():
        tower = module.item_tower(module.text[cold + module.n_users])
        graph = propagate(module.adj, module.ego_all(), module.layers)[module.n_users:]
    torch.testing.assert_close(items[cold], module.cold_norm_ratio * tower)
    warm = torch.as_tensor(np.setdiff1d(np.arange(split.n_items), split.cold_items))
    torch.testing.assert_close(items[warm], graph[warm])
    # The calibration: warm items' mean graph-vector length over their mean tower length.
    with torch.no_grad():
        warm_towers = module.item_tower(module.text[warm + module.n_users])
    expected = graph[warm].norm(dim=1).mean() / warm_towers.norm(dim=1).mean()
    torch.testing.assert_close(module.cold_norm_ratio, expected)
    assert float(module.cold_norm_ratio) != 1.0
    # A cold item's ID embedding never enters its layer-0 embedding.
    node = int(cold[0]) + module.n_users
    with torch.no_grad():
        torch.testing.assert_close(module.ego_all()[node], module.project(module.text[node]))
        # A warm user enters with ID + projected text feature (history mean, no profiles here).
        torch.testing.assert_close(module.ego_all()[0],
                                   module.embedding.weight[0] + module.project(module.text[0]))


def test_history_can_stay_out_of_the_graph(text_home, split):
    model = make("text_lightgcn", **{**FAST, "epochs": 1, "history_in_graph": False}).fit(split)
    module = model.module_
    with torch.no_grad():
        # No profile texts: the user's layer-0 embedding is the ID alone; the tower keeps the text.
        torch.testing.assert_close(module.ego_all()[0], module.embedding.weight[0])
        assert module.text[0].abs().sum() > 0
        # A folded-in user then starts from zero and gets everything by propagation.
        layers = module.layer_embeddings()
        liked = torch.tensor([0, 3]) + module.n_users
        degree = torch.diff(module.adj.crow_indices())[liked].float()
        weight = (1.0 / torch.sqrt(2 * (degree + 1.0))).unsqueeze(1)
        expected = sum((weight * layer[liked]).sum(0) for layer in layers[:-1]) / 4
    torch.testing.assert_close(model.items_user_vector(np.array([0, 3])), expected)


def test_text_alone_ranks_each_users_taste_first(fitted, synthetic):
    """Every item embedded from its text only (as a cold item is) against the learned users:
    items of the user's taste community should outrank the others (mean AUC, chance 0.5)."""
    module = fitted.module_
    with torch.no_grad():
        text_only = module.item_tower(module.text[module.n_users:])  # [I, d]
    scores = (torch.as_tensor(fitted.user_embeddings()) @ text_only.T).numpy()  # [U, I]
    aucs = []
    for user in range(scores.shape[0]):
        liked_topic = synthetic.item_topic == synthetic.user_community[user]
        if 0 < liked_topic.sum() < len(liked_topic):
            aucs.append(roc_auc_score(liked_topic, scores[user]))
    assert np.mean(aucs) > 0.6


def test_same_seed_same_model(text_home, split, fitted):
    again = make("text_lightgcn", **FAST).fit(split)
    torch.testing.assert_close(again.score([0, 1, 2]), fitted.score([0, 1, 2]), rtol=0, atol=0)


def test_fold_in_matches_propagation_with_the_new_user_for_one_layer(text_home, split):
    model = make("text_lightgcn", **{**FAST, "layers": 1, "epochs": 2}).fit(split)
    module = model.module_
    liked = np.array([0, 3, 5])
    # Append the new user as a graph node and run exact one-layer LightGCN.
    r = sp.vstack([model.dataset_.matrix("train"),
                   sp.csr_matrix((np.ones(3), (np.zeros(3), liked)), shape=(1, split.n_items))])
    adj = normalize_bipartite(r)
    n_users = module.n_users + 1
    with torch.no_grad():
        ego = module.ego_all()
        text = module.text[liked + module.n_users].mean(0)
        new_user = module.project(text / text.norm())  # no ID: the liked items' mean text
        emb0 = torch.cat([ego[: module.n_users], new_user[None], ego[module.n_users:]])
        expected = propagate(adj, emb0, 1)[n_users - 1]
    got = model.items_user_vector(liked)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)
    ids, _ = model.recommend_for_items(list(split.item_ids[liked]), k=5)
    assert len(ids) == 5 and not set(ids) & set(split.item_ids[liked])


def test_recommend_for_text_scores_the_user_tower(fitted, split):
    sentence = "a heist comedy with a bank robbery"
    ids, scores = fitted.recommend_for_text(sentence, k=4)
    with torch.no_grad():
        user = fitted.module_.user_tower(torch.as_tensor(TextEncoder().encode([sentence])[0]))
        expected = torch.as_tensor(fitted.item_embeddings()) @ user
    top = torch.topk(expected, 4)
    assert list(ids) == list(split.item_ids[top.indices.numpy()])
    np.testing.assert_allclose(scores, top.values.numpy(), rtol=1e-5)
    only_warm, _ = fitted.recommend_for_text(sentence, k=32, include_cold=False)
    assert len(only_warm) == 32 - len(split.cold_items)
    with pytest.raises(ValueError, match="non-empty sentence"):
        fitted.recommend_for_text("  ")


def test_state_round_trip(fitted, split):
    copy = TextLightGCN(**FAST).load_state_tensors(fitted.state_tensors(), fitted.dataset_)
    torch.testing.assert_close(copy.score([0, 4]), fitted.score([0, 4]))


def test_split_content_loss_matches_hand_computation(fitted, split):
    """``split_content``: the item tower meets the users' stopped graph views, the user
    tower the items' stopped graph views; worked out here from the module's parts."""
    from recsys_core.train import Batch

    model = TextLightGCN(**{**FAST, "split_content": True, "align": 0.0, "reg": 0.0})
    module = fitted.module_
    warm_items = np.flatnonzero(np.bincount(split.train_interactions["item"],
                                            minlength=split.n_items) > 0)
    batch = Batch(users=torch.tensor([0, 1, 2]), pos=torch.as_tensor(warm_items[:3]),
                  neg=torch.as_tensor(warm_items[3:6]))
    torch.manual_seed(7)
    got = model.loss(module, batch)
    torch.manual_seed(7)
    torch.rand(3)  # the user draw, unused by the split content term
    drop_items = (torch.rand(6) < model.item_dropout).unsqueeze(1)
    with torch.no_grad():
        items = torch.cat([batch.pos, batch.neg])
        z_users, z_items = module(batch.users, items)
        c_users, c_items = module.content(batch.users, items)

        def bpr(u, p, n):
            return -torch.log(torch.sigmoid((u * p).sum(1) - (u * n).sum(1))).mean()

        mixed = torch.where(drop_items, c_items, z_items)
        expected = (bpr(z_users, z_items[:3], z_items[3:]) + bpr(z_users, mixed[:3], mixed[3:])
                    + bpr(c_users, z_items[:3], z_items[3:]))
    torch.testing.assert_close(got.detach(), expected)


def test_text_can_stay_out_of_layer_zero(text_home, split):
    model = make("text_lightgcn", **{**FAST, "epochs": 1, "text_in_graph": False}).fit(split)
    module = model.module_
    with torch.no_grad():
        # Plain LightGCN ego embeddings: the ID for nodes with edges, zero for the others.
        torch.testing.assert_close(module.ego_all(),
                                   module.embedding.weight * module.warm.unsqueeze(1))
        cold = torch.as_tensor(split.cold_items)
        tower = module.item_tower(module.text[cold + module.n_users])
    torch.testing.assert_close(torch.as_tensor(model.item_embeddings())[cold],
                               module.cold_norm_ratio * tower)


def test_text_lr_scale_keeps_the_initial_projection():
    text = torch.nn.functional.normalize(torch.randn(6, 384), dim=1)
    adj = normalize_bipartite(sp.csr_matrix(np.ones((2, 4))))
    from recsys_core.models.text_lightgcn import TextLightGCNModule

    modules = []
    for scale in (1.0, 0.1):
        torch.manual_seed(0)
        modules.append(TextLightGCNModule(2, 4, 8, 1, adj, text[:2], text[2:], text_lr_scale=scale))
    with torch.no_grad():
        torch.testing.assert_close(modules[1].graph_project(text), modules[0].graph_project(text))
        torch.testing.assert_close(modules[1].project.weight, modules[0].project.weight * 10)


def test_cold_item_scale_multiplies_only_cold_item_vectors(fitted, split):
    copy = TextLightGCN(**{**FAST, "cold_item_scale": 1.5}).load_state_tensors(
        fitted.state_tensors(), fitted.dataset_)
    cold = split.cold_items
    warm = np.setdiff1d(np.arange(split.n_items), cold)
    base, scaled = fitted.item_embeddings(), copy.item_embeddings()
    np.testing.assert_allclose(scaled[cold], 1.5 * base[cold], rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(scaled[warm], base[warm])
    np.testing.assert_array_equal(copy.user_embeddings(), fitted.user_embeddings())


def test_cold_item_scale_is_applied_after_training(text_home, split, fitted):
    """Training (and so early stopping) is the same as unscaled; only serving is scaled."""
    scaled = make("text_lightgcn", **{**FAST, "cold_item_scale": 2.0}).fit(split)
    assert scaled.module_.cold_item_scale == 2.0
    for name, value in fitted.state_tensors().items():
        torch.testing.assert_close(scaled.state_tensors()[name], value, rtol=0, atol=0)
    cold = split.cold_items
    np.testing.assert_allclose(scaled.item_embeddings()[cold], 2.0 * fitted.item_embeddings()[cold],
                               rtol=1e-5, atol=1e-7)


def test_staged_training_keeps_the_best_validated_epoch_of_both_stages(fitted):
    ndcg = [h["metrics"]["ndcg@20"] for h in fitted.history_]
    assert fitted.best_metrics_["ndcg@20"] == max(ndcg)
    assert fitted.best_epoch_ == int(np.argmax(ndcg)) + 1
    if fitted.best_epoch_ <= 8:  # stage 1 won: the text projection stays switched off
        assert fitted.module_.project.weight.abs().sum() == 0


def test_without_warmup_one_stage(text_home, split):
    events = []
    model = make("text_lightgcn", **{**FAST, "epochs": 2, "warmup": False}).fit(
        split, callbacks=[events.append])
    assert model.epochs_trained_ == 2 and [e.epoch for e in events] == [1, 2]
    assert not hasattr(model, "stage_epochs_")


def test_stage_two_events_continue_the_epoch_count(text_home, split):
    events = []
    make("text_lightgcn", **{**FAST, "epochs": 2}).fit(split, callbacks=[events.append])
    assert [(e.epoch, e.epochs) for e in events] == [(1, 2), (2, 2), (3, 4), (4, 4)]
    assert all(1 <= e.best_epoch <= e.epoch for e in events)


def test_validation_ranks_warm_items_only(fitted, split):
    """While training, cold items (tower-scored) are left out of the validation lists."""
    cold = split.cold_items
    warm = np.setdiff1d(np.arange(split.n_items), cold)
    served = fitted.score([0, 1])
    assert torch.isfinite(served[:, cold]).all()
    fitted._warm_validation = True
    try:
        ranked = fitted.score([0, 1])
        part = fitted.score([0, 1], items=np.array([int(cold[0]), int(warm[0])]))
    finally:
        fitted._warm_validation = False
    assert torch.isinf(ranked[:, cold]).all()
    torch.testing.assert_close(ranked[:, warm], served[:, warm])
    assert torch.isinf(part[:, 0]).all() and torch.isfinite(part[:, 1]).all()


def _effects_checked_against_forward_pass(model, u: int) -> tuple[str, np.ndarray, dict]:
    """History effects of user ``u``'s first unseen warm item, each asserted equal to
    re-running the model without that edge; returns (method, history, expected effects)."""
    from recsys_core.explain.evidence import (
        _rescored_without_edges,
        graph_context,
        history_effects,
    )

    ds = model.dataset_
    ctx = graph_context(ds)
    r = ctx.removal.r
    history = r.indices[r.indptr[u]:r.indptr[u + 1]]
    warm = np.flatnonzero(np.diff(ctx.removal.r_csc.indptr) > 0)
    item = int(np.setdiff1d(warm, history)[0])
    method, table = history_effects(model, ds, u, item, history)
    base, without = _rescored_without_edges(model, ctx, u, item, history)
    expected = dict(zip(history.tolist(), (base - without).tolist()))
    assert len(table) == len(history) > 0
    for row in table.itertuples():
        assert row.effect == pytest.approx(expected[row.item], abs=1e-5)
    return method, history, expected


def test_explanation_effects_equal_the_models_own_forward_pass(fitted, split):
    """History effects come from exact LightGCN re-propagation of the fused layer-0
    embeddings; they equal re-running the model with the edge taken out of its graph."""
    from recsys_core.explain.evidence import history_effects

    method, history, _ = _effects_checked_against_forward_pass(fitted, u=0)
    assert method == "edge removal with exact LightGCN re-propagation (layer-0 features kept)"
    # A cold item is scored by its text tower: its effects come from the model's own pass.
    method, _ = history_effects(fitted, fitted.dataset_, 0, int(split.cold_items[0]), history)
    assert method.startswith("edge removal: the model's own forward pass")


def test_gated_explanations_re_propagate_both_blocks_exactly(fitted):
    """With a text weight 0 < g < 1 the warm score is (1 - g) ID-only + g fused: the fast
    path propagates both blocks side by side and equals the model's own forward pass;
    moving the gate gives a new verdict, not a stale cached one."""
    from recsys_core.explain.evidence import propagation_spec

    gated = TextLightGCN(**FAST).load_state_tensors(fitted.state_tensors(), fitted.dataset_)
    module = gated.module_
    with torch.no_grad():
        module.id_embedding.copy_(torch.randn_like(module.id_embedding) * 0.1)
        module.gate.fill_(0.3)
        module.score_ratio.fill_(1.7)
    gated.invalidate()
    spec = propagation_spec(gated, gated.dataset_)
    assert spec is not None and spec.emb0.shape[1] == 2 * module.embedding.embedding_dim
    method, _, expected = _effects_checked_against_forward_pass(gated, u=1)
    assert method.startswith("edge removal with exact LightGCN re-propagation")
    assert max(abs(e) for e in expected.values()) > 1e-4  # the check has something to compare
    # The gate is state: changing it in place re-reads the spec (now the fused table alone).
    with torch.no_grad():
        module.gate.fill_(1.0)
    gated.invalidate()
    again = propagation_spec(gated, gated.dataset_)
    assert again is not None and again.emb0.shape[1] == module.embedding.embedding_dim


def test_cold_calibration_can_be_switched_off_and_old_runs_load(text_home, split, fitted):
    plain = make("text_lightgcn", **{**FAST, "calibrate_cold": False}).fit(split)
    assert float(plain.module_.cold_norm_ratio) == 1.0
    cold = split.cold_items
    with torch.no_grad():
        tower = plain.module_.item_tower(plain.module_.text[torch.as_tensor(cold) + 50])
    np.testing.assert_allclose(plain.item_embeddings()[cold], tower.numpy(), rtol=1e-6,
                               atol=1e-6)
    # A run saved without the calibration buffer loads with cold items unscaled.
    state = {k: v for k, v in fitted.state_tensors().items() if k != "cold_norm_ratio"}
    old = TextLightGCN(**FAST).load_state_tensors(state, fitted.dataset_)
    assert float(old.module_.cold_norm_ratio) == 1.0
    np.testing.assert_allclose(old.item_embeddings()[cold] * float(fitted.module_.cold_norm_ratio),
                               fitted.item_embeddings()[cold], rtol=1e-5, atol=1e-6)
