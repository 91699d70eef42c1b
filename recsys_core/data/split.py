"""Train / validation / test splits, reproducible from (method, parameters, seed).

Methods:

- ``random``: per-user holdout. Each user's interactions are shuffled (seeded);
  ``round(n * test)`` go to test and ``round(n * valid)`` to validation, capped
  so that every user keeps at least one training interaction.
- ``temporal``: each user's most recent interactions: the last ``n_test`` (or the
  last ``test`` fraction) to test, the ones before (``n_valid`` / ``valid``) to
  validation; needs timestamps. Same at-least-one-in-training cap.
- ``time_cut``: one global time: interactions at or after ``cut`` go to test,
  those in ``[valid_cut, cut)`` to validation. Without ``cut`` the cut is the
  ``1 - test`` quantile of time (and ``valid_cut`` the ``1 - test - valid`` one).
- ``cold_items``: a seeded ``fraction`` of the items with interactions is held
  out entirely (all their interactions to test; ``valid_fraction`` more to
  validation); the remaining interactions are split like ``random``.
- ``given``: the split read from files (``load(train, test=...)``); ``valid``
  carves a per-user random validation part out of the given training part.

Validation is always carved from what would otherwise be training data, and no
pair is ever in two parts. ``time_cut``, ``cold_items`` and ``given`` can leave
a user with held-out interactions but nothing to train on; ``cold_users``
decides: ``"drop"`` (default) removes those users' held-out interactions and
reports how many, ``"keep"`` keeps them (cold users), ``"error"`` raises
:class:`DataError`.

The result's ``cold_items`` are the items that occur in validation or test but
never in training (the held-out items of ``cold_items``, and any item a split
happens to leave untrained); ``split_info`` holds the method, the parameters,
the seed and the size of every part.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recsys_core.data.dataset import INTERACTION_COLUMNS, Dataset
from recsys_core.data.report import DataError, ValidationReport

METHODS = ("random", "temporal", "time_cut", "cold_items", "given")
TRAIN, VALID, TEST, DROPPED = 0, 1, 2, -1
_PARAMS = {
    "random": {"test": 0.2, "valid": 0.1},
    "temporal": {"test": 0.2, "valid": 0.1, "n_test": None, "n_valid": None},
    "time_cut": {"test": 0.2, "valid": 0.1, "cut": None, "valid_cut": None, "cold_users": "drop"},
    "cold_items": {"fraction": 0.2, "valid_fraction": 0.0, "test": 0.2, "valid": 0.1,
                   "cold_users": "drop"},
    "given": {"valid": 0.0, "cold_users": "drop"},
}


def split_dataset(ds: Dataset, method: str = "random", seed: int = 0, **params: Any) -> Dataset:
    """A copy of ``ds`` with ``train`` / ``valid`` / ``test``, ``split_info`` and ``cold_items``."""
    if method not in METHODS:
        raise DataError(f"unknown split method {method!r}; choose one of {', '.join(METHODS)}")
    unknown = set(params) - set(_PARAMS[method])
    if unknown:
        raise DataError(f"split {method!r} takes {', '.join(_PARAMS[method])}; "
                        f"unknown: {', '.join(sorted(unknown))}")
    p = {**_PARAMS[method], **params}
    for key in ("test", "valid", "fraction", "valid_fraction"):
        if key in p and p[key] is not None and not 0.0 <= float(p[key]) < 1.0:
            raise DataError(f"split {method!r}: {key}={p[key]} must be in [0, 1)")
    if "test" in p and "valid" in p and float(p["test"]) + float(p["valid"]) >= 1.0:
        raise DataError(f"split {method!r}: test + valid = {p['test'] + p['valid']} must be < 1")
    if p.get("cold_users", "drop") not in ("drop", "keep", "error"):
        raise DataError(f"cold_users must be 'drop', 'keep' or 'error', not {p['cold_users']!r}")
    inter = ds.interactions
    if len(inter) == 0:
        raise DataError(f"{ds.name}: no interactions to split")
    users = inter["user"].to_numpy()
    rng = np.random.default_rng(seed)
    info: dict[str, Any] = {}

    if method == "random":
        part = _per_user_holdout(users, rng.random(len(users)), p["test"], p["valid"])
    elif method == "temporal":
        time = _need_time(ds, method)
        # Latest last: order by time, ties by row order, so "random key" = rank in time.
        order_key = np.argsort(np.argsort(time, kind="stable"), kind="stable").astype(np.float64)
        part = _per_user_holdout(users, order_key, p["test"], p["valid"],
                                 n_test=p["n_test"], n_valid=p["n_valid"])
    elif method == "time_cut":
        time = _need_time(ds, method)
        cut = _as_seconds(p["cut"]) if p["cut"] is not None else float(
            np.quantile(time, 1.0 - p["test"]))
        valid_cut = _as_seconds(p["valid_cut"]) if p["valid_cut"] is not None else (
            float(np.quantile(time, 1.0 - p["test"] - p["valid"])) if p["valid"] else cut)
        if valid_cut > cut:
            raise DataError(f"time_cut: valid_cut {valid_cut} is after cut {cut}")
        part = np.where(time >= cut, TEST, np.where(time >= valid_cut, VALID, TRAIN))
        info.update(cut=cut, valid_cut=valid_cut)
    elif method == "cold_items":
        items = inter["item"].to_numpy()
        present = np.flatnonzero(np.bincount(items, minlength=ds.n_items))
        order = rng.permutation(present)
        n_test = int(round(len(present) * p["fraction"]))
        n_valid = int(round(len(present) * p["valid_fraction"]))
        if n_test == 0:
            raise DataError(f"cold_items: fraction={p['fraction']} of {len(present)} items "
                            "holds out no item")
        if n_test + n_valid >= len(present):
            raise DataError("cold_items: fraction + valid_fraction leaves no training items")
        held = np.full(ds.n_items, TRAIN, dtype=np.int64)
        held[order[:n_test]] = TEST
        held[order[n_test:n_test + n_valid]] = VALID
        part = held[items]
        warm = part == TRAIN
        warm_part = _per_user_holdout(users[warm], rng.random(int(warm.sum())),
                                      p["test"], p["valid"])
        part = part.copy()
        part[warm] = warm_part
        info.update(held_out_items=n_test, held_out_valid_items=n_valid)
    else:  # given
        if ds.given_parts is None:
            raise DataError(f"{ds.name}: split 'given' needs a dataset loaded with a test file "
                            "(load(train, test=...))")
        part = np.asarray(ds.given_parts, dtype=np.int64).copy()
        if p["valid"]:
            train = part == TRAIN
            sub = _per_user_holdout(users[train], rng.random(int(train.sum())), 0.0, p["valid"])
            part[train] = sub

    part = np.asarray(part, dtype=np.int64)
    report = ValidationReport(list(ds.report.notes), list(ds.report.warnings),
                              list(ds.report.errors))
    dropped = _cold_users(ds, users, part, method, p.get("cold_users"), report)
    counts = {name: int((part == code).sum()) for name, code in
              (("train", TRAIN), ("valid", VALID), ("test", TEST))}
    if counts["test"] == 0:
        raise DataError(f"{ds.name}: split {method!r} put no interaction in test "
                        f"(parameters {params or 'default'}); use larger fractions")
    frames = {name: _frame(inter, part == code) for name, code in
              (("train", TRAIN), ("valid", VALID), ("test", TEST))}
    train_items = np.zeros(ds.n_items, dtype=bool)
    train_items[frames["train"]["item"].to_numpy()] = True
    held_items = np.zeros(ds.n_items, dtype=bool)
    held_items[frames["test"]["item"].to_numpy()] = True
    held_items[frames["valid"]["item"].to_numpy()] = True
    cold = np.flatnonzero(held_items & ~train_items).astype(np.int64)
    info = {
        "method": method,
        "seed": int(seed),
        "params": {k: v for k, v in p.items()},
        **counts,
        "dropped": dropped,
        "users_in_test": int(frames["test"]["user"].nunique()),
        "users_in_valid": int(frames["valid"]["user"].nunique()),
        "cold_items": len(cold),
        "catalogue_only_items": int(
            (np.bincount(inter["item"].to_numpy(), minlength=ds.n_items) == 0).sum()),
        **info,
    }
    report.note(f"split {method} (seed {seed}): train {counts['train']:,}, valid "
                f"{counts['valid']:,}, test {counts['test']:,}"
                + (f", dropped {dropped:,}" if dropped else ""))
    return ds.replace(train=frames["train"], valid=frames["valid"], test=frames["test"],
                      split_info=info, cold_items=cold, report=report)


def _per_user_holdout(users: np.ndarray, key: np.ndarray, test: float, valid: float, *,
                      n_test: int | None = None, n_valid: int | None = None) -> np.ndarray:
    """Part of each row: within each user, the rows with the largest ``key`` go to test,
    the next ones to valid, at least one row stays in train. Vectorised."""
    n = len(users)
    part = np.full(n, TRAIN, dtype=np.int64)
    if n == 0:
        return part
    order = np.lexsort((key, users))  # by user, then key ascending
    sorted_users = users[order]
    counts = np.bincount(sorted_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    size = counts[sorted_users]
    # rank from the end within the user: 0 = largest key
    rank_from_end = size - 1 - (np.arange(n) - starts[sorted_users])
    if n_test is not None:
        want_test = np.full_like(counts, int(n_test))
    else:
        want_test = np.floor(counts * float(test) + 0.5).astype(np.int64)
    want_test = np.minimum(want_test, np.maximum(counts - 1, 0))
    if n_valid is not None:
        want_valid = np.full_like(counts, int(n_valid))
    else:
        want_valid = np.floor(counts * float(valid) + 0.5).astype(np.int64)
    want_valid = np.minimum(want_valid, np.maximum(counts - 1 - want_test, 0))
    t = want_test[sorted_users]
    v = want_valid[sorted_users]
    sorted_part = np.where(rank_from_end < t, TEST,
                           np.where(rank_from_end < t + v, VALID, TRAIN))
    part[order] = sorted_part
    return part


def _need_time(ds: Dataset, method: str) -> np.ndarray:
    time = ds.interactions["timestamp"].to_numpy(np.float64)
    missing = np.isnan(time)
    if missing.all():
        raise DataError(f"{ds.name}: split {method!r} needs timestamps; the data has no "
                        "timestamp column", column="timestamp")
    if missing.any():
        raise DataError(f"{ds.name}: split {method!r} needs timestamps; {int(missing.sum()):,} "
                        "interactions have none", column="timestamp")
    return time


def _as_seconds(value: Any) -> float:
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise DataError(f"time_cut: cannot read {value!r} as a time") from None
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return (stamp - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)


def _cold_users(ds: Dataset, users: np.ndarray, part: np.ndarray, method: str,
                policy: str | None, report: ValidationReport) -> int:
    """Apply the cold-user policy in place; returns the number of dropped interactions."""
    has_train = np.zeros(ds.n_users, dtype=bool)
    has_train[users[part == TRAIN]] = True
    held = (part == TEST) | (part == VALID)
    orphan = held & ~has_train[users]
    if not orphan.any():
        return 0
    cold_users = np.sort(pd.unique(users[orphan]))
    shown = ", ".join(str(ds.user_ids[u]) for u in cold_users[:5])
    message = (f"{ds.name}: split {method!r} leaves {len(cold_users):,} users without training "
               f"data (e.g. users {shown})")
    if policy == "error":
        raise DataError(message + "; pass cold_users='drop' or 'keep'",
                        rows=[int(u) for u in cold_users[:5]])
    if policy == "keep":
        report.warn(message + "; kept as cold users")
        return 0
    report.warn(message + f"; dropped their {int(orphan.sum()):,} held-out interactions")
    part[orphan] = DROPPED
    return int(orphan.sum())


def _frame(inter: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    return inter.loc[mask, list(INTERACTION_COLUMNS)].reset_index(drop=True)
