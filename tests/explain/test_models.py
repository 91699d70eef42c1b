"""explain() on models without LightGCN propagation: MF (fold-in) and popularity (no history effect)."""

import numpy as np
import pytest
import torch

from recsys_core.explain import explain, influence
from recsys_core.explain.evidence import graph_context
from recsys_core.models.mf import MF
from recsys_core.models.popularity import Popularity


def test_mf_uses_the_documented_fold_in(sample_ds):
    ds = sample_ds
    gen = torch.Generator().manual_seed(0)
    model = MF(dim=8).load_state_tensors({
        "user_embedding.weight": torch.randn(ds.n_users, 8, generator=gen) * 0.1,
        "item_embedding.weight": torch.randn(ds.n_items, 8, generator=gen) * 0.1}, ds)
    user = ds.user_ids[3]
    [[item]], _ = model.recommend([user], k=1)
    ex = explain(model, ds, user, item)
    ev = ex.evidence
    assert ev.influence_method.startswith("fold-in")
    history, _ = graph_context(ds).history(3)
    base, without = influence.foldin_effects(model.item_embeddings(), history,
                                             ds.item_index(item))
    expected = sorted(base - without, reverse=True)
    np.testing.assert_allclose(ev.influence_table["effect"], expected, rtol=1e-9)
    assert ex.faithful and ex.text.startswith(f'We recommend "{ev.item_title}"')


def test_popularity_cites_no_history_but_keeps_other_evidence(sample_ds):
    ds = sample_ds
    model = Popularity().fit(ds)
    user = ds.user_ids[3]
    [[item]], _ = model.recommend([user], k=1)
    ex = explain(model, ds, user, item)
    ev = ex.evidence
    assert ev.influence_method == "none: the model's score does not depend on the user's history"
    assert ev.history == [] and (ev.influence_table["effect"] == 0).all()
    assert ev.popularity.rank == 1 + int((model.counts_ > model.counts_[ds.item_index(item)]).sum())
    assert ex.text.startswith(f'We recommend "{ev.item_title}" for reasons beyond any single item')
    assert "one of the most popular items" in ex.text and ex.faithful
    assert ev.paths, "a top item shares fans with the user's history"


def test_unknown_ids_raise_clear_errors(sample_ds):
    model = Popularity().fit(sample_ds)
    with pytest.raises(KeyError, match="unknown user id 'nobody'"):
        explain(model, sample_ds, "nobody", sample_ds.item_ids[0])
    with pytest.raises(KeyError, match="unknown item id 'nothing'"):
        explain(model, sample_ds, sample_ds.user_ids[0], "nothing")


def test_contexts_follow_the_split_not_just_the_data(sample_ds):
    other = sample_ds.split("random", test=0.2, valid=0.1, seed=1)
    a, b = graph_context(sample_ds), graph_context(other)
    assert a is not b and a is graph_context(sample_ds)
    for ds, ctx in ((sample_ds, a), (other, b)):
        train = ds.train_interactions
        expected = np.sort(train.loc[train["user"] == 5, "item"].unique())
        np.testing.assert_array_equal(ctx.history(5)[0], expected)
