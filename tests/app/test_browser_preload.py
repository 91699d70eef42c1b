"""ui.browser_preload: which front-end modules the browser is asked to load, and when."""

from __future__ import annotations

import json
import re

from apptest_helpers import assert_clean, open_page

from ui import browser_preload


def test_module_files_follow_the_element_order_and_match_whole_names(tmp_path):
    for name in ("Button.AAA.js", "ButtonGroup.BBB.js", "PlotlyChart.C-c_1.js",
                 "PlotlyChart.C-c_1.js.map", "Slider.DDD.js", "index.EEE.js"):
        (tmp_path / name).write_text("")
    found = browser_preload.module_files.__wrapped__(tmp_path)
    assert found == ("Slider.DDD.js", "Button.AAA.js", "PlotlyChart.C-c_1.js")
    assert browser_preload.module_files.__wrapped__(tmp_path / "missing") == ()


def test_every_element_is_found_in_the_installed_streamlit():
    # A Streamlit upgrade that renames its modules shows up here, not as a slower page.
    found = browser_preload.module_files()
    assert [f.split(".")[0] for f in found] == list(browser_preload.ELEMENTS)
    assert all((browser_preload.static_js_dir() / f).is_file() for f in found)


def test_script_imports_the_files_it_is_given_and_draws_the_practice_charts():
    practice = browser_preload.practice_figures()
    assert all(f["layout"]["template"]["layout"]["plot_bgcolor"] == "white"  # plotly_white
               for f in practice)
    assert practice[0]["data"] == browser_preload.PRACTICE_FIGURE["data"]
    html = browser_preload.script(("Slider.DDD.js", "PlotlyChart.C.js"), practice)
    listed = re.search(r"const files = (\[.*?\]);", html).group(1)
    assert json.loads(listed) == ["Slider.DDD.js", "PlotlyChart.C.js"]
    assert html.startswith("<script>") and html.rstrip().endswith("</script>")
    drawn = json.loads(re.search(r"const practice = (.*);\n", html).group(1))
    assert [[t["type"] for t in f["data"]] for f in drawn] == [["bar", "scatter"],
                                                              ["scatter", "scatter"]]
    assert drawn == practice  # the same figures, with "<extra>" and "<b>" escaped for HTML
    assert "<extra>" not in html and "\\u003cextra\\u003e" in html
    assert "const practice = [];" in browser_preload.script(("Slider.DDD.js",))


def test_the_practice_scatter_draws_markers_as_the_embedding_map_does():
    scatter = browser_preload.practice_scatter(points=10)
    circles, diamonds = scatter["data"]
    assert len(circles["x"]) == len(diamonds["x"]) == 5  # every point once, alternating
    assert circles["customdata"] == [0, 2, 4, 6, 8] and diamonds["customdata"] == [1, 3, 5, 7, 9]
    assert circles["marker"]["symbol"] == ["circle"] * 5 and diamonds["marker"]["symbol"] == ["diamond"] * 5
    assert len({(x, y) for x, y in zip(circles["x"] + diamonds["x"],
                                       circles["y"] + diamonds["y"])}) == 10  # no overlaps
    assert browser_preload.practice_scatter() == browser_preload.practice_scatter()


def test_the_script_is_sent_once_per_session():
    at = open_page("home")
    sent = [h for h in at.get("html") if "requestIdleCallback" in h.proto.body]
    assert len(sent) == 1 and "PlotlyChart." in sent[0].proto.body
    assert at.session_state[browser_preload.SENT]
    at.switch_page("pages/data.py").run()
    assert_clean(at)
    assert not [h for h in at.get("html") if "requestIdleCallback" in h.proto.body]
