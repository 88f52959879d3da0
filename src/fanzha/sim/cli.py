"""``fanzha sim world``: write a synthetic world to a directory.

Thin over :func:`fanzha.sim.world.build` and :func:`fanzha.sim.writer.write_world`;
progress goes to stderr so stdout stays clean for ``--format json``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fanzha.cliutil import OutputFormat, emit_json, fail
from fanzha.errors import InputError

sim_app = typer.Typer(name="sim", help="Synthetic worlds: a city, gangs, mules, victims, a ledger and reports.",
                      no_args_is_help=True)


@sim_app.callback()
def _sim() -> None:
    """Synthetic worlds: a city, gangs, mules, victims, a ledger and reports."""


@sim_app.command("world")
def world_command(
    out: Path = typer.Option(..., "--out", help="Directory to write (created if missing)."),
    seed: int = typer.Option(1, "--seed", help="Seed: the same seed and options give byte-identical files."),
    transactions: int = typer.Option(100_000, "--transactions", help="Ledger rows, fraud included."),
    reports: int = typer.Option(None, "--reports",
                                help="Reports (default: one per 2,000 transactions, 4 to 5,000).", show_default=False),
    days: int = typer.Option(1, "--days", help="Length of the period, in days."),
    start: str = typer.Option("2024-04-29T00:00:00+08:00", "--start", help="Start of the period, with UTC offset."),
    citizens: int = typer.Option(None, "--citizens", help="Citizens (default: one per 25 transactions).",
                                 show_default=False),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="Summary as a table or JSON."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Generate a world and write its ledger, victims, accounts, reports and truth to OUT."""
    from fanzha.sim.world import WorldParams, build
    from fanzha.sim.writer import write_world

    try:
        when = datetime.fromisoformat(start)
    except ValueError:
        fail(InputError(f"not an ISO 8601 time: {start!r}", field="--start"))
    if out.exists() and not out.is_dir():
        fail(InputError("exists and is not a directory", file=str(out), field="--out"))
    params = WorldParams(seed=seed, transactions=transactions, reports=reports, days=days, start=when,
                         citizens=citizens)
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, disable=quiet, transient=False) as bar:
        tasks: dict[str, int] = {}
        labels = {"people": "people, gangs, cases", "plan": "planning background", "ledger": "writing ledger"}

        def progress(task: str, done: int, total: int) -> None:
            if task not in tasks:
                tasks[task] = bar.add_task(labels.get(task, task), total=total)
            bar.update(tasks[task], completed=done, total=total)

        try:
            params.validate()
            world = build(params, progress=progress)
            summary = write_world(world, out, progress=progress)
        except InputError as err:
            if err.field and not err.field.startswith("--"):
                err.field = "--" + err.field
            fail(err)
    if fmt == OutputFormat.json:
        emit_json({"out": str(out), **summary})
    else:
        for key, value in summary.items():
            typer.echo(f"{key:24} {value}")


def register(app: typer.Typer) -> None:
    """Add ``fanzha sim …`` to the main command line."""
    app.add_typer(sim_app, name="sim")
