"""Whether a process on this host still runs: one answer for the run store, jobs and ranks."""

from __future__ import annotations

import os
from pathlib import Path


def pid_alive(pid: int | None) -> bool:
    """Whether process ``pid`` runs on this host.

    A zombie (exited, not yet reaped by its parent) counts as gone: it will
    never write again. ``kill(pid, 0)`` answers for processes of other users
    too (PermissionError means it exists).
    """
    if not pid or pid < 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # Linux: the state letter follows the parenthesised command name
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")
