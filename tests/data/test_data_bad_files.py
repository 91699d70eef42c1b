"""Every bad file in tests/fixtures/bad is refused with a message naming what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys_core.data import DataError, load

BAD = Path(__file__).resolve().parents[1] / "fixtures" / "bad"

# (file, load keyword arguments, message that must appear, column, first rows)
CASES = [
    ("empty.csv", {}, "empty.csv: the file is empty", None, []),
    ("header_only.csv", {}, "header_only.csv: header only (user_id, item_id, rating), no data rows",
     None, []),
    ("single_column.csv", {}, "single_column.csv: only a single column found (line 1: 'user_id')",
     None, []),
    ("unknown_delimiter.csv", {}, "unknown_delimiter.csv: unknown delimiter '#'", None, []),
    ("no_user_column.csv", {},
     "no_user_column.csv: no user column found; columns are: 'movie_id', 'rating', 'timestamp'",
     None, []),
    ("no_item_column.csv", {},
     "no_item_column.csv: no item column found; columns are: 'user_id', 'rating', 'comment'",
     None, []),
    ("ambiguous_columns.csv", {},
     "ambiguous_columns.csv: ambiguous user column: candidates are 'userId', 'user_id'",
     "userId", []),
    ("empty_ids.csv", {}, "empty_ids.csv: column 'user_id': empty user id at line 3", "user_id",
     [3]),
    ("nan_ids.csv", {}, "nan_ids.csv: column 'item_id': empty item id at line 4", "item_id", [4]),
    ("non_numeric_rating.csv", {},
     "non_numeric_rating.csv: column 'rating': non-numeric rating ('great') at line 3", "rating",
     [3]),
    ("negative_rating.csv", {},
     "negative_rating.csv: column 'rating': rating negative or not finite", "rating", [4]),
    ("out_of_range_rating.csv", {"rating_range": (1, 5)},
     "out_of_range_rating.csv: column 'rating': rating outside the range [1, 5]: 7 at line 3",
     "rating", [3]),
    ("bad_timestamp.csv", {},
     "bad_timestamp.csv: column 'timestamp': unparseable timestamp ('yesterday') at line 4",
     "timestamp", [4]),
    ("duplicates.csv", {"dedupe": "error"},
     "duplicates.csv: 1 duplicate (user, item) rows, e.g. at lines 2, 4", None, [2, 4]),
    ("sparse_for_kcore.csv", {"kcore": 2},
     "sparse_for_kcore.csv: 2-core filtering removed every interaction", None, []),
    ("low_ratings.csv", {"threshold": 4},
     "low_ratings.csv: no interaction has rating >= 4; nothing is left", "rating", []),
    ("ragged_rows.csv", {},
     "ragged_rows.csv: rows with a different number of fields than the 3 columns "
     "(user_id, item_id, rating): line 3: '2,11,3,extra'", None, []),
    ("bad_adjacency.txt", {"format": "lightgcn"},
     "bad_adjacency.txt: line 2: 'x' is not an integer id", None, [2]),
    ("no_types.inter", {}, "no_types.inter: a RecBole atomic file needs 'name:type' headers",
     None, []),
    ("too_large.csv", {"max_bytes": 100},
     "too_large.csv: file is 323 bytes, over the 100 bytes limit", None, []),
    ("garbage.csv", {}, "garbage.csv: looks like binary data, not a text table", None, []),
    ("broken.csv.gz", {}, "broken.csv.gz: not a readable gzip file", None, []),
    ("empty_ids.csv", {"format": "xls"}, "empty_ids.csv: unknown format 'xls'", None, []),
    ("duplicates.csv", {"columns": {"user": "buyer"}},
     "duplicates.csv: column 'buyer' given for user is not in the file; "
     "columns are: user_id, item_id, rating", "buyer", []),
]


@pytest.mark.parametrize(("name", "kwargs", "message", "column", "rows"), CASES,
                         ids=[f"{c[0]}-{'-'.join(c[1]) or 'default'}" for c in CASES])
def test_bad_file_message(name, kwargs, message, column, rows):
    with pytest.raises(DataError) as caught:
        load(BAD / name, **kwargs)
    err = caught.value
    assert message in str(err)
    assert err.file == name
    assert err.column == column
    assert err.rows == rows
    assert "Traceback" not in str(err)


def test_every_fixture_is_covered():
    used = {c[0] for c in CASES} | {"new_users_late.csv", "latin1_items.csv"}
    assert {p.name for p in BAD.iterdir()} == used


def test_size_limit_from_environment(monkeypatch):
    monkeypatch.setenv("GRAPHREC_MAX_UPLOAD_MB", "0.0002")  # 209 bytes
    with pytest.raises(DataError, match=r"too_large.csv: file is 323 bytes, over the 209 bytes"):
        load(BAD / "too_large.csv")
    monkeypatch.setenv("GRAPHREC_MAX_UPLOAD_MB", "1")
    assert load(BAD / "too_large.csv").n_interactions == 40


def test_split_leaving_users_without_training_data():
    ds = load(BAD / "new_users_late.csv")
    with pytest.raises(DataError) as caught:
        ds.split("time_cut", cut=800, valid=0.0, cold_users="error")
    assert str(caught.value).startswith(
        "new_users_late: split 'time_cut' leaves 1 users without training data (e.g. users 9)")
    # The stated default drops the held-out interactions of such users and says so.
    split = ds.split("time_cut", cut=800, valid=0.0)
    assert split.split_info["dropped"] == 2
    assert split.test[["user", "item"]].values.tolist() == [
        [split.user_index(1), split.item_index(12)]]
    assert "dropped their 2 held-out interactions" in split.report.warnings[-1]


def test_odd_but_readable_files_load_with_warnings_and_notes():
    ds = load(BAD / "duplicates.csv", items=BAD / "latin1_items.csv")
    assert ds.report.warnings == [
        "duplicates.csv: 1 duplicate (user, item) rows (first at lines 2, 4); dedupe='last': "
        "kept the last row"]
    assert ("latin1_items.csv: not valid UTF-8 (first at line 2); those bytes were decoded as "
            "Latin-1") in ds.report.notes
    assert ds.item_texts == ["Café Society", "Naïve Art", "Plain"]
    # File order of the kept rows: line 3 (user 2), then line 4 (the last row of user 1, item 10).
    assert ds.interactions["rating"].tolist() == [3.0, 4.0]


def test_spreadsheets_are_refused_with_advice(tmp_path):
    import zipfile

    xlsx = tmp_path / "ratings.xlsx"
    with zipfile.ZipFile(xlsx, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
    with pytest.raises(DataError, match="ratings.xlsx: an Excel or OpenDocument workbook, not a "
                                        "table file; save the sheet as CSV"):
        load(xlsx)
    xls = tmp_path / "ratings.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    with pytest.raises(DataError, match="ratings.xls: an old Excel \\(.xls\\) workbook"):
        load(xls)


def test_bad_value_after_the_first_parsed_block_is_still_named(monkeypatch, tmp_path):
    from recsys_core.data import readers

    monkeypatch.setattr(readers, "BLOCK_SIZE", 64)  # types are guessed from 64 bytes
    lines = "".join(f"{u},{u % 7},{u % 5 + 1},{1_600_000_000 + u}\n" for u in range(40))
    path = tmp_path / "late.csv"
    path.write_text("user,item,rating,ts\n" + lines + "41,3,five,1600000041\n")
    with pytest.raises(DataError, match=r"late.csv: column 'rating': non-numeric rating "
                                        r"\('five'\) at line 42"):
        load(path)
