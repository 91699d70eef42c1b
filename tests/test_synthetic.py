"""The bundled sample data: reproducible from its generator, and shaped like real data."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import svds
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import normalize

from recsys_core.data import synthetic
from recsys_core.data.synthetic import (
    T_END,
    T_START,
    TOPICS,
    generate,
    generate_large,
    main,
    write_sample_data,
)

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
FILES = ("interactions.csv", "items.csv", "users.csv",
         "seed_example/interactions.csv", "seed_example/items.csv")


@pytest.fixture(scope="module")
def data() -> synthetic.SyntheticData:
    return generate(seed=0)


@pytest.fixture(scope="module")
def files() -> dict[str, pd.DataFrame]:
    # Ids are read as strings, as any loader must keep them.
    return {name: pd.read_csv(SAMPLE / f"{name}.csv", dtype={"user_id": str, "item_id": str})
            for name in ("interactions", "items", "users")}


def _gini(counts: np.ndarray) -> float:
    x = np.sort(np.asarray(counts, dtype=float))
    n = len(x)
    return float((2 * np.arange(1, n + 1) - n - 1) @ x / (n * x.sum()))


def _index(ids: pd.Series) -> np.ndarray:
    return ids.str[1:].astype(int).to_numpy() - 1  # "u0042" -> 41


# --------------------------------------------------------------------------- reproducibility


def test_committed_files_are_byte_identical_to_a_fresh_run(tmp_path):
    written = write_sample_data(tmp_path, seed=0)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == sorted(FILES)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), name


def test_cli_regenerates_into_a_folder(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "items.csv").read_bytes() == (SAMPLE / "items.csv").read_bytes()
    assert "wrote" in capsys.readouterr().out
    assert not list((tmp_path / "out").glob(".*.tmp"))  # no temporary files left behind


def test_same_seed_same_data_other_seed_other_data(data):
    again = generate(seed=0, n_users=50, n_items=80, n_interactions=1000)
    pd.testing.assert_frame_equal(again.interactions,
                                  generate(seed=0, n_users=50, n_items=80,
                                           n_interactions=1000).interactions)
    other = generate(seed=1, n_users=50, n_items=80, n_interactions=1000)
    assert not again.interactions.equals(other.interactions)


def test_sample_is_small():
    total = sum((SAMPLE / name).stat().st_size for name in FILES)
    assert total < 5 * 1024 * 1024


# --------------------------------------------------------------------------- shape and validity


def test_sizes_ids_and_columns(files):
    inter, items, users = files["interactions"], files["items"], files["users"]
    assert list(inter.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert list(items.columns) == ["item_id", "title", "description", "genres"]
    assert list(users.columns) == ["user_id", "age", "gender", "occupation", "profile"]
    assert len(inter) == 40_000
    assert len(users) == 1000 and users["user_id"].is_unique
    assert len(items) == 600 and items["item_id"].is_unique
    assert users["user_id"].str.fullmatch(r"u\d{4}").all()
    assert items["item_id"].str.fullmatch(r"m\d{4}").all()
    assert set(inter["user_id"]) == set(users["user_id"])  # every user is active
    assert set(inter["item_id"]) <= set(items["item_id"])
    assert not inter.duplicated(["user_id", "item_id"]).any()
    assert inter.groupby("user_id").size().min() >= 5


def test_ratings_and_timestamps_are_valid(files, data):
    inter, items = files["interactions"], files["items"]
    assert set(inter["rating"].unique()) == {1, 2, 3, 4, 5}
    assert 3.0 < inter["rating"].mean() < 4.0
    assert inter["timestamp"].between(T_START, T_END - 1).all()
    # Never rated before release: the year in the title is the release year.
    year = items.set_index("item_id")["title"].str.extract(r"\((\d{4})\)$")[0].astype(int)
    rated_year = pd.to_datetime(inter["timestamp"], unit="s").dt.year
    assert (rated_year.to_numpy() >= year.loc[inter["item_id"]].to_numpy()).all()
    # Rows come sorted by user, then time.
    keys = list(zip(inter["user_id"], inter["timestamp"]))
    assert keys == sorted(keys)


def test_item_text_looks_like_a_catalogue(files):
    items = files["items"]
    assert items["title"].is_unique
    assert items["title"].str.fullmatch(r"[A-Z][\w' :&-]+ \(\d{4}\)").all()
    sentences = items["description"].str.count(r"\.(?:\s|$)")
    assert sentences.between(1, 2).all()
    assert not items["description"].str.contains(r"\b[Aa] [aeiou]").any()  # "an", not "a"
    genre_names = {t.name for t in TOPICS} | {g for t in TOPICS for g in t.related}
    tags = items["genres"].str.split("|")
    assert tags.map(lambda g: 1 <= len(g) <= 3 and set(g) <= genre_names).all()


def test_users_have_demographics_and_a_profile(files):
    users = files["users"]
    assert users["age"].between(16, 78).all()
    assert set(users["gender"]) == {"F", "M", "X"}
    assert users["occupation"].isin(synthetic.OCCUPATIONS).all()
    assert (users.loc[users["occupation"] == "retired", "age"].median()
            > users["age"].median() + 15)
    assert users["profile"].str.fullmatch(r"[A-Z][^.]+ in their [\w ]+[;, ].+\.").all()


def test_seed_example_matches_the_article():
    inter = pd.read_csv(SAMPLE / "seed_example" / "interactions.csv")
    assert inter.to_dict("records") == [
        {"user_id": "u1", "item_id": "i1", "rating": 5},
        {"user_id": "u1", "item_id": "i2", "rating": 4},
        {"user_id": "u2", "item_id": "i1", "rating": 3},
        {"user_id": "u2", "item_id": "i2", "rating": 2},
    ]
    items = pd.read_csv(SAMPLE / "seed_example" / "items.csv")
    assert list(items["item_id"]) == ["i1", "i2"]
    assert items["title"].str.len().gt(0).all()


def test_files_match_the_latent_truth(files, data):
    # The statistical tests below use the generator's latent variables; they
    # describe the committed files because the files are the generator's output.
    pd.testing.assert_frame_equal(files["items"], data.items.astype({"item_id": str}))
    assert files["interactions"]["item_id"].tolist() == data.interactions["item_id"].tolist()


# --------------------------------------------------------------------------- structure


def test_popularity_is_long_tailed(files):
    counts = files["interactions"]["item_id"].value_counts().to_numpy()
    assert 0.45 < _gini(counts) < 0.75
    top_tenth = np.sort(counts)[::-1][: len(counts) // 10].sum() / counts.sum()
    assert top_tenth > 0.35  # the top 10% of items take over a third of all interactions
    assert counts.max() > 20 * np.median(counts) or counts.max() > 500
    activity = files["interactions"]["user_id"].value_counts()
    assert activity.max() > 4 * activity.median()  # heavy users exist too


def test_users_form_taste_communities(files, data):
    inter = files["interactions"]
    r = sp.csr_matrix((np.ones(len(inter)), (_index(inter["user_id"]), _index(inter["item_id"]))),
                      shape=(1000, 600))
    r = normalize(r)
    sim = (r @ r.T).toarray()
    c = data.user_community
    same = c[:, None] == c[None, :]
    off_diag = ~np.eye(len(c), dtype=bool)
    within, across = sim[same & off_diag].mean(), sim[~same].mean()
    assert within > 1.7 * across
    # The communities can be recovered from the interactions alone.
    u, s, _ = svds(r, k=len(TOPICS), random_state=0)
    found = KMeans(len(TOPICS), n_init=10, random_state=0).fit_predict(normalize(u * s))
    assert adjusted_rand_score(c, found) > 0.7


def test_ratings_are_higher_inside_a_users_community(files, data):
    inter = files["interactions"]
    match = data.item_topic[_index(inter["item_id"])] == data.user_community[_index(inter["user_id"])]
    assert 0.35 < match.mean() < 0.8  # users also stray outside their community
    assert inter["rating"][match].mean() > inter["rating"][~match].mean() + 1.0


def test_descriptions_carry_the_topic(files, data):
    words = [set(re.findall(r"[a-z]+", d.lower())) for d in files["items"]["description"]]
    topic = data.item_topic
    rng = np.random.default_rng(0)
    within, across = [], []
    for a, b in rng.integers(0, len(words), size=(20_000, 2)):
        if a != b:
            jaccard = len(words[a] & words[b]) / len(words[a] | words[b])
            (within if topic[a] == topic[b] else across).append(jaccard)
    assert np.mean(within) > 1.25 * np.mean(across)
    # A bag-of-words model recovers the latent topics from descriptions alone.
    x = TfidfVectorizer(stop_words="english").fit_transform(files["items"]["description"])
    found = KMeans(len(TOPICS), n_init=10, random_state=0).fit_predict(x)
    assert adjusted_rand_score(topic, found) > 0.8


def test_profiles_name_the_community_taste(files, data):
    profiles = files["users"]["profile"]
    hits = [any(t in p for t in TOPICS[c].tastes) for p, c in zip(profiles, data.user_community)]
    assert np.mean(hits) > 0.95


# --------------------------------------------------------------------------- API


def test_generate_large_scales_users_and_items():
    big = generate_large(20_000, seed=3)
    assert len(big.interactions) == 20_000
    assert len(big.users) == 500 and len(big.items) == 600
    assert not big.interactions.duplicated(["user_id", "item_id"]).any()
    assert big.item_topic_weights.shape == (600, len(TOPICS))
    np.testing.assert_allclose(big.user_taste.sum(axis=1), 1.0)


def test_to_dataset_keeps_string_ids(data):
    ds = data.to_dataset()
    assert ds.n_users == 1000 and ds.n_items == 600 and ds.n_interactions == 40_000
    assert ds.user_ids[0] == "u0001" and ds.item_ids[599] == "m0600"
    assert ds.interactions["user"].dtype == np.int64
    assert ds.interactions["rating"].dtype == np.float32
    row = data.interactions.iloc[123]
    assert ds.user_ids[ds.interactions["user"].iat[123]] == row["user_id"]
    assert ds.item_ids[ds.interactions["item"].iat[123]] == row["item_id"]
    assert ds.item_texts[0].startswith(data.items["title"].iat[0] + ". ")
    assert ds.item_title(0) == data.items["title"].iat[0]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n_users": 10, "n_items": 100, "n_interactions": 20},
     "n_interactions must lie between 50 and 330 for 10 users and 100 items, got 20"),
    ({"n_users": 10, "n_items": 5, "n_interactions": 100},
     "need at least 1 user and 16 items, got 10 users and 5 items"),
])
def test_impossible_sizes_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        generate(**kwargs)


def test_loading_the_files_gives_the_direct_dataset(data):
    from recsys_core.data import load

    loaded = load(SAMPLE / "interactions.csv", items=SAMPLE / "items.csv",
                  users=SAMPLE / "users.csv")
    direct = data.to_dataset()
    assert list(loaded.user_ids) == list(direct.user_ids)
    assert list(loaded.item_ids) == list(direct.item_ids)
    pd.testing.assert_frame_equal(loaded.interactions.reset_index(drop=True),
                                  direct.interactions, check_dtype=False)
    assert loaded.item_texts == direct.item_texts
    assert loaded.user_texts == direct.user_texts
    counts = data.interactions["item_id"].value_counts().to_numpy()
    assert loaded.stats()["gini_item_popularity"] == pytest.approx(_gini(counts))


@pytest.mark.parametrize(("n_users", "total", "low", "high"),
                         [(1000, 40_000, 5, 200), (7, 35, 5, 9), (50, 450, 5, 9), (3, 15, 5, 5)])
def test_activity_counts_sum_exactly_and_respect_bounds(n_users, total, low, high):
    counts = synthetic._activity_counts(np.random.default_rng(0), n_users, total, low, high)
    assert counts.sum() == total
    assert counts.min() >= low and counts.max() <= high


def test_sampling_never_repeats_and_fills_up_when_taste_runs_dry():
    # One item takes (almost) all popularity: repeated draws only ever find item 0,
    # so the remaining slots are filled with the next most popular unseen items.
    popularity = np.array([1.0] + [1e-15] * 9)
    weights = np.ones((10, 1))
    taste = np.ones((2, 1))
    users, items = synthetic._sample_interactions(np.random.default_rng(0), taste, weights,
                                                  popularity, np.array([4, 1]))
    pairs = sorted(zip(users.tolist(), items.tolist()))
    assert pairs == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0)]


def test_rank_within_groups():
    assert synthetic._rank_within(np.array([3, 1, 3, 3, 1, 2])).tolist() == [0, 0, 1, 2, 1, 0]
