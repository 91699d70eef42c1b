"""TextEncoder: real all-MiniLM-L6-v2 output, the on-disk cache, errors, user features."""

from __future__ import annotations

import multiprocessing as mp
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_core.data.dataset import Dataset
from recsys_core.text import (
    EmbeddingCache,
    TextEncoder,
    TextModelError,
    default_model_path,
    history_mean,
    text_sha256,
    user_text_features,
)

TEXTS = ["A heist comedy about a crew robbing a casino.",
         "A space opera with starships and rebel pilots.",
         "A quiet romantic drama set in Paris.",
         "A heist comedy about a crew robbing a casino."]  # duplicate on purpose


@pytest.fixture(scope="module")
def encoder(tmp_path_factory) -> TextEncoder:
    enc = TextEncoder(cache_dir=tmp_path_factory.mktemp("text-cache"))
    enc._load()  # the one model load of the session (shared by every encoder of this folder)
    return enc


def test_encode_matches_sentence_transformers_and_is_normalised(encoder):
    vectors = encoder.encode(TEXTS)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    from sentence_transformers import SentenceTransformer

    library = SentenceTransformer(str(default_model_path()), device="cpu", local_files_only=True)
    reference = library.encode(TEXTS, normalize_embeddings=True)
    np.testing.assert_allclose(vectors, reference, atol=1e-5)
    np.testing.assert_array_equal(vectors[0], vectors[3])
    # Meaning survives: the two heist texts are closer to each other than to the romance.
    sims = vectors @ vectors.T
    assert sims[0, 1] < 0.9 and sims[0, 2] < sims[0, 3]


def test_cache_hit_needs_no_model_and_survives_new_encoder(tmp_path):
    first = TextEncoder(cache_dir=tmp_path)
    seen: list[tuple[int, int]] = []
    a = first.encode(TEXTS, batch_size=2, progress=lambda done, total: seen.append((done, total)))
    # 3 unique texts, batches of 2: start, after batch 1, after batch 2.
    assert seen == [(0, 3), (2, 3), (3, 3)]
    assert (first.last_hits, first.last_misses) == (0, 3)
    second = TextEncoder(cache_dir=tmp_path)  # a "restart": fresh object, same folder
    seen.clear()
    b = second.encode(TEXTS, progress=lambda done, total: seen.append((done, total)))
    assert not second.model_loaded
    assert (second.last_hits, second.last_misses) == (3, 0) and seen == [(3, 3)]
    np.testing.assert_array_equal(a, b)
    c = second.encode(TEXTS[:2] + ["A brand-new text."])
    assert (second.last_hits, second.last_misses) == (2, 1) and second.model_loaded
    np.testing.assert_array_equal(c[:2], a[:2])
    assert EmbeddingCache(tmp_path).count(first.identity) == 4


