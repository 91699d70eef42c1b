"""The ``curl`` command that fetches a user's list from the running service."""

from __future__ import annotations

import os
import shlex
from urllib.parse import quote, urlencode

#: Where the dashboard says the service listens (``GRAPHREC_SERVE_URL`` overrides).
DEFAULT_URL = "http://127.0.0.1:8000"


def curl_command(run_id: str, user: str, k: int = 10, exclude_seen: bool = True,
                 include_cold: bool = True, base_url: str | None = None,
                 with_key: bool | None = None) -> str:
    """A shell-safe ``curl`` line for ``GET /v1/users/{user}/recommendations``.

    ``with_key`` adds ``-H "Authorization: Bearer $GRAPHREC_API_KEY"`` (the
    variable, never the key itself); None adds it when that variable is set.
    """
    base = (base_url or os.environ.get("GRAPHREC_SERVE_URL") or DEFAULT_URL).rstrip("/")
    query = urlencode({"k": int(k), "exclude_seen": str(bool(exclude_seen)).lower(),
                       "include_cold": str(bool(include_cold)).lower(), "run": run_id})
    url = f"{base}/v1/users/{quote(str(user), safe='')}/recommendations?{query}"
    if with_key is None:
        with_key = bool(os.environ.get("GRAPHREC_API_KEY"))
    auth = ' -H "Authorization: Bearer $GRAPHREC_API_KEY"' if with_key else ""
    return f"curl -s{auth} {shlex.quote(url)}"
