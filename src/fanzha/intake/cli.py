"""``fanzha extract`` and ``fanzha classify``: the intake core on the command line.

Both read one text (the argument, or stdin when there is none) or a JSON-lines file
with ``--jsonl`` (one ``{"text": …}`` a line in, one result a line out, in the same
order). In a JSON-lines file a bad line does not stop the run: its output line is
``{"line": N, "error": "…"}``, the error is also written to stderr naming the file and
line, and the command exits 2 once every line is done — so a batch of ten thousand
reports is never lost to one broken line, and a script still sees that one was bad.
Blank lines are skipped. Input bytes must be UTF-8 (a BOM is allowed) unless
``--encoding`` says otherwise.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from fanzha.cliutil import OutputFormat, emit_json, fail
from fanzha.errors import InputError
from fanzha.intake.extract import FIELDS, MAX_TEXT_CHARS, check_text

#: Inputs larger than this are refused before decoding (4 bytes per character at most).
MAX_INPUT_BYTES = MAX_TEXT_CHARS * 4


def decode(data: bytes, encoding: str, where: str) -> str:
    """Bytes to text, with an error that says what to do about a wrong encoding."""
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(f"input is {len(data):,} bytes; a report may be at most {MAX_TEXT_CHARS:,} characters",
                         file=where)
    enc = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return data.decode(enc)
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}", field="--encoding") from None
    except UnicodeDecodeError as err:
        hint = " (GBK/GB18030 text? pass --encoding gb18030)" if enc.startswith("utf-8") else ""
        raise InputError(f"not valid {encoding}: byte 0x{data[err.start]:02x} at offset {err.start}{hint}",
                         file=where) from None


def _read_text(text: Optional[str], encoding: str) -> str:
    if text is not None:
        return text
    if sys.stdin is None or sys.stdin.isatty():
        raise InputError("no TEXT given and nothing on stdin", field="TEXT")
    data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode("utf-8")
    return decode(data, encoding, "<stdin>")


def run_jsonl(path: Path, encoding: str, fn: Callable[[str], dict[str, Any]]) -> int:
    """Apply ``fn`` to every line's ``text``; write one result a line. Returns the
    number of bad lines."""
    where = str(path)
    try:
        fh = sys.stdin.buffer if where == "-" else path.open("rb")
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", file=where) from None
    bad = 0
    out = sys.stdout
    with fh:
        for n, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            obj: Any = None
            try:
                line = decode(raw, encoding, where)
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as err:
                    raise InputError(f"not JSON: {err.msg} at column {err.colno}") from None
                if not isinstance(obj, dict) or "text" not in obj:
                    raise InputError('expected an object with a "text" field', field="text")
                result = fn(check_text(obj["text"]))
                for key in ("id", "report_id"):
                    if key in obj:
                        result = {key: obj[key], **result}
            except InputError as err:
                bad += 1
                err.file, err.line = where, n
                err.field = err.field or "text"
                typer.echo(f"error: {err}", err=True)
                result = {"line": n, "error": err.message}
                if isinstance(obj, dict):
                    result.update({k: obj[k] for k in ("id", "report_id") if k in obj})
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
    return bad


def _extract_dict(text: str) -> dict[str, Any]:
    from fanzha.intake.extract import extract

    return extract(text).as_dict()


def _classify_dict(text: str) -> dict[str, Any]:
    from fanzha.intake.classify import classify

    return classify(text).as_dict()


def _one_or_many(text: Optional[str], jsonl: Optional[Path], encoding: str,
                 fn: Callable[[str], dict[str, Any]]) -> dict[str, Any] | None:
    try:
        if jsonl is not None:
            if text is not None:
                raise InputError("give either TEXT or --jsonl, not both", field="--jsonl")
            bad = run_jsonl(jsonl, encoding, fn)
            if bad:
                raise typer.Exit(2)
            return None
        return fn(check_text(_read_text(text, encoding)))
    except InputError as err:
        fail(err)


def extract_cmd(
    text: Optional[str] = typer.Argument(None, help="Report text; read from stdin when absent."),
    jsonl: Optional[Path] = typer.Option(None, "--jsonl", help='JSON-lines file of {"text": …} ("-" for stdin).'),
    format: OutputFormat = typer.Option(OutputFormat.table, "--format", help="json or table."),
    encoding: str = typer.Option("utf-8", "--encoding", help="Encoding of stdin / the file."),
) -> None:
    """Pull phones, cards, accounts, URLs, IDs and amounts out of a report."""
    result = _one_or_many(text, jsonl, encoding, _extract_dict)
    if result is None:
        return
    if format is OutputFormat.json:
        emit_json(result)
        return
    for key in FIELDS + ("alipay", "qq_groups"):
        if result[key]:
            typer.echo(f"{key:<11} " + "  ".join(result[key]))
    for cb in result["card_banks"]:
        typer.echo(f"{'card bank':<11} {cb['card']}  {cb['bank'] or 'unknown issuer'}")
    for fx in result["other_currency_amounts"]:
        typer.echo(f"{'other cur.':<11} {fx['amount']} {fx['currency']}")
    for w in result["warnings"]:
        typer.echo(f"warning: {w}", err=True)


def classify_cmd(
    text: Optional[str] = typer.Argument(None, help="Report text; read from stdin when absent."),
    jsonl: Optional[Path] = typer.Option(None, "--jsonl", help='JSON-lines file of {"text": …} ("-" for stdin).'),
    format: OutputFormat = typer.Option(OutputFormat.table, "--format", help="json or table."),
    encoding: str = typer.Option("utf-8", "--encoding", help="Encoding of stdin / the file."),
) -> None:
    """Name the scam type of a report (with confidence and the phrases that decided it)."""
    result = _one_or_many(text, jsonl, encoding, _classify_dict)
    if result is None:
        return
    if format is OutputFormat.json:
        emit_json(result)
        return
    typer.echo(f"{result['scam_type']}  {result['label']}  {result['confidence']:.2f}")
    if result["evidence"]:
        typer.echo("evidence: " + "、".join(result["evidence"]))


def register(app: typer.Typer) -> None:
    """Add ``extract`` and ``classify`` to the ``fanzha`` command."""
    app.command("extract")(extract_cmd)
    app.command("classify")(classify_cmd)
