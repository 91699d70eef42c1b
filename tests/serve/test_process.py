"""The real ``python -m recsys_core serve`` process on a free loopback port."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from recsys_core.runs import RunStore
from recsys_core.serve.curl import curl_command

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(home: Path, *args: str, env: dict[str, str] | None = None):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "recsys_core", "serve", *args, "--home", str(home),
         "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited {proc.returncode}: {proc.stdout.read()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("server did not answer /healthz within 60 s")


def stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_real_server_answers_like_in_process_and_like_its_curl_line(serve_home):
    home, ids = serve_home
    model, ds = RunStore(home).load(ids["mf"])
    proc, base = start(home, ids["mf"], ids["text_knn"],
                       env={"GRAPHREC_API_KEY": "k3y", "GRAPHREC_SERVE_URL": ""})
    try:
        user = ds.user_ids[11]
        assert httpx.get(f"{base}/v1/users/{user}/recommendations").status_code == 401
        headers = {"Authorization": "Bearer k3y"}
        body = httpx.get(f"{base}/v1/users/{user}/recommendations", params={"k": 12},
                         headers=headers).json()
        items, _ = model.recommend([user], k=12)
        assert [r["item"] for r in body["items"]] == list(items[0])
        assert httpx.get(f"{base}/healthz").json()["runs"][:2] == [ids["mf"], ids["text_knn"]]

        if shutil.which("curl"):  # the dashboard's curl line returns the same list
            line = curl_command(ids["mf"], user, k=12, base_url=base, with_key=True)
            out = subprocess.run(["bash", "-c", line], capture_output=True, text=True,
                                 timeout=30, env={**os.environ, "GRAPHREC_API_KEY": "k3y"})
            assert json.loads(out.stdout)["items"] == body["items"]
    finally:
        stop(proc)


def test_serve_refuses_an_unknown_run_with_a_message(serve_home):
    home, _ = serve_home
    out = subprocess.run([sys.executable, "-m", "recsys_core", "serve", "no-such-run",
                          "--home", str(home), "--port", str(free_port())],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "unknown run 'no-such-run'" in out.stderr and "Traceback" not in out.stderr


def test_serve_on_an_empty_store_says_to_train_first(tmp_path):
    out = subprocess.run([sys.executable, "-m", "recsys_core", "serve", "--home",
                          str(tmp_path), "--port", str(free_port())],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "no saved runs" in out.stderr


def test_curl_command_quotes_and_never_prints_the_key(monkeypatch):
    monkeypatch.setenv("GRAPHREC_API_KEY", "do-not-print")
    line = curl_command("r1", "user 7/x", k=5, base_url="http://127.0.0.1:9000")
    assert line == ("curl -s -H \"Authorization: Bearer $GRAPHREC_API_KEY\" "
                    "'http://127.0.0.1:9000/v1/users/user%207%2Fx/recommendations"
                    "?k=5&exclude_seen=true&include_cold=true&run=r1'")
    monkeypatch.delenv("GRAPHREC_API_KEY")
    assert curl_command("r1", "u", base_url="http://h:1").startswith("curl -s 'http://h:1/")
