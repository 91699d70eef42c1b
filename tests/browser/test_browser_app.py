"""The dashboard in headless Chromium: upload, graph canvas, classroom numbers, XSS, sessions.

Each test saves a screenshot of the page it drives into docs/screenshots/.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from browser_harness import (
    ROOT,
    built_tooltips,
    canvas_ink,
    go_to,
    graph_frame,
    hover_node,
    open_app,
    screenshot,
    selectbox,
    selectbox_value,
    upload,
    wait_idle,
)

pytestmark = pytest.mark.browser

UNUSUAL = (b"visitorid;productId;stars;datetime\n"
           + b"".join(f"v{u};p{i};{1 + (u + i) % 5};2024-01-{1 + (u * 3 + i) % 28:02d}\n".encode()
                      for u in range(30) for i in range(12) if (u + i) % 3))
XSS_TITLES = ['<img src=x onerror=alert(1)>', '<script>alert(2)</script>',
              '"><svg onload=alert(3)>']


#: Counts the hidden boards the browser warm-up draws its practice charts on.
PRACTICE_COUNTER = """
window.__practiceBoards = 0;
new MutationObserver((changes) => changes.forEach((c) => c.addedNodes.forEach((n) => {
  if (n.classList && n.classList.contains("graphrec-practice")) window.__practiceBoards += 1;
}))).observe(document, {childList: true, subtree: true});
"""


def load_upload(page, url, name: str, interactions: bytes, items: bytes | None = None) -> None:
    """Data page: upload files, keep the inferred mapping, load under ``name``."""
    open_app(page, url, "data")
    page.get_by_text("Upload your files").click()
    wait_idle(page)
    upload(page, "Interactions (required)", f"{name}.csv", interactions)
    if items is not None:
        upload(page, "Item metadata (optional)", "items.csv", items, "text/csv")
    page.get_by_text("Columns of").wait_for()
    page.get_by_role("button", name="Load dataset").click()
    page.get_by_text(f"Loaded “{name}”").wait_for()
    wait_idle(page)


def test_home_page_renders_the_sample(page, app_url):
    open_app(page, app_url)
    page.get_by_text("Current dataset: sample").wait_for()
    page.locator('[data-testid="stMetricValue"]').nth(3).wait_for()  # all four drawn
    metrics = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    assert metrics[:3] == ["1,000", "600", "40,000"]
    links = page.locator('[data-testid="stPageLink"]')
    links.nth(6).wait_for()
    assert links.count() == 7
    links.filter(has_text="Graph").click()  # the guide's links open their pages
    page.wait_for_url("**/graph")
    wait_idle(page)
    page.go_back()
    wait_idle(page)
    links.nth(6).wait_for()
    page.locator('[data-testid="stMetricValue"]').nth(3).wait_for()
    screenshot(page, "home")
    assert page.dialogs == []


def test_home_has_the_browser_load_chart_and_table_code_while_idle(page, app_url):
    elsewhere = []  # nothing may be fetched from outside the dashboard's own server
    page.on("request", lambda r: elsewhere.append(r.url) if not r.url.startswith(
        (app_url, "data:", "blob:", "about:")) else None)
    page.add_init_script(PRACTICE_COUNTER)
    open_app(page, app_url)
    page.locator('[data-testid="stPageLink"]').nth(6).wait_for()
    # No chart or table on Home, yet their code arrives, and plotly.js has practised.
    page.wait_for_function(
        "() => window.Plotly !== undefined && performance.getEntriesByType('resource')"
        ".some(r => r.name.includes('/static/js/TextArea.'))", timeout=60_000)
    loaded = page.evaluate("() => performance.getEntriesByType('resource')"
                           ".map(r => r.name.split('/').pop())")
    for element in ("PlotlyChart.", "DataFrame.", "IFrame.", "Slider."):
        assert any(name.startswith(element) for name in loaded), element
    assert page.locator(".js-plotly-plot").count() == 0  # the practice charts are gone
    assert page.evaluate("window.__practiceBoards") == 1
    go_to(page, "Data")
    page.locator(".js-plotly-plot").nth(3).wait_for()  # the page's own four charts
    wait_idle(page)
    page.wait_for_timeout(2500)  # the warm-up's pause and first imports, had it started again
    assert page.evaluate("window.__practiceBoards") == 1  # it never runs twice in one tab
    assert page.dialogs == []
    assert elsewhere == []


def test_the_warm_up_stops_when_the_reader_moves_on(page, app_url):
    open_app(page, app_url)
    clicked = page.evaluate("() => performance.now()")
    go_to(page, "Graph")  # before, or while, the warm-up runs on Home
    graph_frame(page)
    page.wait_for_timeout(8000)  # long enough for the rest of the warm-up, had it gone on
    # An import already under way may finish; nothing the Graph page does not use starts later.
    late = page.evaluate("(t) => performance.getEntriesByType('resource')"
                         ".filter(r => r.startTime > t + 500).map(r => r.name.split('/').pop())",
                         clicked)
    assert not any(name.startswith(("Multiselect.", "DownloadButton.", "TextArea."))
                   for name in late), late


def test_load_options_open_in_a_popover_and_their_summary_follows(page, app_url):
    open_app(page, app_url, "data")
    page.locator(".js-plotly-plot").nth(3).wait_for()
    summary = page.locator('[data-testid="stCaptionContainer"]').filter(has_text="explicit ratings")
    assert "no k-core" in summary.first.inner_text()
    # The options' widgets are drawn only once the popover opens.
    assert page.get_by_role("spinbutton", name="k-core").count() == 0
    page.get_by_role("button", name="Feedback, k-core and split").click()
    kcore = page.get_by_role("spinbutton", name="k-core")
    kcore.fill("2")
    kcore.press("Enter")
    wait_idle(page)
    assert "2-core" in summary.first.inner_text()
    assert kcore.is_visible()  # the popover stays open for the next change
    assert page.dialogs == []


def test_upload_with_unusual_column_names_shows_the_inferred_mapping(page, app_url):
    open_app(page, app_url, "data")
    page.get_by_text("Upload your files").click()
    wait_idle(page)
    assert page.get_by_text("200 MB").count() >= 1
    upload(page, "Interactions (required)", "clicks.csv", UNUSUAL)
    page.get_by_text("Columns of clicks.csv").wait_for()
    mapping = {role: selectbox_value(page, role) for role in ("user", "item", "rating",
                                                                "timestamp")}
    assert mapping == {"user": "visitorid", "item": "productId", "rating": "stars",
                       "timestamp": "datetime"}
    page.get_by_role("button", name="Load dataset").click()
    page.get_by_text("Loaded “clicks”: 30 users").wait_for()
    wait_idle(page)
    assert selectbox_value(page, "Current dataset") == "clicks"
    screenshot(page, "data")


def test_graph_page_draws_the_pyvis_canvas(page, app_url):
    open_app(page, app_url)
    go_to(page, "Graph")
    page.get_by_text("Sampling: showing 150 of").wait_for()
    frame = graph_frame(page)
    assert canvas_ink(frame) > 5_000
    assert frame.evaluate("() => network.body.data.nodes.length") == 150
    page.wait_for_timeout(500)
    screenshot(page, "graph")
    # A node's tooltip is built when the pointer first reaches it, and shows its tip.
    assert built_tooltips(frame) == 0
    frame.evaluate("() => { network.on('showPopup', (id) => { window.shownTip = id; }); }")
    node_id = frame.evaluate("() => network.body.data.nodes.getIds()[0]")
    hover_node(page, frame, node_id)
    frame.wait_for_function("() => window.shownTip !== undefined")
    shown, expected = frame.evaluate("""() => {
        const box = document.createElement('div');
        box.innerHTML = network.body.data.nodes.get(window.shownTip).tip;
        return [document.querySelector('.vis-tooltip').textContent, box.textContent];
    }""")
    assert "interactions" in expected and shown == expected
    assert built_tooltips(frame) >= 1
    assert page.dialogs == []


def test_classroom_steps_through_two_layers_with_the_models_numbers(page, app_url):
    from recsys_core.data import load
    from recsys_core.models import make

    open_app(page, app_url, "classroom")
    layer1 = page.locator('[data-testid="stMarkdown"]').filter(
        has_text="New state of u1 at layer 1").locator("code")
    first = _numbers(layer1.inner_text())
    page.get_by_role("button", name="Next ▶").click()
    wait_idle(page)
    layer2 = page.locator('[data-testid="stMarkdown"]').filter(
        has_text="New state of u1 at layer 2").locator("code")
    second = _numbers(layer2.inner_text())
    ds = load(ROOT / "sample_data/seed_example/interactions.csv",
              items=ROOT / "sample_data/seed_example/items.csv")
    trace = make("seed_gnn", dim=2, layers=2, seed=0, epochs=0, eval_every=1,
                 patience=0).fit(ds).trace()
    np.testing.assert_allclose(first, trace.layers[0].h_out[0], atol=1e-6)
    np.testing.assert_allclose(second, trace.layers[1].h_out[0], atol=1e-6)
    page.locator(".katex").first.wait_for()
    screenshot(page, "classroom")
    assert page.dialogs == []


def test_xss_titles_show_as_text_and_run_nothing(page, app_url):
    items = "item_id,title,genres\n" + "".join(
        f'p{k},"{t.replace(chr(34), chr(34) * 2)}",Drama\n' for k, t in enumerate(XSS_TITLES))
    items += "".join(f"p{k},Plain title {k},Comedy\n" for k in range(3, 12))
    load_upload(page, app_url, "xss", UNUSUAL, items.encode())
    go_to(page, "Graph")
    page.get_by_label("Search a user or item by id or title").fill("onerror")
    page.keyboard.press("Enter")
    wait_idle(page)
    assert selectbox_value(page, "Centre") == f"item p0 · {XSS_TITLES[0]}"  # shown as text
    frame = graph_frame(page)
    labels = frame.evaluate("() => network.body.data.nodes.get().map(n => n.label)")
    for title in XSS_TITLES:
        assert any(label.startswith(title[:20]) for label in labels), title  # drawn as text
    # Hover every node so each tooltip is built and shown.
    for node_id in frame.evaluate("() => network.body.data.nodes.getIds()")[:40]:
        hover_node(page, frame, node_id)
        page.wait_for_timeout(30)
    page.wait_for_timeout(500)
    # The hovers reached the nodes: their tooltips are built (lazily, on first hover).
    assert built_tooltips(frame) >= 20
    assert frame.evaluate("() => document.querySelectorAll('img[src=x], svg').length") == 0
    for title in ("Home", "Data", "Message passing"):
        go_to(page, title)
    page.wait_for_timeout(500)
    assert page.dialogs == []


def test_two_sessions_do_not_see_each_others_data(new_page, app_url):
    alice, bob = new_page(), new_page()
    load_upload(alice, app_url, "alpha", UNUSUAL)
    load_upload(bob, app_url, "beta", UNUSUAL.replace(b"v1;", b"w1;"))
    for page, mine, other in ((alice, "alpha", "beta"), (bob, "beta", "alpha")):
        go_to(page, "Home")  # a rerun of this session, after both uploads
        go_to(page, "Data")
        page.get_by_text("Datasets in this session (2)").click()
        listing = page.locator('[data-testid="stExpander"]').filter(
            has_text="Datasets in this session").inner_text()
        assert mine in listing and other not in listing
        assert selectbox_value(page, "Current dataset") == mine
        selectbox(page, "Current dataset").click()
        page.get_by_role("option").nth(1).wait_for()  # both entries listed
        options = page.get_by_role("option").all_inner_texts()
        page.keyboard.press("Escape")
        assert sorted(options) == sorted(["sample", mine])


def _numbers(text: str) -> np.ndarray:
    return np.array([float(x) for x in re.findall(r"-?\d+\.\d+", text)])
