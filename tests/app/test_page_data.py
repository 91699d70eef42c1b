"""Data page: sources, inferred column mapping, options, errors in plain words, the registry."""

from __future__ import annotations

import pytest
from apptest_helpers import assert_clean, open_page, texts
from streamlit import config

from ui import state

UNUSUAL = (b"visitorid;productId;stars;datetime\n"
           + b"".join(f"v{u};p{i};{1 + (u + i) % 5};2024-01-{1 + (u * 3 + i) % 28:02d}\n".encode()
                      for u in range(30) for i in range(12) if (u + i) % 3))


def upload_source(at):
    at.radio(key="data_source").set_value("upload").run()
    assert_clean(at)
    return at


def selectbox(at, label):
    return next(s for s in at.selectbox if s.label == label)


def test_sample_is_current_on_first_start_and_charts_show():
    at = open_page("data")
    assert at.session_state[state.CURRENT] == state.SAMPLE_NAME
    assert "Current dataset: sample" in [s.value for s in at.subheader]
    assert "Split **random**" in texts(at)
    assert len(at.get("plotly_chart")) >= 4  # ratings, two degree charts, long tail


def test_upload_with_unusual_column_names_is_inferred_and_loads():
    at = upload_source(open_page("data"))
    assert "200 MB" in texts(at)  # the configured limit is stated
    at.file_uploader(key="upload_interactions").set_value(("clicks.csv", UNUSUAL, "text/csv"))
    at.run()
    assert_clean(at)
    mapping = {role: selectbox(at, role).value for role in ("user", "item", "rating", "timestamp")}
    assert mapping == {"user": "visitorid", "item": "productId", "rating": "stars",
                       "timestamp": "datetime"}
    at.text_input(key="opt_name_clicks").set_value("clicks").run()
    at.button(key="load_button").click().run()
    assert_clean(at)
    assert not at.error, [e.value for e in at.error]
    assert at.session_state[state.CURRENT] == "clicks"
    assert set(at.session_state[state.DATASETS]) == {"sample", "clicks"}
    ds = at.session_state[state.DATASETS]["clicks"]
    assert ds.n_users == 30 and ds.n_items == 12 and ds.is_split
    assert any(m.value.startswith("Loaded “clicks”: 30 users") for m in at.success)
    picker = at.sidebar.selectbox(key=state.PICKER)  # the sidebar follows
    assert picker.value == "clicks" and picker.options == ["sample", "clicks"]


def test_changed_mapping_is_used():
    at = upload_source(open_page("data"))
    at.file_uploader(key="upload_interactions").set_value(("clicks.csv", UNUSUAL, "text/csv"))
    at.run()
    selectbox(at, "rating").set_value("(none)").run()
    at.selectbox(key="opt_split").set_value("none")
    at.run()
    at.button(key="load_button").click().run()
    assert_clean(at)
    ds = at.session_state[state.DATASETS]["clicks"]
    assert not ds.explicit and ds.schema["columns"]["rating"] is None and not ds.is_split


def test_bad_file_shows_the_loader_message_not_a_traceback():
    at = upload_source(open_page("data"))
    at.file_uploader(key="upload_interactions").set_value(
        ("empty.csv", b"user_id,item_id,rating\n", "text/csv"))
    at.run()
    assert_clean(at)
    assert any("header only" in e.value and "empty.csv" in e.value for e in at.error)


def test_ambiguous_columns_warn_and_can_be_resolved():
    data = b"user_id,UserId,item_id\n" + b"".join(f"a{k},b{k},i{k % 4}\n".encode() for k in range(20))
    at = upload_source(open_page("data"))
    at.file_uploader(key="upload_interactions").set_value(("amb.csv", data, "text/csv"))
    at.run()
    assert_clean(at)
    assert any("ambiguous user column" in w.value for w in at.warning)
    selectbox(at, "user").set_value("UserId").run()
    at.selectbox(key="opt_split").set_value("none")
    at.run()
    at.button(key="load_button").click().run()
    ds = at.session_state[state.DATASETS]["amb"]
    assert list(ds.user_ids[:2]) == ["b0", "b1"]


