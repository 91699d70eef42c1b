"""``load``: files in, a validated :class:`~recsys_core.data.dataset.Dataset` out.

The pipeline, each step vectorised and reported:

1. read the interaction file(s) (:mod:`recsys_core.data.readers`), infer the
   user / item / rating / timestamp columns (:mod:`recsys_core.data.columns`);
2. validate ids, ratings and timestamps, naming file, column and first lines
   of every problem;
3. resolve duplicate (user, item) rows by the ``dedupe`` rule, apply the
   implicit-feedback ``threshold``, then the iterated ``kcore`` filter;
4. join item and user metadata by id, compose one text per item and per user;
5. map ids to contiguous indices (sorted original ids; integer ids when every
   id is a plain integer, otherwise strings).

Items listed only in the item file (no interactions) stay in the catalogue as
cold items with text; users listed only in the user file likewise.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recsys_core.data.columns import infer_columns, infer_id_column, normalize_name
from recsys_core.data.dataset import Dataset
from recsys_core.data.readers import Table, open_source, read_table
from recsys_core.data.report import DataError, ValidationReport

DEDUPE_RULES = ("last", "first", "mean", "max", "error")

# Metadata columns recognised by name -> canonical name.
_ITEM_ALIASES = {
    "title": ("title", "name", "itemname", "movietitle", "productname", "booktitle", "trackname",
              "songname", "headline"),
    "description": ("description", "desc", "overview", "plot", "summary", "synopsis", "abstract",
                    "about", "body", "content", "text"),
    "genres": ("genres", "genre", "tags", "tag", "category", "categories", "keywords", "labels"),
}
_USER_ALIASES = {
    "age": ("age", "agegroup"),
    "gender": ("gender", "sex"),
    "occupation": ("occupation", "job", "profession"),
    "profile": ("profile", "bio", "about", "description", "text", "summary"),
}
_GENERIC_STEMS = {"train", "test", "ratings", "rating", "data", "u", "interactions", "inter",
                  "events", "valid", "dataset"}


def load(
    path: Any,
    items: Any = None,
    users: Any = None,
    columns: Mapping[str, str | None] | None = None,
    *,
    name: str | None = None,
    format: str | None = None,
    test: Any = None,
    threshold: float | None = None,
    dedupe: str = "last",
    kcore: int = 0,
    sep: str | None = None,
    header: bool | None = None,
    item_text_columns: Sequence[str] | None = None,
    user_text_columns: Sequence[str] | None = None,
    rating_range: tuple[float, float] | None = None,
    max_bytes: int | None = None,
) -> Dataset:
    """Read, validate and index an interaction file (and optional metadata files).

    Args:
        path: interaction file (path, file-like object with ``.name``, or DataFrame).
        items / users: optional metadata files joined by item / user id.
        columns: explicit column roles, e.g. ``{"user": "buyer", "item": "sku"}``;
            roles not given are inferred.
        format: one of ``readers.FORMATS``; None infers it from name and content.
        test: a second interaction file holding the test part of a given split
            (the LightGCN ``train.txt`` / ``test.txt`` pair); the result is split
            with method ``"given"``.
        threshold: keep interactions with rating >= threshold as implicit positives.
        dedupe: rule for repeated (user, item) rows: ``"last"`` (latest by timestamp,
            else last row), ``"first"``, ``"mean"``, ``"max"`` or ``"error"``.
        kcore: keep only users and items with at least ``kcore`` interactions,
            iterated until nothing changes (0 disables). Catalogue items and
            profile-only users (never in the interactions) are not part of the
            interaction graph and stay.
        sep / header: override the sniffed delimiter and header detection.
        item_text_columns / user_text_columns: metadata columns composed into the
            texts (default: title, genres/tags, description; profile fields for users).
        rating_range: (low, high) inclusive; ratings outside are an error. Without
            it ratings must be finite and not negative.
        max_bytes: per-file size limit (default GRAPHREC_MAX_UPLOAD_MB or 200 MB).

    Raises:
        DataError: with a message naming the file, column and first offending lines.
    """
    if dedupe not in DEDUPE_RULES:
        raise DataError(f"dedupe must be one of {', '.join(DEDUPE_RULES)}, not {dedupe!r}")
    if kcore < 0:
        raise DataError(f"kcore must be >= 0, not {kcore}")
    report = ValidationReport()
    opts = dict(format=format, sep=sep, header=header, max_bytes=max_bytes,
                rating_range=rating_range)

    parts = [_read_interactions(path, columns, report, **opts)]
    if test is not None:
        parts.append(_read_interactions(test, columns, report, **opts))
    fmt = parts[0].table.format
    item_table = _read_meta(items, "items", report, max_bytes) if items is not None else None
    user_table = _read_meta(users, "users", report, max_bytes) if users is not None else None

    # ---------------------------------------------------------------- ids
    item_meta = _meta_ids(item_table, "item") if item_table is not None else None
    user_meta = _meta_ids(user_table, "user") if user_table is not None else None
    user_ids, user_maps = _global_ids(
        [p.users for p in parts] + ([user_meta[1]] if user_meta else []))
    item_ids, item_maps = _global_ids(
        [p.items for p in parts] + ([item_meta[1]] if item_meta else []))
    frames = []
    for k, part in enumerate(parts):
        frames.append(pd.DataFrame({
            "user": user_maps[k][part.user_codes],
            "item": item_maps[k][part.item_codes],
            "rating": part.rating,
            "timestamp": part.timestamp,
            "part": np.full(len(part.rating), k, dtype=np.int8),
        }))
    inter = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    has_rating = all(p.has_rating for p in parts)
    has_time = all(p.has_time for p in parts)

    # ---------------------------------------------------------------- feedback
    inter = _dedupe(inter, dedupe, has_time, parts, report)
    if test is not None:
        inter = _drop_test_in_train(inter, report, parts[1].table.file)
    explicit = has_rating
    if threshold is not None:
        if not has_rating:
            raise DataError(f"{parts[0].table.file}: threshold={threshold} needs a rating column, "
                            "and the file has none", file=parts[0].table.file)
        keep = inter["rating"].to_numpy() >= threshold
        report.note(f"threshold {threshold}: kept {int(keep.sum()):,} of {len(inter):,} "
                    f"interactions with rating >= {threshold} as implicit positives")
        inter = inter[keep]
        inter = inter.assign(rating=np.float32(1.0))
        explicit = False
        if len(inter) == 0:
            raise DataError(f"{parts[0].table.file}: no interaction has rating >= {threshold}; "
                            "nothing is left", file=parts[0].table.file,
                            column=parts[0].roles["rating"])
    elif has_rating and len(inter) and bool((inter["rating"].to_numpy() == 1.0).all()):
        explicit = False
        report.note("every rating is 1: treated as implicit feedback")
    elif not has_rating:
        report.note("no rating column: implicit feedback (every interaction counts as 1)")

    if kcore:
        inter = kcore_filter(inter, kcore, report, file=parts[0].table.file)

    # ---------------------------------------------------------------- compact ids
    keep_users = np.zeros(len(user_ids), dtype=bool)
    keep_users[inter["user"].to_numpy()] = True
    keep_items = np.zeros(len(item_ids), dtype=bool)
    keep_items[inter["item"].to_numpy()] = True
    for k, part in enumerate(parts):
        if part.listed_users is not None:  # adjacency lists: listed users stay
            keep_users[user_maps[k][part.listed_users]] = True
    # Entities only in a metadata file never had interactions: they stay (cold, text only).
    # Those whose interactions were all filtered out above are gone like any other.
    if item_meta is not None:
        only = _never_interacted(item_maps, len(item_ids))
        keep_items[only] = True
        if len(only):
            report.note(f"{item_table.file}: {len(only):,} catalogue items have no "
                        "interactions; kept as cold items (text only)")
    if user_meta is not None:
        only = _never_interacted(user_maps, len(user_ids))
        keep_users[only] = True
        if len(only):
            report.note(f"{user_table.file}: {len(only):,} users have a profile but no "
                        "interactions; kept as cold users")
    user_map = np.cumsum(keep_users) - 1
    item_map = np.cumsum(keep_items) - 1
    inter = pd.DataFrame({
        "user": user_map[inter["user"].to_numpy()].astype(np.int64),
        "item": item_map[inter["item"].to_numpy()].astype(np.int64),
        "rating": inter["rating"].to_numpy(np.float32),
        "timestamp": inter["timestamp"].to_numpy(np.float64),
        "part": inter["part"].to_numpy(),
    })
    user_ids, item_ids = user_ids[keep_users], item_ids[keep_items]

    # ---------------------------------------------------------------- metadata and texts
    items_frame = pd.DataFrame(index=pd.RangeIndex(len(item_ids)))
    users_frame = pd.DataFrame(index=pd.RangeIndex(len(user_ids)))
    schema_items: dict[str, Any] = {}
    schema_users: dict[str, Any] = {}
    if item_meta is not None:
        items_frame, schema_items = _align_meta(item_table, item_meta, item_ids, "item",
                                                _ITEM_ALIASES, report)
        item_texts, used = compose_texts(items_frame, item_text_columns,
                                         ("title", "genres", "description"))
        schema_items["text_columns"] = used
    else:
        item_texts = [""] * len(item_ids)
    if user_meta is not None:
        users_frame, schema_users = _align_meta(user_table, user_meta, user_ids, "user",
                                                _USER_ALIASES, report)
        user_texts, used = compose_texts(users_frame, user_text_columns,
                                         ("age", "gender", "occupation", "profile"),
                                         labelled=True)
        schema_users["text_columns"] = used
    else:
        user_texts = [""] * len(user_ids)

    first = parts[0]
    schema = {
        "format": fmt,
        "files": {"interactions": first.table.file,
                  **({"test": parts[1].table.file} if test is not None else {}),
                  **({"items": item_table.file} if item_table is not None else {}),
                  **({"users": user_table.file} if user_table is not None else {})},
        "columns": {r: c for r, c in first.roles.items()},
        "inferred": [r for r in first.inferred],
        "header": first.table.header,
        "delimiter": first.table.sep,
        "id_type": {"user": _id_type(user_ids), "item": _id_type(item_ids)},
        "explicit": explicit,
        "threshold": threshold,
        "dedupe": dedupe,
        "kcore": kcore,
        "items": schema_items,
        "users": schema_users,
    }
    ds = Dataset(
        interactions=inter[["user", "item", "rating", "timestamp"]].reset_index(drop=True),
        user_ids=user_ids,
        item_ids=item_ids,
        items=items_frame,
        users=users_frame,
        item_texts=item_texts,
        user_texts=user_texts,
        name=name or default_name(path),
        explicit=explicit,
        schema=schema,
        report=report,
        given_parts=(inter["part"].to_numpy().astype(np.int8) * 2) if test is not None else None,
    )
    if test is not None:
        ds = ds.split("given")  # 0 train, 2 test
    return ds


def _never_interacted(maps: list[np.ndarray], n: int) -> np.ndarray:
    """Global ids of the metadata file (last map) absent from every interaction file."""
    seen = np.zeros(n, dtype=bool)
    for m in maps[:-1]:
        seen[m] = True
    return maps[-1][~seen[maps[-1]]]


# ---------------------------------------------------------------------- reading


class _Part:
    """One interaction file, validated: id strings, ratings and timestamps as arrays."""

    def __init__(self, table: Table, roles: dict[str, str | None], inferred: list[str]):
        self.table = table
        self.roles = roles
        self.inferred = inferred
        self.users: pd.Index  # unique id strings
        self.items: pd.Index
        self.rating = np.ones(0, dtype=np.float32)
        self.timestamp = np.zeros(0, dtype=np.float64)
        self.has_rating = False
        self.has_time = False
        self.listed_users: np.ndarray | None = None


def _read_interactions(source: Any, columns, report: ValidationReport, *, format, sep, header,
                       max_bytes, rating_range) -> _Part:
    if isinstance(source, pd.DataFrame):
        table = Table(source.reset_index(drop=True), "frame", "frame", True)
    else:
        raw = open_source(source, max_bytes=max_bytes, prefer="interactions")
        for n in raw.notes:
            report.note(n)

        def id_columns(names):
            roles = infer_columns(names, columns, file=raw.name)
            return [roles["user"], roles["item"]]

        table = read_table(raw, role="interactions", format=format, sep=sep, header=header,
                           id_columns=id_columns)
    for n in table.notes:
        report.note(n)
    frame = table.frame
    if frame.shape[1] < 2:
        raise DataError(f"{table.file}: only a single column found ({frame.columns[0]!r}); "
                        "need a user and an item column", file=table.file)
    explicit_roles = dict(columns or {})
    if table.format == "lightgcn":
        roles = {"user": "user", "item": "item", "rating": None, "timestamp": None}
    else:
        roles = infer_columns(frame, explicit_roles, file=table.file)
    inferred = [r for r in roles if r not in explicit_roles and roles[r] is not None
                and table.format != "lightgcn"]
    mapping = ", ".join(f"{r}={c!r}" for r, c in roles.items() if c is not None)
    if table.format != "lightgcn":  # its layout fixes the roles; nothing was inferred
        report.note(f"{table.file}: columns {mapping}"
                    + (f" (inferred: {', '.join(inferred)})" if inferred else ""))
    unused = [c for c in frame.columns if c not in roles.values()]
    if unused:
        report.note(f"{table.file}: ignored columns {', '.join(map(str, unused))}")
    part = _Part(table, roles, inferred)
    part.users, user_codes = _id_column(table, roles["user"], "user")
    part.items, item_codes = _id_column(table, roles["item"], "item")
    part.user_codes, part.item_codes = user_codes, item_codes
    if table.listed_users is not None:
        listed = pd.Index(table.listed_users.astype(str))
        part.listed_users = np.asarray(part.users.get_indexer(listed))
        missing = part.listed_users < 0
        if missing.any():  # users listed with no items: add them to the id set
            part.users = part.users.append(listed[missing])
            part.listed_users = np.asarray(part.users.get_indexer(listed))
    n = len(frame)
    if roles["rating"] is not None:
        part.rating = _ratings(table, roles["rating"], report, rating_range)
        part.has_rating = True
    else:
        part.rating = np.ones(n, dtype=np.float32)
    if roles["timestamp"] is not None:
        part.timestamp = _timestamps(table, roles["timestamp"], report)
        part.has_time = True
    else:
        part.timestamp = np.full(n, np.nan, dtype=np.float64)
    return part


def _read_meta(source: Any, role: str, report: ValidationReport, max_bytes) -> Table:
    if isinstance(source, pd.DataFrame):
        table = Table(source.reset_index(drop=True).astype(object).where(source.notna(), None),
                      "frame", "frame", True)
        table.frame.columns = [str(c) for c in table.frame.columns]
    else:
        raw = open_source(source, max_bytes=max_bytes, prefer=role)
        for n in raw.notes:
            report.note(n)
        table = read_table(raw, role=role)
        if table.format == "lightgcn":
            raise DataError(f"{table.file}: looks like an interaction list, not {role} metadata",
                            file=table.file)
    for n in table.notes:
        report.note(n)
    return table


def _id_column(table: Table, column: str, kind: str) -> tuple[pd.Index, np.ndarray]:
    """Unique id strings of a column and each row's code into them; refuses empty ids."""
    values = table.frame[column]
    plain = _plain_int_strings(values)
    if plain is not None:
        values = plain  # integer ids as text: factorize the numbers, far faster
    if pd.api.types.is_float_dtype(values.dtype):
        integral = values.dropna()
        if len(integral) and bool((integral == np.floor(integral)).all()):
            values = values.astype("Int64")
    arrow = _arrow_strings(values)
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy().astype(np.int64)
        uniques = pd.Index(values.cat.categories.to_numpy(dtype=object))
    elif arrow is not None:  # pyarrow's hash encoding is about twice as fast as factorize
        encoded = arrow.combine_chunks().dictionary_encode()
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        uniques = pd.Index(encoded.dictionary.to_numpy(zero_copy_only=False).astype(object))
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    uniques = pd.Index(uniques).astype(str)
    stripped = uniques.str.strip()
    bad_unique = np.flatnonzero(np.asarray(stripped == "") | np.asarray(stripped.isna()))
    bad = codes < 0
    if len(bad_unique):
        flagged = np.zeros(len(uniques), dtype=bool)
        flagged[bad_unique] = True
        bad |= flagged[codes] & (codes >= 0)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise DataError(
            f"{table.file}: column {column!r}: empty {kind} id at {table.where(rows)}",
            file=table.file, column=column, rows=table.line_of(rows[:5]))
    if not stripped.equals(uniques):  # ' 7' and '7' are one id
        final, remap = np.unique(stripped.to_numpy(dtype=object).astype(str), return_inverse=True)
        return pd.Index(final.astype(object)), remap[codes]
    return uniques, codes


