"""Dashboard render times in headless Chromium, as JSON lines.

Starts ``streamlit run app.py`` on a free port (the browser tests' harness),
opens the app in Debian's Chromium and prints, one JSON object per line:

- ``server_start_to_first_render_s``: from launching the server process to the
  Home page showing the sample's metrics and the page links (target < 5 s);
- ``page_render_s`` per page: from clicking the page in the sidebar to the
  script having finished and the page's own content drawn (target < 2 s), first
  visit (cold caches) and second visit (warm); the Graph and Recommendations
  pages also wait for vis.js to draw their pyvis graph (the Graph page's is the
  300-node ego network);
- the end of a render is timed by the page itself: a recorder installed in
  every frame before the app's code notes the click, each change of the
  script state, each change to the page and the frame painted after it, and
  vis.js's first fill on a canvas. Once the content is there, the script has
  finished and the page has not changed for half a second, ``seconds`` runs
  from the click to the last frame painted (or vis.js's first drawing, if
  later). ``harness_s`` is the span until Playwright saw the content, which
  adds its polling (up to 0.2 s per check and a 0.15 s guard against a run
  starting late) and leaves out changes made after it looked;
- the Train, Embeddings, Recommendations and Evaluation pages open saved runs:
  before the server starts, a lightgcn and a text_lightgcn run are trained on
  the bundled sample (``--epochs``, default 2) into a fresh temporary
  ``GRAPHREC_HOME`` (the text-embedding cache in ``./.graphrec`` is copied in,
  so item texts encoded before are not encoded again), one ``train_run_s`` line
  each;
- ``--pause S`` (default 15) waits S seconds on Home before the first page
  visit, as a reader would: the server imports its heavy libraries while idle
  (:mod:`ui.preload`, about 10 s of imports on two cores) and the browser
  loads the front end's chart and table code (:mod:`ui.browser_preload`), so
  first visits after the pause show what a user sees. ``--pause 0`` is the
  worst case of clicking through at once: a page may then wait for an import
  in flight and the browser for plotly.js;
- ``plotly_js_import_s`` (no target): a fresh browser context fetching and
  evaluating the front end's plotly.js module, drawing nothing. It is the
  floor under a chart page clicked before the warm-up loaded it;
- ``recommend_top20_ms``: one user's top-20 through ``Recommender.recommend``
  (original ids in and out, seen items masked) on each saved run (target < 50 ms);
- ``--servers N`` repeats the whole sequence on N fresh servers and browsers
  (each line carries ``server``) and ends with one ``summary`` line per figure:
  median, min and max over the servers, ``ok`` when the median meets the
  target. A two-core machine shared with a browser is noisy; medians are what
  to compare.

Usage: ``.venv/bin/python benchmarks/ui.py [--repeat 2] [--servers 3] [--pause 0]
[--pages Home,Train,...] [--epochs 2]``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from browser_harness import PAGES as HARNESS_PAGES  # noqa: E402
from browser_harness import (  # noqa: E402
    StreamlitServer,
    go_to,
    graph_frame,
    launch_chromium,
    wait_idle,
)

START_TARGET_S = 5.0
#: A reader's look at Home before opening a page; the server's background imports (about
#: 10 s on two cores) and the browser's warm-up are done by then.
DEFAULT_PAUSE_S = 15.0
PAGE_TARGET_S = 2.0
RECOMMEND_TARGET_MS = 50.0
#: The pages that open saved runs.
RUN_PAGES = ("Train", "Embeddings", "Recommendations", "Evaluation")


#: Recorded in every frame before any of the app's code runs (times in epoch ms): each
#: click; each change of the script state; when each watched condition last came true
#: (``window.__bench.watch``: [selector, minimum count] pairs, reset by a click); the
#: frame painted after the latest change to the page; the first shape a canvas fills
#: (vis.js drawing a node).
RECORDER = """(() => {
  const now = () => performance.timeOrigin + performance.now();
  const rec = window.__bench = {clicks: [], states: [], seen: {}, watch: [], ink: null,
                                changed: 0, painted: 0};
  addEventListener("pointerdown", () => { rec.clicks.push(now()); rec.seen = {}; }, true);
  let frameAsked = false;
  const check = () => {
    rec.changed = now();
    if (!frameAsked) {  // the frame that shows this change
      frameAsked = true;
      requestAnimationFrame(() => { frameAsked = false; rec.painted = now(); });
    }
    const app = document.querySelector('[data-testid="stApp"]');
    const state = app && app.getAttribute("data-test-script-state");
    if (state && state !== rec.state) { rec.state = state; rec.states.push([state, now()]); }
    for (const [selector, count] of rec.watch) {
      const key = selector + "#" + count;
      const holds = document.querySelectorAll(selector).length >= count;
      if (!holds) delete rec.seen[key];
      else if (!(key in rec.seen)) rec.seen[key] = now();
    }
  };
  rec.check = check;
  new MutationObserver(check).observe(document, {subtree: true, childList: true,
    characterData: true, attributes: true});
  const fill = CanvasRenderingContext2D.prototype.fill;
  CanvasRenderingContext2D.prototype.fill = function (...args) {
    if (rec.ink === null) rec.ink = now();
    return fill.apply(this, args);
  };
})();"""
#: Milliseconds without any change to the page after which its render counts as over.
QUIET_MS = 500

@dataclass(frozen=True)
class Page:
    """What shows that a page has drawn its own content."""

    watch: tuple[tuple[str, int], ...]  # (CSS selector, minimum count) that must all hold
    graph: bool = False  # a pyvis graph drawn on its canvas, too
    counts: tuple[tuple[str, str], ...] = ()  # (field, selector) counted into the line


PLOT, FRAME, TABLE = ".js-plotly-plot", '[data-testid="stDataFrame"]', '[data-testid="stTable"]'
EXPANDER = '[data-testid="stExpander"]'
#: Sidebar title -> its content. Home: the dataset's four numbers and the links to every page.
PAGES = {
    "Data": Page(((PLOT, 4),)),  # the four statistics charts
    "Graph": Page((("iframe", 1),), graph=True),
    "Message passing": Page(((".katex", 1), (PLOT, 1))),
    # The hyperparameter form of the default model and the saved-runs table.
    "Train": Page(((EXPANDER, 1), (FRAME, 1)), counts=(("dataframes", FRAME),)),
    # The projection and the open tab's neighbours table.
    "Embeddings": Page(((PLOT, 1), (FRAME, 1)), counts=(("charts", PLOT),)),
    # History, ten cards (plus the narrator settings), the open cards' evidence tables
    # and the pyvis path graph.
    "Recommendations": Page(((FRAME, 1), (EXPANDER, 11), (TABLE, 1), ("iframe", 1)),
                            graph=True, counts=(("expanders", EXPANDER),)),
    # The metric bar chart and the open tab's Recall/NDCG-against-K chart.
    "Evaluation": Page(((PLOT, 2),), counts=(("charts", PLOT),)),
    "Home": Page((('[data-testid="stMetricValue"]', 4), ('[data-testid="stPageLink"]', 7))),
}


#: Tells the recorder what the next page's content is: [[selector, count], ...].
WATCH_JS = "(w) => { window.__bench.watch = w; window.__bench.check(); }"


def watch(page, content: Page) -> None:
    """Tell the recorder what the next page's content is (before clicking)."""
    page.evaluate(WATCH_JS, [list(w) for w in content.watch])


