"""The readers on the real benchmark files in ../shared/bench (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys_core.data import load

BENCH = Path(__file__).resolve().parents[3] / "shared" / "bench"
MT = BENCH / "movietweetings-100k"
GOWALLA = BENCH / "gowalla"


@pytest.mark.skipif(not (MT / "ratings.dat").exists(), reason="movietweetings not available")
def test_movietweetings():
    ds = load(MT / "ratings.dat", items=MT / "movies.dat")
    assert ds.n_interactions == 100_000
    assert ds.schema["format"] == "dat"
    assert ds.explicit and ds.interactions["rating"].between(0, 10).all()
    assert ds.schema["id_type"] == {"user": "int", "item": "str"}  # 7-digit ids, leading zeros
    i = ds.item_index("0002844")
    assert ds.item_texts[i] == "Fantômas - À l'ombre de la guillotine (1913). Crime, Drama"
    assert ds.items["year"].iloc[i] == 1913
    assert ds.interactions["timestamp"].notna().all()
    split = ds.split("temporal", test=0.2, valid=0.1)
    assert split.split_info["test"] > 0


@pytest.mark.slow
@pytest.mark.skipif(not (GOWALLA / "train.txt").exists(), reason="gowalla not available")
def test_gowalla_given_split():
    ds = load(GOWALLA / "train.txt", test=GOWALLA / "test.txt")
    assert (ds.n_users, ds.n_items) == (29_858, 40_981)
    assert (len(ds.train), len(ds.test), len(ds.valid)) == (810_128, 217_242, 0)
    assert ds.split_info["method"] == "given" and ds.split_info["dropped"] == 0
    # Ids are the file's own integers, so index == original id.
    assert ds.user_ids[123] == 123 and ds.item_ids[40_980] == 40_980
    assert not ds.explicit
    assert ds.matrix("train").nnz == 810_128
