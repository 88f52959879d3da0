"""``fanzha link``: group the reports of a ``reports.jsonl`` file (FORMATS.md).

Bad reports are listed in the output's ``errors`` (line, field, message) and on stderr,
and the rest are linked; ``--strict`` makes the first bad line fail the run (exit 2).

Two tools sit beside it: ``fanzha link export`` (a group as GraphML, GEXF, CSV or a
STIX 2.1 bundle) and ``fanzha link import-stix`` (a STIX bundle's indicators back as
identifiers, optionally kept in the database). ``fanzha link REPORTS.jsonl`` itself is
unchanged: any first argument that is not one of these tools' names is a reports file.
"""

from __future__ import annotations

import csv
import enum
import json
import sys
from datetime import datetime
from pathlib import Path

import typer
from typer.core import TyperGroup

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


class _LinkGroup(TyperGroup):
    """``fanzha link …``: a tool's name routes to that tool, anything else is the
    FORMATS.md command (``fanzha link REPORTS.jsonl [options]``, ``fanzha link --help``)."""

    def parse_args(self, ctx, args):
        if not args or args[0] not in self.commands or args[0] == _RUN:
            args = [_RUN, *args]
        return super().parse_args(ctx, args)

    def resolve_command(self, ctx, args):
        name, cmd, rest = super().resolve_command(ctx, args)
        # the FORMATS.md command shows as `fanzha link …`, not `fanzha link run …`
        return (None if name == _RUN else name), cmd, rest


_RUN = "run"
_TOOLS_EPILOG = ("Tools: fanzha link export REPORTS.jsonl --group G1 --to graphml|gexf|csv|stix; "
                 "fanzha link import-stix BUNDLE.json [--store].")


def _link_file(reports: Path, *, strict: bool, common: list[Path], max_reports: int, max_scam_types: int,
               decisions: Path | None):
    """Read ``reports`` and link them under the common-value policy and the analysts'
    decisions; bad reports are warned about and left out (exit 2 with ``strict``)."""
    from fanzha.linking.batch import ReportTable, link
    from fanzha.linking.common import CommonPolicy
    from fanzha.linking.decisions import Decisions
    from fanzha.linking.reports import read_reports

    try:
        policy = CommonPolicy(max_reports=max_reports, max_scam_types=max_scam_types).with_files(common)
        decided = Decisions(_read_decisions(decisions)) if decisions else None
        result = read_reports(reports, strict=strict)
    except InputError as err:
        fail(err)
    for e in result.errors:
        typer.echo(f"warning: {e.to_input_error()} (report not linked)", err=True)
    return result, link(ReportTable.from_reports(result.reports), policy, decided)


def register(app: typer.Typer) -> None:
    link_app = typer.Typer(cls=_LinkGroup, help="Link reports that share identifiers into groups (串并案).",
                           add_completion=False)
    app.add_typer(link_app, name="link")
    _register_tools(link_app)

    @link_app.command(_RUN, epilog=_TOOLS_EPILOG)
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
        from fanzha.linking.output import linking_document

        from fanzha.linking.geo import GeoTable

        try:
            geo_table = GeoTable.from_csv(geo) if geo is not None else GeoTable.default()
            holder_map = _read_holders(holders) if holders else None
        except InputError as err:
            fail(err)
        result, lk = _link_file(reports, strict=strict, common=common, max_reports=max_reports,
                                max_scam_types=max_scam_types, decisions=decisions)
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


class ExportFormat(str, enum.Enum):
    graphml = "graphml"
    gexf = "gexf"
    csv = "csv"
    stix = "stix"


