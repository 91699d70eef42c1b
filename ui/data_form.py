"""The data page's form: source files, column mapping, feedback / k-core / split options.

Each function draws one part of the form and returns what the user chose;
``load_choice`` turns the choice into a registered Dataset, showing any
DataError as a plain message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from recsys_core.data.columns import ROLES
from recsys_core.data.dataset import Dataset
from recsys_core.data.report import DataError
from ui import cache, state

SOURCES = {
    "sample": "Bundled sample (1,000 users, 600 movies)",
    "seed example": "Seed article's example (u1, u2, i1, i2)",
    "upload": "Upload your files",
}
NONE = "(none)"
#: Split methods offered; "none" keeps the dataset unsplit.
SPLITS = ("random", "temporal", "time_cut", "cold_items", "none")
SPLIT_HELP = {
    "random": "Per user, a random share of interactions is held out.",
    "temporal": "Per user, the most recent interactions are held out (needs timestamps).",
    "time_cut": "One global time: everything after it is held out (needs timestamps).",
    "cold_items": "A share of items is held out entirely: tests recommending unseen items.",
    "none": "Keep all interactions together (no evaluation possible).",
}


@dataclass
class Files:
    """The files of one source: names and bytes for interactions, items, users, test.

    A test file (the held-out part of a given split, e.g. LightGCN ``test.txt``)
    makes the loaded dataset arrive split with method ``"given"``.
    """

    names: tuple[str, str | None, str | None, str | None]
    data: tuple[bytes | None, bytes | None, bytes | None, bytes | None]
    default_name: str
    bundled: bool = False  # a bundled dataset: its columns are known, no mapping to show

    @property
    def key(self) -> tuple[str | None, ...]:
        return tuple(cache.digest(d) if d is not None else None for d in self.data)

    @property
    def has_test(self) -> bool:
        return self.data[3] is not None


def choose_files() -> Files | None:
    """Source radio plus, for uploads, the four uploaders; None until interactions exist."""
    source = st.radio("Source", list(SOURCES), format_func=SOURCES.get, key="data_source",
                      horizontal=True)
    if source != "upload":
        paths = [cache.ROOT / p if p else None for p in cache.BUNDLED[source]]
        return Files((*(p.name if p else None for p in paths), None),
                     (*(p.read_bytes() if p else None for p in paths), None), source,
                     bundled=True)
    limit = cache.upload_limit_mb()
    st.caption(
        f"Each file may be up to **{limit} MB** (`server.maxUploadSize` in "
        "`.streamlit/config.toml`). Formats: CSV/TSV (any delimiter), `::` .dat, MovieLens "
        "u.data/u.item, RecBole .inter/.item/.user, LightGCN train.txt, Parquet; gzip or zip. "
        "A test file keeps the split it comes with (e.g. LightGCN train.txt + test.txt).")
    top, bottom = st.columns(2), st.columns(2)
    uploads = [
        top[0].file_uploader("Interactions (required)", key="upload_interactions"),
        bottom[0].file_uploader("Item metadata (optional)", key="upload_items"),
        bottom[1].file_uploader("User metadata (optional)", key="upload_users"),
        top[1].file_uploader("Test interactions (optional: a held-out file, e.g. LightGCN "
                             "test.txt)", key="upload_test"),
    ]
    for up in uploads:
        if up is not None and up.size > limit * 1024 * 1024:
            st.error(f"{up.name} is {up.size / 2**20:,.1f} MB, over the {limit} MB upload "
                     "limit. Compress it (gzip or zip) or raise server.maxUploadSize.")
            return None
    if uploads[0] is None:
        st.info("Upload an interaction file: one row per (user, item) with an optional "
                "rating and timestamp.")
        return None
    from recsys_core.data.loader import default_name

    return Files(tuple(u.name if u else None for u in uploads),
                 tuple(u.getvalue() if u else None for u in uploads),
                 default_name(uploads[0].name))


def column_mapping(files: Files) -> dict[str, str | None] | None:
    """Role -> column selectboxes prefilled from inference; None when the file is unreadable."""
    try:
        preview = cache.peek_upload(files.key[0], files.names[0], files.data[0],
                                    cache.upload_limit_mb())
    except DataError as err:
        st.error(str(err))
        return None
    if preview.format == "lightgcn":
        st.caption(f"{preview.file}: LightGCN adjacency lists (user, then the user's items).")
        return None
    st.markdown(f"**Columns of {preview.file}** ({preview.format}); change any guess:")
    if preview.problem:
        st.warning(preview.problem)
    cols = st.columns(len(ROLES))
    mapping: dict[str, str | None] = {}
    for col, role in zip(cols, ROLES):
        options = preview.columns if role in ("user", "item") else [NONE, *preview.columns]
        guess = preview.inferred.get(role)
        index = options.index(guess) if guess in options else 0
        picked = col.selectbox(role, options, index=index, key=f"map_{role}_{files.key[0][:12]}")
        mapping[role] = None if picked == NONE else picked
    with st.expander("First rows"):
        st.dataframe(preview.head, hide_index=True)
    return mapping


def options(has_rating: bool = True, given: bool = False) -> dict[str, Any]:
    """Feedback threshold, k-core and split choices.

    ``given``: a test file came with the interactions, so the split is fixed
    (method ``"given"``); only a validation share carved from train is offered.
    """
    c1, c2, c3 = st.columns(3)
    implicit = c1.checkbox("Implicit feedback", key="opt_implicit",
                           disabled=not has_rating,
                           help="Keep only interactions rated at least the threshold, as 1s.")
    threshold = c1.number_input("Threshold (rating ≥)", value=4.0, step=0.5,
                                key="opt_threshold", disabled=not implicit)
    kcore = c2.number_input("k-core", min_value=0, max_value=100, value=0, step=1,
                            key="opt_kcore", help="Keep users and items with at least k "
                            "interactions, repeated until stable (0: off).")
    if given:
        method = c3.selectbox("Split", ("given",), key="opt_split_given", disabled=True,
                              help="The test file is the test set; it is not re-split.")
        c3.caption("Given by the test file: its interactions are the test set.")
    else:
        method = c3.selectbox("Split", SPLITS, key="opt_split",
                              help="How test data is held out.")
        c3.caption(SPLIT_HELP[method])
    params: dict[str, Any] = {}
    if method == "given":
        p1, p2, p3 = st.columns(3)
        params["valid"] = p1.slider("Validation share (taken from train)", 0.0, 0.3, 0.0, 0.05,
                                    key="opt_given_valid",
                                    help="0 keeps the given split exactly (no validation).")
    if method in ("random", "temporal", "time_cut", "cold_items"):
        p1, p2, p3 = st.columns(3)
        if method == "cold_items":
            params["fraction"] = p1.slider("Cold item share", 0.05, 0.5, 0.2, 0.05,
                                           key="opt_fraction")
        else:
            params["test"] = p1.slider("Test share", 0.05, 0.5, 0.2, 0.05, key="opt_test")
        params["valid"] = p2.slider("Validation share", 0.0, 0.3, 0.1, 0.05, key="opt_valid")
    seed = 0
    if method in ("random", "cold_items") or (method == "given" and params["valid"]):
        seed = int(p3.number_input("Seed", min_value=0, value=0, step=1, key="opt_seed"))
    return {"threshold": float(threshold) if implicit else None, "kcore": int(kcore),
            "split": method, "seed": seed, "params": params}


def describe(opts: dict[str, Any]) -> str:
    """The options of :func:`options` in plain words, for the line beside their popover."""
    feedback = ("explicit ratings" if opts["threshold"] is None
                else f"implicit: ratings ≥ {opts['threshold']:g} kept as 1s")
    kcore = f"{opts['kcore']}-core" if opts["kcore"] else "no k-core"
    params = opts["params"]
    shares = [f"{params[k]:.0%} {label}" for k, label in
              (("test", "test"), ("fraction", "cold items"), ("valid", "validation"))
              if params.get(k)]
    split = "not split" if opts["split"] == "none" else f"{opts['split']} split"
    if shares:
        split += f" ({', '.join(shares)}"
        split += f", seed {opts['seed']})" if opts["split"] in ("random", "cold_items") else ")"
    return f"{feedback} · {kcore} · {split}"


def load_choice(files: Files, mapping: dict[str, str | None] | None, opts: dict[str, Any],
                name: str) -> Dataset | None:
    """Parse (cached), split (cached) and register the dataset; show errors in plain words.

    With a test file the loader already split the data ("given"); it is split
    again only to carve a validation share out of train.
    """
    columns = tuple(sorted(mapping.items())) if mapping else None
    try:
        ds = cache.load_upload((files.key, columns), files.names, files.data, columns,
                               opts["threshold"], opts["kcore"], name, cache.upload_limit_mb())
        if opts["split"] == "given":
            if opts["params"].get("valid"):
                # The content hash does not see where train ends: key by the files too.
                ds = cache.split(f"{ds.content_hash()}:{files.key}", ds, "given", opts["seed"],
                                 tuple(sorted(opts["params"].items())))
        elif opts["split"] != "none":
            ds = cache.split(ds.content_hash(), ds, opts["split"], opts["seed"],
                             tuple(sorted(opts["params"].items())))
    except DataError as err:
        st.error(str(err))
        return None
    state.add_dataset(name, ds)
    return ds


def split_summary(ds: Dataset) -> str:
    if not ds.is_split:
        return "Not split."
    sizes = {k: len(getattr(ds, k)) for k in ("train", "valid", "test")}
    cold = f", {len(ds.cold_items):,} cold items" if len(ds.cold_items) else ""
    return (f"Split **{ds.split_info.get('method')}**: {sizes['train']:,} train, "
            f"{sizes['valid']:,} validation, {sizes['test']:,} test interactions{cold}.")

