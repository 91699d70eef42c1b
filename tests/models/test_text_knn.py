"""text_knn: cosine of text embeddings, cold items, users given as a sentence or liked items."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recsys_core.models import make
from recsys_core.models.text_knn import TextKNN
from recsys_core.text import TextEncoder


@pytest.fixture(scope="module")
def fitted(text_home, split) -> TextKNN:
    return make("text_knn", use_profiles=False).fit(split)


def test_scores_are_cosines_of_history_means(fitted, split):
    enc = TextEncoder()
    items = enc.encode(split.item_texts)
    train = split.train_interactions
    user = int(train["user"].iloc[0])
    history = train.loc[train["user"] == user, "item"].to_numpy()
    mean = items[history].mean(0)
    expected = items @ (mean / np.linalg.norm(mean))
    np.testing.assert_allclose(fitted.score([user])[0].numpy(), expected, atol=1e-5)
    assert fitted.score([user], [3, 5]).shape == (1, 2)


def test_profiles_enter_the_user_feature(text_home, split):
    enc = TextEncoder()
    with_profiles = make("text_knn").fit(split)
    items = enc.encode(split.item_texts)
    profile = enc.encode([split.user_texts[0]])[0]
    train = split.train_interactions
    history = items[train.loc[train["user"] == 0, "item"].to_numpy()].mean(0)
    feature = 0.5 * profile + 0.5 * history
    np.testing.assert_allclose(with_profiles.user_embeddings()[0],
                               feature / np.linalg.norm(feature), atol=1e-5)


def test_cold_items_are_recommended_only_when_allowed(fitted, split):
    users = split.user_ids[:10]
    ids, _ = fitted.recommend(users, k=10, include_cold=True)
    cold_ids = set(split.item_ids[split.cold_items])
    assert cold_ids & set(ids.ravel())  # text alone ranks them
    ids, _ = fitted.recommend(users, k=10, include_cold=False)
    assert not cold_ids & set(ids.ravel())


def test_recommend_for_text_follows_the_sentence(fitted, synthetic, split):
    ids, scores = fitted.recommend_for_text("spaceships, alien planets and starship battles", k=5)
    assert len(ids) == 5 and np.all(np.diff(scores) <= 0)
    topics = synthetic.item_topic[split.item_indices(ids)]
    scifi = synthetic.topic_names.index("Sci-Fi")
    assert (topics == scifi).sum() >= 4


def test_recommend_for_items_is_the_mean_liked_text(fitted, split):
    liked = list(split.item_ids[[0, 1]])
    ids, scores = fitted.recommend_for_items(liked, k=3)
    vectors = fitted.item_embeddings()
    mean = vectors[[0, 1]].mean(0)
    expected = vectors @ (mean / np.linalg.norm(mean))
    expected[[0, 1]] = -np.inf
    order = np.argsort(-expected)[:3]
    assert list(ids) == list(split.item_ids[order])
    np.testing.assert_allclose(scores, expected[order], atol=1e-5)
    with pytest.raises(ValueError, match="unknown item id\\(s\\): 'nope'"):
        fitted.recommend_for_items(["nope"])


def test_state_round_trip(fitted, split):
    copy = TextKNN().load_state_tensors(fitted.state_tensors(), split)
    assert torch.equal(copy.score([0, 1]), fitted.score([0, 1]))
