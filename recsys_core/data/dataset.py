"""The validated, id-mapped interaction dataset every other module works on.

A :class:`Dataset` holds interactions with contiguous integer ids (``user`` in
``[0, n_users)``, ``item`` in ``[0, n_items)``), the maps back to the original
ids (string ids stay strings), one text per item and per user, metadata
frames, the report of what was inferred and checked, and, once split, the
train / validation / test interactions.

Items that appear only in the item metadata file (no interactions) are part of
the catalogue: they get an index and a text, so text models can recommend them.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys_core.data.report import ValidationReport

if TYPE_CHECKING:
    import scipy.sparse as sp

#: Column layout of ``Dataset.interactions`` and of the split frames.
INTERACTION_COLUMNS = ("user", "item", "rating", "timestamp")


@dataclass
class Dataset:
    """Interactions plus id maps, texts and metadata; see the module docstring."""

    interactions: pd.DataFrame  # user:int64, item:int64, rating:float32, timestamp:float64 (NaN if unknown)
    user_ids: np.ndarray  # [n_users] original user id of each index
    item_ids: np.ndarray  # [n_items] original item id of each index
    items: pd.DataFrame = field(default_factory=pd.DataFrame)  # [n_items rows] metadata by index
    users: pd.DataFrame = field(default_factory=pd.DataFrame)  # [n_users rows] metadata by index
    item_texts: list[str] = field(default_factory=list)  # [n_items] text per item ("" if none)
    user_texts: list[str] = field(default_factory=list)  # [n_users] profile text per user
    name: str = "dataset"
    explicit: bool = True  # ratings carry preference strength (False: all 1.0)
    schema: dict[str, Any] = field(default_factory=dict)  # what was inferred: column roles, formats
    report: ValidationReport = field(default_factory=ValidationReport)
    # Set by split(); None before.
    train: pd.DataFrame | None = None
    valid: pd.DataFrame | None = None
    test: pd.DataFrame | None = None
    split_info: dict[str, Any] = field(default_factory=dict)
    cold_items: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # Part of each interaction in a split given by files (0 train, 1 valid, 2 test); else None.
    given_parts: np.ndarray | None = None

    # ------------------------------------------------------------------ sizes
    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_interactions(self) -> int:
        return len(self.interactions)

    @property
    def is_split(self) -> bool:
        return self.train is not None

    @property
    def train_interactions(self) -> pd.DataFrame:
        """What models learn from: the training split, or everything before a split."""
        return self.train if self.train is not None else self.interactions

    # ------------------------------------------------------------------ id maps
    def user_index(self, original: Any) -> int:
        """Index of an original user id; raises KeyError naming the id."""
        return _index_of(self._user_lookup(), original, "user")

    def item_index(self, original: Any) -> int:
        return _index_of(self._item_lookup(), original, "item")

    def user_indices(self, originals) -> np.ndarray:
        return np.array([self.user_index(u) for u in originals], dtype=np.int64)

    def item_indices(self, originals) -> np.ndarray:
        return np.array([self.item_index(i) for i in originals], dtype=np.int64)

    def _user_lookup(self) -> dict:
        if getattr(self, "_user_map", None) is None:
            self._user_map = {_key(v): i for i, v in enumerate(self.user_ids)}
        return self._user_map

    def _item_lookup(self) -> dict:
        if getattr(self, "_item_map", None) is None:
            self._item_map = {_key(v): i for i, v in enumerate(self.item_ids)}
        return self._item_map

    def item_title(self, index: int) -> str:
        """A human name for an item: its title if known, else its original id."""
        if "title" in self.items.columns:
            title = self.items["title"].iat[index]
            if isinstance(title, str) and title.strip():
                return title.strip()
        return str(self.item_ids[index])

    # ------------------------------------------------------------------ matrices
    def matrix(self, which: str = "train", binary: bool = True) -> sp.csr_matrix:
        """User x item CSR matrix of one part: 'train', 'valid', 'test' or 'all'."""
        import scipy.sparse as sp  # here, not at import: the dashboard opens without it

        frame = {
            "train": self.train_interactions,
            "valid": self.valid,
            "test": self.test,
            "all": self.interactions,
        }[which]
        if frame is None or len(frame) == 0:
            return sp.csr_matrix((self.n_users, self.n_items), dtype=np.float32)
        values = (
            np.ones(len(frame), dtype=np.float32)
            if binary
            else frame["rating"].to_numpy(np.float32)
        )
        m = sp.csr_matrix(
            (values, (frame["user"].to_numpy(), frame["item"].to_numpy())),
            shape=(self.n_users, self.n_items),
        )
        m.sum_duplicates()
        return m

    def seen_matrix(self) -> sp.csr_matrix:
        """Items to mask when ranking for test: training plus validation interactions."""
        m = self.matrix("train")
        if self.valid is not None and len(self.valid):
            m = m + self.matrix("valid")
            m.data[:] = 1.0
        return m.tocsr()

    # ------------------------------------------------------------------ identity
    def content_hash(self) -> str:
        """Stable hash of ids, interactions and texts: a cache key across processes."""
        if getattr(self, "_hash", None) is None:
            h = hashlib.sha256()
            h.update(np.asarray(self.user_ids, dtype=str).astype("U").tobytes())
            h.update(np.asarray(self.item_ids, dtype=str).astype("U").tobytes())
            frame = self.interactions
            for col in INTERACTION_COLUMNS:
                h.update(np.ascontiguousarray(frame[col].to_numpy()).tobytes())
            h.update("\x1f".join(self.item_texts).encode("utf-8"))
            h.update("\x1f".join(self.user_texts).encode("utf-8"))
            self._hash = h.hexdigest()[:16]
        return self._hash

    def replace(self, **changes) -> Dataset:
        """A copy with some fields changed (caches are not carried over)."""
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ operations
    def split(self, method: str = "random", seed: int = 0, **params) -> Dataset:
        """Split into train / valid / test; see :mod:`recsys_core.data.split`."""
        from recsys_core.data.split import split_dataset

        return split_dataset(self, method, seed=seed, **params)

    def stats(self) -> dict[str, Any]:
        """Summary statistics; see :mod:`recsys_core.data.stats`."""
        from recsys_core.data.stats import dataset_stats

        return dataset_stats(self)

    def __repr__(self) -> str:
        part = f", split={self.split_info.get('method')}" if self.is_split else ""
        return (
            f"Dataset(name={self.name!r}, users={self.n_users}, items={self.n_items}, "
            f"interactions={self.n_interactions}{part})"
        )


def _key(value: Any) -> Any:
    """Normalise an id for lookup: numpy scalars become Python scalars."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _index_of(lookup: dict, original: Any, kind: str) -> int:
    key = _key(original)
    if key in lookup:
        return lookup[key]
    # Ids typed in a UI or CLI arrive as strings; accept "42" for 42 and 42 for "42".
    alt: Any = None
    if isinstance(key, str):
        try:
            alt = int(key)
        except ValueError:
            alt = None
    elif isinstance(key, int | np.integer):
        alt = str(key)
    if alt is not None and alt in lookup:
        return lookup[alt]
    raise KeyError(f"unknown {kind} id {original!r}")
