"""Errors that name what was wrong and where.

Every edge (CSV reader, JSON body, CLI option) turns bad input into an
:class:`InputError` carrying the file, line and field, so a person can fix it.
The CLI maps it to exit code 2; the API maps it to HTTP 422.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class InputError(Exception):
    message: str
    file: str | None = None
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(str(self.file))
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.field:
            where.append(f"field {self.field!r}")
        return (", ".join(where) + ": " if where else "") + self.message

    def as_dict(self) -> dict:
        return {"error": self.message, "file": self.file, "line": self.line, "field": self.field}


def nul_refusal(text: str) -> str | None:
    """Why ``text`` cannot be kept, if it holds a NUL character (PostgreSQL's text cannot
    hold one; SQLite's would): refused alike on either database, at every edge."""
    at = text.find("\x00")
    return None if at < 0 else f"holds a NUL character (at {at + 1})"
