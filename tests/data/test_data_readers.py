"""Readers: every supported format, compression and encoding gives the expected Dataset."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_core.data import load
from recsys_core.data.readers import infer_format, open_source, sniff_delimiter

ROWS = [("1", "10", 4.0, 964982703), ("1", "20", 5.0, 964982224), ("2", "10", 3.0, 964983815),
        ("3", "30", 1.0, 964983816)]


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def delimited(sep: str, header: bool = True) -> str:
    lines = [sep.join(["userId", "movieId", "rating", "timestamp"])] if header else []
    lines += [sep.join([u, i, f"{r:g}", str(t)]) for u, i, r, t in ROWS]
    return "\n".join(lines) + "\n"


def assert_rows(ds) -> None:
    """ds holds ROWS: users 1,2,3; items 10,20,30; ratings and times in file order."""
    assert ds.user_ids.tolist() == [1, 2, 3]
    assert ds.item_ids.tolist() == [10, 20, 30]
    got = ds.interactions
    assert got["user"].tolist() == [0, 0, 1, 2]
    assert got["item"].tolist() == [0, 1, 0, 2]
    assert got["rating"].tolist() == [4.0, 5.0, 3.0, 1.0]
    assert got["timestamp"].tolist() == [float(r[3]) for r in ROWS]
    assert got.dtypes.astype(str).tolist() == ["int64", "int64", "float32", "float64"]


@pytest.mark.parametrize("sep", [",", ";", "\t", "|", "::"])
def test_delimiter_is_sniffed(tmp_path, sep):
    ds = load(write(tmp_path / "ratings.csv", delimited(sep)))
    assert_rows(ds)
    assert ds.schema["delimiter"] == sep
    assert ds.schema["columns"] == {"user": "userId", "item": "movieId", "rating": "rating",
                                    "timestamp": "timestamp"}


def test_headerless_file_uses_positions(tmp_path):
    ds = load(write(tmp_path / "u.data", delimited("\t", header=False)))
    assert_rows(ds)
    assert ds.schema["header"] is False
    assert ds.name == "ml-100k"


def test_headerless_string_ids(tmp_path):
    ds = load(write(tmp_path / "x.csv", "u1,i1,5\nu2,i1,4\nu2,i2,3\n"))
    assert ds.user_ids.tolist() == ["u1", "u2"]
    assert ds.item_ids.tolist() == ["i1", "i2"]
    assert ds.interactions["rating"].tolist() == [5.0, 4.0, 3.0]


def test_sniffer_prefers_consistent_delimiter():
    lines = ["user,item,title", '1,2,"Hello; world"', '2,3,"a; b; c"']
    assert sniff_delimiter(lines, "f") == ","
    assert sniff_delimiter(["a\tb c", "1\t2 3"], "f") == "\t"


def test_dat_files_movielens_1m_style(tmp_path):
    ratings = write(tmp_path / "ratings.dat", "1::0002844::7::1365029107\n"
                                              "2::0002844::8::1365029108\n2::1074638::10::1\n")
    movies = write(tmp_path / "movies.dat",
                   "0002844::Fantômas - À l'ombre de la guillotine (1913)::Crime|Drama\n"
                   "1074638::\"Weird\" Film (2012)::Comedy\n0000001::Catalogue Only (1999)::\n")
    users = write(tmp_path / "users.dat", "1::F::25::10::48067\n2::M::56::16::70072\n")
    ds = load(ratings, items=movies, users=users)
    # Leading zeros make the item ids strings, sorted as text.
    assert ds.item_ids.tolist() == ["0000001", "0002844", "1074638"]
    assert ds.user_ids.tolist() == [1, 2]
    assert ds.item_texts == ["Catalogue Only (1999)",
                             "Fantômas - À l'ombre de la guillotine (1913). Crime, Drama",
                             '"Weird" Film (2012). Comedy']
    assert ds.items["year"].tolist() == [1999, 1913, 2012]
    assert ds.users.columns.tolist() == ["gender", "age", "occupation", "zip"]
    assert ds.user_texts == ["age 25; gender F; occupation K-12 student",
                             "age 56; gender M; occupation self-employed"]
    assert ds.item_index("0002844") == 1
    with pytest.raises(KeyError, match="unknown item id '2844'"):
        ds.item_index("2844")
    assert ds.stats()["cold_catalogue_items"] == 1


def test_mixed_latin1_and_utf8_bytes(tmp_path):
    movies = write(tmp_path / "movies.dat",
                   "1::Amélie (2001)::Comedy\n".encode() + "2::Café (1999)::Drama\n".encode("latin-1"))
    ratings = write(tmp_path / "ratings.dat", "1::1::5::10\n1::2::4::20\n")
    ds = load(ratings, items=movies)
    assert [ds.item_title(i) for i in range(2)] == ["Amélie (2001)", "Café (1999)"]
    assert any("movies.dat: not valid UTF-8 (first at line 2); those bytes were decoded as "
               "Latin-1" in n for n in ds.report.notes)


ML100K_ITEM = (
    "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
    "2|Señor (1995)|01-Jan-1995||http://y|0|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0|1|0|0\n"
)


def test_movielens_100k(tmp_path):
    data = write(tmp_path / "u.data", "196\t1\t3\t881250949\n186\t2\t3\t891717742\n"
                                      "196\t2\t1\t878887116\n")
    item = write(tmp_path / "u.item", ML100K_ITEM.encode("latin-1"))
    user = write(tmp_path / "u.user", "186|39|F|executive|00000\n196|49|M|writer|55105\n")
    ds = load(data, items=item, users=user)
    assert ds.item_texts == ["Toy Story (1995). Animation, Children's, Comedy",
                             "Señor (1995). Action, Adventure, Thriller"]
    assert ds.items["release_date"].tolist() == ["01-Jan-1995", "01-Jan-1995"]
    assert ds.user_ids.tolist() == [186, 196]
    assert ds.user_texts == ["age 39; gender F; occupation executive",
                             "age 49; gender M; occupation writer"]
    assert ds.users["zip"].tolist() == ["00000", "55105"]
    assert any("u.item: not valid UTF-8" in n for n in ds.report.notes)


def test_recbole_atomic_files(tmp_path):
    inter = write(tmp_path / "ml.inter", "user_id:token\titem_id:token\trating:float\t"
                                         "timestamp:float\n1\t07\t4\t100\n2\t07\t5\t200\n"
                                         "2\t8\t2\t300\n")
    item = write(tmp_path / "ml.item", "item_id:token\tmovie_title:token_seq\tgenre:token_seq\n"
                                       "07\tHeat\tAction Crime\n8\tUp\tAnimation\n")
    ds = load(inter, items=item)
    assert ds.schema["format"] == "recbole"
    assert ds.item_ids.tolist() == ["07", "8"]  # tokens are text: the leading zero stays
    assert ds.interactions["rating"].tolist() == [4.0, 5.0, 2.0]
    assert ds.items.columns.tolist() == ["title", "genres"]
    assert ds.item_texts == ["Heat. Action Crime", "Up. Animation"]


def test_lightgcn_pair_is_a_given_split(tmp_path):
    train = write(tmp_path / "train.txt", "0 0 1 2\n1 1 3\n2 0\n3\n")
    test = write(tmp_path / "test.txt", "0 3\n1 2\n2 1 3\n")
    ds = load(train, test=test)
    assert ds.name == tmp_path.name
    assert ds.user_ids.tolist() == [0, 1, 2, 3]  # user 3 is listed with no items; kept
    assert ds.item_ids.tolist() == [0, 1, 2, 3]
    assert not ds.explicit
    assert ds.split_info["method"] == "given"
    assert ds.train[["user", "item"]].values.tolist() == [[0, 0], [0, 1], [0, 2], [1, 1],
                                                          [1, 3], [2, 0]]
    assert ds.test[["user", "item"]].values.tolist() == [[0, 3], [1, 2], [2, 1], [2, 3]]
    assert len(ds.valid) == 0
    assert (ds.split_info["train"], ds.split_info["test"]) == (6, 4)


def test_parquet(tmp_path):
    frame = pd.DataFrame({"customer_id": ["a", "b", "a"], "sku": [5, 6, 6],
                          "stars": [1.0, 2.0, 3.0],
                          "date": pd.to_datetime(["2021-01-01", "2021-01-02", "2021-01-03"])})
    path = tmp_path / "events.parquet"
    frame.to_parquet(path)
    ds = load(path)
    assert ds.schema["columns"] == {"user": "customer_id", "item": "sku", "rating": "stars",
                                    "timestamp": "date"}
    assert ds.user_ids.tolist() == ["a", "b"]
    assert ds.item_ids.tolist() == [5, 6]
    assert ds.interactions["timestamp"].tolist() == [1609459200.0, 1609545600.0, 1609632000.0]


def test_gzip_and_zip_give_the_same_dataset(tmp_path):
    text = delimited(",")
    plain = load(write(tmp_path / "r.csv", text))
    gz = load(write(tmp_path / "r.csv.gz", gzip.compress(text.encode())))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("r.csv", text)
    zipped = load(write(tmp_path / "r.zip", buf.getvalue()))
    assert_rows(gz)
    assert_rows(zipped)
    assert plain.content_hash() == gz.content_hash() == zipped.content_hash()
    assert "r.csv.gz: gzip-compressed" in gz.report.notes


def test_zip_with_several_members_picks_by_role(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("ml-100k/README", "readme text")
        z.writestr("ml-100k/u.data", "1\t1\t5\t10\n2\t2\t3\t20\n")
        z.writestr("ml-100k/u.item", ML100K_ITEM.encode("latin-1"))
    path = write(tmp_path / "ml-100k.zip", buf.getvalue())
    ds = load(path, items=path)
    assert ds.n_interactions == 2
    assert ds.item_texts[0] == "Toy Story (1995). Animation, Children's, Comedy"


def test_file_like_and_frame_inputs(tmp_path):
    buf = io.BytesIO(delimited(",").encode())
    buf.name = "upload.csv"
    assert_rows(load(buf))
    frame = pd.DataFrame({"user": [1, 1, 2, 3], "item": [10, 20, 10, 30],
                          "rating": [4, 5, 3, 1], "ts": [r[3] for r in ROWS]})
    assert_rows(load(frame))


def test_bom_and_crlf(tmp_path):
    text = "\ufeff" + delimited(",").replace("\n", "\r\n")
    assert_rows(load(write(tmp_path / "r.csv", text)))


def test_timestamps_in_dates_and_milliseconds(tmp_path):
    dates = load(write(tmp_path / "d.csv", "user,item,date\n1,2,2021-03-04\n1,3,2021-03-04 01:00\n"))
    assert dates.interactions["timestamp"].tolist() == [1614816000.0, 1614819600.0]
    ms = load(write(tmp_path / "m.csv", "user,item,ts\n1,2,1614816000000\n1,3,1614819600000\n"))
    assert ms.interactions["timestamp"].tolist() == [1614816000.0, 1614819600.0]
    assert any("timestamps read as milliseconds" in n for n in ms.report.notes)


def test_format_inference(tmp_path):
    cases = {"a.inter": ("user_id:token\n", "recbole"), "u.item": ("1|x\n", "ml100k"),
             "r.dat": ("1::2\n", "dat"), "train.txt": ("0 1 2 3\n1 2\n", "lightgcn"),
             "r.tsv": ("a\tb\n", "tsv"), "r.csv": ("a,b\n1,2\n", "csv"),
             "r.txt": ("user item\n1 2\n", "csv")}
    for name, (text, fmt) in cases.items():
        raw = open_source(write(tmp_path / name, text))
        assert infer_format(raw) == fmt, name


def test_quoted_fields_and_whitespace_ids(tmp_path):
    inter = write(tmp_path / "i.csv", "user_id,item_id\n 7,10\n7 ,11\n8,10\n")
    items = write(tmp_path / "items.csv", 'id,name,description\n10,"Heat, The","A heist. Tense."\n'
                                          '11,Up,\n')
    ds = load(inter, items=items)
    assert ds.user_ids.tolist() == [7, 8]
    assert ds.interactions["user"].tolist() == [0, 0, 1]
    assert ds.items["title"].tolist() == ["Heat, The", "Up"]
    assert ds.item_texts == ["Heat, The. A heist. Tense.", "Up"]
    assert np.array_equal(ds.user_indices([7, "8"]), [0, 1])


def test_multiline_quoted_descriptions(tmp_path):
    inter = write(tmp_path / "i.csv", "user_id,item_id\n1,a\n2,b\n")
    items = write(tmp_path / "items.csv", 'item_id,title,description\n'
                                          'a,Heat,"A heist.\nThen a chase, at night."\n'
                                          'b,Up,"Balloons"\n')
    ds = load(inter, items=items)
    assert ds.item_texts == ["Heat. A heist.\nThen a chase, at night.", "Up. Balloons"]


def test_semicolon_file_with_decimal_commas(tmp_path):
    ds = load(write(tmp_path / "eu.csv", "user;item;rating\n1;2;4,5\n2;2;3\n"))
    assert ds.interactions["rating"].tolist() == [4.5, 3.0]
    assert "eu.csv: column 'rating': decimal commas read as points" in ds.report.notes


def test_space_aligned_columns(tmp_path):
    ds = load(write(tmp_path / "aligned.txt", "  1   10  4\n  2    10 3\n 12  7   5 \n"))
    assert ds.user_ids.tolist() == [1, 2, 12] and ds.item_ids.tolist() == [7, 10]
    assert ds.interactions["rating"].tolist() == [4.0, 3.0, 5.0]
