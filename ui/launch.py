"""Start the dashboard: ``python -m ui.launch [streamlit options]``.

The same as ``streamlit run app.py`` with the heavy libraries already
importing in the background while the server boots (:mod:`ui.preload`).
"""

from __future__ import annotations

import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app.py"


def main(argv: list[str] | None = None) -> None:
    from streamlit.web.cli import main as streamlit_main

    from ui import preload

    preload.start()  # after Streamlit's own imports, so the two threads do not interleave them

    sys.argv = ["streamlit", "run", str(APP), *(sys.argv[1:] if argv is None else argv)]
    streamlit_main(prog_name="streamlit")


if __name__ == "__main__":
    main()