def test_cache_is_read_by_another_process_without_loading_the_model(tmp_path):
    TextEncoder(cache_dir=tmp_path).encode(TEXTS)
    script = textwrap.dedent(f"""
        import sys
        from recsys_core.text import TextEncoder
        enc = TextEncoder(cache_dir={str(tmp_path)!r})
        v = enc.encode({TEXTS!r})
        assert not enc.model_loaded and "sentence_transformers" not in sys.modules
        print(v.shape, enc.last_hits)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(4, 384) 3"


def _writer(root: str, worker: int, n_batches: int) -> None:
    cache = EmbeddingCache(root)
    for b in range(n_batches):
        # Overlapping keys: both workers write texts 0..n_batches*5 in different orders.
        ids = [(b * 5 + j) if worker == 0 else ((n_batches - 1 - b) * 5 + j) for j in range(5)]
        digests = [text_sha256(f"text {i}") for i in ids]
        vectors = np.array([[i, i + 0.5, -i] for i in ids], dtype=np.float32)
        cache.put("model-x", digests, vectors)


def test_two_processes_write_the_cache_concurrently(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w, 40)) for w in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    cache = EmbeddingCache(tmp_path)
    assert cache.count("model-x") == 200
    got = cache.get("model-x", [text_sha256(f"text {i}") for i in range(200)])
    assert len(got) == 200
    for i in (0, 77, 199):
        np.testing.assert_array_equal(got[text_sha256(f"text {i}")], [i, i + 0.5, -i])


def test_different_model_folder_does_not_share_cache_entries(tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(default_model_path(), copy, ignore=shutil.ignore_patterns("model.safetensors"))
    (copy / "model.safetensors").symlink_to(default_model_path() / "model.safetensors")
    a = TextEncoder(cache_dir=tmp_path / "c")
    b = TextEncoder(copy, cache_dir=tmp_path / "c")
    assert a.identity != b.identity
    a.encode(TEXTS[:1])
    assert EmbeddingCache(tmp_path / "c").get(b.identity, [text_sha256(TEXTS[0])]) == {}


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(TextModelError) as err:
        TextEncoder(tmp_path / "nope", cache_dir=tmp_path)
    assert str(err.value) == f"text model {str(tmp_path / 'nope')!r}: folder does not exist"


def test_folder_without_model_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(TextModelError, match="not a sentence-transformers model folder"):
        TextEncoder(tmp_path / "empty", cache_dir=tmp_path)


def test_broken_weights_fail_on_first_use_with_the_path(tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(default_model_path(), broken, ignore=shutil.ignore_patterns("model.safetensors"))
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    enc = TextEncoder(broken, cache_dir=tmp_path / "c")
    with pytest.raises(TextModelError) as err:
        enc.encode(["hello"])
    assert str(err.value).startswith(f"text model {str(broken)!r}: failed to load: ")


def test_empty_input(encoder):
    assert encoder.encode([]).shape == (0, 384)


def _toy_dataset(user_texts: list[str]) -> Dataset:
    inter = pd.DataFrame({"user": np.array([0, 0, 1], dtype=np.int64),
                          "item": np.array([0, 1, 2], dtype=np.int64),
                          "rating": np.array([1.0, 3.0, 5.0], dtype=np.float32),
                          "timestamp": np.full(3, np.nan)})
    return Dataset(interactions=inter, user_ids=np.array(["a", "b", "c"], dtype=object),
                   item_ids=np.array(["x", "y", "z"], dtype=object),
                   item_texts=["x", "y", "z"], user_texts=user_texts)


def test_user_text_features_by_hand():
    ds = _toy_dataset(["", "", ""])
    items = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32) / np.array([[1], [1], [2**0.5]],
                                                                              dtype=np.float32)
    # User a: mean of items 0 and 1 = (0.5, 0.5) -> normalised (0.707, 0.707).
    # User b: item 2 alone; user c: no history, no profile -> zero row.
    out = user_text_features(ds, items)
    np.testing.assert_allclose(out, [[0.5**0.5, 0.5**0.5], [0.5**0.5, 0.5**0.5], [0, 0]], atol=1e-6)
    # Rating-weighted: user a = (1*(1,0) + 3*(0,1)) / 4 = (0.25, 0.75) -> (1, 3)/sqrt(10).
    out = user_text_features(ds, items, rating_weighted=True)
    np.testing.assert_allclose(out[0], np.array([1, 3]) / 10**0.5, atol=1e-6)
    # Profiles: a = 0.5 * p + 0.5 * h; c has only a profile.
    profiles = np.array([[1, 0], [0, 0], [0, 1]], dtype=np.float32)
    out = user_text_features(ds, items, profiles, np.array([True, False, True]))
    expected_a = 0.5 * np.array([1, 0]) + 0.5 * np.array([0.5, 0.5])  # (0.75, 0.25)
    np.testing.assert_allclose(out[0], expected_a / np.linalg.norm(expected_a), atol=1e-6)
    np.testing.assert_allclose(out[2], [0, 1], atol=1e-6)


def test_history_mean_skips_empty_rows():
    import scipy.sparse as sp

    m = sp.csr_matrix(np.array([[2, 0], [0, 0]], dtype=np.float32))
    out = history_mean(m, np.array([[1, 2], [3, 4]], dtype=np.float32))
    np.testing.assert_allclose(out, [[1, 2], [0, 0]])
