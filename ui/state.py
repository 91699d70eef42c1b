"""Session-state keys and the per-session dataset registry.

Everything a browser session loads lives in ``st.session_state`` under the
keys below, so two sessions never see each other's data. Cached parsing
(``ui.cache``) is shared, but it returns a fresh copy to each caller.
"""

from __future__ import annotations

import streamlit as st

from recsys_core.data.dataset import Dataset

#: dict[str, Dataset]: every dataset loaded in this session, by the name the user gave it.
DATASETS = "datasets"
#: str: name of the dataset the pages work on (the sidebar picker writes it).
CURRENT = "current_dataset"
#: Widget key of the sidebar picker. Kept apart from CURRENT so a page can change the current
#: dataset after the picker is drawn; the picker copies CURRENT before drawing itself.
PICKER = "sidebar_dataset_picker"
#: str: a message a page shows once after it changed the current dataset and reran.
FLASH = "flash_message"

#: Name under which the bundled sample is registered on first start.
SAMPLE_NAME = "sample"
#: Name of the seed article's 2x2 example.
SEED_NAME = "seed example"


def ensure_app_ran() -> None:
    """Run the page through app.py when Streamlit ran the page file on its own.

    Because the project has a ``pages/`` folder, Streamlit starts in its old
    folder-based mode: until ``st.navigation`` has been called once in the
    server process, a deep link such as ``/graph`` runs ``pages/graph.py``
    alone, without app.py's sidebar or default dataset (AppTest does the same
    after ``switch_page``). Then this runs app.py, which switches the server to
    its navigation and runs this page inside it, and stops the outer run.
    Running in place, rather than rerunning, keeps the clicks of this run.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if not PagesManager.uses_pages_directory:
        return
    import runpy
    from pathlib import Path

    PagesManager.uses_pages_directory = False
    runpy.run_path(str(Path(__file__).resolve().parents[1] / "app.py"), run_name="__main__")
    st.stop()


def registry() -> dict[str, Dataset]:
    """The session's datasets by name (created empty on first use)."""
    ensure_app_ran()
    return _sets()


def _sets() -> dict[str, Dataset]:
    # Without the app.py check: safe inside widget callbacks.
    return st.session_state.setdefault(DATASETS, {})


def add_dataset(name: str, ds: Dataset, make_current: bool = True) -> str:
    """Register ``ds`` under ``name`` (replacing a dataset of that name); returns the name."""
    registry()[name] = ds
    if make_current:
        set_current(name)
    return name


def remove_dataset(name: str) -> None:
    """Forget one dataset; the current one falls back to any remaining dataset."""
    sets = registry()
    sets.pop(name, None)
    if st.session_state.get(CURRENT) == name:
        st.session_state[CURRENT] = next(iter(sets), None)


def set_current(name: str) -> None:
    if name not in _sets():
        raise KeyError(f"no dataset named {name!r} in this session")
    st.session_state[CURRENT] = name


def flash(message: str) -> None:
    """Show ``message`` on the next run (the page reruns so the sidebar shows the change)."""
    st.session_state[FLASH] = message


def pop_flash() -> str | None:
    return st.session_state.pop(FLASH, None)


def current_name() -> str | None:
    name = st.session_state.get(CURRENT)
    return name if name in registry() else None


def current_dataset() -> Dataset | None:
    name = current_name()
    return registry()[name] if name is not None else None


def ensure_default() -> None:
    """On a session's first run, make the bundled sample the current dataset."""
    if registry():
        if current_name() is None:
            set_current(next(iter(registry())))
        return
    from ui.cache import load_bundled

    add_dataset(SAMPLE_NAME, load_bundled(SAMPLE_NAME))


def unique_name(base: str) -> str:
    """``base``, or ``base (2)``, ``base (3)``... whichever is not taken yet."""
    taken = registry()
    if base not in taken:
        return base
    n = 2
    while f"{base} ({n})" in taken:
        n += 1
    return f"{base} ({n})"
