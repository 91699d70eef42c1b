"""One rank of a torchrun job: process group, threads, heartbeats and failure reports.

torchrun (``python -m torch.distributed.run``) starts the same program once per
rank with ``RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``, ``GROUP_WORLD_SIZE``
(nodes) and ``MASTER_ADDR``/``MASTER_PORT`` (its key-value store) set.
:func:`run_rank` joins the process group (gloo: the models here train on the
CPU), gives each rank ``cores // local ranks`` torch threads so the ranks of
one machine do not oversubscribe it, and runs the command.

Failures. Every collective has the process group's timeout, so a rank that
hangs ends the job after at most that long instead of forever. Each rank
registers its host and pid in torchrun's store and bumps a heartbeat counter
there every second from a background thread. When a rank's collective fails
(a peer's socket closed, the timeout ran out) or torchrun stops it (SIGTERM,
after another rank exited), it looks up which rank is gone before exiting:
one that wrote a failure note, one whose process has exited (same host), or
one whose heartbeat stopped moving; the one-line message names it. Nothing
here writes results: callers save only after every rank has finished.
"""

from __future__ import annotations

import datetime
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from recsys_core.data.report import DataError
from recsys_core.process import pid_alive

#: Seconds a collective may wait for the other ranks before the job fails.
DEFAULT_TIMEOUT_S = 300.0
_BEAT_S = 1.0  # heartbeat period


class Stopped(Exception):  # noqa: N818 - a signal from the launcher, not a bug
    """torchrun asked this rank to stop (SIGTERM): another rank failed."""


def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on every platform
        return os.cpu_count() or 1


def balanced_threads(local_ranks: int) -> int:
    """Torch threads per rank so that ranks x threads <= cores on a machine."""
    return max(1, cores() // max(1, local_ranks))


@dataclass
class Group:
    """This rank's place in the job and its diagnostic channel."""

    rank: int
    world: int
    local_rank: int
    local_world: int
    nodes: int
    backend: str
    threads: int
    timeout_s: float
    store: object | None = None  # a client of torchrun's TCPStore (None: no diagnostics)
    prefix: str = "graphrec"
    _stop: threading.Event = field(default_factory=threading.Event)
    _beating: threading.Thread | None = None

    # ------------------------------------------------------------ collectives
    def barrier(self) -> None:
        dist.barrier()

    def record(self) -> dict:
        """What a saved run says about the job that trained it."""
        return {"ranks": self.world, "nodes": self.nodes, "ranks_per_node": self.local_world,
                "backend": self.backend, "threads_per_rank": self.threads}

    # ------------------------------------------------------------ diagnostics
    def _key(self, kind: str, rank: int) -> str:
        return f"{self.prefix}/{kind}/{rank}"

    def register(self) -> None:
        if self.store is None:
            return
        self.store.set(self._key("proc", self.rank), f"{socket.gethostname()} {os.getpid()}")
        beat = self._key("beat", self.rank)

        def beating() -> None:
            while not self._stop.wait(_BEAT_S):
                try:
                    self.store.add(beat, 1)
                except Exception:  # noqa: BLE001 - the store is gone: the job is ending
                    return

        self._beating = threading.Thread(target=beating, name="graphrec-heartbeat", daemon=True)
        self._beating.start()

    def note_failure(self, message: str) -> None:
        """Tell the other ranks why this one is about to exit."""
        if self.store is not None:
            try:
                self.store.set(self._key("failed", self.rank), message[:500])
            except Exception:  # noqa: BLE001 - best effort: the message is printed anyway
                pass

    def diagnose(self, wait_s: float = 3 * _BEAT_S) -> dict[int, str]:
        """``{rank: what happened}`` for every other rank that failed, exited or went silent."""
        if self.store is None:
            return {}
        found: dict[int, str] = {}
        try:
            others = [r for r in range(self.world) if r != self.rank]
            host = socket.gethostname()
            for r in others:
                if self.store.check([self._key("failed", r)]):
                    found[r] = f"rank {r} failed: {self.store.get(self._key('failed', r)).decode()}"
                    continue
                if self.store.check([self._key("proc", r)]):
                    peer_host, pid = self.store.get(self._key("proc", r)).decode().split()
                    if peer_host == host and not pid_alive(int(pid)):
                        found[r] = f"rank {r} (pid {pid} on {peer_host}) died"
            unknown = [r for r in others if r not in found]
            if unknown:
                before = {r: self.store.add(self._key("beat", r), 0) for r in unknown}
                time.sleep(wait_s)
                for r in unknown:
                    if self.store.check([self._key("failed", r)]):
                        found[r] = (f"rank {r} failed: "
                                    f"{self.store.get(self._key('failed', r)).decode()}")
                    elif self.store.add(self._key("beat", r), 0) == before[r]:
                        found[r] = f"rank {r} stopped responding (no heartbeat for {wait_s:.0f} s)"
        except Exception:  # noqa: BLE001 - the store went away: report what was found
            pass
        return dict(sorted(found.items()))

    def close(self) -> None:
        # The heartbeat thread must not be inside a store call when the process exits:
        # a store torn down under it aborts the process.
        self._stop.set()
        if self._beating is not None:
            self._beating.join(timeout=2 * _BEAT_S + 10)
        self.store = None
        if dist.is_initialized():
            dist.destroy_process_group()


def _env_int(name: str) -> int:
    value = os.environ.get(name, "")
    if not value.isdigit():
        raise DataError(f"{name} is not set: start this command with torchrun, e.g. "
                        f"'torchrun --nproc-per-node 2 -m recsys_core.distributed ...', "
                        f"or use 'python -m recsys_core train ... --nproc 2'")
    return int(value)


def init(timeout_s: float = DEFAULT_TIMEOUT_S, threads: int | None = None) -> Group:
    """Join the torchrun job described by the environment; see the module docstring."""
    rank, world = _env_int("RANK"), _env_int("WORLD_SIZE")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    nodes = int(os.environ.get("GROUP_WORLD_SIZE", "1"))
    threads = threads or balanced_threads(local_world)
    os.environ["GRAPHREC_THREADS"] = str(threads)  # the trainer's thread count (train.set_threads)
    torch.set_num_threads(threads)
    # The models keep their tensors on the CPU, so gradients are reduced with gloo
    # (nccl reduces GPU tensors only).
    backend = "gloo"
    timeout = datetime.timedelta(seconds=timeout_s)
    dist.init_process_group(backend, timeout=timeout)
    store = None
    try:
        store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]),
                              is_master=False, timeout=datetime.timedelta(seconds=10))
    except (KeyError, ValueError, RuntimeError):  # no store to reach: no diagnostics
        store = None
    prefix = (f"graphrec/{os.environ.get('TORCHELASTIC_RUN_ID', 'job')}/"
              f"{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}")
    group = Group(rank, world, local_rank, local_world, nodes, backend, threads, timeout_s,
                  store, prefix)
    group.register()
    return group


