"""``python -m recsys_core jobs ...``: list, cancel, resume, wait for and read background jobs.

Jobs live in the run store (see :mod:`recsys_core.jobs_store`); each runs in
its own process, so these commands work from any terminal while the
dashboard or another terminal started the job. ``train ... --background``
and ``tune ... --background`` submit one (:func:`submit_background`) and
return at once.

    python -m recsys_core jobs [--json]        every job: status, progress, epoch, pid, run
    python -m recsys_core jobs cancel ID       kill the worker; no run is left
    python -m recsys_core jobs resume ID       continue an interrupted job from its checkpoint
    python -m recsys_core jobs wait ID         block until it ends (exit 0 only when done)
    python -m recsys_core jobs log ID          the worker's log
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from recsys_core.jsonutil import json_default

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def add_jobs(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("jobs", help="list, cancel, resume, wait for or read background jobs",
                       description="Training jobs of the run store, whoever started them.")
    p.add_argument("--home", help="run store folder (default: GRAPHREC_HOME or ./.graphrec)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_jobs, action="list")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    for name, text in (("cancel", "stop a queued or running job; nothing is saved"),
                       ("resume", "queue an interrupted job again, from its last checkpoint"),
                       ("wait", "wait until the job ends; exit 0 when it is done"),
                       ("log", "print the worker's log")):
        a = actions.add_parser(name, help=text, description=text)
        a.add_argument("job", help="job id (see `jobs`)")
        a.add_argument("--home", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        a.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                       help="print JSON")
        if name == "wait":
            a.add_argument("--timeout", type=float, help="give up after this many seconds")
        a.set_defaults(func=run_jobs)


def _store(args: argparse.Namespace):
    from recsys_core.jobs_store import JobStore

    return JobStore(args.home)


def run_jobs(args: argparse.Namespace) -> int:
    from recsys_core.jobs_store import DONE, JobError

    try:
        store = _store(args)
        if args.action in (None, "list"):
            return _list(store, args.json)
        if args.action == "log":
            text = store.log(args.job)
            print(json.dumps({"job_id": args.job, "log": text}) if args.json else text, end="")
            return EXIT_OK
        if args.action == "wait":
            record = store.wait(args.job, timeout=args.timeout)
        elif args.action == "cancel":
            record = store.cancel(args.job)
        else:
            record = store.resume(args.job)
    except (KeyError, JobError) as err:
        message = err.args[0] if err.args else str(err)
        if args.json:
            print(json.dumps({"ok": False, "error": message}))
        print(f"error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    _show(record, args.json)
    if args.action == "wait":
        return EXIT_OK if record.status == DONE else EXIT_FAILED
    return EXIT_OK


def _list(store, as_json: bool) -> int:
    records = store.list()
    if as_json:
        print(json.dumps([r.to_dict() for r in records], default=json_default))
        return EXIT_OK
    if not records:
        print("no jobs")
        return EXIT_OK
    print(f"{'job':<21} {'status':<12} {'progress':>8} {'epoch':>9} {'pid':>7}  {'run':<34} label")
    for r in records:
        status = f"{r.status} #{r.position}" if r.position else r.status
        epoch = f"{r.epoch}/{r.epochs}" if r.epochs else str(r.epoch)
        print(f"{r.job_id:<21} {status:<12} {r.progress:>8.0%} {epoch:>9} {r.pid or '':>7}  "
              f"{r.run_id or '':<34} {r.label}")
    return EXIT_OK


def _show(record, as_json: bool) -> None:
    if as_json:
        print(json.dumps(record.to_dict(), default=json_default))
        return
    print(f"{record.job_id}: {record.status} · {record.message}")


def submit_background(args: argparse.Namespace, ds, params: dict[str, Any], kind: str = "train",
                      options: dict[str, Any] | None = None) -> int:
    """``train --background`` (or ``tune --background``): queue the job, print its id (or
    JSON), return at once."""
    from recsys_core.jobs_store import JobError, JobStore, origin_of

    started = time.time()
    try:
        store = JobStore(args.home)
        job_id = store.submit(ds, ds.name, args.model, params, origin=origin_of("cli"),
                              label=getattr(args, "name", None), kind=kind, options=options)
    except JobError as err:
        if args.json:
            print(json.dumps({"ok": False, "error": str(err)}))
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    record = store.get(job_id, refresh=False)
    if args.json:
        print(json.dumps({"ok": True, **record.to_dict(),
                          "submit_seconds": time.time() - started}, default=json_default))
    else:
        where = f"queued at position {record.position}" if record.position else record.status
        print(job_id)
        print(f"  {record.label}: {where}; follow it with `python -m recsys_core jobs wait "
              f"{job_id}`", file=sys.stderr)
    return EXIT_OK
