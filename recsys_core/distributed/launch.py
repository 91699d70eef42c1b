"""``python -m recsys_core train ... --nproc N``: the one-machine shortcut that starts torchrun.

It runs ``python -m torch.distributed.run --standalone --nproc-per-node N -m
recsys_core.distributed train ...`` with the same training arguments (rebuilt
from the parsed command line) and returns torchrun's exit status. The ranks'
output passes through as it comes; torchrun's own failure report (a Python
traceback of the launcher followed by a table of failed ranks) is condensed
to one line per failed rank.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
from collections.abc import Sequence

from recsys_core.data.report import DataError
from recsys_core.distributed.runtime import balanced_threads


def namespace_argv(parser: argparse.ArgumentParser, args: argparse.Namespace,
                   skip: Sequence[str] = ()) -> list[str]:
    """A command line that ``parser`` parses back into ``args`` (options in ``skip`` left out)."""
    positional, options = [], []
    for action in parser._actions:  # argparse has no public list of a parser's actions
        if isinstance(action, argparse._HelpAction) or action.dest in skip:
            continue
        value = getattr(args, action.dest, None)
        if not action.option_strings:
            positional.extend([str(value)] if not isinstance(value, list) else map(str, value))
            continue
        flag = action.option_strings[-1] if action.option_strings[-1].startswith("--") \
            else action.option_strings[0]
        if isinstance(action, argparse._StoreTrueAction):
            if value:
                options.append(flag)
        elif isinstance(action, argparse._AppendAction):
            for item in value or []:
                options += [flag, str(item)]
        elif value is not None and value != action.default:
            options += [flag, str(value)]
    return positional + options


def torchrun_command(nproc: int, argv: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            "--nproc-per-node", str(nproc), "-m", "recsys_core.distributed", *argv]


def launch_train(args: argparse.Namespace) -> int:
    """Start the data-parallel ``train`` for ``args`` (the local parser's) on ``args.nproc`` ranks."""
    from recsys_core.cli import add_train
    from recsys_core.distributed.train import check_model

    if args.nproc < 1:
        raise DataError(f"--nproc must be at least 1, got {args.nproc}")
    check_model(args.model)
    if getattr(args, "background", False):
        raise DataError("--nproc and --background do not combine: a background job trains "
                        "in one process")
    sub = argparse.ArgumentParser().add_subparsers()
    add_train(sub)
    train_parser = sub.choices["train"]
    argv = ["train", *namespace_argv(train_parser, args, skip=("nproc",))]
    return run(torchrun_command(args.nproc, argv), args.nproc)


_FAILED_RANK = re.compile(r"rank\s*:\s*(\d+)\s*\(local_rank:\s*(\d+)\)")
_EXITCODE = re.compile(r"exitcode\s*:\s*(-?\d+)")
_SIGNAL = re.compile(r"Signal (\d+) \((\w+)\)")
_HOST = re.compile(r"^\s*host\s*:\s*(\S+)")


def condense_report(lines: Sequence[str]) -> list[str]:
    """torchrun's failure report as one line per failed rank; other text unchanged."""
    text = "".join(lines)
    if "ChildFailedError" not in text:
        return list(lines)
    out, current, host = [], None, None
    for line in lines:
        match = _FAILED_RANK.search(line)
        if _HOST.search(line):
            host = _HOST.search(line)[1]
        elif match:
            current = {"rank": match[1], "local": match[2], "host": host}
            out.append(current)
        elif current is not None and _EXITCODE.search(line):
            current["exit"] = _EXITCODE.search(line)[1]
        elif current is not None and _SIGNAL.search(line):
            current["signal"] = _SIGNAL.search(line)[2]
    result = []
    for failure in out:
        how = f"exit code {failure.get('exit', '?')}"
        if failure.get("signal"):
            how += f", {failure['signal']}"
        where = f" on {failure['host']}" if failure["host"] else ""
        result.append(f"error: torchrun: rank {failure['rank']} (local rank {failure['local']}"
                      f"{where}) failed ({how})\n")
    return result or list(lines)


def run(command: Sequence[str], nproc: int) -> int:
    """Run torchrun, passing its output through with its failure report condensed."""
    env = dict(os.environ)
    # torchrun would set 1 with a warning; the ranks set their own count (cores / ranks).
    env.setdefault("OMP_NUM_THREADS", str(balanced_threads(nproc)))
    if env.get("GRAPHREC_DEBUG"):
        return subprocess.call(list(command), env=env)
    proc = subprocess.Popen(list(command), env=env, stderr=subprocess.PIPE, text=True,
                            errors="replace", bufsize=1)
    held: list[str] = []  # from the launcher's "Traceback" line on

    def relay() -> None:
        for line in proc.stderr:
            if held or line.startswith("Traceback (most recent call last)"):
                held.append(line)
            else:
                sys.stderr.write(line)
                sys.stderr.flush()

    reader = threading.Thread(target=relay, daemon=True)
    reader.start()
    try:
        code = proc.wait()
    except KeyboardInterrupt:  # torchrun got the same SIGINT and stops the ranks
        code = proc.wait()
    reader.join(timeout=10)
    sys.stderr.writelines(condense_report(held))
    sys.stderr.flush()
    return code
