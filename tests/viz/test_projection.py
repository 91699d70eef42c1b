import numpy as np
import pytest
from sklearn.decomposition import PCA

from recsys_core.viz.projection import pca_2d, project, sample_rows


def _blobs(n_per=60, d=16, seed=0):
    """Two well-separated Gaussian clusters and their labels."""
    rng = np.random.default_rng(seed)
    centre = np.zeros(d)
    centre[0] = 12.0
    a = rng.normal(size=(n_per, d))
    b = rng.normal(size=(n_per, d)) + centre
    return np.vstack([a, b]).astype(np.float32), np.repeat([0, 1], n_per)


def _neighbour_agreement(coords, labels):
    """Share of points whose nearest 2-D neighbour has the same label."""
    d = ((coords[:, None, :] - coords[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return float(np.mean(labels[d.argmin(axis=1)] == labels))


def test_pca_matches_sklearn_up_to_sign():
    x = np.random.default_rng(1).normal(size=(200, 8)) @ np.diag([5, 3, 1, 1, 1, 1, 1, 1])
    coords, ratio = pca_2d(x)
    ref = PCA(n_components=2).fit(x)
    expected = ref.transform(x)
    for axis in range(2):
        sign = np.sign(coords[:, axis] @ expected[:, axis])
        np.testing.assert_allclose(coords[:, axis], sign * expected[:, axis], atol=1e-4)
    np.testing.assert_allclose(ratio, ref.explained_variance_ratio_, rtol=1e-6)


def test_pca_hand_worked_line():
    # Points on the line y = 2x: one axis holds all the variance, along (1, 2)/sqrt(5).
    x = np.array([[0.0, 0.0], [1.0, 2.0], [2.0, 4.0]])
    coords, ratio = pca_2d(x)
    np.testing.assert_allclose(ratio, [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(coords[:, 0], [-np.sqrt(5), 0.0, np.sqrt(5)], atol=1e-6)
    np.testing.assert_allclose(coords[:, 1], 0.0, atol=1e-6)


def test_pca_signs_are_deterministic_under_row_order():
    x = np.random.default_rng(2).normal(size=(50, 5))
    a, _ = pca_2d(x)
    b, _ = pca_2d(x[::-1])
    np.testing.assert_allclose(a[::-1], b, atol=1e-5)


def test_sample_rows():
    assert np.array_equal(sample_rows(5, None), np.arange(5))
    assert np.array_equal(sample_rows(5, 10), np.arange(5))
    rows = sample_rows(1000, 100, seed=3, keep=np.array([999]))
    assert 999 in rows
    assert len(np.unique(rows)) == len(rows) in (100, 101)
    assert np.all(np.diff(rows) > 0)
    assert np.array_equal(rows, sample_rows(1000, 100, seed=3, keep=np.array([999])))
    assert not np.array_equal(sample_rows(1000, 100, seed=3), sample_rows(1000, 100, seed=4))


def test_project_pca_all_rows_and_note():
    x, _ = _blobs()
    p = project(x, "pca")
    assert p.coords.shape == (120, 2) and not p.sampled
    assert p.note.startswith("PCA of all 120 points.")
    assert "variance" in p.note


def test_tsne_subsamples_and_keeps_clusters_apart():
    x, labels = _blobs(n_per=60)
    p = project(x, "tsne", max_points=80, seed=0, perplexity=10)
    assert p.coords.shape == (80, 2) and p.sampled
    assert np.all(np.isfinite(p.coords))
    assert p.note == "t-SNE of a uniform random sample of 80 of 120 points (seed 0)."
    assert _neighbour_agreement(p.coords, labels[p.rows]) > 0.95


@pytest.mark.slow
def test_umap_keeps_clusters_apart():
    x, labels = _blobs(n_per=50)
    p = project(x, "umap", seed=0, n_neighbors=10)
    assert p.coords.shape == (100, 2)
    assert _neighbour_agreement(p.coords, labels) > 0.95


def test_cache_round_trip(tmp_path):
    x, _ = _blobs()
    first = project(x, "pca", cache_dir=tmp_path, cache_key="run-1")
    assert not first.cached
    assert len(list(tmp_path.glob("run-1-pca-*.npz"))) == 1
    second = project(x, "pca", cache_dir=tmp_path, cache_key="run-1")
    assert second.cached
    np.testing.assert_array_equal(first.coords, second.coords)
    np.testing.assert_array_equal(first.explained_variance, second.explained_variance)
    # Another run id is another entry; no temporary files are left behind.
    project(x, "pca", cache_dir=tmp_path, cache_key="run-2")
    assert len(list(tmp_path.glob("*.npz"))) == 2
    assert not list(tmp_path.glob("*.tmp"))


def test_corrupt_cache_entry_is_recomputed(tmp_path):
    x, _ = _blobs()
    project(x, "pca", cache_dir=tmp_path, cache_key="r")
    (path,) = tmp_path.glob("*.npz")
    path.write_bytes(b"not an npz file")
    again = project(x, "pca", cache_dir=tmp_path, cache_key="r")
    assert not again.cached and again.coords.shape == (120, 2)
    assert project(x, "pca", cache_dir=tmp_path, cache_key="r").cached


def test_bad_input_messages():
    with pytest.raises(ValueError, match="unknown projection 'mds'; choose one of: pca, tsne, umap"):
        project(np.zeros((3, 2)), "mds")
    with pytest.raises(ValueError, match=r"embeddings must be a 2-D array \[n, d\], got shape \(3,\)"):
        project(np.zeros(3), "pca")
