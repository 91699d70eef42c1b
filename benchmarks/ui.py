"""Dashboard render times in headless Chromium, as JSON lines.

Starts ``streamlit run app.py`` on a free port (the browser tests' harness),
opens the app in Debian's Chromium and prints, one JSON object per line:

- ``server_start_to_first_render_s``: from launching the server process to the
  Home page showing the sample's metrics (target < 5 s);
- ``page_render_s`` per page: from clicking the page in the sidebar to the
  script having finished and the page's own content drawn (target < 2 s), first
  visit (cold caches) and second visit (warm);
- the Graph page waits for vis.js to draw the 300-node ego network on its canvas.

Usage: ``.venv/bin/python benchmarks/ui.py [--repeat 2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from browser_harness import (  # noqa: E402
    StreamlitServer,
    go_to,
    graph_frame,
    launch_chromium,
    wait_idle,
)

START_TARGET_S = 5.0
PAGE_TARGET_S = 2.0


def _home(page) -> dict:
    page.locator('[data-testid="stMetricValue"]').first.wait_for()
    page.locator(".js-plotly-plot").nth(2).wait_for()
    return {}


def _data(page) -> dict:
    page.locator(".js-plotly-plot").nth(3).wait_for()
    return {}


def _graph(page) -> dict:
    frame = graph_frame(page)
    return {"nodes": frame.evaluate("() => network.body.data.nodes.length")}


def _classroom(page) -> dict:
    page.locator(".katex").first.wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    return {}


#: Sidebar title -> function waiting for that page's own content (returns extra fields).
PAGES: dict[str, Callable] = {"Data": _data, "Graph": _graph, "Message passing": _classroom,
                              "Home": _home}


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="visits per page (first is cold)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    server = StreamlitServer()
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            t0 = time.perf_counter()
            server.start()
            ready = time.perf_counter() - t0
            page.goto(server.url, wait_until="domcontentloaded")
            wait_idle(page, 120)
            _home(page)
            first = time.perf_counter() - t0
            emit({"metric": "server_start_to_first_render_s", "seconds": round(first, 3),
                  "server_ready_s": round(ready, 3), "target_s": START_TARGET_S,
                  "ok": first < START_TARGET_S})
            for visit in range(1, args.repeat + 1):
                for title, drawn in PAGES.items():
                    t = time.perf_counter()
                    go_to(page, title, timeout=120)
                    extra = drawn(page)
                    seconds = time.perf_counter() - t
                    emit({"metric": "page_render_s", "page": title, "visit": visit,
                          # Home's caches are filled by the first render.
                          "cache": "cold" if visit == 1 and title != "Home" else "warm",
                          "seconds": round(seconds, 3), "target_s": PAGE_TARGET_S,
                          "ok": seconds < PAGE_TARGET_S, **extra})
        finally:
            browser.close()
            server.stop()
    emit({"metric": "machine", "cpus": os.cpu_count(),
          "load_average_1min": round(os.getloadavg()[0], 2)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
