"""benchmarks/ui.py: its in-page timer, and a short run of the script itself."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
import time

import pytest
from browser_harness import ROOT

pytestmark = pytest.mark.browser

BENCH = runpy.run_path(str(ROOT / "benchmarks" / "ui.py"), run_name="ui_benchmark")

# A page standing in for the app: a click starts a "run" that adds the content after
# 300 ms, ends the run, and changes the page once more after 600 ms.
FAKE_APP = """<!doctype html><html><body>
<div data-testid="stApp" data-test-script-state="notRunning">
  <button id="go">go</button><p id="late">waiting</p></div>
<script>
  const app = document.querySelector('[data-testid="stApp"]');
  document.getElementById("go").addEventListener("click", () => {
    app.setAttribute("data-test-script-state", "running");
    setTimeout(() => {
      const p = document.createElement("p");
      p.className = "content";
      p.textContent = "content";
      app.appendChild(p);
      app.setAttribute("data-test-script-state", "notRunning");
    }, 300);
    setTimeout(() => { document.getElementById("late").textContent = "done"; }, 600);
  });
</script></body></html>"""


def test_the_recorder_times_the_click_to_the_last_change(new_page):
    page = new_page()
    page.add_init_script(BENCH["RECORDER"])
    page.route("http://app.test/", lambda route: route.fulfill(content_type="text/html",
                                                               body=FAKE_APP))
    page.goto("http://app.test/")
    content = BENCH["Page"](watch=((".content", 1),))
    BENCH["watch"](page, content)
    page.click("#go")
    end, seen, _ = BENCH["drawn_at"](page, content, timeout=30)
    returned = time.time()
    click = BENCH["click_time"](page)
    marks = page.evaluate("window.__bench")
    assert marks["seen"][".content#1"] / 1000 - click >= 0.3  # the content came at 300 ms
    assert end - click >= 0.6  # the later change counts: the render ends with it
    assert end <= returned and seen <= returned
    assert page.text_content("#late") == "done"


def test_a_short_run_prints_start_and_page_lines():
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ui.py"), "--pages", "Data,Home",
         "--repeat", "1", "--pause", "0"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    start = next(r for r in lines if r["metric"] == "server_start_to_first_render_s")
    assert 0 < start["server_ready_s"] < start["seconds"]  # no render before the server answers
    pages = {r["page"]: r for r in lines if r["metric"] == "page_render_s"}
    assert set(pages) == {"Data", "Home"}
    assert all(0 < r["seconds"] < 120 and r["visit"] == 1 for r in pages.values())
    plotly = next(r for r in lines if r["metric"] == "plotly_js_import_s")
    assert 0 < plotly["seconds"] < 60
    summaries = [r for r in lines if r["metric"] == "summary"]
    assert {(r["of"], r.get("page")) for r in summaries} == {
        ("server_start_to_first_render_s", None), ("plotly_js_import_s", None),
        ("page_render_s", "Data"), ("page_render_s", "Home")}
    assert all(r["ok"] == (r["median_s"] < r["target_s"])
               for r in summaries if r["of"] != "plotly_js_import_s")
    assert "target_s" not in next(r for r in summaries if r["of"] == "plotly_js_import_s")
