"""ui.preload: background imports wait for the server, the first run, and never overlap a run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from ui.preload import WARMED_UP

ROOT = Path(__file__).resolve().parents[2]


def _module(folder: Path, name: str, seconds: float = 0.0) -> None:
    # A module that logs when its import starts and ends (taking ``seconds``).
    (folder / f"{name}.py").write_text(textwrap.dedent(f"""
        import time
        with open({str(folder / 'log.txt')!r}, "a") as f:
            f.write("start {name}\\n")
        time.sleep({seconds})
        with open({str(folder / 'log.txt')!r}, "a") as f:
            f.write("end {name}\\n")
    """))


def test_imports_follow_the_runs(tmp_path):
    _module(tmp_path, "first_mod")
    _module(tmp_path, "slow_mod", seconds=1.0)
    _module(tmp_path, "last_mod")
    log = tmp_path / "log.txt"
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(tmp_path)!r})
        from ui import preload

        def mark(text):
            with open({str(log)!r}, "a") as f:
                f.write(text + "\\n")

        with preload.paused():  # before start: costs nothing, imports nothing
            pass
        assert preload.start(("first_mod",), ("slow_mod", "last_mod"), server_timeout=0)
        assert not preload.start()  # once per process
        deadline = time.monotonic() + 30
        while "first_mod" not in sys.modules and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert "first_mod" in sys.modules and "slow_mod" not in sys.modules  # waits for a run
        with preload.paused():  # the first script run
            time.sleep(0.5)
            assert "slow_mod" not in sys.modules  # nothing is imported during a run
        while "start slow_mod" not in open({str(log)!r}).read():  # its import is in flight
            time.sleep(0.01)
        with preload.paused():  # a run starting mid-import waits for it to finish
            mark("run")
            time.sleep(0.5)
            assert "last_mod" not in sys.modules
        assert preload.wait(10) and "last_mod" in sys.modules
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert log.read_text().split("\n")[:-1] == [
        "start first_mod", "end first_mod", "start slow_mod", "end slow_mod", "run",
        "start last_mod", "end last_mod"]


def test_later_imports_wait_for_a_quiet_spell_after_the_first_run(tmp_path):
    _module(tmp_path, "later_mod")
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(tmp_path)!r})
        from ui import preload

        default = sys.getswitchinterval()
        assert preload.start((), ("later_mod",), server_timeout=0, settle=0.6)
        time.sleep(0.2)
        assert sys.getswitchinterval() == preload.SWITCH_INTERVAL_S  # while preloading
        with preload.paused():  # the first run
            pass
        time.sleep(0.3)
        with preload.paused():  # the reader clicks on within the quiet spell
            pass
        second_ended = time.monotonic()
        while "later_mod" not in sys.modules and time.monotonic() < second_ended + 10:
            time.sleep(0.01)
        waited = time.monotonic() - second_ended
        assert "later_mod" in sys.modules
        assert waited >= 0.6, waited  # a full quiet spell after the latest run
        assert preload.wait(10)
        assert sys.getswitchinterval() == default  # restored once done
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_a_server_nobody_opens_warms_up_on_its_own_and_says_so(tmp_path):
    _module(tmp_path, "later_mod")
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(tmp_path)!r})
        from ui import preload

        began = time.monotonic()
        assert preload.start((), ("later_mod",), server_timeout=0, settle=0, unopened=0.8)
        time.sleep(0.4)
        assert "later_mod" not in sys.modules  # still waiting for a first visitor
        assert preload.wait(10) and "later_mod" in sys.modules  # no run ever started
        assert time.monotonic() - began >= 0.8
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stderr.startswith(WARMED_UP), out.stderr


def test_the_last_step_freezes_the_heap_the_imports_left():
    script = textwrap.dedent("""
        import gc, weakref
        from ui import preload

        class Node:
            pass

        assert preload.LATER[-1] == "ui.preload:freeze_heap"
        gc.disable()  # only the preload step collects in this test
        node = Node()
        node.itself = node  # a reference cycle: only the collector frees it
        alive = weakref.ref(node)
        del node
        assert alive() is not None and gc.get_freeze_count() == 0
        assert preload.start((), ("json", "ui.preload:freeze_heap"), server_timeout=0, settle=0)
        with preload.paused():  # the first run
            pass
        assert preload.wait(30)
        frozen = gc.get_freeze_count()
        assert frozen > 1000  # the imported modules' objects
        assert alive() is None  # the cycle was collected before the freeze, not kept
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
