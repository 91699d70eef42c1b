"""benchmarks/load.py runs and prints its JSON figures (figures themselves are not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_load_benchmark_prints_json(tmp_path):
    done = subprocess.run([sys.executable, "benchmarks/load.py", "--rows", "2000",
                           "--bench", str(tmp_path)], capture_output=True, text=True, cwd=ROOT,
                          timeout=300, check=True)
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 1  # no gowalla under tmp_path
    figures = lines[0]
    assert figures["benchmark"] == "load_csv" and figures["rows"] == 2000
    assert figures["interactions"] <= 2000 and figures["seconds"] > 0 and figures["peak_mb"] > 0
