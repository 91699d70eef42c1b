"""JSON for numpy and torch values: one ``default=`` hook shared by the CLI and the run store."""

from __future__ import annotations

from typing import Any


def json_default(value: Any) -> Any:
    """Scalars via ``.item()``, arrays via ``.tolist()``, anything else as its string."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