def test_seed_example_with_threshold_and_kcore_options():
    at = open_page("data")
    at.radio(key="data_source").set_value("seed example").run()
    at.selectbox(key="opt_split").set_value("none")
    at.checkbox(key="opt_implicit").check().run()
    at.number_input(key="opt_threshold").set_value(3.0).run()
    # The options sit in a popover; the line beside it says what they are.
    assert "implicit: ratings ≥ 3 kept as 1s · no k-core · not split" in [c.value for c in at.caption]
    at.button(key="load_button").click().run()
    assert_clean(at)
    ds = at.session_state[state.DATASETS]["seed example"]
    assert ds.n_interactions == 3 and not ds.explicit  # the rating-2 interaction is dropped
    assert [m.value for m in at.metric][:3] == ["2", "2", "3"]
    at.checkbox(key="opt_implicit").uncheck().run()
    at.number_input(key="opt_kcore").set_value(3).run()
    at.button(key="load_button").click().run()
    assert_clean(at)
    assert any("3-core filtering removed every interaction" in e.value for e in at.error)
    assert at.session_state[state.DATASETS]["seed example"].n_interactions == 3  # unchanged


def test_file_over_the_upload_limit_gets_a_clear_message():
    old = config.get_option("server.maxUploadSize")
    config.set_option("server.maxUploadSize", 1)
    try:
        at = upload_source(open_page("data"))
        big = b"user_id,item_id\n" + b"u1,i1\n" * 200_000  # 1.2 MB
        at.file_uploader(key="upload_interactions").set_value(("big.csv", big, "text/csv"))
        at.run()
        assert_clean(at)
        assert any("over the 1 MB upload limit" in e.value for e in at.error)
    finally:
        config.set_option("server.maxUploadSize", old)


@pytest.mark.parametrize("method", ["temporal", "cold_items"])
def test_split_methods(method):
    at = upload_source(open_page("data"))
    at.file_uploader(key="upload_interactions").set_value(("clicks.csv", UNUSUAL, "text/csv"))
    at.run()
    at.selectbox(key="opt_split").set_value(method)
    at.run()
    at.button(key="load_button").click().run()
    assert_clean(at)
    ds = at.session_state[state.DATASETS]["clicks"]
    assert ds.split_info["method"] == method
    assert f"Split **{method}**" in texts(at)


def test_gzip_upload_with_item_and_user_metadata():
    import gzip
    from pathlib import Path

    from apptest_helpers import APP

    root = Path(APP).parent / "sample_data"
    at = upload_source(open_page("data"))
    at.file_uploader(key="upload_interactions").set_value(
        ("ratings.csv.gz", gzip.compress((root / "interactions.csv").read_bytes()),
         "application/gzip"))
    at.file_uploader(key="upload_items").set_value(
        ("movies.csv", (root / "items.csv").read_bytes(), "text/csv"))
    at.file_uploader(key="upload_users").set_value(
        ("people.csv", (root / "users.csv").read_bytes(), "text/csv"))
    at.run()
    assert_clean(at)
    assert selectbox(at, "timestamp").value == "timestamp"
    at.button(key="load_button").click().run()
    assert_clean(at)
    ds = at.session_state[state.DATASETS]["ratings"]
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (1000, 600, 40_000)
    assert ds.item_title(0) == at.session_state[state.DATASETS]["sample"].item_title(0)
    notes = [m.value.replace("\\", "") for m in at.markdown]  # markdown-escaped on the page
    assert any("ratings.csv.gz: gzip-compressed" in n for n in notes)  # the report says so


def test_lightgcn_adjacency_file_needs_no_mapping():
    lines = "".join(f"{u} " + " ".join(str((u * 7 + k) % 40) for k in range(6)) + "\n"
                    for u in range(25))
    at = upload_source(open_page("data"))
    at.file_uploader(key="upload_interactions").set_value(
        ("train.txt", lines.encode(), "text/plain"))
    at.run()
    assert_clean(at)
    assert any("LightGCN adjacency lists" in c.value for c in at.caption)
    assert not [s for s in at.selectbox if s.label == "user"]
    at.button(key="load_button").click().run()
    assert_clean(at)
    assert at.session_state[state.CURRENT] == "train"
    assert at.session_state[state.DATASETS]["train"].n_interactions == 25 * 6


