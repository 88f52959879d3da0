"""``fanzha reports import`` and ``fanzha reports watch``: a day's reports from files."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import typer
from rich.progress import Progress

from fanzha.cliutil import OutputFormat, emit_json, fail
from fanzha.errors import InputError


def import_file(path: Path, *, source: str, actor: str, progress: bool = False, sessions=None) -> dict:
    """File every good row of a CSV/XLSX; each row in its own savepoint, so a bad row spoils nothing."""
    from fanzha.intake.importer import read_reports
    from fanzha.intake.service import Incoming, file_report
    from fanzha.store import db

    result = read_reports(path)
    outcomes = {"opened": 0, "duplicate": 0, "follow_up": 0}
    errors = [e.as_dict() for e in result.errors]
    orders = 0
    with db.transaction(sessions or db.session_factory(db.make_engine())) as session:
        with Progress(disable=not progress, transient=True) as bar:
            task = bar.add_task(f"filing {path.name}", total=len(result.reports))
            for rep in result.reports:
                try:
                    with session.begin_nested():
                        filed = file_report(session, Incoming(
                            received_at=rep.received_at, text=rep.text, source=source, external_id=rep.external_id,
                            district=rep.district, address=rep.address, caller=rep.caller, name=rep.name,
                            loss_fen=rep.loss_fen or None, scam_type=rep.scam_type, paid_at=rep.paid_at),
                            actor=actor)
                    outcomes[filed.outcome] += 1
                    orders += filed.orders
                except InputError as err:
                    err.file, err.line = str(path), rep.line
                    errors.append(err.as_dict())
                bar.advance(task)
        from fanzha.store import audit

        audit.record(session, actor=actor, actor_kind="user", role="import", action="reports_imported",
                     resource=str(path), detail={**outcomes, "errors": len(errors)})
    return {"file": str(path), **outcomes, "orders_queued": orders, "errors": errors}


def register(app: typer.Typer) -> None:
    reports = typer.Typer(help="Reports from files: import a sheet, or watch a folder.", no_args_is_help=True)
    app.add_typer(reports, name="reports")

    @reports.command("import")
    def import_(file: Path = typer.Argument(..., help="CSV or XLSX with a header row."),
                source: str = typer.Option("import", help="Where the reports came from."),
                actor: str = typer.Option("import", help="Who is importing (for the audit log)."),
                format: OutputFormat = typer.Option(OutputFormat.table, "--format")) -> None:
        """File every row of a sheet as a report; bad rows are listed, good rows go in."""
        try:
            summary = import_file(file, source=source, actor=actor, progress=format == OutputFormat.table)
        except InputError as err:
            fail(err)
        if format == OutputFormat.json:
            emit_json(summary)
        else:
            typer.echo(f"{file}: {summary['opened']} cases opened, {summary['duplicate']} duplicates, "
                       f"{summary['follow_up']} follow-ups, {summary['orders_queued']} emergency orders queued")
            for e in summary["errors"]:
                typer.echo(f"  {InputError(e['error'], e['file'], e['line'], e['field'])}", err=True)
        if summary["errors"]:
            raise typer.Exit(2)

    @reports.command("watch")
    def watch(folder: Path = typer.Argument(..., help="Files dropped here are imported, then moved to done/ "
                                                      "or failed/."),
              once: bool = typer.Option(False, help="Import what is there now, then stop."),
              interval: float = typer.Option(2.0, help="Seconds between looks.")) -> None:
        """Watch a folder for report sheets."""
        for sub in ("done", "failed"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        while True:
            for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                               and p.suffix.lower() in (".csv", ".xlsx")):
                try:
                    summary = import_file(path, source="folder", actor="folder")
                    dest = folder / ("failed" if summary["errors"] and not summary["opened"] else "done")
                    typer.echo(f"{path.name}: {summary['opened']} opened, {len(summary['errors'])} errors")
                    if summary["errors"]:
                        (dest / (path.name + ".errors.txt")).write_text(
                            "\n".join(str(InputError(e["error"], e["file"], e["line"], e["field"]))
                                      for e in summary["errors"]) + "\n", encoding="utf-8")
                except InputError as err:
                    dest = folder / "failed"
                    (dest / (path.name + ".errors.txt")).write_text(f"{err}\n", encoding="utf-8")
                    typer.echo(f"{path.name}: {err}", err=True)
                shutil.move(str(path), dest / path.name)
            if once:
                return
            time.sleep(interval)
