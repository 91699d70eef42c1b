"""text_sage: inductive GraphSAGE over text features."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from recsys_core.models import make
from recsys_core.models.text_sage import TextSAGE

# The fused view itself: the validated gate and the refit on train + validation are
# tested in tests/models/test_text_gate.py.
FAST = dict(lr=0.01, batch_size=128, epochs=8, patience=0, threads=1, use_profiles=False,
            gate=False, refit=False)


@pytest.fixture(scope="module")
def fitted(text_home, split) -> TextSAGE:
    return make("text_sage", **FAST).fit(split)


def test_layer_follows_the_graphsage_update(fitted):
    """h1_v = W2 mean_{u in N(v)} h0_u + b + W1 h0_v, by hand for one node."""
    module = fitted.module_
    conv = module.convs[0]
    with torch.no_grad():
        h0 = module.project(module.text)  # [N, d]
        src, dst = module.edge_index
        node = int(dst[0])
        neighbours = src[dst == node]
        expected = conv.lin_l(h0[neighbours].mean(0)) + conv.lin_r(h0[node])
        got = conv(h0, module.edge_index)[node]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_cold_items_are_embedded_from_text_alone(fitted, split):
    module = fitted.module_
    cold = torch.as_tensor(split.cold_items) + module.n_users
    with torch.no_grad():
        alone = module.encode(module.text[cold], torch.zeros(2, 0, dtype=torch.long))
    torch.testing.assert_close(torch.as_tensor(fitted.item_embeddings())[cold - module.n_users],
                               alone, atol=1e-6, rtol=1e-5)


def test_text_alone_ranks_each_users_taste_first(fitted, synthetic):
    """Every item embedded from its text only (as a cold item is) against the learned users:
    items of the user's taste community should outrank the others (mean AUC, chance 0.5)."""
    module = fitted.module_
    with torch.no_grad():
        text_only = module.encode(module.text[module.n_users:], torch.zeros(2, 0, dtype=torch.long))  # [I, d]
    scores = (torch.as_tensor(fitted.user_embeddings()) @ text_only.T).numpy()  # [U, I]
    aucs = []
    for user in range(scores.shape[0]):
        liked_topic = synthetic.item_topic == synthetic.user_community[user]
        if 0 < liked_topic.sum() < len(liked_topic):
            aucs.append(roc_auc_score(liked_topic, scores[user]))
    assert np.mean(aucs) > 0.6


def test_fold_in_runs_the_network_on_a_new_node(fitted, split):
    liked = np.array([1, 2])
    vector = fitted.items_user_vector(liked)
    # The new node's embedding depends on its links: other liked items give another vector.
    assert not torch.allclose(vector, fitted.items_user_vector(np.array([4, 6])))
    ids, scores = fitted.recommend_for_items(list(split.item_ids[liked]), k=6)
    assert len(ids) == 6 and not set(ids) & set(split.item_ids[liked])
    np.testing.assert_allclose(scores, np.sort(scores)[::-1])
    ids, _ = fitted.recommend_for_text("a haunted house horror film", k=3)
    assert len(ids) == 3


def test_same_seed_same_model(text_home, split, fitted):
    again = make("text_sage", **FAST).fit(split)
    torch.testing.assert_close(again.score([0, 1]), fitted.score([0, 1]), rtol=0, atol=0)
