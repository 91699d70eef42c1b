"""AppTest helpers: run the real app.py (navigation, sidebar, state) and switch pages."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 120  # seconds per script run: the machine is shared, first runs fill caches


def open_page(name: str = "home") -> AppTest:
    """An AppTest that has run app.py (sample data loaded) and then ``pages/<name>.py``."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert_clean(at)
    if name != "home":
        at.switch_page(f"pages/{name}.py").run()
        assert_clean(at)
    return at


def assert_clean(at: AppTest) -> None:
    """No uncaught exception reached the page."""
    assert not at.exception, [e.value for e in at.exception]


def texts(at: AppTest) -> str:
    """Every markdown, caption, success, info, warning and error text, joined."""
    parts = [e.value for kind in ("markdown", "caption", "success", "info", "warning", "error")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)
