"""``fanzha link``: group the reports of a ``reports.jsonl`` file (FORMATS.md).

Bad reports are listed in the output's ``errors`` (line, field, message) and on stderr,
and the rest are linked; ``--strict`` makes the first bad line fail the run (exit 2).
"""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import typer

from fanzha.cliutil import OutputFormat, emit_json, fail
from fanzha.errors import InputError


def _read_decisions(path: Path):
    from fanzha.linking.decisions import LinkDecision, Verdict

    out = []
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", file=str(path)) from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"not valid JSON: {err.msg}", file=str(path), line=n) from None
        for key in ("a", "b", "verdict"):
            if not isinstance(obj.get(key), str):
                raise InputError(f"{key} is missing or not text", file=str(path), line=n, field=key)
        try:
            verdict = Verdict(obj["verdict"])
        except ValueError:
            raise InputError("verdict is 'confirmed' or 'rejected'", file=str(path), line=n,
                             field="verdict") from None
        if obj["a"] == obj["b"]:
            raise InputError("a link needs two different reports", file=str(path), line=n, field="b")
        at = None
        if obj.get("at"):
            try:
                at = datetime.fromisoformat(obj["at"])
            except (TypeError, ValueError):
                raise InputError("not an ISO 8601 time", file=str(path), line=n, field="at") from None
        out.append(LinkDecision(obj["a"], obj["b"], verdict, obj.get("by"), at, obj.get("note")))
    return out


def _read_holders(path: Path):
    from fanzha.linking.gangs import Holder

    try:
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", file=str(path)) from None
    out = {}
    for n, row in enumerate(rows, start=2):
        if not row.get("account"):
            raise InputError("account is missing", file=str(path), line=n, field="account")
        out[row["account"].strip()] = Holder(row["account"].strip(), row.get("name") or None,
                                             row.get("id_number") or None, row.get("phone") or None)
    return out


def register(app: typer.Typer) -> None:
    @app.command("link")
    def link_command(
        reports: Path = typer.Argument(..., metavar="REPORTS.jsonl", help="Reports, one JSON object a line."),
        format: OutputFormat = typer.Option(OutputFormat.table, "--format", help="json: the FORMATS.md document."),
        strict: bool = typer.Option(False, "--strict", help="Fail (exit 2) on the first bad report."),
        common: list[Path] = typer.Option([], "--common", help="More common values (kind<TAB>value[<TAB>why])."),
        max_reports: int = typer.Option(500, "--max-reports", min=1,
                                        help="A value in more reports than this does not link."),
        max_scam_types: int = typer.Option(3, "--max-scam-types", min=1,
                                           help="A value in reports of more scam types than this does not link."),
        decisions: Path | None = typer.Option(None, "--decisions",
                                              help="Analysts' decisions, JSONL {a, b, verdict, by, at, note}."),
        gangs: bool = typer.Option(False, "--gangs", help="Add gangs, key members, dens and mules per group."),
        geo: Path | None = typer.Option(None, "--geo", help="Offline IP table, CSV network,country,city."),
        holders: Path | None = typer.Option(None, "--holders",
                                            help="Account holders, CSV account,name,id_number,phone."),
    ) -> None:
        """Link reports that share identifiers into groups (串并案)."""
        from fanzha.linking.batch import ReportTable, link
        from fanzha.linking.common import CommonPolicy
        from fanzha.linking.decisions import Decisions
        from fanzha.linking.output import linking_document
        from fanzha.linking.reports import read_reports

        try:
            policy = CommonPolicy(max_reports=max_reports, max_scam_types=max_scam_types).with_files(common)
            decided = Decisions(_read_decisions(decisions)) if decisions else None
            geo_table = None
            if geo is not None:
                from fanzha.linking.geo import GeoTable

                geo_table = GeoTable.from_csv(geo)
            holder_map = _read_holders(holders) if holders else None
            result = read_reports(reports, strict=strict)
        except InputError as err:
            fail(err)
        for e in result.errors:
            typer.echo(f"warning: {e.to_input_error()} (report not linked)", err=True)
        lk = link(ReportTable.from_reports(result.reports), policy, decided)
        gang_fn = None
        if gangs:
            from fanzha.linking.gangs import analyse

            by_id = {r.report_id: r for r in result.reports}

            def gang_fn(g: int, rids: list[str], shared: list[dict]) -> dict:
                linking_values = {(s["kind"], s["value"]) for s in shared}
                return analyse([by_id[r] for r in rids], linking_values, geo=geo_table,
                               holders=holder_map).as_dict()

        doc = linking_document(lk, result.errors, gang=gang_fn)
        if format is OutputFormat.json:
            emit_json(doc)
            return
        _print_table(doc)


def _print_table(doc: dict, limit: int = 50) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    s = doc["summary"]
    console.print(f"{s['reports']} reports, {s['groups']} groups, {s['linked_groups']} linked groups "
                  f"({s['reports_in_linked_groups']} reports), {s['common_values']} common values held back, "
                  f"{s['errors']} bad reports")
    table = Table("group", "reports", "loss", "through")
    linked = [g for g in doc["groups"] if g["size"] >= 2]
    linked.sort(key=lambda g: -g["size"])
    for g in linked[:limit]:
        through = ", ".join(f"{x['kind']} {x['value']}" for x in g["shared"][:3])
        if len(g["shared"]) > 3:
            through += f" (+{len(g['shared']) - 3})"
        table.add_row(g["group_id"], str(g["size"]), g["loss"], through)
    console.print(table)
    if doc["common_values"]:
        held = Table("held back", "value", "reports", "scam types", "why")
        for c in doc["common_values"][:limit]:
            held.add_row(c["kind"], c["value"], str(c["reports"]), str(c["scam_types"]), c["reason"])
        console.print(held)
