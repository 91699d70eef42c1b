"""Let the browser load the dashboard's front-end code while the reader is still on Home.

Streamlit's front end fetches the code of each kind of element the first time
a page shows one: plotly.js (a 4.7 MB script, about 2 s to fetch and
evaluate on two cores) on the first chart, the table grid on the first
dataframe, the slider, the iframe holding a pyvis graph, and so on. Without
help, the first visit of Data, Graph and Embeddings pays for it.

:func:`warm_browser` writes, once per session, a small script that imports
those modules one at a time whenever the browser is idle. The front end later
imports the same URLs and gets the modules already evaluated. The module
files are looked up in the installed Streamlit's static folder by element
name (their file names carry a content hash); a name not found is skipped, so
a Streamlit that splits its code differently loses the warm-up, not the page.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import streamlit as st

#: Front-end modules of the elements the pages show, in the order of the sidebar.
ELEMENTS = ("Radio", "Checkbox", "NumberInput", "Slider", "TextInput", "Button", "PlotlyChart",
            "IFrame", "DataFrame", "rehype-katex", "Progress", "Multiselect", "Spinner",
            "DownloadButton", "TextArea")
#: Session-state flag: the script has been sent to this browser tab.
SENT = "browser_preload_sent"

_SCRIPT = """<script>
(() => {
  // Resolve against the app's own bundle, as the front end's dynamic imports do.
  const bundle = document.querySelector('script[type="module"][src*="/static/js/"]');
  if (!bundle) return;
  const files = __FILES__;
  const idle = window.requestIdleCallback || ((f) => setTimeout(f, 50));
  // plotly.js compiles its drawing code on first use: draw one hidden chart.
  const drawOnce = () => {
    if (!window.Plotly) return Promise.resolve();
    const div = document.createElement("div");
    div.style.cssText = "position:fixed;left:-10000px;top:0;width:480px;height:320px;visibility:hidden";
    document.body.appendChild(div);
    const traces = [{type: "bar", x: ["1", "2-3"], y: [3, 40]},
                    {type: "scatter", mode: "lines", x: [1, 2], y: [0.5, 1], yaxis: "y2"}];
    const layout = {template: {}, yaxis: {type: "log"}, yaxis2: {overlaying: "y", side: "right"}};
    return window.Plotly.newPlot(div, traces, layout)
      .then(() => window.Plotly.purge(div)).finally(() => div.remove());
  };
  const next = (i) => {
    if (i >= files.length) return;
    idle(() => import(new URL(files[i], bundle.src).href)
      .then(() => files[i].startsWith("PlotlyChart.") ? drawOnce() : null)
      .catch(() => {})
      .finally(() => next(i + 1)));
  };
  // Start once the page has rendered and the app is idle, so the first render never waits.
  const start = () => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (app && app.getAttribute("data-test-script-state") === "running") {
      setTimeout(start, 250);
    } else {
      setTimeout(() => next(0), 1000);
    }
  };
  start();
})();
</script>"""


def static_js_dir() -> Path:
    """The installed Streamlit front end's JavaScript folder."""
    return Path(st.__file__).parent / "static" / "static" / "js"


@lru_cache(maxsize=1)
def module_files(folder: Path | None = None) -> tuple[str, ...]:
    """File names of :data:`ELEMENTS` in ``folder`` (``<Name>.<hash>.js``), in that order."""
    folder = folder or static_js_dir()
    names = [p.name for p in folder.glob("*.js")] if folder.is_dir() else []
    found = []
    for element in ELEMENTS:
        pattern = re.compile(rf"{re.escape(element)}\.[^.]+\.js")
        found.extend(n for n in names if pattern.fullmatch(n))
    return tuple(found)


def script(files: tuple[str, ...]) -> str:
    """The HTML script importing ``files`` one by one when the browser is idle."""
    return _SCRIPT.replace("__FILES__", json.dumps(list(files)))


def warm_browser() -> None:
    """Send the warm-up script on the session's first run (nothing after, nothing if none found)."""
    if st.session_state.get(SENT):
        return
    st.session_state[SENT] = True
    files = module_files()
    if files:
        st.html(script(files), unsafe_allow_javascript=True)
