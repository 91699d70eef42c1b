"""Data layer: read interaction files of many formats into a validated :class:`Dataset`.

``load(path, items=None, users=None, columns=None, ...)`` is the entry point;
``Dataset.split(method, seed, **params)`` makes train / valid / test parts and
``Dataset.stats()`` summarises. Bad input raises :class:`DataError` whose
message names the file, the column and the first offending lines.
"""

from recsys_core.data.columns import ROLES, SYNONYMS, infer_columns
from recsys_core.data.dataset import INTERACTION_COLUMNS, Dataset
from recsys_core.data.loader import DEDUPE_RULES, compose_texts, kcore_filter, load
from recsys_core.data.readers import FORMATS, default_max_bytes
from recsys_core.data.report import DataError, ValidationReport
from recsys_core.data.split import METHODS as SPLIT_METHODS
from recsys_core.data.split import split_dataset
from recsys_core.data.stats import dataset_stats, gini

__all__ = [
    "load",
    "Dataset",
    "DataError",
    "ValidationReport",
    "infer_columns",
    "split_dataset",
    "dataset_stats",
    "gini",
    "kcore_filter",
    "compose_texts",
    "default_max_bytes",
    "ROLES",
    "SYNONYMS",
    "FORMATS",
    "SPLIT_METHODS",
    "DEDUPE_RULES",
    "INTERACTION_COLUMNS",
]
