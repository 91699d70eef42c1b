"""BPR matrix factorisation: protocol shapes and ranking quality."""

from __future__ import annotations

import torch

from recsys_core.evaluate import ranking_metrics
from recsys_core.models import make
from recsys_core.models.mf import MFModule


def test_module_protocol_shapes():
    module = MFModule(5, 7, 3)
    users, items = module(torch.tensor([0, 4]), torch.tensor([1, 2, 6]))
    assert users.shape == (2, 3) and items.shape == (3, 3)
    all_users, all_items = module.embeddings()
    assert all_users.shape == (5, 3) and all_items.shape == (7, 3)
    assert torch.equal(module.ego(torch.tensor([4]), torch.tensor([6]))[1], all_items[6:7])


def test_mf_beats_popularity(small_ds, popularity_ndcg):
    model = make("mf", dim=32, lr=0.05, batch_size=512, epochs=15, patience=3).fit(small_ds)
    ndcg = ranking_metrics(model, small_ds, part="test")["ndcg@20"]
    assert ndcg > popularity_ndcg * 1.1, (ndcg, popularity_ndcg)
    assert model.user_embeddings().shape == (small_ds.n_users, 32)
