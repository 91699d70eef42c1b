"""Let the browser load the dashboard's front-end code while the reader is still on Home.

Streamlit's front end fetches the code of each kind of element the first time
a page shows one: plotly.js (a 4.7 MB script, about 2 s to fetch and
evaluate on two cores) on the first chart, the table grid on the first
dataframe, the slider, the iframe holding a pyvis graph, and so on. Without
help, the first visit of Data, Graph and Embeddings pays for it.

:func:`warm_browser` writes, once per session, a small script that imports
those modules one at a time whenever the browser is idle. The front end later
imports the same URLs and gets the modules already evaluated. Once plotly.js
is in, the script draws hidden practice charts one after the other and
removes them: bars with lines, then a scatter of a few hundred markers
(plotly.js compiles its drawing code on first use, and the browser optimises
the code that draws each point only after many points). It starts a second
after the session's first run has ended, so the first render never waits, and stops
when a new script run starts: the reader has opened a page, which then loads
what it needs itself rather than compete with the warm-up.

The module files are looked up in the installed Streamlit's static folder by
element name (their file names carry a content hash); a name not found is
skipped, so a Streamlit that splits its code differently loses the warm-up,
not the page.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from pathlib import Path

import streamlit as st

#: Front-end modules of the elements the pages show, in the order of the sidebar.
ELEMENTS = ("Radio", "Checkbox", "NumberInput", "Slider", "TextInput", "Button", "PlotlyChart",
            "IFrame", "DataFrame", "rehype-katex", "Progress", "Multiselect", "Spinner",
            "Table", "DownloadButton", "TextArea")
#: Session-state flag: the script has been sent to this browser tab.
SENT = "browser_preload_sent"

_SCRIPT = """<script>
(() => {
  // Once per page load: the front end can run this element's script again when it
  // redraws the element (as it does while the next page replaces it).
  if (window.__graphrecWarmUp) return;
  window.__graphrecWarmUp = true;
  // Resolve against the app's own bundle, as the front end's dynamic imports do.
  const bundle = document.querySelector('script[type="module"][src*="/static/js/"]');
  if (!bundle) return;
  const files = __FILES__;
  const practice = __PRACTICE__;
  const app = document.querySelector('[data-testid="stApp"]');
  const running = () => !!app && app.getAttribute("data-test-script-state") === "running";
  const idle = window.requestIdleCallback || ((f) => setTimeout(f, 50));
  let stopped = false;
  // plotly.js compiles its drawing code on first use: draw the practice charts, hidden.
  const drawOnce = () => {
    if (stopped || !window.Plotly || !practice.length) return Promise.resolve();
    const div = document.createElement("div");
    div.className = "graphrec-practice";
    div.style.cssText = "position:fixed;left:-10000px;top:0;width:640px;height:340px;visibility:hidden";
    document.body.appendChild(div);
    const draw = (done, figure) => done.then(() => stopped ? null
      : window.Plotly.newPlot(div, figure.data, figure.layout, {displaylogo: false})
          .then(() => window.Plotly.purge(div)));
    return practice.reduce(draw, Promise.resolve()).finally(() => div.remove());
  };
  const next = (i) => {
    if (stopped || i >= files.length) return;
    idle(() => {
      if (stopped) return;
      import(new URL(files[i], bundle.src).href)
        .then(() => files[i].startsWith("PlotlyChart.") ? drawOnce() : null)
        .catch(() => {})
        .finally(() => next(i + 1));
    });
  };
  // Once the reader moves on (a script run after this one), the page they open loads what
  // it needs itself: the warm-up stops rather than compete with it.
  let idleSeen = !running();
  if (app) {
    new MutationObserver(() => {
      if (!running()) idleSeen = true;
      else if (idleSeen) stopped = true;
    }).observe(app, {attributes: true, attributeFilter: ["data-test-script-state"]});
  }
  // Start a second after this run has ended, so the first render never waits.
  const start = () => {
    if (stopped) return;
    if (running()) setTimeout(start, 250);
    else setTimeout(() => next(0), 1000);
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


#: Markers in the practice scatter: enough for the browser to optimise the code that
#: draws each point.
PRACTICE_POINTS = 600
#: A small chart using what the dashboard's charts use: bars on a category axis with a log
#: count axis, a dashed line on a second axis, hover templates, an annotation and a legend
#: (:func:`practice_figures` adds the plotly_white template).
PRACTICE_FIGURE = {
    "data": [
        {"type": "bar", "x": ["1", "2–3", "4–7"], "y": [5, 40, 12], "name": "users",
         "marker": {"color": "#4C78A8"},
         "hovertemplate": "%{y:,} users with %{x} interactions<extra></extra>"},
        {"type": "scatter", "mode": "lines", "x": [1, 2, 3], "y": [0.5, 0.8, 1.0],
         "name": "share", "yaxis": "y2", "line": {"dash": "dash", "color": "#F58518"},
         "hovertemplate": "top %{x:,}: %{y:.1%}<extra></extra>"},
    ],
    "layout": {
        "title": {"text": "practice"}, "height": 340, "plot_bgcolor": "white",
        "xaxis": {"type": "category", "title": {"text": "interactions"}, "gridcolor": "#EBF0F8"},
        "yaxis": {"type": "log", "title": {"text": "users"}, "gridcolor": "#EBF0F8"},
        "yaxis2": {"overlaying": "y", "side": "right", "tickformat": ".0%"},
        "annotations": [{"x": 2, "y": 0.8, "yref": "y2", "text": "top 20%", "showarrow": True,
                         "arrowhead": 2}],
        "legend": {"orientation": "h", "y": -0.25},
    },
}


def practice_scatter(points: int = PRACTICE_POINTS) -> dict:
    """A scatter of ``points`` markers as the embedding map draws them: circles and
    diamonds, two colours with a legend, hover text and custom data per point."""
    traces = []
    for side, (symbol, colour) in enumerate((("circle", "#4C78A8"), ("diamond", "#F58518"))):
        ks = range(side, points, 2)
        traces.append({
            "type": "scatter", "mode": "markers", "name": symbol, "legendgroup": symbol,
            # A spiral: spread-out points, like a projection, without any randomness.
            "x": [round(k ** 0.5 * math.cos(k), 4) for k in ks],
            "y": [round(k ** 0.5 * math.sin(k), 4) for k in ks],
            "marker": {"size": 6, "color": colour, "symbol": [symbol] * len(ks), "opacity": 0.8},
            "hovertext": [f"<b>point {k}</b>" for k in ks], "hoverinfo": "text",
            "customdata": list(ks)})
    return {"data": traces, "layout": {"title": {"text": "practice"}, "height": 560}}


def practice_figures() -> list[dict]:
    """:data:`PRACTICE_FIGURE` and :func:`practice_scatter`, with the plotly_white template
    the charts use (Streamlit has already loaded plotly's templates: this costs about a
    millisecond)."""
    import plotly.io as pio

    template = pio.templates["plotly_white"].to_plotly_json()
    return [{**figure, "layout": {**figure["layout"], "template": template}}
            for figure in (PRACTICE_FIGURE, practice_scatter())]


def script(files: tuple[str, ...], practice: list[dict] = ()) -> str:
    """The HTML script importing ``files`` one by one when the browser is idle, then
    drawing the ``practice`` charts (plotly figures as dicts) once plotly.js is in."""
    return (_SCRIPT.replace("__FILES__", _script_json(list(files)))
            .replace("__PRACTICE__", _script_json(list(practice))))


def _script_json(value) -> str:
    # JSON inside <script>: no "<", ">" or "&" that an HTML parser could take for markup.
    return (json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026"))


@lru_cache(maxsize=1)
def warm_up_html() -> str | None:
    """The warm-up script for the installed Streamlit, built once per server (None when
    none of its modules is found)."""
    files = module_files()
    return script(files, practice_figures()) if files else None


def warm_browser() -> None:
    """Send the warm-up script on the session's first run (nothing after, nothing if none found)."""
    if st.session_state.get(SENT):
        return
    st.session_state[SENT] = True
    if html := warm_up_html():
        st.html(html, unsafe_allow_javascript=True)
