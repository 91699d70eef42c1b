"""Import the dashboard's heavy libraries once per server, between script runs.

A page's first visit otherwise pays for its imports: pandas and plotly for the
first render, networkx and pyvis for the graph, torch and PyTorch Geometric
(about 7 s on two cores) for the message-passing classroom and every model
page. ``python -m ui.launch`` (what ``make run`` uses) starts a thread that
imports them while the server is idle:

1. once the server listens, while the browser loads the front end, the first
   render's modules (:data:`FIRST_RENDER`);
2. after the app's first script run, and :data:`SETTLE_S` seconds in which
   no other run started, the rest (:data:`LATER`), in the order the sidebar
   lists the pages. The pause leaves the server to the browser while it
   fetches the code of the first page's elements from it. A server that
   nobody opens within :data:`UNOPENED_S` seconds starts on the rest at once,
   so whoever comes first (or eight people at once) finds it warm.

When everything is in, it prints ``GraphRec Studio: warmed up in N s`` (the
line :data:`WARMED_UP` starts with) on standard error.

Along the way it fills the shared caches with what the bundled sample shows
first (Home's numbers, the Data charts, the Graph page's first view, the newest
run's embeddings and its first explained recommendations), as the first session
would. The browser's share of a first visit, loading the front
end's code for charts and tables, is warmed by :mod:`ui.browser_preload`.

The thread imports one module at a time and never while a script runs or a
training job works: both run inside :func:`paused`, which waits for an import
in flight to finish. Two threads importing the same package at once can see
it half-initialised (PyTorch Geometric's circular imports fail that way), so
they never do. Under a plain ``streamlit run app.py`` (and in tests) nothing
is preloaded and :func:`paused` costs nothing.
"""

from __future__ import annotations

import gc
import importlib
import logging
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: What the first page needs: the data layer, the dashboard's helpers, and the sample
#: itself ("module:function" entries import the module, then call the function).
FIRST_RENDER = ("pandas", "pyarrow.csv", "recsys_core.data", "ui.state", "ui.widgets",
                "ui.cache:warm_home")
#: Everything else, in the order the sidebar lists the pages; PyTorch Geometric's big
#: dependencies first, one by one, so a page never waits long for the import in flight.
LATER = ("scipy.sparse", "recsys_core.viz.data_charts", "ui.cache:warm_data", "networkx",
         "pyvis.network", "recsys_core.graph", "recsys_core.viz.graph_html",
         "ui.cache:warm_graph", "torch", "sympy", "torch.fx", "torch._dynamo",
         "transformers.tokenization_utils_base", "torch_geometric", "recsys_core.models",
         "ui.cache:warm_kernels", "recsys_core.viz.classroom", "ui.classroom_view:warm",
         "recsys_core.jobs", "recsys_core.viz.embedding_charts", "ui.explore:warm_newest_run",
         "recsys_core.explain", "recsys_core.viz.eval_charts", "recsys_core.text",
         "recsys_core.bert_encoder", "tokenizers", "ui.explore:warm_recommendations",
         "ui.preload:freeze_heap")

#: Seconds of quiet after the first run before :data:`LATER` starts.
SETTLE_S = 1.0
#: Seconds after :data:`FIRST_RENDER` with no script run at all before :data:`LATER` starts
#: anyway: nobody is waiting for the server yet.
UNOPENED_S = 5.0
#: The start of the line printed once the preload has finished.
WARMED_UP = "GraphRec Studio: warmed up in"
#: The interpreter's thread switch interval while preloading (Python's default is 5 ms). The
#: server's event loop shares the GIL with the import thread: every time it waits on a
#: socket it must win the GIL back, which a long import holds for a whole interval.
SWITCH_INTERVAL_S = 0.001

_log = logging.getLogger(__name__)
_state = threading.Condition()  # guards the counters below
_importing = threading.Lock()  # held by the preload thread while it imports one module
_running = 0  # script runs and jobs in progress
_runs_done = 0  # of them finished
_started = False
_done = threading.Event()


@contextmanager
def paused() -> Iterator[None]:
    """Run the block with no background import alongside (waits for one in flight)."""
    global _running, _runs_done
    if not _started:
        yield
        return
    with _state:
        _running += 1
    try:
        with _importing:
            pass
        yield
    finally:
        with _state:
            _running -= 1
            _runs_done += 1
            _state.notify_all()


def freeze_heap() -> None:
    """Collect garbage once, then leave every object alive out of later collections.

    With torch, PyTorch Geometric and transformers imported the heap holds over
    half a million objects, and each full collection walked them all (about 0.5 s
    here) in the middle of whichever page run triggered it. Modules live as long
    as the server: ``gc.freeze`` moves them to a generation the collector skips.
    """
    gc.collect()
    gc.freeze()


def _import_when_idle(name: str) -> None:
    with _state:
        # Holding _state while taking _importing: no run can start in between.
        _state.wait_for(lambda: _running == 0)
        _importing.acquire()
    try:
        module, _, function = name.partition(":")
        loaded = importlib.import_module(module)
        if function:
            getattr(loaded, function)()
    except Exception as exc:  # the page that needs it reports the problem itself
        _log.warning("preloading %s failed: %s", name, exc)
    finally:
        _importing.release()


def _wait_for_server(timeout: float) -> None:
    """Return once the Streamlit runtime has started (or after ``timeout`` seconds)."""
    from streamlit import runtime
    from streamlit.runtime.runtime import RuntimeState

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if runtime.exists() and runtime.get_instance().state != RuntimeState.INITIAL:
            return
        time.sleep(0.05)


def _settle(seconds: float, unopened: float) -> None:
    """Return once the first run has ended and ``seconds`` passed with no run in progress,
    or once ``unopened`` seconds passed in which no run started at all."""
    with _state:
        if not _state.wait_for(lambda: _running or _runs_done, timeout=unopened):
            return  # nobody has opened the dashboard yet
    while True:
        with _state:
            _state.wait_for(lambda: _running == 0 and _runs_done >= 1)
            seen = _runs_done
        time.sleep(seconds)
        with _state:
            if _running == 0 and _runs_done == seen:
                return


def _run(first: tuple[str, ...], later: tuple[str, ...], server_timeout: float,
         settle: float, unopened: float) -> None:
    switch = sys.getswitchinterval()
    sys.setswitchinterval(min(switch, SWITCH_INTERVAL_S))
    began = time.monotonic()
    try:
        _wait_for_server(server_timeout)
        for name in first:
            _import_when_idle(name)
        _settle(settle, unopened)
        for name in later:
            _import_when_idle(name)
        print(f"{WARMED_UP} {time.monotonic() - began:.1f} s", file=sys.stderr, flush=True)
    finally:
        sys.setswitchinterval(switch)
        _done.set()


def start(first: tuple[str, ...] = FIRST_RENDER, later: tuple[str, ...] = LATER,
          server_timeout: float = 60.0, settle: float = SETTLE_S,
          unopened: float = UNOPENED_S) -> bool:
    """Start the preload thread; only the first call per process does (returns True).

    ``first`` is imported once the Streamlit server runs (or ``server_timeout``
    seconds passed), ``later`` once the first script run has ended and
    ``settle`` seconds passed with no run, or ``unopened`` seconds after
    ``first`` if no run has started by then.
    """
    global _started
    with _state:
        if _started:
            return False
        _started = True
    threading.Thread(target=_run, args=(first, later, server_timeout, settle, unopened),
                     name="graphrec-preload", daemon=True).start()
    return True


def wait(timeout: float | None = None) -> bool:
    """Block until the preload thread has finished (True) or ``timeout`` passed (False)."""
    return _done.wait(timeout)
