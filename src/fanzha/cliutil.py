"""Small helpers every capability's CLI shares: output formats and error exits."""

from __future__ import annotations

import enum
import json
import sys
from typing import Any, NoReturn

import typer

from fanzha.errors import InputError


class OutputFormat(str, enum.Enum):
    json = "json"
    table = "table"


def emit_json(obj: Any) -> None:
    """Write one JSON document to stdout, UTF-8, keys in the order given."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2))
    sys.stdout.write("\n")


def fail(err: InputError | str, code: int = 2) -> NoReturn:
    """Print an error to stderr and exit (2 = bad input, per FORMATS.md)."""
    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(code)