# A LightGCN train/test pair: 10 users with 4 training items each out of 12; each user's one
# test item is 4 places past their first, so never a training pair. User 0 also lists item 0
# in test, which is in training: the loader drops it, leaving 40 train and 10 test.
LIGHTGCN_TRAIN = "".join(f"{u} " + " ".join(str((u * 3 + k) % 12) for k in range(4)) + "\n"
                         for u in range(10)).encode()
LIGHTGCN_TEST = ("0 4 0\n" + "".join(f"{u} {(u * 3 + 4) % 12}\n" for u in range(1, 10))).encode()


def upload_lightgcn_pair(at, test: bytes = LIGHTGCN_TEST):
    at.file_uploader(key="upload_interactions").set_value(
        ("train.txt", LIGHTGCN_TRAIN, "text/plain"))
    at.file_uploader(key="upload_test").set_value(("test.txt", test, "text/plain"))
    at.run()
    assert_clean(at)
    return at


def test_lightgcn_train_test_pair_keeps_the_given_split():
    at = upload_lightgcn_pair(upload_source(open_page("data")))
    picker = at.selectbox(key="opt_split_given")  # the split is fixed, not offered again
    assert picker.value == "given" and picker.disabled
    assert not [s for s in at.selectbox if s.key == "opt_split"]
    at.button(key="load_button").click().run()
    assert_clean(at)
    assert not at.error, [e.value for e in at.error]
    ds = at.session_state[state.DATASETS]["train"]
    assert ds.split_info["method"] == "given"
    assert (ds.n_users, ds.n_items) == (10, 12)
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (40, 0, 10)
    assert ("Split **given**: 40 train, 0 validation, 10 test interactions." in texts(at))
    assert any("1 test interactions also appear in training" in w.value for w in at.warning)
    assert ds.schema["files"]["test"] == "test.txt"


def test_given_split_can_carve_validation_from_train_only():
    at = upload_lightgcn_pair(upload_source(open_page("data")))
    at.slider(key="opt_given_valid").set_value(0.25).run()
    at.button(key="load_button").click().run()
    assert_clean(at)
    ds = at.session_state[state.DATASETS]["train"]
    assert ds.split_info["method"] == "given"
    assert len(ds.test) == 10 and len(ds.valid) > 0 and len(ds.train) + len(ds.valid) == 40
    # the test set is exactly the uploaded test file's pairs, not re-drawn
    test_pairs = {(str(ds.user_ids[u]), str(ds.item_ids[i]))
                  for u, i in zip(ds.test["user"], ds.test["item"])}
    assert test_pairs == {(str(u), str((u * 3 + 4) % 12)) for u in range(10)}
    assert f"{len(ds.valid):,} validation, 10 test interactions" in texts(at)


def test_test_file_over_the_upload_limit_gets_a_clear_message():
    old = config.get_option("server.maxUploadSize")
    config.set_option("server.maxUploadSize", 1)
    try:
        at = upload_source(open_page("data"))
        big = b"0 1\n" * 300_000  # 1.2 MB
        upload_lightgcn_pair(at, test=big)
        assert any("test.txt is 1.1 MB, over the 1 MB upload limit" in e.value
                   for e in at.error)
        assert not [b for b in at.button if b.key == "load_button"]  # nothing to load
    finally:
        config.set_option("server.maxUploadSize", old)


def test_options_are_described_in_plain_words():
    from ui.data_form import describe

    base = {"threshold": None, "kcore": 0, "split": "random", "seed": 0,
            "params": {"test": 0.2, "valid": 0.1}}
    assert describe(base) == ("explicit ratings · no k-core · random split "
                              "(20% test, 10% validation, seed 0)")
    assert describe({**base, "threshold": 4.0, "kcore": 5, "split": "temporal",
                     "params": {"test": 0.25, "valid": 0.0}}) == (
        "implicit: ratings ≥ 4 kept as 1s · 5-core · temporal split (25% test)")
    assert describe({**base, "split": "cold_items", "seed": 3,
                     "params": {"fraction": 0.3, "valid": 0.05}}).endswith(
        "cold_items split (30% cold items, 5% validation, seed 3)")
    assert describe({**base, "split": "none", "params": {}}).endswith("· not split")
    assert describe({**base, "split": "given", "params": {"valid": 0.0}}).endswith(
        "· given split")
