"""Shared fixtures: the bundled sample and a LightGCN with seeded weights on it."""

from __future__ import annotations

import numpy as np
import pytest
from explain_helpers import SAMPLE, lightgcn_with

from recsys_core.data import load
from recsys_core.data.dataset import Dataset
from recsys_core.models.lightgcn import LightGCN


@pytest.fixture(scope="session")
def sample_ds() -> Dataset:
    ds = load(SAMPLE / "interactions.csv", items=SAMPLE / "items.csv")
    return ds.split("random", test=0.2, valid=0.1, seed=0)


@pytest.fixture(scope="session")
def sample_model(sample_ds) -> LightGCN:
    """LightGCN with seeded random ego embeddings: propagation is real, no training needed."""
    rng = np.random.default_rng(0)
    emb0 = rng.normal(scale=0.1, size=(sample_ds.n_users + sample_ds.n_items, 16))
    return lightgcn_with(sample_ds, emb0, layers=3)
