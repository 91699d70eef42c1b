"""`python -m recsys_core info`: schema, statistics and report; exit 2 with the message on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "fixtures" / "bad"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "recsys_core", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def write_files(tmp_path: Path) -> tuple[Path, Path]:
    inter = tmp_path / "ratings.csv"
    inter.write_text("userId,movieId,rating,timestamp\n1,10,4,100\n1,20,5,200\n2,10,3,300\n"
                     "2,10,2,400\n")
    items = tmp_path / "movies.csv"
    items.write_text("movieId,title,genres\n10,Heat (1995),Action|Crime\n20,Up (2009),Animation\n"
                     "30,Cold (2001),Drama\n")
    return inter, items


def test_info_text(tmp_path):
    inter, items = write_files(tmp_path)
    done = run("info", inter, "--items", items)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"Dataset {tmp_path.name}" in out  # generic file name: the folder names it
    assert "user       userId" in out and "inferred" in out
    assert "interactions                3" in out
    assert "items without interactions  1" in out
    assert "ratings                     2: 1, 4: 1, 5: 1" in out
    assert "warning: ratings.csv: 1 duplicate (user, item) rows (first at lines 4, 5); " \
           "dedupe='last'" in out


def test_info_json(tmp_path):
    inter, items = write_files(tmp_path)
    done = run("info", inter, "--items", items, "--json", "--dedupe", "max")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["ok"] is True
    assert payload["schema"]["columns"] == {"user": "userId", "item": "movieId",
                                            "rating": "rating", "timestamp": "timestamp"}
    assert payload["stats"]["users"] == 2 and payload["stats"]["items"] == 3
    assert payload["stats"]["rating_histogram"] == {"values": [3.0, 4.0, 5.0],
                                                    "counts": [1, 1, 1]}
    assert any("dedupe='max'" in w for w in payload["report"]["warnings"])


def test_info_column_override_and_threshold(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("buyer,thing,stars\na,x,5\nb,x,1\nb,y,4\n")
    done = run("info", path, "--column", "user=buyer", "--column", "item=thing",
               "--threshold", "4", "--json")
    payload = json.loads(done.stdout)
    assert payload["schema"]["columns"]["user"] == "buyer"
    assert payload["stats"]["interactions"] == 2 and payload["stats"]["explicit"] is False


def test_info_bad_input_exits_2_with_message():
    done = run("info", BAD / "ambiguous_columns.csv")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: ambiguous_columns.csv: ambiguous user column: candidates are 'userId', "
        "'user_id'; choose one with columns={'user': ...}")
    assert "Traceback" not in done.stderr


def test_info_bad_input_json():
    done = run("info", BAD / "garbage.csv", "--json")
    assert done.returncode == 2
    assert json.loads(done.stdout)["error"].startswith("garbage.csv: looks like binary data")


def test_info_bad_column_argument():
    done = run("info", BAD / "empty_ids.csv", "--column", "user")
    assert done.returncode == 2 and "--column expects ROLE=NAME" in done.stderr


def test_help_lists_info():
    done = run("--help")
    assert done.returncode == 0 and "info" in done.stdout
