"""``python -m recsys_core explain RUN ...`` on a run saved in a temporary run store."""

import json

import numpy as np
from explain_helpers import lightgcn_with, seed_dataset
from test_llm import ChatServer

from recsys_core.cli import main
from recsys_core.runs import RunStore


def saved_run(tmp_path) -> str:
    ds = seed_dataset()
    model = lightgcn_with(ds, np.array([[1.0], [0.0], [1.0], [1.0]]), layers=1)
    return RunStore(tmp_path).save(model, ds)


def test_explain_json(tmp_path, capsys):
    run_id = saved_run(tmp_path)
    code = main(["explain", run_id, "--user", "u1", "--item", "i1", "--home", str(tmp_path),
                 "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["ok"] and out["run"] == run_id
    assert out["text"].startswith('We recommend "The Silent Orbit (2019)" mainly because you '
                                  'liked "Paper Hearts (2021)".')
    assert (out["backend"], out["faithful"], out["fallback_reason"]) == ("template", True, None)
    [cited] = out["evidence"]["history_influence"]["items"]
    assert cited["title"] == "Paper Hearts (2021)"
    assert abs(cited["effect"] - (0.75 - ((1 + 2 ** -0.5) / 2) ** 2)) < 1e-4


def test_explain_text_output_with_failing_llm(tmp_path, capsys):
    run_id = saved_run(tmp_path)
    with ChatServer("error") as server:
        code = main(["explain", run_id, "--user", "u2", "--item", "i2", "--home", str(tmp_path),
                     "--llm-url", server.url, "--llm-model", "tiny", "--llm-timeout", "5"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith('We recommend "Paper Hearts (2021)"')
    assert "written by: template" in out
    assert (f"language model not used: the LLM server at {server.url} answered HTTP 500: model "
            "crashed after 2 attempts") in out
    assert "history effects: edge removal with exact LightGCN re-propagation" in out


def test_unknown_user_is_a_clear_error(tmp_path, capsys):
    run_id = saved_run(tmp_path)
    code = main(["explain", run_id, "--user", "nobody", "--item", "i1", "--home", str(tmp_path)])
    assert code == 2
    assert capsys.readouterr().err.strip() == "error: unknown user id 'nobody'"
    code = main(["explain", "no-such-run", "--user", "u1", "--home", str(tmp_path), "--json"])
    assert code == 2
    assert json.loads(capsys.readouterr().out)["error"].startswith("unknown run 'no-such-run'")
