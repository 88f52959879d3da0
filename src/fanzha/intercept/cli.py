"""``fanzha intercept …``: canonicalise URLs, check against a list file, export RPZ.

``intercept canon`` is a contract (FORMATS.md): one canonical URL a line, nothing else
on stdout. Bad input exits 2 with a message naming the argument or the file and line.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import typer

from fanzha.cliutil import OutputFormat, emit_json, fail
from fanzha.errors import InputError


def _parse_at(at: str | None, field: str = "--at") -> datetime | None:
    if at is None:
        return None
    try:
        t = datetime.fromisoformat(at)
    except ValueError:
        raise InputError(f"not an ISO 8601 time: {at!r}", field=field) from None
    if t.tzinfo is None:
        raise InputError(f"time needs an offset, e.g. {at}+08:00", field=field)
    return t


def register(app: typer.Typer) -> None:
    intercept_app = typer.Typer(
        help="Interception: canonical URLs, block/allow list checks, DNS RPZ export.",
        no_args_is_help=True,
    )
    app.add_typer(intercept_app, name="intercept")

    @intercept_app.command("canon")
    def canon(
        urls: list[str] = typer.Argument(..., metavar="URL...", help="URLs to canonicalise."),
        format: OutputFormat | None = typer.Option(None, "--format", help="json: also expressions and host report."),
    ) -> None:
        """Print each URL canonicalised by Safe Browsing's rules, one a line."""
        from fanzha.intercept.urls import canonical_parts, expressions_of, host_report

        results = []
        for n, url in enumerate(urls, start=1):
            try:
                results.append(canonical_parts(url))
            except InputError as err:
                fail(InputError(f"{err.message}: {url!r}", field=f"URL {n}"))
        if format is OutputFormat.json:
            out = []
            for url, parts in zip(urls, results):
                rep = host_report(str(parts))
                out.append({"url": url, "canonical": str(parts),
                            "expressions": expressions_of(parts),
                            "host": {"ascii": rep.host, "unicode": rep.unicode_host,
                                     "idn": rep.idn, "scripts": list(rep.scripts),
                                     "mixed_script": rep.mixed_script,
                                     "lookalike": rep.lookalike, "skeleton": rep.skeleton}})
            emit_json(out)
            return
        sys.stdout.write("".join(f"{p}\n" for p in results))

    @intercept_app.command("check")
    def check(
        values: list[str] = typer.Argument(..., metavar="URL-OR-NUMBER...",
                                           help="URLs, domains or phone numbers to check."),
        list_file: Path = typer.Option(..., "--list", help="Block list file (one value a line)."),
        allow_file: Path | None = typer.Option(None, "--allow", help="Allow list file; it wins over --list."),
        at: str | None = typer.Option(None, "--at", help="Check as of this ISO 8601 time (default now)."),
        format: OutputFormat | None = typer.Option(None, "--format", help="json for machine-readable verdicts."),
    ) -> None:
        """Check URLs and numbers against a plain list file."""
        from fanzha.intercept.entries import EntryKind
        from fanzha.intercept.listfile import classify, load_blocklist

        try:
            when = _parse_at(at)
            bl = load_blocklist(list_file, allow_file, at=when)
            verdicts = []
            for n, value in enumerate(values, start=1):
                try:
                    if classify(value) is EntryKind.phone:
                        verdicts.append(bl.check_phone(value, at=when))
                    else:
                        verdicts.append(bl.check_url(value, at=when))
                except InputError as err:
                    raise InputError(f"{err.message}: {value!r}", field=f"argument {n}") from None
        except InputError as err:
            fail(err)
        if format is OutputFormat.json:
            emit_json([v.as_dict() for v in verdicts])
            return
        for value, v in zip(values, verdicts):
            verdict = "BLOCKED" if v.blocked else "ok"
            why = v.reason + (f" {v.matched_expression}" if v.matched_expression else "")
            if v.entry_id is not None:
                which = "allow list" if v.reason == "allowlisted" else "list"
                why += f" ({which} line {v.entry_id})"
            typer.echo(f"{verdict}\t{v.value}\t{why}")

    @intercept_app.command("rpz")
    def rpz(
        list_file: Path = typer.Option(..., "--list", help="Block list file (one value a line)."),
        allow_file: Path | None = typer.Option(None, "--allow", help="Allow list file (passthru rules)."),
        serial: int | None = typer.Option(None, "--serial", help="SOA serial (default: Unix time)."),
        ttl: int = typer.Option(300, "--ttl", help="Record TTL in seconds."),
        origin: str | None = typer.Option(None, "--origin", help="Write $ORIGIN (default: none, set by the resolver)."),
        format: OutputFormat | None = typer.Option(None, "--format", help="json: zone text plus counts and skipped entries."),
    ) -> None:
        """Print a DNS response policy zone (RPZ) blocking the listed whole hosts."""
        from fanzha.intercept.entries import EntryKind
        from fanzha.intercept.listfile import read_list
        from fanzha.intercept.rpz import render_rpz
        from fanzha.intercept.urls import canonical_parts

        def urls_of(path: Path) -> list:
            out = []
            for ln in read_list(path):
                if ln.kind is EntryKind.url:
                    try:
                        out.append(canonical_parts(ln.value))
                    except InputError as err:
                        raise InputError(f"{err.message}: {ln.value!r}", file=str(path),
                                         line=ln.line, field="url") from None
            return out

        try:
            block = urls_of(list_file)
            allow = urls_of(allow_file) if allow_file is not None else []
            zone = render_rpz(block, allow, serial=serial, ttl=ttl, origin=origin)
        except InputError as err:
            fail(err)
        except ValueError as err:
            fail(InputError(str(err), field="--serial"))
        if format is OutputFormat.json:
            emit_json(zone.as_dict())
            return
        sys.stdout.write(zone.text)

