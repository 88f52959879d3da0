"""``fanzha intercept …``: canonicalise URLs, check against a list file, export RPZ, import feeds.

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


    @intercept_app.command("import")
    def import_feed(
        path: Path = typer.Argument(..., metavar="FILE", help="The feed: a plain list, a CSV or a STIX 2.1 bundle."),
        as_: str | None = typer.Option(None, "--as", help="plain, csv or stix (default: by extension; "
                                                           ".csv → csv, .json → stix, else plain)."),
        source: str | None = typer.Option(None, "--source", help="Feed name recorded on each entry "
                                                                 "(default: the file name)."),
        source_kind: str = typer.Option("feed", "--source-kind", help="case, detector, feed or analyst."),
        allow: bool = typer.Option(False, "--allow", help="Put every value on the allowlist "
                                                          "(official numbers, government domains)."),
        ttl_days: int = typer.Option(30, "--ttl-days", min=1, max=3650,
                                     help="Valid for this long when the feed does not say."),
        database_url: str | None = typer.Option(None, "--database-url",
                                                help="Default: FANZHA_DATABASE_URL."),
        format: OutputFormat | None = typer.Option(None, "--format", help="json for machine-readable counts."),
    ) -> None:
        """Import a feed into the store's lists: new values are listed, known ones extended.

        All or nothing: a bad value stops the import (exit 2) naming the file, line or
        indicator, and field; nothing is written.
        """
        import getpass
        from collections import Counter
        from datetime import timedelta, timezone

        from fanzha.intercept import store as istore
        from fanzha.intercept.feeds import read_feed
        from fanzha.store import audit, db

        try:
            report = read_feed(path, as_)
            if source_kind not in istore.SOURCE_KINDS:
                raise InputError(f"unknown source kind {source_kind!r}; one of {', '.join(istore.SOURCE_KINDS)}",
                                 field="--source-kind")
            name = source or path.name
            actor = f"cli:{getpass.getuser()}"
            outcomes: Counter = Counter()
            skipped = list(report.skipped)
            now = datetime.now(timezone.utc)
            engine = db.make_engine(database_url)
            try:
                with db.transaction(db.session_factory(engine)) as session:
                    for item in report.items:
                        if item.valid_until is not None and item.valid_until <= now:
                            skipped.append((item.ref, "valid_until has passed"))
                            continue
                        try:
                            listed = istore.list_entry(
                                session, value=item.value, kind=item.kind,
                                listing="allow" if allow else item.listing, source_kind=source_kind,
                                source=name[:128], reason=item.reason,
                                score=1.0 if item.score is None else item.score,
                                valid_until=item.valid_until, ttl=timedelta(days=ttl_days),
                                seen_at=item.first_seen if item.first_seen and item.first_seen < now else None,
                                actor=actor)
                        except InputError as err:
                            line = int(item.ref[5:]) if item.ref.startswith("line ") else None
                            raise InputError(f"{err.message}: {item.value!r}", file=str(path), line=line,
                                             field=err.field if line is not None else f"{item.ref} {err.field}"
                                             ) from None
                        outcomes[listed.outcome] += 1
                    version = istore.current_version(session)
                    audit.record(session, actor=actor, actor_kind="system", role="analyst",
                                 action="intercept_feed_imported", resource=f"file:{path.name}",
                                 detail={"source": name, "source_kind": source_kind, "allow": allow,
                                         "outcomes": dict(outcomes), "skipped": len(skipped)})
            finally:
                engine.dispose()
        except InputError as err:
            fail(err)
        result = {"file": str(path), "source": name, "read": len(report.items),
                  "created": outcomes["created"], "extended": outcomes["extended"],
                  "reinstated": outcomes["reinstated"], "sighted_revoked": outcomes["sighted_revoked"],
                  "skipped": [{"where": w, "reason": r} for w, r in skipped], "version": version}
        if format is OutputFormat.json:
            emit_json(result)
            return
        typer.echo(f"{path}: {result['created']} listed, {result['extended']} extended, "
                   f"{result['reinstated']} reinstated, {result['sighted_revoked']} seen again but revoked, "
                   f"{len(skipped)} skipped; lists at version {version}")
        for w, r in skipped:
            typer.echo(f"  skipped {w}: {r}", err=True)
