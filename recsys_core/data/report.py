"""What loading found: inferred facts, warnings and errors, in plain words.

Errors stop a load with :class:`DataError`; warnings and notes travel with the
:class:`~recsys_core.data.dataset.Dataset` so the UI and CLI can show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class DataError(ValueError):
    """A file cannot become a Dataset. ``str(err)`` is the message for the user.

    It names the file, the column and the first offending rows where they apply.
    """

    def __init__(self, message: str, *, file: str | None = None, column: str | None = None,
                 rows: list[int] | None = None):
        self.file = file
        self.column = column
        self.rows = list(rows or [])
        super().__init__(message)


@dataclass
class ValidationReport:
    """Notes (what was inferred), warnings (what was changed or is odd), errors."""

    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def note(self, message: str) -> None:
        self.notes.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def error(self, message: str) -> None:
        self.errors.append(message)

    @property
    def ok(self) -> bool:
        return not self.errors

    def merge(self, other: ValidationReport) -> ValidationReport:
        return ValidationReport(self.notes + other.notes, self.warnings + other.warnings,
                                self.errors + other.errors)

    def lines(self) -> list[str]:
        return ([f"error: {m}" for m in self.errors] + [f"warning: {m}" for m in self.warnings]
                + [f"note: {m}" for m in self.notes])
