"""MAP@K with both normalisations, worked by hand: min(|T|, K) (``map``) and |T|
(``map_over_relevant``, Microsoft Recommenders' MAP)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from recsys_core import evaluate as ev
from recsys_core.data.dataset import Dataset


def test_the_two_normalisations_by_hand():
    # user 0: hits at ranks 1 and 3 of 4, 5 relevant items -> precision sum 1 + 2/3
    # user 1: one hit at rank 2, 1 relevant item -> precision sum 1/2
    hits = torch.tensor([[True, False, True, False], [False, True, False, False]])
    n_relevant = torch.tensor([5, 1])
    capped = ev.map_at_k(hits, n_relevant, 4)
    over_all = ev.map_over_relevant_at_k(hits, n_relevant, 4)
    assert capped.tolist() == pytest.approx([(5 / 3) / 4, 0.5])  # / min(5, 4), / min(1, 4)
    assert over_all.tolist() == pytest.approx([(5 / 3) / 5, 0.5])  # / 5, / 1
    # at k = 2 user 0 has one hit: 1 / min(5, 2) against 1 / 5
    assert ev.map_at_k(hits, n_relevant, 2)[0].item() == pytest.approx(1 / 2)
    assert ev.map_over_relevant_at_k(hits, n_relevant, 2)[0].item() == pytest.approx(1 / 5)


def test_a_perfect_list_scores_one_only_when_capped():
    hits = torch.ones(1, 3, dtype=torch.bool)  # every slot a hit, 10 relevant items
    assert ev.map_at_k(hits, torch.tensor([10]), 3).item() == pytest.approx(1.0)
    assert ev.map_over_relevant_at_k(hits, torch.tensor([10]), 3).item() == pytest.approx(0.3)


def test_both_appear_in_ranking_metrics_and_evaluate():
    def frame(pairs):
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        return pd.DataFrame({"user": pairs[:, 0], "item": pairs[:, 1],
                             "rating": np.ones(len(pairs), np.float32),
                             "timestamp": np.full(len(pairs), np.nan)})

    train, test = frame([(0, 0)]), frame([(0, 1), (0, 2), (0, 3)])
    ds = Dataset(pd.concat([train, test], ignore_index=True), np.array(["u"]),
                 np.array(["a", "b", "c", "d", "e"]), train=train, valid=frame([]), test=test,
                 explicit=False)

    class Fixed:
        name = "fixed"

        def score(self, users, items=None):  # ranking after masking a: b, e, c, d
            return torch.tensor([[9.0, 8.0, 6.0, 5.0, 7.0]]).expand(len(users), -1)

    # top 2 = b (hit), e (miss): precision sum 1; |T| = 3
    m = ev.ranking_metrics(Fixed(), ds, part="test", ks=(2,))
    assert m["map@2"] == pytest.approx(1 / 2) and m["map_over_relevant@2"] == pytest.approx(1 / 3)
    frame_ = ev.evaluate(Fixed(), ds, ks=(2,), segments=False)
    row = frame_[(frame_.metric == "map_over_relevant") & (frame_.segment == "all")]
    assert row["value"].item() == pytest.approx(1 / 3)
