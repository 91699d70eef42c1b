"""load(): column inference, feedback, duplicates, k-core, metadata and texts, identity."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_core.data import DataError, infer_columns, kcore_filter, load

ROOT = Path(__file__).resolve().parents[2]


def csv(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ---------------------------------------------------------------------- columns


@pytest.mark.parametrize(("names", "expected"), [
    (["userId", "movieId", "rating", "timestamp"], ("userId", "movieId", "rating", "timestamp")),
    (["CUSTOMER_ID", "Product ID", "Stars", "Date"], ("CUSTOMER_ID", "Product ID", "Stars", "Date")),
    (["visitorid", "itemid", "event", "ts"], ("visitorid", "itemid", None, "ts")),
    (["member_id", "asin", "overall", "unixReviewTime"],
     ("member_id", "asin", "overall", "unixReviewTime")),
    (["uid", "iid"], ("uid", "iid", None, None)),
    (["user_id:token", "item_id:token", "rating:float"],
     ("user_id:token", "item_id:token", "rating:float", None)),
    (["user", "user_id", "sku", "score", "datetime"], ("user_id", "sku", "score", "datetime")),
])
def test_infer_columns_synonyms(names, expected):
    roles = infer_columns(names)
    assert (roles["user"], roles["item"], roles["rating"], roles["timestamp"]) == expected


def test_infer_columns_explicit_mapping_and_errors():
    frame = pd.DataFrame(columns=["buyer", "thing", "rating", "when"])
    assert infer_columns(frame, {"user": "buyer", "item": "thing", "timestamp": "when"}) == {
        "user": "buyer", "item": "thing", "rating": "rating", "timestamp": "when"}
    # None removes a role that would otherwise be inferred.
    assert infer_columns(["u", "i", "rating"], {"rating": None})["rating"] is None
    with pytest.raises(DataError, match="ambiguous item column: candidates are 'itemId', 'item_id'"):
        infer_columns(["user", "itemId", "item_id"])
    with pytest.raises(DataError, match="unknown column role 'price'"):
        infer_columns(["user", "item"], {"price": "p"})


def test_load_reports_inferred_and_given_columns(tmp_path):
    path = csv(tmp_path, "r.csv", "buyer,sku,stars\na,x,5\nb,y,3\n")
    ds = load(path, columns={"user": "buyer"})
    assert ds.schema["columns"] == {"user": "buyer", "item": "sku", "rating": "stars",
                                    "timestamp": None}
    assert ds.schema["inferred"] == ["item", "rating"]
    assert "r.csv: columns user='buyer', item='sku', rating='stars' (inferred: item, rating)" in (
        ds.report.notes)


# ---------------------------------------------------------------------- feedback


DUPES = "user,item,rating,ts\nu1,i1,2,10\nu1,i1,4,5\nu2,i1,1,1\nu1,i1,3,20\nu1,i2,5,7\n"


@pytest.mark.parametrize(("rule", "rating", "ts"), [
    ("last", 3.0, 20.0),  # latest by timestamp
    ("first", 4.0, 5.0),  # earliest by timestamp
    ("mean", 3.0, 20.0),  # (2 + 4 + 3) / 3, latest time
    ("max", 4.0, 20.0),
])
def test_dedupe_rules(tmp_path, rule, rating, ts):
    ds = load(csv(tmp_path, "d.csv", DUPES), dedupe=rule)
    assert ds.n_interactions == 3
    frame = ds.interactions
    u1i1 = frame[(frame["user"] == 0) & (frame["item"] == 0)]
    assert u1i1["rating"].tolist() == [rating]
    assert u1i1["timestamp"].tolist() == [ts]
    assert any(f"d.csv: 2 duplicate (user, item) rows (first at lines 2, 3, 5); dedupe='{rule}'"
               in w for w in ds.report.warnings)


def test_dedupe_without_timestamps_uses_row_order(tmp_path):
    text = "user,item,rating\n1,1,2\n1,1,4\n1,1,3\n"
    assert load(csv(tmp_path, "a.csv", text), dedupe="last").interactions["rating"].tolist() == [3]
    assert load(csv(tmp_path, "b.csv", text), dedupe="first").interactions["rating"].tolist() == [2]


def test_threshold_makes_implicit_feedback(tmp_path):
    ds = load(csv(tmp_path, "t.csv", "user,item,rating\n1,1,5\n1,2,3\n2,1,4\n2,3,1\n"),
              threshold=4)
    assert not ds.explicit
    assert ds.interactions[["user", "item", "rating"]].values.tolist() == [[0, 0, 1.0],
                                                                          [1, 0, 1.0]]
    # Users and items left without interactions are gone from the id maps.
    assert ds.user_ids.tolist() == [1, 2] and ds.item_ids.tolist() == [1]
    assert "threshold 4: kept 2 of 4 interactions with rating >= 4 as implicit positives" in (
        ds.report.notes)


def test_no_rating_column_is_implicit(tmp_path):
    ds = load(csv(tmp_path, "i.csv", "user,item\n1,1\n1,2\n"))
    assert not ds.explicit
    assert ds.interactions["rating"].tolist() == [1.0, 1.0]
    assert ds.interactions["timestamp"].isna().all()
    with pytest.raises(DataError, match="threshold=3 needs a rating column"):
        load(csv(tmp_path, "i.csv", "user,item\n1,1\n1,2\n"), threshold=3)


# ---------------------------------------------------------------------- k-core


def test_kcore_iterates_to_a_fixed_point(tmp_path):
    # Round 1 drops u4-c (u4 has one interaction); then c has one, so u3-c goes;
    # then u3 has one, so u3-b goes. What is left is the 2-core {u1, u2} x {a, b}.
    text = "user,item\nu1,a\nu1,b\nu2,a\nu2,b\nu3,b\nu3,c\nu4,c\n"
    ds = load(csv(tmp_path, "k.csv", text), kcore=2)
    assert ds.user_ids.tolist() == ["u1", "u2"]
    assert ds.item_ids.tolist() == ["a", "b"]
    assert ds.n_interactions == 4
    assert "2-core: 4 of 7 interactions kept after 4 rounds; users 2 of 4, items 2 of 3" in (
        ds.report.notes)


def test_kcore_result_has_min_degree_k():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user": rng.integers(0, 300, 3000), "item": rng.zipf(1.6, 3000) % 500})
    kept = kcore_filter(frame, 5)
    assert kept.groupby("user").size().min() >= 5
    assert kept.groupby("item").size().min() >= 5
    # A fixed point: filtering again removes nothing.
    assert len(kcore_filter(kept, 5)) == len(kept)


# ---------------------------------------------------------------------- metadata


def test_item_and_user_metadata(tmp_path):
    inter = csv(tmp_path, "inter.csv", "user_id,item_id,rating\nu1,i1,5\nu2,i2,3\nu2,i9,1\n")
    items = csv(tmp_path, "items.csv",
                "item_id,title,genres,description,price\n"
                "i1,Heat,Action|Crime,A heist goes wrong.,9.5\n"
                "i2,Up,Animation,A house flies.,3\n"
                "i3,Cold,Drama,Never rated.,1\n")
    users = csv(tmp_path, "users.csv", "user_id,age,gender,occupation,bio\n"
                                       "u1,34,F,nurse,Likes thrillers\nu3,20,M,student,\n")
    ds = load(inter, items=items, users=users)
    assert ds.item_ids.tolist() == ["i1", "i2", "i3", "i9"]
    assert ds.item_texts == ["Heat. Action, Crime. A heist goes wrong.",
                             "Up. Animation. A house flies.", "Cold. Drama. Never rated.", ""]
    assert ds.items["price"].tolist()[:3] == [9.5, 3.0, 1.0]
    assert ds.users["age"].tolist()[0] == 34 and ds.users["age"].isna().tolist()[1]
    assert ds.item_title(3) == "i9"
    # Users only in the user file are kept (cold users with a profile).
    assert ds.user_ids.tolist() == ["u1", "u2", "u3"]
    assert ds.user_texts == ["age 34; gender F; occupation nurse; profile Likes thrillers", "",
                             "age 20; gender M; occupation student"]
    assert ds.stats()["cold_catalogue_items"] == 1
    assert "items.csv: 1 catalogue items have no interactions; kept as cold items (text only)" in (
        ds.report.notes)

    chosen = load(inter, items=items, item_text_columns=["description", "title"])
    assert chosen.item_texts[0] == "A heist goes wrong. Heat"
    assert chosen.schema["items"]["text_columns"] == ["description", "title"]
    with pytest.raises(DataError, match="text column\\(s\\) 'plot' not found"):
        load(inter, items=items, item_text_columns=["plot"])


def test_metadata_with_repeated_ids_keeps_first(tmp_path):
    inter = csv(tmp_path, "inter.csv", "user,item\n1,1\n")
    items = csv(tmp_path, "items.csv", "item,title\n1,First\n1,Second\n")
    ds = load(inter, items=items)
    assert ds.item_texts == ["First"]
    assert "items.csv: 1 repeated item ids (first at line 3); kept the first row of each" in (
        ds.report.warnings)


# ---------------------------------------------------------------------- identity


def test_content_hash_is_stable_across_processes(tmp_path):
    path = csv(tmp_path, "h.csv", "user,item,rating,ts\nb,x,5,1\na,y,3,2\nc,x,1,3\n")
    here = load(path).content_hash()
    code = f"from recsys_core.data import load; print(load({str(path)!r}).content_hash())"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           cwd=ROOT, check=True).stdout.strip()
    assert here == other
    changed = csv(tmp_path, "h2.csv", "user,item,rating,ts\nb,x,5,1\na,y,4,2\nc,x,1,3\n")
    assert load(changed).content_hash() != here


def test_ids_sorted_and_mapped_both_ways(tmp_path):
    ds = load(csv(tmp_path, "m.csv", "user,item\n10,b\n2,a\n10,a\n"))
    assert ds.user_ids.tolist() == [2, 10]  # numeric order, not text order
    assert ds.item_ids.tolist() == ["a", "b"]
    assert ds.user_index(10) == 1 and ds.user_index("10") == 1
    assert ds.item_index("b") == 1
    assert ds.interactions[["user", "item"]].values.tolist() == [[1, 1], [0, 0], [1, 0]]
    m = ds.matrix("all")
    assert m.shape == (2, 2) and m.toarray().tolist() == [[1, 0], [1, 1]]


def test_given_split_from_any_format(tmp_path):
    train = csv(tmp_path, "train.csv", "user,item,rating\na,x,5\na,y,4\nb,x,3\n")
    test = csv(tmp_path, "test.csv", "user,item,rating\na,z,5\nb,x,2\nc,x,1\n")
    ds = load(train, test=test)
    assert ds.item_ids.tolist() == ["x", "y", "z"] and ds.user_ids.tolist() == ["a", "b", "c"]
    # b-x is a training pair: never tested on. c has no training data: dropped (stated default).
    assert ds.test[["user", "item"]].values.tolist() == [[0, 2]]
    assert ds.split_info["dropped"] == 1
    assert "test.csv: 1 test interactions also appear in training; dropped from test" in (
        ds.report.warnings)
    with pytest.raises(DataError, match="leaves 1 users without training data \\(e.g. users c\\)"):
        ds.split("given", cold_users="error")


def test_filters_drop_filtered_entities_but_keep_catalogue_only_ones(tmp_path):
    inter = csv(tmp_path, "inter.csv", "user,item\nu1,a\nu1,b\nu2,a\nu2,b\nu3,c\n")
    items = csv(tmp_path, "items.csv", "item,title\na,A\nb,B\nc,C\nd,D\n")
    users = csv(tmp_path, "users.csv", "user,age\nu1,30\nu3,40\nu9,50\n")
    ds = load(inter, items=items, users=users, kcore=2)
    assert ds.item_ids.tolist() == ["a", "b", "d"]  # c lost its interactions; d never had any
    assert ds.user_ids.tolist() == ["u1", "u2", "u9"]
    assert ds.item_texts == ["A", "B", "D"]
    assert ds.user_texts == ["age 30", "", "age 50"]
    assert "users.csv: 1 users have a profile but no interactions; kept as cold users" in (
        ds.report.notes)