def _register_tools(link_app: typer.Typer) -> None:
    @link_app.command("export")
    def export_command(
        reports: Path = typer.Argument(..., metavar="REPORTS.jsonl", help="Reports, one JSON object a line."),
        to: ExportFormat = typer.Option(..., "--to", help="graphml, gexf (Gephi), csv (nodes and edges) or stix."),
        group: str | None = typer.Option(None, "--group", help="The group's ID as `fanzha link` gives it (G1…)."),
        report: str | None = typer.Option(None, "--report", help="Or: the group of this report."),
        output: Path | None = typer.Option(None, "-o", "--output",
                                           help="Where to write (stdout if absent). csv: a directory, or a .zip."),
        strict: bool = typer.Option(False, "--strict", help="Fail (exit 2) on the first bad report."),
        common: list[Path] = typer.Option([], "--common", help="More common values (kind<TAB>value[<TAB>why])."),
        max_reports: int = typer.Option(500, "--max-reports", min=1),
        max_scam_types: int = typer.Option(3, "--max-scam-types", min=1),
        decisions: Path | None = typer.Option(None, "--decisions", help="Analysts' decisions, JSONL."),
    ) -> None:
        """Export one linked group for Gephi and link-chart tools, or its indicators as STIX 2.1."""
        from fanzha.linking import exports, stix

        if (group is None) == (report is None):
            fail(InputError("give exactly one of --group and --report", field="--group"))
        if to is ExportFormat.csv and output is None:
            fail(InputError("csv export writes two tables: give -o DIRECTORY or -o FILE.zip", field="--output"))
        result, lk = _link_file(reports, strict=strict, common=common, max_reports=max_reports,
                                max_scam_types=max_scam_types, decisions=decisions)
        members = lk.partition()
        if group is not None:
            index = {lk.group_id(g): g for g in range(lk.n_groups)}
            if group not in index:
                fail(InputError(f"no group {group!r} (groups are G1 to G{lk.n_groups})", file=str(reports),
                                field="--group"))
            g = index[group]
        else:
            where = {rid: g for g, rids in enumerate(members) for rid in rids}
            if report not in where:
                fail(InputError(f"no report {report!r} among the good reports", file=str(reports), field="--report"))
            g = where[report]
            group = lk.group_id(g)
        by_id = {r.report_id: r for r in result.reports}
        rs = [by_id[rid] for rid in members[g]]
        held = {(c.kind, c.value): c.reason for c in lk.common}
        if to is ExportFormat.stix:
            keys = sorted({k for r in rs for k in r.identifiers if k not in held})
            data = json.dumps(stix.indicators_bundle(group, keys), ensure_ascii=False, indent=2).encode() + b"\n"
        else:
            graph = exports.group_graph(group, rs, held)
            if to is ExportFormat.graphml:
                data = exports.to_graphml(graph)
            elif to is ExportFormat.gexf:
                data = exports.to_gexf(graph)
            elif str(output).endswith(".zip"):
                data = exports.to_csv_zip(graph, group)
            else:
                nodes, edges = exports.to_csv(graph)
                try:
                    output.mkdir(parents=True, exist_ok=True)
                    (output / f"{group}-nodes.csv").write_text(nodes, "utf-8")
                    (output / f"{group}-edges.csv").write_text(edges, "utf-8")
                except OSError as err:
                    fail(InputError(f"cannot write: {err.strerror}", file=str(output)))
                typer.echo(f"{group}: {len(rs)} reports, {graph.number_of_nodes()} nodes → {output}", err=True)
                return
        if output is None:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        else:
            try:
                output.write_bytes(data)
            except OSError as err:
                fail(InputError(f"cannot write: {err.strerror}", file=str(output)))
            typer.echo(f"{group}: {len(rs)} reports → {output}", err=True)

    @link_app.command("import-stix")
    def import_stix_command(
        bundle: Path = typer.Argument(..., metavar="BUNDLE.json", help="A STIX 2.1 bundle (MISP, OpenCTI, fanzha)."),
        source: str | None = typer.Option(None, "--source",
                                          help="Who shared it (default: the bundle's creator, else the file name)."),
        store: bool = typer.Option(False, "--store", help="Keep the indicators in the database (FANZHA_DATABASE_URL)."),
        format: OutputFormat = typer.Option(OutputFormat.table, "--format"),
    ) -> None:
        """Read a STIX 2.1 bundle's indicators back as identifiers, with their source."""
        from fanzha.linking.stix import read_bundle

        try:
            try:
                raw = bundle.read_bytes()
            except OSError as err:
                raise InputError(f"cannot read: {err.strerror}", file=str(bundle)) from None
            got = read_bundle(raw, source=source, file=str(bundle))
        except InputError as err:
            fail(err)
        doc = got.as_dict()
        if store:
            from fanzha.linking.store import keep_shared
            from fanzha.store import db

            with db.transaction(db.session_factory(db.make_engine())) as session:
                doc["stored"] = keep_shared(session, got.identifiers, imported_by="cli")
        if format is OutputFormat.json:
            emit_json(doc)
            return
        for s in got.skipped:
            typer.echo(f"skipped {s['object']} ({s['type']}): {s['reason']}", err=True)
        for i in got.identifiers:
            typer.echo(f"{i.kind}\t{i.value}\t{i.source}")
        if store:
            typer.echo(f"stored: {doc['stored']}", err=True)
