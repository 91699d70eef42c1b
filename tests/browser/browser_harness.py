"""Drive the dashboard in a real browser: a Streamlit server on a free port plus Chromium.

Used by the browser tests (through the fixtures in ``conftest.py``) and by
``benchmarks/ui.py``. Chromium is Debian's (``apt-get install chromium``), run
headless through Playwright's sync API.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ROOT / "docs" / "screenshots"
#: Page titles in the sidebar navigation -> URL path.
#: Sidebar title -> URL path of every page.
PAGES = {"Home": "", "Data": "data", "Graph": "graph", "Message passing": "classroom",
         "Train": "train", "Embeddings": "embeddings", "Recommendations": "recommendations",
         "Evaluation": "evaluation"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StreamlitServer:
    """The dashboard (``python -m ui.launch``, as ``make run``) on a free local port; stops on exit."""

    def __init__(self, port: int | None = None, env: dict[str, str] | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                    **(env or {})}
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.log = b""

    def start(self, timeout: float = 60.0) -> StreamlitServer:
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ui.launch", "--server.port", str(self.port),
             "--server.address", "127.0.0.1", "--server.headless", "true",
             "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.log = b""
        # Drained as it comes, so a chatty server never blocks on a full pipe.
        self._reader = threading.Thread(target=self._read_output, args=(self.process.stdout,),
                                        daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._reader.join(timeout=5)  # until the pipe's last lines are in
                out = self.log.decode(errors="replace")
                raise RuntimeError(f"streamlit exited with {self.process.returncode}:\n{out}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"streamlit did not answer on {self.url} within {timeout:.0f} s")

    def _read_output(self, pipe) -> None:
        for line in iter(pipe.readline, b""):
            self.log += line

    def wait_for_output(self, text: str, timeout: float) -> bool:
        """Wait until the server has printed ``text`` (True) or ``timeout`` passed (False)."""
        deadline = time.monotonic() + timeout
        while text.encode() not in self.log:
            if time.monotonic() > deadline or self.process.poll() is not None:
                return False
            time.sleep(0.2)
        return True

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def __enter__(self) -> StreamlitServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def launch_chromium(playwright):
    """Debian's Chromium, headless, with nothing phoning home."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                      headless=True)


def wait_idle(page, timeout: float = 30.0) -> None:
    """Wait until the app has finished its current script run."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]',
                           timeout=timeout * 1000)
    # A click can start a run a moment later: give it that moment, then wait again.
    page.wait_for_timeout(150)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]',
                           timeout=timeout * 1000)


def open_app(page, url: str, path: str = "", timeout: float = 60.0) -> None:
    """Load a page of the app in a fresh session and wait for its first render."""
    page.goto(f"{url}/{path}", wait_until="domcontentloaded")
    wait_idle(page, timeout)


def go_to(page, title: str, timeout: float = 60.0) -> None:
    """Switch page with the sidebar navigation (keeps the session and its datasets)."""
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first.click()
    page.wait_for_url(f"**/{PAGES[title]}" if PAGES[title] else "**/", timeout=timeout * 1000)
    wait_idle(page, timeout)


def upload(page, label: str, name: str, data: bytes, mime: str = "text/csv") -> None:
    """Put a file into the st.file_uploader whose label is ``label``."""
    box = page.locator('[data-testid="stFileUploader"]').filter(has_text=label).first
    box.locator('input[type="file"]').set_input_files(
        {"name": name, "mimeType": mime, "buffer": data})
    wait_idle(page)


def open_hyperparameters(page, model: str, position: int = 0) -> None:
    """Open the Train page's "``model``: hyperparameters" expander, the ``position``-th one
    open on the page (counted by their visible epochs fields)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    header = page.get_by_text(f"{model}: hyperparameters", exact=True).first
    fields = page.locator('input[aria-label="epochs"]').filter(visible=True)
    for _ in range(5):  # a click during the open animation closes it again
        if fields.count() > position:
            return
        header.click()
        try:
            fields.nth(position).wait_for(state="visible", timeout=10_000)
        except PlaywrightTimeoutError:
            continue
    if fields.count() <= position:
        raise AssertionError(f"the {model} hyperparameters did not open")


def fill_number(page, label: str, value, position: int = 0) -> None:
    """Type ``value`` into the ``position``-th visible number input labelled ``label``."""
    field = page.locator(f'input[aria-label="{label}"]').filter(visible=True).nth(position)
    field.fill(str(value))
    field.press("Enter")
    wait_idle(page)


def selectbox(page, label: str):
    """The input of the st.selectbox labelled ``label`` (a combobox named by its label)."""
    return page.locator(f'input[role="combobox"][aria-label="{label}"]').first


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the st.selectbox labelled ``label``."""
    selectbox(page, label).click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def selectbox_value(page, label: str) -> str:
    return selectbox(page, label).input_value().strip()


def canvas_ink(frame) -> int:
    """Pixels with any opacity on the first canvas of ``frame`` (0: nothing drawn)."""
    return frame.evaluate("""() => {
        const c = document.querySelector('canvas');
        if (!c || !c.width || !c.height) return 0;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
        return n;
    }""")


def hover_node(page, frame, node_id) -> None:
    """Move the mouse onto a node of the pyvis graph in ``frame`` (two moves: vis.js
    reacts to movement)."""
    x, y = frame.evaluate(f"""() => {{
        const at = network.canvasToDOM(network.getPositions([{node_id}])[{node_id}]);
        const canvas = document.querySelector('#mynetwork canvas').getBoundingClientRect();
        return [canvas.x + at.x, canvas.y + at.y];
    }}""")
    box = page.locator("iframe").first.bounding_box()
    page.mouse.move(box["x"] + x + 2, box["y"] + y)
    page.mouse.move(box["x"] + x, box["y"] + y)


def built_tooltips(frame) -> int:
    """How many nodes of the pyvis graph in ``frame`` have their tooltip element built."""
    return frame.evaluate("() => network.body.data.nodes.get().filter(n => n.title).length")


def graph_frame(page, timeout: float = 60.0):
    """The frame of the embedded pyvis graph, once vis.js has drawn on its canvas."""
    page.wait_for_selector("iframe", timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for frame in page.frames:
            try:
                if frame.evaluate("() => typeof network !== 'undefined' && !!network") and \
                        canvas_ink(frame) > 0:
                    return frame
            except Exception:  # frame navigating or detached; look again
                pass
        page.wait_for_timeout(200)
    raise TimeoutError("the pyvis graph did not draw")


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    tmp = path.with_suffix(".tmp.png")
    # Streamlit scrolls inside its own containers: show each page from its top.
    page.evaluate("() => document.querySelectorAll('*').forEach(e => { e.scrollTop = 0; })")
    page.wait_for_timeout(300)
    page.screenshot(path=str(tmp), full_page=True)
    os.replace(tmp, path)
    return path
