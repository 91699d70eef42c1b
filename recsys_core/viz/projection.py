"""Two-dimensional projections of embeddings: PCA, t-SNE and UMAP.

PCA is exact and fast on every node of a large graph (it eigen-decomposes the
d x d covariance, so its cost is O(n d^2)); t-SNE and UMAP are neighbour-graph
methods whose cost grows faster than n, so above ``max_points`` rows they run
on a uniform random subsample and say so in :attr:`Projection.note`.

Results are cached on disk by a caller-chosen key (e.g. a run id) plus the
method, its parameters and the rows, so switching back to a run is instant.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

METHODS = ("pca", "tsne", "umap")

#: Rows above which t-SNE / UMAP run on a subsample (PCA never subsamples to fit).
DEFAULT_MAX_POINTS = {"pca": None, "tsne": 3000, "umap": 5000}


@dataclass
class Projection:
    """A 2-D layout of selected rows of an embedding matrix."""

    coords: np.ndarray  # [m, 2] float32 layout
    rows: np.ndarray  # [m] int64 row of the input matrix each point is
    method: str  # "pca" | "tsne" | "umap"
    n_total: int  # rows in the input matrix
    seconds: float  # time the projection took when it was computed
    params: dict[str, Any] = field(default_factory=dict)
    cached: bool = False  # True when read from the on-disk cache
    explained_variance: np.ndarray | None = None  # [2] PCA only: share of variance per axis

    @property
    def sampled(self) -> bool:
        return len(self.rows) < self.n_total

    @property
    def note(self) -> str:
        """One sentence saying what is shown, for the page to display."""
        name = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}[self.method]
        if self.sampled:
            text = (f"{name} of a uniform random sample of {len(self.rows):,} of "
                    f"{self.n_total:,} points (seed {self.params.get('seed', 0)}).")
        else:
            text = f"{name} of all {self.n_total:,} points."
        if self.explained_variance is not None:
            share = float(np.sum(self.explained_variance))
            text += f" The two axes explain {share:.0%} of the variance."
        return text


def sample_rows(n: int, max_points: int | None, seed: int = 0,
                keep: np.ndarray | None = None) -> np.ndarray:
    """Sorted row indices: all ``n`` rows, or a uniform sample of ``max_points``.

    ``keep`` rows (e.g. a selected node) are always in the sample.
    """
    if max_points is None or n <= max_points:
        return np.arange(n, dtype=np.int64)
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1, got {max_points}")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(n, size=max_points, replace=False)
    if keep is not None and len(keep):
        chosen = np.union1d(chosen, np.asarray(keep, dtype=np.int64))
    return np.sort(chosen).astype(np.int64)


def pca_2d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project rows of ``x`` [n, d] on its top two principal axes.

    Returns ``(coords [n, 2], explained_variance_ratio [2])``. Each axis's sign
    is fixed so its largest-magnitude loading is positive, which makes the
    picture deterministic across runs and platforms.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"PCA needs a 2-D array with at least 2 rows, got shape {x.shape}")
    centred = x - x.mean(axis=0)
    cov = centred.T @ centred / (len(x) - 1)  # [d, d]
    values, vectors = np.linalg.eigh(cov)  # ascending
    order = np.argsort(values)[::-1][:2]
    axes = vectors[:, order]  # [d, 2]
    if axes.shape[1] < 2:  # one-dimensional input: pad a zero axis
        axes = np.pad(axes, ((0, 0), (0, 2 - axes.shape[1])))
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(2)])
    axes = axes * np.where(signs == 0, 1.0, signs)
    total = float(values.sum())
    ratio = values[order] / total if total > 0 else np.zeros(len(order))
    ratio = np.pad(ratio, (0, 2 - len(ratio)))
    return (centred @ axes).astype(np.float32), ratio


def _tsne(x: np.ndarray, seed: int, perplexity: float) -> np.ndarray:
    from sklearn.manifold import TSNE

    # Perplexity must stay below the number of points.
    perplexity = float(min(perplexity, max(1.0, (len(x) - 1) / 3)))
    init = "pca" if len(x) > 2 else "random"
    model = TSNE(n_components=2, perplexity=perplexity, init=init, random_state=seed,
                 metric="cosine" if init == "pca" else "euclidean")
    return model.fit_transform(np.asarray(x, dtype=np.float32)).astype(np.float32)


def _umap(x: np.ndarray, seed: int, n_neighbors: int, min_dist: float) -> np.ndarray:
    import umap

    n_neighbors = int(min(n_neighbors, len(x) - 1))
    if n_neighbors < 2:
        raise ValueError(f"UMAP needs at least 3 points, got {len(x)}")
    model = umap.UMAP(n_components=2, n_neighbors=n_neighbors, min_dist=min_dist,
                      metric="cosine", random_state=seed, n_jobs=1)
    return np.asarray(model.fit_transform(np.asarray(x, dtype=np.float32)), dtype=np.float32)


def project(x: np.ndarray, method: str = "pca", *, seed: int = 0,
            max_points: int | None | str = "auto", keep: np.ndarray | None = None,
            perplexity: float = 30.0, n_neighbors: int = 15, min_dist: float = 0.1,
            cache_dir: str | os.PathLike | None = None, cache_key: str | None = None
            ) -> Projection:
    """2-D projection of the rows of ``x`` [n, d] by ``method`` (see :data:`METHODS`).

    ``max_points="auto"`` uses :data:`DEFAULT_MAX_POINTS`: PCA projects every
    row, t-SNE and UMAP a seeded uniform sample. With ``cache_dir`` and
    ``cache_key`` the result is stored there and read back on the next call
    with the same key, method, parameters and input shape.
    """
    if method not in METHODS:
        raise ValueError(f"unknown projection {method!r}; choose one of: {', '.join(METHODS)}")
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D array [n, d], got shape {x.shape}")
    limit = DEFAULT_MAX_POINTS[method] if max_points == "auto" else max_points
    rows = sample_rows(len(x), limit, seed, keep)
    params: dict[str, Any] = {"seed": seed, "max_points": limit}
    if method == "tsne":
        params["perplexity"] = perplexity
    if method == "umap":
        params.update(n_neighbors=n_neighbors, min_dist=min_dist)

    path = None
    if cache_dir is not None and cache_key is not None:
        path = _cache_path(cache_dir, cache_key, method, params, x.shape, rows)
        hit = _read_cache(path, method, params, len(x), rows)
        if hit is not None:
            return hit

    start = time.perf_counter()
    ratio = None
    if method == "pca":
        coords, ratio = pca_2d(x[rows])
    elif method == "tsne":
        coords = _tsne(x[rows], seed, perplexity)
    else:
        coords = _umap(x[rows], seed, n_neighbors, min_dist)
    result = Projection(coords=coords, rows=rows, method=method, n_total=len(x),
                        seconds=time.perf_counter() - start, params=params,
                        explained_variance=ratio)
    if path is not None:
        _write_cache(path, result)
    return result


# ---------------------------------------------------------------------- cache
def _cache_path(root, key: str, method: str, params: dict, shape: tuple, rows: np.ndarray) -> Path:
    h = hashlib.sha256()
    h.update(json.dumps({"key": key, "method": method, "params": params,
                         "shape": list(shape)}, sort_keys=True).encode())
    h.update(rows.tobytes())
    safe_key = "".join(c if c.isalnum() or c in "-_" else "_" for c in key)[:60]
    return Path(root) / f"{safe_key}-{method}-{h.hexdigest()[:16]}.npz"


def _read_cache(path: Path, method: str, params: dict, n_total: int,
                rows: np.ndarray) -> Projection | None:
    if not path.exists():
        return None
    try:
        with np.load(path) as z:
            coords = z["coords"]
            stored_rows = z["rows"]
            ratio = z["explained_variance"] if "explained_variance" in z.files else None
            seconds = float(z["seconds"])
    except (OSError, ValueError, KeyError):
        return None  # unreadable cache entry: recompute and overwrite
    if not np.array_equal(stored_rows, rows):
        return None
    return Projection(coords=coords, rows=stored_rows, method=method, n_total=n_total,
                      seconds=seconds, params=params, cached=True, explained_variance=ratio)


def _write_cache(path: Path, result: Projection) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"coords": result.coords, "rows": result.rows,
              "seconds": np.float64(result.seconds)}
    if result.explained_variance is not None:
        arrays["explained_variance"] = result.explained_variance
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, path)  # readers never see a half-written file
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
