"""Small real datasets for model tests: the project's synthetic catalogue, split per user."""

from __future__ import annotations

import pytest

from recsys_core.data.synthetic import generate


def small_dataset(seed: int = 1, explicit: bool = True):
    """200 users, 120 items, 4,000 interactions with taste communities; random 70/10/20 split."""
    ds = generate(seed=seed, n_users=200, n_items=120, n_interactions=4000).to_dataset("small")
    if not explicit:
        ds = ds.replace(explicit=False)
    return ds.split("random", test=0.2, valid=0.1, seed=0)


@pytest.fixture(scope="session")
def small_ds():
    return small_dataset()


@pytest.fixture(scope="session")
def popularity_ndcg(small_ds):
    from recsys_core.evaluate import ranking_metrics
    from recsys_core.models import make

    return ranking_metrics(make("popularity").fit(small_ds), small_ds, part="test")["ndcg@20"]


# --- text models: a 32-item catalogue with 20% cold items, and one text cache per session ---


@pytest.fixture(scope="module")
def text_home(tmp_path_factory):
    """GRAPHREC_HOME shared by the session, so each text is embedded once across test files."""
    home = tmp_path_factory.getbasetemp() / "graphrec-text-home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRAPHREC_HOME", str(home))
        yield home


@pytest.fixture(scope="module")
def synthetic():
    return generate(seed=0, n_users=50, n_items=32, n_interactions=400)


@pytest.fixture(scope="module")
def split(synthetic):
    return synthetic.to_dataset().split("cold_items", fraction=0.2, seed=0)
