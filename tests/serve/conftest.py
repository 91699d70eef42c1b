"""Saved runs for the service tests: MF and text_knn on a small synthetic catalogue."""

from __future__ import annotations

import pytest

from recsys_core.data.synthetic import generate
from recsys_core.models import make
from recsys_core.runs import RunStore

#: A title that would run script if anything rendered it as HTML.
HOSTILE_TITLE = '<script>alert("x")</script> & <b>bold</b>'


def small_split():
    """150 users, 90 items; item 0's title is markup (it must come back as plain data)."""
    ds = generate(seed=3, n_users=150, n_items=90, n_interactions=2500).to_dataset("serve-small")
    items = ds.items.copy()
    items.loc[0, "title"] = HOSTILE_TITLE
    return ds.replace(items=items).split("random", test=0.2, valid=0.1, seed=0)


@pytest.fixture(scope="session")
def serve_home(tmp_path_factory):
    """A run store holding one MF run (the default) and one text_knn run."""
    home = tmp_path_factory.mktemp("serve-home")
    store = RunStore(home)
    ds = small_split()
    mf = make("mf", epochs=8, seed=0).fit(ds)
    text = make("text_knn").fit(ds)
    ids = {"text_knn": store.save(text, ds, {"ndcg@10": 0.5}),
           "mf": store.save(mf, ds, {"ndcg@10": 0.25})}
    return home, ids