def run_rank(command: Callable[[Group], int], timeout_s: float = DEFAULT_TIMEOUT_S,
             threads: int | None = None, what: str = "the job") -> int:
    """Run ``command`` on this rank; exit status 0, 2 (bad input) or 1 (failure), never a traceback.

    ``what`` ends the failure message (e.g. "no run was saved").
    """
    def stop(signum, frame):  # torchrun stops the survivors when one rank exits
        raise Stopped(f"stopped by the launcher (signal {signal.Signals(signum).name})")

    previous = signal.signal(signal.SIGTERM, stop)
    group: Group | None = None
    rank = os.environ.get("RANK", "?")
    try:
        group = init(timeout_s, threads)
        return int(command(group) or 0)
    except DataError as err:
        if group is not None:
            group.note_failure(str(err))
        print(f"error: rank {rank}: {err}", file=sys.stderr, flush=True)
        return 2
    except BaseException as err:  # noqa: BLE001 - every failure ends in one message
        signal.signal(signal.SIGTERM, lambda *_: None)  # finish the report first
        peers = group.diagnose() if group is not None else {}
        if peers:
            cause = "; ".join(peers.values())
        else:
            cause = _describe(err, timeout_s)
            if group is not None:
                group.note_failure(cause)
        if os.environ.get("GRAPHREC_DEBUG"):
            traceback.print_exc()
        print(f"error: rank {rank}: {cause}; {what}", file=sys.stderr, flush=True)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
        if group is not None:
            try:
                group.close()
            except Exception:  # noqa: BLE001 - the group is already broken
                pass


def _describe(err: BaseException, timeout_s: float) -> str:
    if isinstance(err, KeyboardInterrupt):
        return "interrupted"
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if "timed out" in text.lower() or "timeout" in text.lower():
        return (f"a collective operation timed out after {timeout_s:.0f} s: "
                f"another rank is hung or far slower ({text})")
    if isinstance(err, Stopped):
        return f"{text}: another rank failed"
    return f"{type(err).__name__}: {text}"
