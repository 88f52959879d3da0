"""``fanzha reports import`` and ``fanzha reports watch``: a day's reports from files."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import typer
from rich.progress import Progress

from fanzha.cliutil import OutputFormat, emit_json, fail
from fanzha.collector import Freeze
from fanzha.errors import InputError

#: Reports filed per transaction: a chunk's rows commit together (each row whole: its
#: case, report, identifiers, victim, events and orders), so a crash loses no more than
#: the chunk in hand, and importing the file again files only what is missing.
CHUNK = 500

#: Rows below which reading in worker processes costs more than it saves.
PARALLEL_FROM = 500


def default_processes(rows: int) -> int:
    """Worker processes for reading ``rows`` reports: one per usable core for a big file."""
    if rows < PARALLEL_FROM:
        return 1
    return max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def import_file(path: Path, *, source: str, actor: str, progress: bool = False, sessions=None,
                processes: int | None = None) -> dict:
    """File every good row of a CSV/XLSX in chunked transactions; a bad row spoils nothing.

    Rows are read (extraction, classification) in ``processes`` worker processes
    (default: :func:`default_processes`) and filed :data:`CHUNK` at a time with
    multi-row writes. A row the store refuses sends its chunk back to be filed row by
    row, so only that row is named and left out. Each chunk's audit record commits with it.
    """
    frozen = Freeze()  # (a process that froze its own objects keeps them so)
    try:
        return _import(path, source=source, actor=actor, progress=progress, sessions=sessions,
                       processes=processes, frozen=frozen)
    finally:
        frozen.release()


def _import(path: Path, *, source: str, actor: str, progress: bool, sessions, processes: int | None,
            frozen: Freeze) -> dict:
    from sqlalchemy.exc import DataError, IntegrityError

    from fanzha.intake.importer import read_reports
    from fanzha.intake.service import Incoming, chunks, file_read, read_many
    from fanzha.store import audit, db

    result = read_reports(path)
    outcomes = {"opened": 0, "duplicate": 0, "follow_up": 0}
    errors = [e.as_dict() for e in result.errors]
    orders = 0
    sessions = sessions or db.session_factory(db.make_engine())
    rows = result.reports
    reads = read_many((Incoming(received_at=rep.received_at, text=rep.text, source=source,
                                external_id=rep.external_id, district=rep.district, address=rep.address,
                                caller=rep.caller, name=rep.name, loss_fen=rep.loss_fen or None,
                                scam_type=rep.scam_type, paid_at=rep.paid_at) for rep in rows),
                      processes=default_processes(len(rows)) if processes is None else processes)
    # What is loaded by now (the modules, the classifier's tables, the rows read) outlives the
    # filing: frozen, the garbage collector does not walk it again for every chunk filed.
    frozen.freeze()

    def file_chunk(chunk: list) -> list:
        with db.transaction(sessions) as session:
            done = file_read(session, [r for _, r in chunk], actor=actor)
            tally = {k: sum(1 for d in done if getattr(d, "outcome", None) == k) for k in outcomes}
            audit.record(session, actor=actor, actor_kind="user", role="import", action="reports_imported",
                         resource=str(path), detail={**tally, "lines": [chunk[0][0].line, chunk[-1][0].line],
                                                     "errors": sum(isinstance(d, InputError) for d in done)})
        return done

    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"filing {path.name}", total=len(rows))
        pending = zip(rows, reads)  # lazily: chunks are filed while the workers read the next ones
        for chunk in chunks(pending, CHUNK):
            try:
                done = file_chunk(chunk)
            except (IntegrityError, DataError):  # a row the store refuses (an outage is not a row's fault)
                done = []
                for row in chunk:
                    try:
                        done += file_chunk([row])
                    except (IntegrityError, DataError) as err:
                        done.append(InputError(f"the store refused the row: {getattr(err, 'orig', None) or err}"))
            for (rep, _), d in zip(chunk, done):
                if isinstance(d, InputError):
                    d.file, d.line = str(path), rep.line
                    errors.append(d.as_dict())
                else:
                    outcomes[d.outcome] += 1
                    orders += d.orders
            bar.advance(task, len(chunk))
    if not rows:  # nothing to file: the attempt is still on the record
        with db.transaction(sessions) as session:
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
                processes: int = typer.Option(0, min=0, help="Worker processes reading the rows "
                                                            "(0: one per core for a big file)."),
                format: OutputFormat = typer.Option(OutputFormat.table, "--format")) -> None:
        """File every row of a sheet as a report; bad rows are listed, good rows go in."""
        try:
            summary = import_file(file, source=source, actor=actor, progress=format == OutputFormat.table,
                                  processes=processes or None)
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
