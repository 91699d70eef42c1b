"""Edge-removal effects are exact: they equal rebuilding the graph and propagating again."""

import numpy as np
import pytest
import scipy.sparse as sp
from explain_helpers import lightgcn_with, seed_dataset
from sklearn.linear_model import Ridge

from recsys_core.explain import explain, influence
from recsys_core.explain.evidence import graph_context, propagation_spec
from recsys_core.graph import normalized_adjacency


def without_edge(ds, user: int, item: int):
    """The dataset rebuilt with every training row of (user, item) dropped."""
    train = ds.train_interactions
    keep = ~((train["user"] == user) & (train["item"] == item))
    return ds.replace(train=train[keep].reset_index(drop=True))


def test_seed_example_effect_matches_hand_computation():
    # 1 layer, d = 1, e0: u1 = 1, u2 = 0, i1 = 1, i2 = 1. Full graph: all degrees 2,
    # e_u1 = (1 + (1 + 1)/2)/2 = 1, e_i1 = (1 + (1 + 0)/2)/2 = 0.75, score 0.75.
    # Without (u1, i2): deg u1 = 1, deg i2 = 1, e_u1 = (1 + 1/sqrt(2))/2 = e_i1.
    ds = seed_dataset()
    model = lightgcn_with(ds, np.array([[1.0], [0.0], [1.0], [1.0]]), layers=1)
    ev = explain(model, ds, "u1", "i1").evidence
    expected = 0.75 - ((1 + 2 ** -0.5) / 2) ** 2
    assert ev.influence_method.startswith("edge removal")
    assert ev.influence_table["item_id"].tolist() == ["i2"]  # the item itself is not its reason
    assert ev.influence_table["effect"].iloc[0] == pytest.approx(expected, abs=1e-6)
    assert ev.score == pytest.approx(0.75, abs=1e-6)


