"""Per-epoch training checkpoints in a folder: atomic, checksummed, two kept per stage.

A fit may run several training loops one after another (model selection
with early stopping, then a refit on train + validation; the text models'
staged schedules). Each loop is a *stage*, numbered in the order the loops
start (:meth:`CheckpointDir.begin`); the same settings start the same
stages in the same order, so stage numbers name the same loop again when a
crashed fit is run a second time.

Layout::

    <folder>/s<stage>-e<epoch>.pt         torch.save of the loop state (tensors, numbers,
                                          lists, dicts only: read back with weights_only)
    <folder>/s<stage>-e<epoch>.pt.sha256  hex digest and size of that file, written after it

Both files are written to a temporary name and renamed with ``os.replace``,
so a crash leaves the previous checkpoint intact. A checkpoint whose file is
missing, cut off or altered (size or SHA-256 differs, or torch cannot read
it) is skipped and the one before it is used; the two newest of each stage
are kept. When a stage resumes from a checkpoint that is not its last
epoch, checkpoints of later stages are removed (they came from a run that
went on from a state this one will recompute).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path
from typing import Any

import torch

_NAME = re.compile(r"^s(\d+)-e(\d+)\.pt$")
#: Checkpoints kept per stage: the newest and the one before it, in case the newest is damaged.
KEEP = 2


class CheckpointDir:
    """Checkpoints of one job in ``folder``; see the module docstring.

    ``meta`` is stored with every checkpoint (e.g. the job's overall epoch
    number); :attr:`resumed_from` holds the ``meta`` of the newest checkpoint
    a stage was resumed from (``None`` when nothing was resumed).
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.meta: dict[str, Any] = {}
        self.resumed_from: dict[str, Any] | None = None
        self._stage = -1
        self.skipped: list[str] = []  # damaged checkpoint files passed over, for the log

    # ------------------------------------------------------------------ protocol
    def begin(self) -> int:
        """The number of the training loop starting now (0, 1, ...)."""
        self._stage += 1
        return self._stage

    def save(self, stage: int, epoch: int, state: dict[str, Any]) -> Path:
        """Write ``state`` as stage ``stage``'s checkpoint after ``epoch``; prune old ones."""
        buffer = io.BytesIO()
        torch.save({"state": state, "meta": dict(self.meta), "stage": stage, "epoch": epoch},
                   buffer)
        data = buffer.getvalue()
        path = self.folder / f"s{stage:02d}-e{epoch:05d}.pt"
        _write_atomic(path, data)
        _write_atomic(path.with_name(path.name + ".sha256"),
                      f"{hashlib.sha256(data).hexdigest()} {len(data)}\n".encode())
        for old in self._files(stage)[KEEP:]:
            _remove(old)
        return path

    def load(self, stage: int) -> dict[str, Any] | None:
        """The newest readable checkpoint state of ``stage`` (``None``: start the stage afresh)."""
        for path in self._files(stage):
            payload = self._read(path)
            if payload is None:
                self.skipped.append(path.name)
                continue
            if not payload["state"].get("finished"):
                for later in self._later(stage):
                    _remove(later)
            self.resumed_from = {**payload["meta"], "stage": stage, "stage_epoch": payload["epoch"]}
            return payload["state"]
        return None

    # ------------------------------------------------------------------ queries
    def latest(self) -> dict[str, Any] | None:
        """``meta`` (plus stage and epoch) of the newest valid checkpoint of any stage."""
        files = sorted(self._all(), key=lambda p: _key(p), reverse=True)
        for path in files:
            payload = self._read(path)
            if payload is not None:
                return {**payload["meta"], "stage": payload["stage"], "stage_epoch": payload["epoch"]}
        return None

    def clear(self) -> None:
        """Remove every checkpoint (a finished or cancelled job needs none)."""
        for path in self.folder.glob("s*-e*.pt*"):
            _remove(path)

    # ------------------------------------------------------------------ files
    def _all(self) -> list[Path]:
        return [p for p in self.folder.iterdir() if _NAME.match(p.name)]

    def _files(self, stage: int) -> list[Path]:
        """Stage ``stage``'s checkpoint files, newest epoch first."""
        return sorted((p for p in self._all() if _key(p)[0] == stage), key=_key, reverse=True)

    def _later(self, stage: int) -> list[Path]:
        return [p for p in self._all() if _key(p)[0] > stage]

    @staticmethod
    def _read(path: Path) -> dict[str, Any] | None:
        """The checkpoint's payload, or ``None`` when its digest file is missing or disagrees."""
        try:
            digest, size = path.with_name(path.name + ".sha256").read_text().split()
            data = path.read_bytes()
        except (OSError, ValueError):
            return None
        if len(data) != int(size) or hashlib.sha256(data).hexdigest() != digest:
            return None
        try:
            return torch.load(io.BytesIO(data), weights_only=True)
        except Exception:  # noqa: BLE001 - any unreadable file is a damaged checkpoint
            return None


def _key(path: Path) -> tuple[int, int]:
    match = _NAME.match(path.name)
    return (int(match.group(1)), int(match.group(2))) if match else (-1, -1)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".sha256")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
