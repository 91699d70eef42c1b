"""The --nproc shortcut's command line, torchrun's condensed failure report, input errors."""

import argparse

import pytest

from recsys_core import cli
from recsys_core.distributed import runtime
from recsys_core.distributed.launch import condense_report, namespace_argv, torchrun_command

REPORT = """Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/torch/distributed/launcher/api.py", line 383, in launch_agent
    raise ChildFailedError(
torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
============================================================
recsys_core.distributed FAILED
------------------------------------------------------------
Failures:
[1]:
  time      : 2026-12-06_12:39:48
  host      : node-a
  rank      : 0 (local_rank: 0)
  exitcode  : 1 (pid: 20049)
  error_file: <N/A>
  traceback : To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html
------------------------------------------------------------
Root Cause (first observed failure):
[0]:
  time      : 2026-12-06_12:39:48
  host      : node-b
  rank      : 3 (local_rank: 1)
  exitcode  : -9 (pid: 20050)
  error_file: <N/A>
  traceback : Signal 9 (SIGKILL) received by PID 20050
============================================================
""".splitlines(keepends=True)


def test_failure_report_becomes_one_line_per_rank():
    assert condense_report(REPORT) == [
        "error: torchrun: rank 0 (local rank 0 on node-a) failed (exit code 1)\n",
        "error: torchrun: rank 3 (local rank 1 on node-b) failed (exit code -9, SIGKILL)\n"]


def test_other_tracebacks_pass_unchanged():
    lines = ["Traceback (most recent call last):\n", "ValueError: something else\n"]
    assert condense_report(lines) == lines


def _train_parser() -> argparse.ArgumentParser:
    sub = argparse.ArgumentParser().add_subparsers()
    cli.add_train(sub)
    return sub.choices["train"]


def test_train_arguments_round_trip_without_nproc():
    parser = _train_parser()
    argv = ["data.csv", "--model", "mf", "--epochs", "3", "--lr", "0.05", "--param", "refit=false",
            "--param", "eval_every=2", "--column", "user=buyer", "--no-progress", "--nproc", "2",
            "--home", "/tmp/store"]
    args = parser.parse_args(argv)
    rebuilt = namespace_argv(parser, args, skip=("nproc",))
    assert "--nproc" not in rebuilt
    again = parser.parse_args(rebuilt)
    assert {**vars(again), "nproc": 2} == vars(args)
    command = torchrun_command(2, ["train", *rebuilt])
    assert command[1:6] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    assert command[6:9] == ["-m", "recsys_core.distributed", "train"]


@pytest.mark.parametrize("argv,message", [
    (["--model", "popularity", "--nproc", "2"], "does not train across ranks"),
    (["--model", "mf", "--nproc", "0"], "--nproc must be at least 1"),
    (["--model", "mf", "--nproc", "2", "--background"], "do not combine"),
])
def test_nproc_input_errors(tmp_path, capsys, argv, message):
    data = tmp_path / "x.csv"
    data.write_text("user,item\n1,2\n")
    assert cli.main(["train", str(data), *argv, "--home", str(tmp_path / "home")]) == 2
    assert message in capsys.readouterr().err


def test_rank_outside_torchrun_says_how_to_start(monkeypatch, capsys):
    for name in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert runtime.run_rank(lambda group: 0) == 2
    err = capsys.readouterr().err
    assert "RANK is not set" in err and "torchrun" in err and "Traceback" not in err


def test_threads_are_balanced_over_local_ranks(monkeypatch):
    monkeypatch.setattr(runtime, "cores", lambda: 16)
    assert [runtime.balanced_threads(n) for n in (1, 2, 3, 16, 32)] == [16, 8, 5, 1, 1]
