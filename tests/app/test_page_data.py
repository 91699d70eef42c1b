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