def test_removal_matches_full_recompute_with_model_propagation(sample_ds, sample_model):
    ds, model = sample_ds, sample_model
    ctx = graph_context(ds)
    user = int(np.argmax(np.diff(ctx._hist_ptr)))  # the most active user: many edges to test
    history, _ = ctx.history(user)
    item = int(np.argmax(model.score([user])[0].numpy() - 1e9 * ds.seen_matrix()[user].toarray()[0]))
    spec = propagation_spec(model, ds)
    assert spec is not None
    base, scores = influence.removal_scores(ds.matrix("train"), spec, user, item, history)
    assert base == pytest.approx(float(model.score([user])[0, item]), rel=1e-4)
    for j in range(0, len(history), max(1, len(history) // 6)):
        reduced = without_edge(ds, user, int(history[j]))
        users, items = model.propagate(normalized_adjacency(reduced))  # same weights, new graph
        full = float(users[user] @ items[item])
        assert scores[j] == pytest.approx(full, rel=1e-4, abs=1e-6)


def test_removal_matches_float64_recompute_including_isolated_nodes():
    # Users 3 and 4 have one item each and item 5 one user: removing those edges
    # isolates nodes, the degree edge case of the normalisation.
    rows = [(0, 0, 1), (0, 1, 1), (0, 2, 1), (1, 0, 1), (1, 3, 1), (2, 1, 1), (2, 2, 1),
            (2, 3, 1), (2, 4, 1), (3, 4, 1), (4, 5, 1), (1, 2, 1), (0, 4, 1)]
    r = sp.csr_matrix((np.ones(len(rows)), ([a for a, _, _ in rows], [b for _, b, _ in rows])),
                      shape=(5, 6))
    rng = np.random.default_rng(3)
    spec = influence.PropagationSpec(rng.normal(size=(11, 4)), np.array([0.4, 0.3, 0.2, 0.1]), 5)
    for user in range(5):
        history = r[user].indices
        for item in range(6):
            base, scores = influence.removal_scores(r, spec, user, item, history)
            adj, _ = influence.bipartite_adjacency(r)
            full = influence.propagate_full(adj, spec)
            assert base == pytest.approx(full[user] @ full[5 + item], abs=1e-12)
            for j, h in enumerate(history):
                reduced = r.tolil()
                reduced[user, h] = 0
                reduced = reduced.tocsr()
                reduced.eliminate_zeros()
                adj2, _ = influence.bipartite_adjacency(reduced)
                full2 = influence.propagate_full(adj2, spec)
                assert scores[j] == pytest.approx(full2[user] @ full2[5 + item], abs=1e-12)


def test_chunked_removals_equal_one_batch(monkeypatch, sample_ds, sample_model):
    ds = sample_ds
    spec = propagation_spec(sample_model, ds)
    history, _ = graph_context(ds).history(7)
    one = influence.removal_scores(ds.matrix("train"), spec, 7, 11, history)
    monkeypatch.setattr(influence, "REMOVAL_CHUNK", 3)
    chunked = influence.removal_scores(ds.matrix("train"), spec, 7, 11, history)
    assert one[0] == chunked[0]
    np.testing.assert_allclose(one[1], chunked[1], rtol=0, atol=1e-12)


def test_foldin_equals_ridge_regression_reference():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(30, 5))
    history = np.array([2, 5, 7, 11, 19, 23])
    base, scores = influence.foldin_effects(q, history, item=4, ridge=1.0)

    def ridge_score(rows):
        p = Ridge(alpha=1.0, fit_intercept=False).fit(q[rows], np.ones(len(rows))).coef_
        return q[4] @ p

    assert base == pytest.approx(ridge_score(history), abs=1e-10)
    for j in range(len(history)):
        assert scores[j] == pytest.approx(ridge_score(np.delete(history, j)), abs=1e-10)


def test_unverifiable_spec_is_not_used(sample_ds, sample_model):
    # A model whose scores are not LightGCN's on its weights falls back to the fold-in.
    class Shifted:
        name = "shifted"
        layers = sample_model.layers
        module_ = sample_model.module_

        def score(self, users, items=None):
            return sample_model.score(users, items) + 1.0

        def item_embeddings(self):
            return sample_model.item_embeddings()

    ev = explain(Shifted(), sample_ds, sample_ds.user_ids[0], sample_ds.item_ids[0]).evidence
    assert ev.influence_method.startswith("fold-in")



def test_tfidf_matches_scikit_learn():
    from sklearn.feature_extraction.text import TfidfVectorizer

    from recsys_core.explain.evidence import _STOP_WORDS, tfidf

    texts = ["A stranded starship engineer decodes a signal.", "",
             "Starship pilots race; the engineer wins the race!", "Love letters in London spring."]
    ours = tfidf(texts).toarray()
    ref = TfidfVectorizer(sublinear_tf=True, stop_words=list(_STOP_WORDS),
                          token_pattern=r"(?u)\b[^\W\d_]{2,}\b").fit(texts)
    theirs = ref.transform(texts).toarray()
    # Same vocabulary in another column order: compare the cosine similarity matrices.
    np.testing.assert_allclose(ours @ ours.T, theirs @ theirs.T, atol=1e-12)


@pytest.mark.slow
def test_message_passing_model_effect_equals_rebuilt_dataset():
    # The seed article's GNN (non-linear): removal re-runs the model's own forward pass.
    import torch

    from recsys_core.models.seed_gnn import SeedGNN

    ds = seed_dataset()
    torch.manual_seed(0)
    model = SeedGNN()
    model.load_state_tensors(model.build_module(ds).state_dict(), ds)
    before = model.state_tensors()
    ev = explain(model, ds, "u1", "i1").evidence
    assert ev.influence_method.startswith("edge removal: the model's own forward pass")
    rebuilt = SeedGNN().load_state_tensors(model.state_tensors(), without_edge(ds, 0, 1))
    expected = float(model.score([0], [0])[0, 0]) - float(rebuilt.score([0], [0])[0, 0])
    assert ev.influence_table["effect"].iloc[0] == pytest.approx(expected, abs=1e-6)
    assert expected != 0.0
    # The shared model is untouched.
    assert all(torch.equal(before[k], v) for k, v in model.state_tensors().items())
    assert model.module_.edge_index.shape[1] == 8