def last_drawn(marks: dict, watched) -> float:
    """Epoch ms by which the recorder saw every watched condition hold, the script
    finished and the frame after the latest change painted."""
    times = [marks["seen"][f"{selector}#{count}"] for selector, count in watched]
    times += [next(t for state, t in reversed(marks["states"]) if state == "notRunning"),
              marks["painted"]]
    return max(times)


def drawn_at(page, content: Page, timeout: float = 120.0) -> tuple[float, float, dict]:
    """Wait until ``content`` is on screen, the script has finished and the page has not
    changed for :data:`QUIET_MS`. Returns the epoch seconds of the last frame painted
    before that quiet spell (or of vis.js's first drawing, if later), the epoch seconds
    when Playwright first saw the content, and the counted fields."""
    wait_idle(page, timeout)
    for selector, count in content.watch:
        page.locator(selector).nth(count - 1).wait_for(timeout=timeout * 1000)
    ink = graph_frame(page, timeout).evaluate("window.__bench.ink") if content.graph else 0
    seen = time.time()
    page.wait_for_function(f"() => performance.timeOrigin + performance.now() - "
                           f"window.__bench.changed > {QUIET_MS}", timeout=timeout * 1000)
    marks = page.evaluate("window.__bench")
    extra = {field: page.locator(selector).count() for field, selector in content.counts}
    return max(last_drawn(marks, content.watch), ink) / 1000, seen, extra


