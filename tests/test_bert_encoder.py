"""The library-free BERT sentence encoder equals sentence-transformers on the same folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from recsys_core.bert_encoder import BertSentenceEncoder, supports
from recsys_core.text import TextEncoder, default_model_path

TEXTS = ["The Last Reactor (2005). Sci-Fi. A freighter pilot must stop an alien swarm.",
         "",  # only [CLS] [SEP]
         "a",
         "Ünïcödé café, naïve 東京 — accents and CJK characters",
         "a very long description " * 120]  # over 256 tokens: truncated like the library


@pytest.fixture(scope="module")
def library():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(default_model_path()), device="cpu", local_files_only=True)


def test_same_vectors_as_sentence_transformers(library):
    ours = BertSentenceEncoder(default_model_path())
    assert ours.max_length == 256 and ours.normalize
    got = ours.encode(TEXTS, batch_size=2)  # batches pad to different lengths
    want = library.encode(TEXTS, batch_size=2, normalize_embeddings=True)
    assert got.shape == (5, 384) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)
    # Padding never leaks in: a text alone equals the same text batched with a longer one.
    np.testing.assert_allclose(ours.encode(TEXTS[2:3]), got[2:3], atol=1e-6)


def _copy(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    shutil.copytree(default_model_path(), folder, ignore=shutil.ignore_patterns("model.safetensors"))
    (folder / "model.safetensors").symlink_to(default_model_path() / "model.safetensors")
    return folder


def test_other_layouts_go_to_sentence_transformers(tmp_path, library):
    assert supports(default_model_path())
    cls = _copy(tmp_path, "cls")
    pooling = json.loads((cls / "1_Pooling" / "config.json").read_text())
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    (cls / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    assert not supports(cls)
    encoder = TextEncoder(cls, cache_dir=tmp_path / "cache")
    vectors = encoder.encode(TEXTS[:1])
    assert type(encoder._load()).__name__ == "SentenceTransformer"
    # CLS pooling gives another vector than the default mean pooling.
    mean = library.encode(TEXTS[:1], normalize_embeddings=True)
    assert float(vectors[0] @ mean[0]) < 0.999
    assert not supports(tmp_path / "missing")


def test_default_model_loads_without_the_library(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from recsys_core.text import TextEncoder
        enc = TextEncoder(cache_dir={str(tmp_path)!r})
        v = enc.encode(["hello world"])
        assert "sentence_transformers" not in sys.modules and "transformers" not in sys.modules
        print(type(enc._load()).__name__, v.shape)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "BertSentenceEncoder (1, 384)"
