"""Builders shared by the explanation tests: the seed article's 2x2 example, LightGCN weights, evidence.

A module of its own (not conftest) so that imports never resolve to another folder's conftest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from recsys_core.data.dataset import Dataset
from recsys_core.explain.evidence import (
    Evidence,
    HistoryEvidence,
    PathEvidence,
    PopularityEvidence,
    TagEvidence,
    TextEvidence,
)
from recsys_core.models.lightgcn import LightGCN

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data"


def frame(rows) -> pd.DataFrame:
    """Interaction frame with the Dataset column types from (user, item, rating) rows."""
    users, items, ratings = zip(*rows)
    return pd.DataFrame({
        "user": np.asarray(users, dtype=np.int64),
        "item": np.asarray(items, dtype=np.int64),
        "rating": np.asarray(ratings, dtype=np.float32),
        "timestamp": np.full(len(rows), np.nan),
    })


def seed_dataset() -> Dataset:
    """The seed article's example: users u1, u2; items i1, i2; ratings 5, 4, 3, 2."""
    inter = frame([(0, 0, 5.0), (0, 1, 4.0), (1, 0, 3.0), (1, 1, 2.0)])
    items = pd.DataFrame({
        "title": ["The Silent Orbit (2019)", "Paper Hearts (2021)"],
        "description": ["A stranded starship engineer must decode a signal from a dying star.",
                        "A shy florist answers a stranger's love letters in a rainy London spring."],
        "genres": ["Sci-Fi|Thriller", "Romance|Drama"],
    })
    texts = [f"{t}. {d}" for t, d in zip(items["title"], items["description"])]
    return Dataset(inter, np.array(["u1", "u2"], dtype=object), np.array(["i1", "i2"], dtype=object),
                   items=items, item_texts=texts, name="seed", explicit=True,
                   train=inter, valid=inter.iloc[:0], test=inter.iloc[:0])


def lightgcn_with(ds: Dataset, emb0: np.ndarray | torch.Tensor, layers: int) -> LightGCN:
    """A fitted LightGCN whose ego embeddings are ``emb0`` (users then items)."""
    weight = torch.as_tensor(np.asarray(emb0), dtype=torch.float32)
    model = LightGCN(dim=weight.shape[1], layers=layers)
    return model.load_state_tensors({"embedding.weight": weight}, ds)


def catalogue_ds() -> Dataset:
    """The seed example plus titles with digits, a one-word title and a genre-word title."""
    ds = seed_dataset()
    items = ds.items.copy()
    items.loc[len(items)] = ["Blade Runner 2049 (2017)", "Replicants.", "Sci-Fi"]
    items.loc[len(items)] = ["Up (2009)", "Balloons.", "Animation"]
    items.loc[len(items)] = ["Romance (1999)", "A film called Romance.", "Drama"]
    return ds.replace(items=items, item_ids=np.array(["i1", "i2", "i3", "i4", "i5"], dtype=object),
                      item_texts=ds.item_texts + ["", "", ""])


def evidence(**changes) -> Evidence:
    """Hand-made evidence for (u1, i1) citing 'Blade Runner 2049 (2017)'."""
    ev = Evidence(
        user_id="u1", item_id="i1", item_title="The Silent Orbit (2019)", model="lightgcn",
        score=0.75, rank=4, history_size=12, influence_method="edge removal",
        history=[HistoryEvidence("i3", "Blade Runner 2049 (2017)", 0.02, 0.6234, True, 5.0)],
        paths=[PathEvidence("i3", "Blade Runner 2049 (2017)", 41, 120)],
        text=[TextEvidence("i3", "Blade Runner 2049 (2017)", 0.4812, ("Sci-Fi",))],
        tags=[TagEvidence("Sci-Fi", 7, 12)],
        popularity=PopularityEvidence(1234, 12, 600, 97.5, 15),
    )
    for k, v in changes.items():
        setattr(ev, k, v)
    return ev