def click_time(page) -> float:
    """Epoch seconds of the latest click, as the page recorded it."""
    return page.evaluate("window.__bench.clicks.at(-1)") / 1000


def train_sample_runs(home: Path, epochs: int) -> dict[str, str]:
    """Train lightgcn and text_lightgcn on the bundled sample into ``home``: {model: run id}."""
    from recsys_core.jobs import JobRegistry, train_and_save
    from ui.cache import load_bundled
    from ui.run_archive import RunArchive
    from ui.state import SAMPLE_NAME

    ds = load_bundled(SAMPLE_NAME)
    registry, archive, ids = JobRegistry(), RunArchive(home), {}
    for model in ("lightgcn", "text_lightgcn"):
        start = time.perf_counter()
        job = registry.submit(model, functools.partial(
            train_and_save, ds=ds, dataset_name=SAMPLE_NAME, model_name=model,
            params={"epochs": epochs, "patience": 0}, store=archive))
        status = registry.wait(job, timeout=600)
        if status.state != "done":
            raise RuntimeError(f"training {model} failed: {status.error}")
        ids[model] = status.result.run_id
        emit({"metric": "train_run_s", "model": model, "epochs": epochs,
              "seconds": round(time.perf_counter() - start, 3),
              "text_cache": status.result.text_cache})
    return ids


def recommend_top20(home: Path, ids: dict[str, str], users: int = 50) -> None:
    """Milliseconds for one user's top-20 on each run (median and 95th percentile)."""
    import numpy as np

    from ui.run_archive import RunArchive

    archive = RunArchive(home)
    for model_name, run_id in ids.items():
        model, ds = archive.load(run_id)
        model.recommend([ds.user_ids[0]], k=20)  # warm-up: final embeddings computed once
        times = []
        for user in ds.user_ids[1:users + 1]:
            start = time.perf_counter()
            model.recommend([user], k=20)
            times.append((time.perf_counter() - start) * 1000)
        median = float(np.median(times))
        emit({"metric": "recommend_top20_ms", "model": model_name, "users": len(times),
              "ms_median": round(median, 3), "ms_p95": round(float(np.percentile(times, 95)), 3),
              "target_ms": RECOMMEND_TARGET_MS, "ok": median < RECOMMEND_TARGET_MS})


def prepare_home(epochs: int) -> tuple[Path, dict[str, str]]:
    """A fresh GRAPHREC_HOME holding the sample's saved runs (text cache copied in)."""
    home = Path(tempfile.mkdtemp(prefix="graphrec-ui-bench-"))
    cache = ROOT / ".graphrec" / "cache" / "text"
    if cache.is_dir():
        shutil.copytree(cache, home / "cache" / "text")
    old = os.environ.get("GRAPHREC_HOME")
    os.environ["GRAPHREC_HOME"] = str(home)  # the text cache follows it
    try:
        ids = train_sample_runs(home, epochs)
    finally:
        if old is None:
            os.environ.pop("GRAPHREC_HOME", None)
        else:
            os.environ["GRAPHREC_HOME"] = old
    return home, ids


