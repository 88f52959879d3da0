"""``fanzha`` — the command line.

Each capability adds its commands from its own ``cli`` module through ``register(app)``;
this file only assembles them and maps bad input to exit code 2.
"""

from __future__ import annotations

import importlib

import typer

from fanzha.errors import InputError

app = typer.Typer(
    name="fanzha",
    help="fanzha — the anti-telecom-fraud centre platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Modules that contribute commands, each with a ``register(app: typer.Typer)``.
CAPABILITY_CLIS = (
    "fanzha.store.cli",      # db upgrade/downgrade, users add
    "fanzha.api.cli",        # serve
    "fanzha.sim.cli",        # sim world
    "fanzha.gateway.cli",    # gateway dispatch|sla, sim institution
    "fanzha.tracing.cli",    # trace, restitution
    "fanzha.intake.cli",     # extract, classify
    "fanzha.intake.reports_cli",  # reports import, reports watch
    "fanzha.intercept.cli",  # intercept canon|check|rpz
    "fanzha.linking.cli",    # link
    "fanzha.demo",           # demo
)

for _name in CAPABILITY_CLIS:
    importlib.import_module(_name).register(app)


def main() -> None:
    try:
        app()
    except InputError as err:  # raised by a capability below the CLI layer
        typer.echo(f"error: {err}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
