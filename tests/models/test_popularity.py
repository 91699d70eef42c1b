"""Popularity: hand-counted scores, seen items masked, state round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from recsys_core.data.dataset import Dataset
from recsys_core.models import make


def tiny_dataset() -> Dataset:
    # item b: 3 users, item c: 2, item a: 1, item d: none
    inter = pd.DataFrame({"user": np.array([0, 1, 2, 0, 1, 2], dtype=np.int64),
                          "item": np.array([1, 1, 1, 2, 2, 0], dtype=np.int64),
                          "rating": np.ones(6, dtype=np.float32), "timestamp": np.full(6, np.nan)})
    return Dataset(inter, np.array(["x", "y", "z"], dtype=object),
                   np.array(["a", "b", "c", "d"], dtype=object), explicit=False)


def test_scores_are_training_counts():
    model = make("popularity").fit(tiny_dataset())
    assert torch.equal(model.score([0, 2]), torch.tensor([[1.0, 3, 2, 0], [1.0, 3, 2, 0]]))
    assert torch.equal(model.score([1], items=[3, 1]), torch.tensor([[0.0, 3]]))


def test_recommend_masks_seen_items_and_returns_original_ids():
    model = make("popularity").fit(tiny_dataset())
    items, scores = model.recommend(["x", "z"], k=2)
    # x saw b and c; z saw b and a
    assert items.tolist() == [["a", "d"], ["c", "d"]]
    assert scores.tolist() == [[1.0, 0.0], [2.0, 0.0]]
    items, _ = model.recommend(["x"], k=2, exclude_seen=False)
    assert items.tolist() == [["b", "c"]]


def test_recommend_never_lists_seen_items_when_k_exceeds_unseen():
    model = make("popularity").fit(tiny_dataset())
    # x saw b and c: only a and d may be recommended, however large k is
    items, scores = model.recommend(["x"], k=10)
    assert items.tolist() == [["a", "d"]] and scores.tolist() == [[1.0, 0.0]]
    # a batch is as wide as its user with most unseen items; others are padded with -inf
    items, scores = model.recommend(["x", "z"], k=10, include_cold=False)
    assert items.shape == (2, 1) and items.tolist() == [["a"], ["c"]]


def test_state_round_trip():
    ds = tiny_dataset()
    model = make("popularity").fit(ds)
    again = make("popularity").load_state_tensors(model.state_tensors(), ds)
    assert torch.equal(again.score([0]), model.score([0]))