def _arrow_strings(values: pd.Series) -> pa.ChunkedArray | None:
    """The pyarrow string data behind a pandas string column, or None."""
    if not isinstance(values.dtype, pd.StringDtype) or values.dtype.storage != "pyarrow":
        return None
    try:
        arr = pa.array(values.array)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return None
    if isinstance(arr, pa.Array):
        arr = pa.chunked_array([arr])
    return arr if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) else None


def _plain_int_strings(values: pd.Series) -> pd.Series | None:
    """A string column whose every value is a plain integer (no leading zero), as int64."""
    if values.isna().any():
        return None
    arr = _arrow_strings(values)
    if arr is None:
        return None
    try:
        ok = pc.all(pc.match_substring_regex(arr, r"^-?(0|[1-9][0-9]{0,17})$")).as_py()
        if not ok:
            return None
        return pd.Series(pc.cast(arr, pa.int64()).to_numpy(), index=values.index)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, AttributeError):
        return None


def _global_ids(indexes: list[pd.Index]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Sorted union of several sets of unique id strings, and each set's position in it.

    Ids become int64 when every one is a plain integer, otherwise they stay strings.
    """
    union = indexes[0]
    for idx in indexes[1:]:
        union = union.append(idx)
    union = pd.Index(pd.unique(union.to_numpy(dtype=object)))
    as_text = union.to_numpy(dtype=object).astype(str)
    ints = _as_plain_ints(as_text)
    if ints is not None:
        order = np.argsort(ints, kind="stable")
        ids = ints[order]
    else:
        order = np.argsort(as_text, kind="stable")
        ids = as_text[order].astype(object)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    lookup = pd.Index(as_text)
    mapped = [rank[lookup.get_indexer(idx.to_numpy(dtype=object).astype(str))] for idx in indexes]
    return ids, mapped


def _as_plain_ints(values: np.ndarray) -> np.ndarray | None:
    """int64 ids when every id is written as a plain integer (no leading zeros, no sign '+')."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    s = pd.Series(values, dtype=object).astype(str)
    if not bool(s.str.fullmatch(r"-?(0|[1-9]\d{0,17})").all()):
        return None
    return s.astype(np.int64).to_numpy()


def _id_type(ids: np.ndarray) -> str:
    return "int" if np.issubdtype(np.asarray(ids).dtype, np.integer) else "str"


def _ratings(table: Table, column: str, report: ValidationReport,
             rating_range: tuple[float, float] | None = None) -> np.ndarray:
    values = table.frame[column]
    missing = values.isna().to_numpy()
    if missing.any():
        rows = np.flatnonzero(missing)
        raise DataError(f"{table.file}: column {column!r}: empty rating at {table.where(rows)}",
                        file=table.file, column=column, rows=table.line_of(rows[:5]))
    if values.dtype == bool:
        values = values.astype(np.float64)
    if not pd.api.types.is_numeric_dtype(values.dtype):
        numeric = pd.to_numeric(values, errors="coerce")
        bad = numeric.isna().to_numpy()
        if bad.any() and table.sep != ",":
            # Decimal commas ("4,5"), common in semicolon-separated exports.
            text = values.astype(str)
            comma = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
            if not comma.isna().any():
                numeric, bad = comma, comma.isna().to_numpy()
                report.note(f"{table.file}: column {column!r}: decimal commas read as points")
        if bad.any():
            rows = np.flatnonzero(bad)
            sample = ", ".join(repr(str(v)) for v in values.iloc[rows[:3]])
            raise DataError(
                f"{table.file}: column {column!r}: non-numeric rating ({sample}) at "
                f"{table.where(rows)}", file=table.file, column=column,
                rows=table.line_of(rows[:5]))
        values = numeric
    arr = values.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(arr)
    if rating_range is not None:
        lo, hi = rating_range
        bad |= (arr < lo) | (arr > hi)
        rule = f"outside the range [{lo:g}, {hi:g}]"
    else:
        bad |= arr < 0
        rule = "negative or not finite (pass rating_range=(low, high) to allow negatives)"
    if bad.any():
        rows = np.flatnonzero(bad)
        sample = ", ".join(f"{v:g}" for v in arr[rows[:3]])
        raise DataError(
            f"{table.file}: column {column!r}: rating {rule}: {sample} at {table.where(rows)}",
            file=table.file, column=column, rows=table.line_of(rows[:5]))
    return arr.astype(np.float32)


def _timestamps(table: Table, column: str, report: ValidationReport) -> np.ndarray:
    """Seconds since the epoch as float64; numbers in ms/us/ns are scaled, dates parsed."""
    values = table.frame[column]
    missing = values.isna().to_numpy()
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        seconds = _datetime_seconds(values)
    elif pd.api.types.is_numeric_dtype(values.dtype) and values.dtype != bool:
        seconds = values.to_numpy(dtype=np.float64)
        finite = seconds[np.isfinite(seconds)]
        scale = 1.0
        if len(finite):
            typical = float(np.median(np.abs(finite)))
            scale = 1e9 if typical > 1e17 else 1e6 if typical > 1e14 else 1e3 if typical > 1e11 else 1
        if scale != 1.0:
            seconds = seconds / scale
            unit = {1e3: "milliseconds", 1e6: "microseconds", 1e9: "nanoseconds"}[scale]
            report.note(f"{table.file}: column {column!r}: timestamps read as {unit}")
    else:
        text = values.astype(str).where(~missing)
        numeric = pd.to_numeric(text, errors="coerce")
        is_number = numeric.notna().to_numpy()
        if is_number.sum() * 2 >= (~missing).sum():  # mostly numbers: Unix times
            failed = ~is_number & ~missing
            if not failed.any():
                return _timestamps(Table(pd.DataFrame({column: numeric}), table.file,
                                         table.format, table.header,
                                         first_line=table.first_line), column, report)
            parsed = None
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                parsed = pd.to_datetime(text, errors="coerce", utc=True)
                failed = parsed.isna().to_numpy() & ~missing
                if failed.any():
                    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
                    failed = parsed.isna().to_numpy() & ~missing
        if failed.any():
            rows = np.flatnonzero(failed)
            sample = ", ".join(repr(str(v)) for v in values.iloc[rows[:3]])
            raise DataError(
                f"{table.file}: column {column!r}: unparseable timestamp ({sample}) at "
                f"{table.where(rows)}; use Unix seconds or dates like 2024-01-31 12:00 "
                "throughout the column",
                file=table.file, column=column, rows=table.line_of(rows[:5]))
        seconds = _datetime_seconds(parsed)
        report.note(f"{table.file}: column {column!r}: dates parsed to Unix seconds")
    if missing.any():
        report.warn(f"{table.file}: column {column!r}: {int(missing.sum()):,} empty timestamps "
                    f"(first at {table.where(np.flatnonzero(missing), 3)}); kept as unknown")
    return seconds


def _datetime_seconds(values: pd.Series) -> np.ndarray:
    if getattr(values.dt, "tz", None) is None:
        values = values.dt.tz_localize("UTC")
    delta = values - pd.Timestamp(0, tz="UTC")
    return (delta / pd.Timedelta(seconds=1)).to_numpy(dtype=np.float64, na_value=np.nan)


# ---------------------------------------------------------------------- feedback


def _dedupe(inter: pd.DataFrame, rule: str, has_time: bool, parts: list[_Part],
            report: ValidationReport) -> pd.DataFrame:
    """Resolve repeated (part, user, item) rows by ``rule``; keeps file order otherwise."""
    n_items = int(inter["item"].max()) + 1 if len(inter) else 1
    key = (inter["part"].to_numpy(np.int64) * (int(inter["user"].max()) + 1 if len(inter) else 1)
           + inter["user"].to_numpy(np.int64)) * n_items + inter["item"].to_numpy(np.int64)
    dup = pd.Series(key).duplicated(keep=False).to_numpy()
    if not dup.any():
        return inter
    n_extra = int(dup.sum()) - len(pd.unique(key[dup]))
    rows = np.flatnonzero(dup)
    first_part = int(inter["part"].iat[rows[0]])
    table = parts[first_part].table
    offset = int((inter["part"].to_numpy() < first_part).sum())
    in_part = rows[inter["part"].to_numpy()[rows] == first_part] - offset
    where = table.where(in_part)
    if rule == "error":
        raise DataError(
            f"{table.file}: {n_extra:,} duplicate (user, item) rows, e.g. at {where}; "
            "choose a dedupe rule: last, first, mean or max", file=table.file,
            rows=table.line_of(in_part[:5]))
    explain = {
        "last": "kept the latest by timestamp" if has_time else "kept the last row",
        "first": "kept the earliest by timestamp" if has_time else "kept the first row",
        "mean": "averaged the ratings (latest timestamp)",
        "max": "kept the highest rating (latest timestamp)",
    }[rule]
    report.warn(f"{table.file}: {n_extra:,} duplicate (user, item) rows (first at {where}); "
                f"dedupe='{rule}': {explain}")
    if rule in ("last", "first"):
        # Only the duplicated rows are ordered: by key, then time (unknown first), then row.
        pos = np.flatnonzero(dup)
        time = inter["timestamp"].to_numpy(np.float64)[pos]
        time = np.where(np.isnan(time), -np.inf, time)
        order = pos[np.lexsort((pos, time, key[pos]))]
        k = key[order]
        boundary = k[1:] != k[:-1]
        if rule == "last":
            winner = np.concatenate([boundary, [True]])
        else:
            winner = np.concatenate([[True], boundary])
        drop = np.zeros(len(inter), dtype=bool)
        drop[order[~winner]] = True
        return inter[~drop].reset_index(drop=True)
    frame = inter.assign(_key=key, _pos=np.arange(len(inter)))
    single = frame[~dup]
    agg = frame[dup].groupby("_key", sort=False).agg(
        user=("user", "first"), item=("item", "first"), part=("part", "first"),
        rating=("rating", rule), timestamp=("timestamp", "max"), _pos=("_pos", "min"))
    frame = pd.concat([single, agg.reset_index()], ignore_index=True)
    frame = frame.sort_values("_pos", kind="stable")
    return frame.drop(columns=["_key", "_pos"]).reset_index(drop=True)


def _drop_test_in_train(inter: pd.DataFrame, report: ValidationReport, file: str) -> pd.DataFrame:
    """A given split must not test on a training pair: such test rows are dropped."""
    n_items = int(inter["item"].max()) + 1
    key = inter["user"].to_numpy(np.int64) * n_items + inter["item"].to_numpy(np.int64)
    part = inter["part"].to_numpy()
    clash = np.zeros(len(key), dtype=bool)
    clash[part == 1] = pd.Series(key[part == 1]).isin(key[part == 0]).to_numpy()
    if clash.any():
        report.warn(f"{file}: {int(clash.sum()):,} test interactions also appear in training; "
                    "dropped from test")
        inter = inter[~clash].reset_index(drop=True)
    return inter


def kcore_filter(inter: pd.DataFrame, k: int, report: ValidationReport | None = None, *,
                 file: str = "data") -> pd.DataFrame:
    """Keep interactions whose user and item both have >= k of them, to a fixed point."""
    users = inter["user"].to_numpy()
    items = inter["item"].to_numpy()
    keep = np.ones(len(inter), dtype=bool)
    rounds = 0
    while True:
        rounds += 1
        du = np.bincount(users[keep], minlength=int(users.max(initial=0)) + 1)
        di = np.bincount(items[keep], minlength=int(items.max(initial=0)) + 1)
        ok = keep & (du[users] >= k) & (di[items] >= k)
        if ok.sum() == keep.sum():
            break
        keep = ok
    if not keep.any():
        raise DataError(
            f"{file}: {k}-core filtering removed every interaction (no set of users and items "
            f"with at least {k} interactions each); lower kcore", file=file)
    if report is not None:
        def distinct(x: np.ndarray) -> int:
            return int(np.count_nonzero(np.bincount(x))) if len(x) else 0

        report.note(
            f"{k}-core: {int(keep.sum()):,} of {len(inter):,} interactions kept after {rounds} "
            f"rounds; users {distinct(users[keep]):,} of {distinct(users):,}, "
            f"items {distinct(items[keep]):,} of {distinct(items):,}")
    return inter[keep]


# ---------------------------------------------------------------------- metadata


def _meta_ids(table: Table, kind: str) -> tuple[str, pd.Index, np.ndarray]:
    """(id column, unique id strings, row -> code); duplicate ids keep the first row."""
    column = infer_id_column(table.frame.columns, kind, file=table.file)
    uniques, codes = _id_column(table, column, kind)
    return column, uniques, codes


def _align_meta(table: Table, meta: tuple[str, pd.Index, np.ndarray], ids: np.ndarray,
                kind: str, aliases: dict, report: ValidationReport
                ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Metadata rows reordered to the dataset's index order; canonical column names."""
    column, uniques, codes = meta
    frame = table.frame.drop(columns=[column])
    keys = uniques.to_numpy(dtype=object).astype(str)[codes]
    dup = pd.Series(keys).duplicated().to_numpy()
    if dup.any():
        report.warn(f"{table.file}: {int(dup.sum()):,} repeated {kind} ids (first at "
                    f"{table.where(np.flatnonzero(dup), 3)}); kept the first row of each")
        frame, keys = frame[~dup], keys[~dup]
    frame = frame.set_axis(pd.Index(keys), axis=0)
    renamed = {}
    names = {normalize_name(c): c for c in frame.columns}
    for canonical, options in aliases.items():
        if canonical in frame.columns:
            continue
        for option in options:
            if option in names and names[option] not in renamed:
                renamed[names[option]] = canonical
                break
    frame = frame.rename(columns=renamed)
    if renamed:
        report.note(f"{table.file}: metadata columns " + ", ".join(
            f"{a!r} -> {b!r}" for a, b in renamed.items()))
    target = np.asarray(ids).astype(str)
    aligned = frame.reindex(pd.Index(target)).reset_index(drop=True)
    matched = int(pd.Index(target).isin(frame.index).sum())
    report.note(f"{table.file}: metadata for {matched:,} of {len(target):,} {kind}s "
                f"(id column {column!r})")
    if kind == "item" and "title" in aligned.columns and "year" not in aligned.columns:
        year = aligned["title"].astype(str).str.extract(r"\((\d{4})\)\s*$")[0]
        if year.notna().mean() > 0.5:
            aligned["year"] = pd.to_numeric(year, errors="coerce").astype("Int64")
    for col in aligned.columns:
        if aligned[col].dtype == object or pd.api.types.is_string_dtype(aligned[col].dtype):
            numeric = pd.to_numeric(aligned[col], errors="coerce")
            present = aligned[col].notna()
            if present.any() and bool(numeric[present].notna().all()) and col not in (
                    "title", "description", "genres", "zip"):
                whole = numeric.dropna()
                integral = bool((whole == np.floor(whole)).all()) and whole.abs().max() < 2**53
                aligned[col] = numeric.astype("Int64") if integral else numeric
    return aligned, {"id_column": column, "renamed": renamed, "matched": matched}


def compose_texts(frame: pd.DataFrame, columns: Sequence[str] | None,
                  preferred: Sequence[str], *, labelled: bool = False
                  ) -> tuple[list[str], list[str]]:
    """One text per row from the chosen columns ("Title. Genres. Description").

    Without ``columns``: the ``preferred`` columns that exist, else every text column.
    List-like values ("Crime|Drama") read as "Crime, Drama". ``labelled`` prefixes
    each value with its column name ("age 25; gender F").
    """
    if columns is None:
        chosen = [c for c in preferred if c in frame.columns]
        if not chosen:
            chosen = [c for c in frame.columns
                      if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c].dtype)]
    else:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataError(f"text column(s) {', '.join(map(repr, missing))} not found; "
                            f"metadata columns are: {', '.join(map(str, frame.columns))}",
                            column=missing[0])
        chosen = list(columns)
    if not chosen or len(frame) == 0:
        return [""] * len(frame), chosen
    pieces = []
    for c in chosen:
        col = frame[c]
        text = col.astype(object).where(col.notna(), "").astype(str).str.strip()
        if c in ("genres", "tags", "category", "categories", "keywords") or text.str.contains(
                "|", regex=False).mean() > 0.5:
            text = text.str.replace(r"\s*\|\s*", ", ", regex=True)
        if labelled:
            label = str(c).replace("_", " ")
            text = text.where(text == "", label + " " + text)
        pieces.append(text.to_numpy(dtype=object))
    sep = "; " if labelled else ". "
    out = []
    for row in zip(*pieces):
        parts = [p.rstrip(".") if k < len(row) - 1 else p for k, p in enumerate(row) if p]
        out.append(sep.join(p for p in parts if p))
    return out, chosen


def default_name(path: Any) -> str:
    """'gowalla' for gowalla/train.txt, 'movies' for movies.csv."""
    if isinstance(path, pd.DataFrame):
        return "dataset"
    name = Path(path) if isinstance(path, str | os.PathLike) else Path(
        str(getattr(path, "name", "dataset")))
    stem = re.sub(r"\.(gz|zip)$", "", name.name, flags=re.I)
    stem = stem.split(".")[0] if stem not in ("u.data",) else "ml-100k"
    if stem.lower() in _GENERIC_STEMS and name.parent.name:
        return name.parent.name
    return stem or "dataset"


__all__ = ["load", "kcore_filter", "compose_texts", "default_name", "DEDUPE_RULES"]
