"""Many people at once: concurrent browser sessions walk the dashboard while a job trains.

Prepares a fresh ``GRAPHREC_HOME`` with the sample's two saved runs (as
``benchmarks/ui.py`` does), starts the dashboard (``python -m ui.launch``, as
``make run``) on 127.0.0.1, submits a long LightGCN training job to the job
store (its own worker process, busy for the whole benchmark), waits until the
server reports that it has warmed up (its background preload, which a server
nobody has opened starts on its own; ``--cold-server`` skips the wait, so the
sessions arrive while it still imports), then opens ``--sessions`` (default
8) Playwright contexts on one headless Chromium, all at once. Each session

1. uploads its own small interaction file on the Data page (a different
   file name and different user and item ids per session) and loads it;
2. walks Graph -> Recommendations -> Evaluation -> Data ``--rounds`` times
   (default 2), timing each page from the click on its sidebar link until the
   script has finished and the page's content is there, twice: as Playwright
   saw it (``p50``/``p95``: from before its click, the click's actionability
   checks included, until a check that runs in the page on each change to it,
   :data:`ARRIVED_JS`, finds the page's own title, its content and the script
   finished) and as the page itself recorded it
   (``drawn_p50``/``drawn_p95``: :data:`benchmarks.ui.RECORDER`, from the
   click's pointerdown to the frame painted after the page's last change
   before Playwright looked);
3. checks on every Data visit that its current dataset is its own upload and
   that no other session's upload name appears anywhere on its pages.

Prints JSON lines: one ``page`` line per page with p50/p95/max over all
visits, one ``sessions`` line (errors, lost state, how far the training job
got meanwhile and the oldest its heartbeat got), and the job is cancelled at
the end. Targets: 0 errors, no
lost state, p95 < 3 s per page.

Usage: ``.venv/bin/python benchmarks/ui_load.py [--sessions 8] [--rounds 2]``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from browser_harness import CHROMIUM, CHROMIUM_ARGS, PAGES, StreamlitServer  # noqa: E402

# benchmarks/ui.py: the saved runs it prepares and its in-page recorder.
_spec = importlib.util.spec_from_file_location("bench_ui", ROOT / "benchmarks" / "ui.py")
bench_ui = importlib.util.module_from_spec(_spec)
sys.modules["bench_ui"] = bench_ui  # dataclasses look their module up there
_spec.loader.exec_module(bench_ui)

P95_TARGET_S = 3.0
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
PLOT, FRAME, EXPANDER = ".js-plotly-plot", '[data-testid="stDataFrame"]', '[data-testid="stExpander"]'
#: Page -> (selector, minimum count) showing its own content.
CONTENT = {"Graph": ("iframe", 1), "Recommendations": (EXPANDER, 2),
           "Evaluation": (PLOT, 1), "Data": (PLOT, 4)}
WALK = ("Graph", "Recommendations", "Evaluation", "Data")
TIMEOUT_MS = 120_000


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def session_file(n: int) -> bytes:
    """A small interaction file of its own: 40 users x 30 items, ids unique to session ``n``."""
    rng = np.random.default_rng(n)
    rows = ["user,item,rating"]
    for u in range(40):
        for i in rng.choice(30, size=8, replace=False):
            rows.append(f"s{n}u{u},s{n}i{i},{int(rng.integers(1, 6))}")
    return ("\n".join(rows) + "\n").encode()


async def wait_idle(page) -> None:
    await page.wait_for_selector(IDLE, timeout=TIMEOUT_MS)
    await page.wait_for_timeout(150)  # a click can start a run a moment later
    await page.wait_for_selector(IDLE, timeout=TIMEOUT_MS)


#: Resolves once the page is at ``path``, shows its own title (the new script run has
#: drawn; until then the previous page's elements stay up), its script is not running
#: (:data:`IDLE`) and ``selector`` matches at least ``count`` elements. Checked in the page on each change to
#: it (a MutationObserver), so Playwright learns the moment it holds with one round trip,
#: and without polling on every animation frame, which keeps a renderer drawing frames
#: while it waits. (A fast run's "running" state may never reach the page: React can
#: apply it and the "finished" state that follows in one render.)
ARRIVED_JS = """([path, title, selector, count, idle]) => new Promise((resolve) => {
  const holds = () => {
    if (!location.pathname.endsWith("/" + path)) return false;
    if (!document.querySelector(idle)) return false;
    const heading = document.querySelector('[data-testid="stMain"] h1');
    if (!heading || heading.textContent.trim() !== title) return false;
    return document.querySelectorAll(selector).length >= count;
  };
  if (holds()) return resolve(true);
  const observer = new MutationObserver(() => {
    if (holds()) { observer.disconnect(); resolve(true); }
  });
  observer.observe(document, {subtree: true, childList: true, characterData: true,
                              attributes: true});
})"""


async def visit(page, title: str) -> tuple[float, float]:
    """Seconds from the click on ``title``'s sidebar link until its content is there and
    the page's script run has finished: as Playwright saw it (:data:`ARRIVED_JS`),
    and as the page recorded it (the click's pointerdown to the frame painted after the
    last change before Playwright looked; :data:`bench_ui.RECORDER`)."""
    selector, count = CONTENT[title]
    await page.evaluate(bench_ui.WATCH_JS, [[selector, count]])
    start = time.perf_counter()
    await page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first.click()
    arrived = page.evaluate(ARRIVED_JS, [PAGES[title], title, selector, count, IDLE])
    await asyncio.wait_for(arrived, TIMEOUT_MS / 1000)
    harness = time.perf_counter() - start
    marks = await page.evaluate("window.__bench")
    drawn = bench_ui.last_drawn(marks, [(selector, count)])
    return harness, (drawn - marks["clicks"][-1]) / 1000


async def run_session(browser, url: str, n: int, names: list[str], rounds: int,
                      times: dict[str, list[float]], drawn_times: dict[str, list[float]],
                      problems: dict[str, list[str]]) -> None:
    mine = names[n]
    others = [x for x in names if x != mine]
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    await context.add_init_script(bench_ui.RECORDER)
    page = await context.new_page()
    try:
        await page.goto(f"{url}/data", wait_until="domcontentloaded")
        await wait_idle(page)
        await page.get_by_text("Upload your files").click()
        await wait_idle(page)
        box = page.locator('[data-testid="stFileUploader"]').filter(
            has_text="Interactions (required)").first
        await box.locator('input[type="file"]').set_input_files(
            {"name": f"{mine}.csv", "mimeType": "text/csv", "buffer": session_file(n)})
        await wait_idle(page)
        await page.get_by_text("Columns of").wait_for(timeout=TIMEOUT_MS)
        await page.get_by_role("button", name="Load dataset").click()
        await page.get_by_text(f"Loaded “{mine}”").wait_for(timeout=TIMEOUT_MS)
        await wait_idle(page)
        for _ in range(rounds):
            for title in WALK:
                harness, drawn = await visit(page, title)
                times[title].append(harness)
                drawn_times[title].append(drawn)
                text = await page.locator('[data-testid="stMain"]').inner_text()
                seen = [o for o in others if o in text]
                if seen:
                    problems["lost_state"].append(f"session {n} saw {seen} on {title}")
                if title == "Data":
                    current = (await page.locator('input[role="combobox"][aria-label="Current '
                                                  'dataset"]').first.input_value()).strip()
                    if current != mine:
                        problems["lost_state"].append(
                            f"session {n}: current dataset {current!r}, not {mine!r}")
                    if f"Current dataset: {mine}" not in text:
                        problems["lost_state"].append(f"session {n}: its upload is not shown")
        exceptions = await page.locator('[data-testid="stException"]').count()
        if exceptions:
            problems["errors"].append(f"session {n}: {exceptions} exception box(es)")
    except Exception as err:  # noqa: BLE001 - counted and reported, the others go on
        problems["errors"].append(f"session {n}: {type(err).__name__}: {str(err)[:200]}")
    finally:
        await context.close()


async def walk_all(url: str, sessions: int, rounds: int) -> tuple[dict, dict, dict, float]:
    from playwright.async_api import async_playwright

    names = [f"upload{n}x{np.random.default_rng(n).integers(1e6)}" for n in range(sessions)]
    times: dict[str, list[float]] = {title: [] for title in WALK}
    drawn_times: dict[str, list[float]] = {title: [] for title in WALK}
    problems: dict[str, list[str]] = {"errors": [], "lost_state": []}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                           headless=True)
        start = time.perf_counter()
        await asyncio.gather(*(run_session(browser, url, n, names, rounds, times, drawn_times,
                                           problems)
                               for n in range(sessions)))
        wall = time.perf_counter() - start
        await browser.close()
    return times, drawn_times, problems, wall


class HeartbeatWatch(threading.Thread):
    """Notes the oldest the training job's heartbeat gets while the sessions walk (read
    twice a second, without the store's liveness check): a worker starved by the pages
    past :data:`~recsys_core.jobs_store.STALE_S` would be taken for dead."""

    def __init__(self, store, job_id: str):
        super().__init__(daemon=True)
        self.store, self.job_id, self.max_age = store, job_id, 0.0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.5):
            beat = self.store.get(self.job_id, refresh=False).heartbeat
            if beat is not None:
                self.max_age = max(self.max_age, time.time() - beat)

    def __enter__(self) -> HeartbeatWatch:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2, help="epochs of the two saved runs")
    parser.add_argument("--cold-server", action="store_true",
                        help="open the sessions as soon as the job trains, without waiting for "
                        "the server to warm up")
    args = parser.parse_args(argv)

    home, _ = bench_ui.prepare_home(args.epochs)

    from recsys_core.jobs_store import RUNNING, STALE_S, JobStore, origin_of
    from ui.cache import load_bundled
    from ui.preload import WARMED_UP
    from ui.state import SAMPLE_NAME

    store = JobStore(home)
    job_id = store.submit(load_bundled(SAMPLE_NAME), SAMPLE_NAME, "lightgcn",
                          {"epochs": 2000, "patience": 0}, origin=origin_of("benchmark"))
    try:
        with StreamlitServer(env={"GRAPHREC_HOME": str(home)}) as server:
            deadline = time.monotonic() + 120
            while store.get(job_id).status != RUNNING or store.get(job_id).epoch < 1:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the training job did not start:\n{store.log(job_id)}")
                time.sleep(0.5)
            if not args.cold_server:
                warm_start = time.perf_counter()
                if not server.wait_for_output(WARMED_UP, timeout=600):
                    raise RuntimeError("the server did not finish warming up within 600 s")
                emit({"metric": "server_warm_up_wait_s",
                      "seconds": round(time.perf_counter() - warm_start, 1)})
            epoch_before = store.get(job_id).epoch
            with HeartbeatWatch(store, job_id) as beats:
                times, drawn_times, problems, wall = asyncio.run(
                    walk_all(server.url, args.sessions, args.rounds))
            job = store.get(job_id)
        for title in WALK:
            seen, drawn = (np.array(x[title]) if x[title] else np.array([np.nan])
                           for x in (times, drawn_times))
            p95, drawn_p95 = float(np.percentile(seen, 95)), float(np.percentile(drawn, 95))
            emit({"metric": "page_load_s", "page": title, "sessions": args.sessions,
                  "visits": len(times[title]), "p50": round(float(np.median(seen)), 3),
                  "p95": round(p95, 3), "max": round(float(np.max(seen)), 3),
                  "drawn_p50": round(float(np.median(drawn)), 3),
                  "drawn_p95": round(drawn_p95, 3), "target_p95_s": P95_TARGET_S,
                  "ok": bool(p95 < P95_TARGET_S), "drawn_ok": bool(drawn_p95 < P95_TARGET_S)})
        emit({"metric": "sessions", "sessions": args.sessions, "rounds": args.rounds,
              "server": "cold" if args.cold_server else "warmed up",
              "wall_s": round(wall, 1), "errors": len(problems["errors"]),
              "lost_state": len(problems["lost_state"]),
              "details": problems["errors"][:5] + problems["lost_state"][:5],
              "training_job": {"status": job.status, "epochs_during_walk":
                               job.epoch - epoch_before,
                               "max_heartbeat_age_s": round(beats.max_age, 2),
                               "stale_after_s": STALE_S},
              "ok": not problems["errors"] and not problems["lost_state"]})
    finally:
        try:
            store.cancel(job_id)
        except Exception:  # noqa: BLE001 - already ended
            pass
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