def plotly_js_import(browser, url: str) -> float:
    """Seconds a fresh browser context takes to fetch and evaluate the front end's plotly.js
    module, drawing nothing: the least a first chart costs before the browser's warm-up
    has loaded it (what clicking a chart page at once pays on top of drawing).

    The module needs the app's main bundle, so the app is opened first; the import
    starts as soon as Home is drawn, before the warm-up's first import (a second later).
    """
    from ui.browser_preload import module_files

    chunk = next(f for f in module_files() if f.startswith("PlotlyChart."))
    context = browser.new_context()
    try:
        page = context.new_page()
        page.add_init_script(RECORDER)
        page.goto(url, wait_until="domcontentloaded")
        watch(page, PAGES["Home"])
        page.wait_for_function("() => window.__bench.seen && Object.keys(window.__bench.seen)"
                               f".length >= {len(PAGES['Home'].watch)}", timeout=120_000)
        return page.evaluate("""async (src) => {
            const t = performance.now();
            await import(src);
            return (performance.now() - t) / 1000;
        }""", f"{url}/static/js/{chunk}")
    finally:
        context.close()


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="visits per page (first is cold)")
    parser.add_argument("--pages", default=",".join(HARNESS_PAGES),
                        help="comma-separated sidebar titles to time (default: all)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of each saved run")
    parser.add_argument("--servers", type=int, default=1,
                        help="fresh servers (and browsers) to repeat the sequence on")
    parser.add_argument("--pause", type=float, default=DEFAULT_PAUSE_S,
                        help="seconds spent on Home after the first render before the first "
                             "page visit, as a reader would (0: click at once)")
    args = parser.parse_args(argv)
    chosen = [t.strip() for t in args.pages.split(",") if t.strip()]
    unknown = [t for t in chosen if t not in PAGES]
    if unknown:
        parser.error(f"unknown page(s) {unknown}; choose from {list(HARNESS_PAGES)}")
    # Home is visited last in each round, so the first visit of the others is cold.
    chosen = [t for t in PAGES if t in chosen]

    home, env = None, {}
    os.chdir(ROOT)
    if any(t in RUN_PAGES for t in chosen):
        home, ids = prepare_home(args.epochs)
        env["GRAPHREC_HOME"] = str(home)
        recommend_top20(home, ids)
    records: list[dict] = []
    try:
        for server in range(1, args.servers + 1):
            records += run_pages(chosen, args.repeat, env, args.pause, server)
        summarise(records)
    finally:
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)
    emit({"metric": "machine", "cpus": os.cpu_count(),
          "load_average_1min": round(os.getloadavg()[0], 2)})
    return 0


def summarise(records: list[dict]) -> None:
    """One ``summary`` line per (metric, page, visit): median, min and max over servers."""
    import statistics

    groups: dict[tuple, list[float]] = {}
    targets = {"server_start_to_first_render_s": START_TARGET_S, "page_render_s": PAGE_TARGET_S}
    for r in records:
        groups.setdefault((r["metric"], r.get("page"), r.get("visit")), []).append(r["seconds"])
    for (metric, page, visit), values in groups.items():
        median = statistics.median(values)
        line = {"metric": "summary", "of": metric, "servers": len(values),
                "median_s": round(median, 3), "min_s": round(min(values), 3),
                "max_s": round(max(values), 3)}
        if metric in targets:  # the plotly.js import is a reference, with no target
            line = {**line, "target_s": targets[metric], "ok": median < targets[metric]}
        if page is not None:
            line = {**line, "page": page, "visit": visit}
        emit(line)


def run_pages(chosen: list[str], repeat: int, env: dict[str, str], pause: float = 0.0,
              server_round: int = 1) -> list[dict]:
    """Time the start and every page visit on a fresh server and browser; returns the lines."""
    from playwright.sync_api import sync_playwright

    records: list[dict] = []

    def record(line: dict) -> None:
        line = {**line, "server": server_round}
        records.append(line)
        emit(line)

    server = StreamlitServer(env=env)
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(120_000)  # cold pages on a busy machine
        page.add_init_script(RECORDER)
        try:
            t0 = time.time()
            server.start()
            ready = time.time() - t0
            page.goto(server.url, wait_until="domcontentloaded")
            watch(page, PAGES["Home"])
            first, seen, _ = drawn_at(page, PAGES["Home"])
            record({"metric": "server_start_to_first_render_s", "seconds": round(first - t0, 3),
                    "server_ready_s": round(ready, 3), "harness_s": round(seen - t0, 3),
                    "target_s": START_TARGET_S, "ok": first - t0 < START_TARGET_S})
            page.wait_for_timeout(pause * 1000)
            for visit in range(1, repeat + 1):
                for title in chosen:
                    content = PAGES[title]
                    watch(page, content)
                    t = time.time()
                    go_to(page, title, timeout=120)
                    end, seen, extra = drawn_at(page, content)
                    harness = seen - t
                    seconds = end - click_time(page)
                    record({"metric": "page_render_s", "page": title, "visit": visit,
                            # Home's caches are filled by the first render.
                            "cache": "cold" if visit == 1 and title != "Home" else "warm",
                            "pause_on_home_s": pause, "seconds": round(seconds, 3),
                            "harness_s": round(harness, 3), "target_s": PAGE_TARGET_S,
                            "ok": seconds < PAGE_TARGET_S, **extra})
            record({"metric": "plotly_js_import_s",
                    "seconds": round(plotly_js_import(browser, server.url), 3)})
        finally:
            browser.close()
            server.stop()
    return records


if __name__ == "__main__":
    raise SystemExit(main())
