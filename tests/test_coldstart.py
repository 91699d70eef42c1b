"""Cold-start helpers: top-k masking, liked-id lookup, fallbacks for models without text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_core.coldstart import liked_indices, recommend_for_items, recommend_for_text, top_k
from recsys_core.data.dataset import Dataset
from recsys_core.models.base import Recommender


def _dataset() -> Dataset:
    inter = pd.DataFrame({"user": np.array([0, 0, 1], dtype=np.int64),
                          "item": np.array([0, 1, 1], dtype=np.int64),
                          "rating": np.ones(3, dtype=np.float32),
                          "timestamp": np.full(3, np.nan)})
    # Item "d" appears only in the catalogue: no interaction.
    return Dataset(interactions=inter, user_ids=np.array(["u", "v"], dtype=object),
                   item_ids=np.array(["a", "b", "c", "d"], dtype=object),
                   item_texts=["", "", "", ""])


class FixedEmbeddings(Recommender):
    """Item vectors given up front; enough to exercise the item-based fold-in."""

    name = "fixed"

    def __init__(self, vectors: np.ndarray):
        self.vectors = vectors

    def fit(self, dataset, callbacks=()):
        self.dataset_ = dataset
        return self

    def score(self, users, items=None):
        return torch.zeros(len(users), len(self.vectors))

    def item_embeddings(self):
        return self.vectors

    def state_tensors(self):
        return {"vectors": torch.as_tensor(self.vectors)}

    def load_state_tensors(self, tensors, dataset):
        self.vectors = tensors["vectors"].numpy()
        return self.fit(dataset)


def test_top_k_masks_excluded_and_cold_items():
    ds = _dataset()
    scores = torch.tensor([0.1, 0.4, 0.3, 0.9])
    ids, values = top_k(ds, scores, 2)
    assert list(ids) == ["d", "b"] and np.allclose(values, [0.9, 0.4])
    ids, _ = top_k(ds, scores, 3, exclude=np.array([1]))
    assert list(ids) == ["d", "c", "a"]
    ids, _ = top_k(ds, scores, 3, exclude=np.array([1]), include_cold=False)
    # "c" and "d" have no training interaction, "b" is excluded: one item is left.
    assert list(ids) == ["a"]


def test_liked_indices_names_unknown_ids():
    ds = _dataset()
    assert list(liked_indices(ds, ["c", "a", "c"])) == [0, 2]
    with pytest.raises(ValueError, match="unknown item id\\(s\\): 'x', 'y'"):
        liked_indices(ds, ["a", "x", "y"])
    with pytest.raises(ValueError, match="at least one liked item"):
        liked_indices(ds, [])


def test_item_based_fold_in_for_models_without_a_text_pathway():
    vectors = np.array([[1, 0], [0, 1], [1, 1], [-1, 0]], dtype=np.float32)
    model = FixedEmbeddings(vectors).fit(_dataset())
    ids, scores = recommend_for_items(model, ["a"], k=3)
    # Cosines with a=(1,0): c 0.707, b 0, d -1; "a" itself is excluded.
    assert list(ids) == ["c", "b", "d"]
    np.testing.assert_allclose(scores, [2**-0.5, 0.0, -1.0], atol=1e-6)
    with pytest.raises(ValueError) as err:
        recommend_for_text(model, "space operas")
    assert str(err.value) == ("fixed has no text pathway; use text_knn, text_lightgcn or "
                              "text_sage to recommend from a sentence")
