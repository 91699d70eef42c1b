"""Text encoding speed: the sample catalogue's item texts, first time and cached.

Prints one JSON line: ``texts``, ``first_seconds`` (empty cache: model load +
encoding), ``model_load_seconds``, ``texts_per_s`` (encoding alone),
``cached_seconds`` (a fresh encoder on the filled cache, as after a restart;
the model is not loaded) and the machine's load average, since the CPU may be
shared. Targets: first < 15 s, cached < 0.5 s.

    timeout 600 .venv/bin/python benchmarks/text.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recsys_core.data import load  # noqa: E402
from recsys_core.text import TextEncoder, item_text  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT / "sample_data"))
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    data = Path(args.data)
    ds = load(data / "interactions.csv", items=data / "items.csv")
    texts = [item_text(ds, i) for i in range(ds.n_items)]

    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        encoder = TextEncoder(cache_dir=cache, batch_size=args.batch_size)
        encoder._load()
        loaded = time.perf_counter()
        encoder.encode(texts)
        first = time.perf_counter()
        restarted = TextEncoder(cache_dir=cache)
        t0 = time.perf_counter()
        vectors = restarted.encode(texts)
        cached = time.perf_counter() - t0
        assert not restarted.model_loaded and vectors.shape[0] == len(texts)
    print(json.dumps({
        "texts": len(texts),
        "first_seconds": round(first - start, 3),
        "model_load_seconds": round(loaded - start, 3),
        "texts_per_s": round(len(texts) / (first - loaded), 1),
        "cached_seconds": round(cached, 4),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpu_cores": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
