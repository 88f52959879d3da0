"""``fanzha db …``, ``fanzha users add``, ``fanzha clients add``."""

from __future__ import annotations

import typer

from fanzha.cliutil import emit_json, fail
from fanzha.errors import InputError


def register(app: typer.Typer) -> None:
    db_app = typer.Typer(help="The database: migrations.", no_args_is_help=True)
    users_app = typer.Typer(help="People who log in.", no_args_is_help=True)
    clients_app = typer.Typer(help="Other systems with API keys.", no_args_is_help=True)
    app.add_typer(db_app, name="db")
    app.add_typer(users_app, name="users")
    app.add_typer(clients_app, name="clients")

    @db_app.command("upgrade")
    def db_upgrade(revision: str = typer.Argument("head")) -> None:
        """Apply migrations up to REVISION (default: the newest)."""
        from fanzha.store import db

        db.upgrade(revision=revision)
        typer.echo(f"database at {revision}")

    @db_app.command("downgrade")
    def db_downgrade(revision: str = typer.Argument(..., help="e.g. base, or a revision id")) -> None:
        """Undo migrations down to REVISION."""
        from fanzha.store import db

        db.downgrade(revision=revision)
        typer.echo(f"database at {revision}")

    @db_app.command("seed")
    def db_seed() -> None:
        """Load the units and institutions of the reference city (idempotent)."""
        from fanzha.store import db, seed

        with db.transaction(db.session_factory(db.make_engine())) as session:
            counts = seed.seed_reference(session)
        typer.echo(f"units {counts['units']}, institutions {counts['institutions']}")

    @users_app.command("add")
    def users_add(username: str, role: str = typer.Option(..., help="analyst, station_officer, liaison, "
                                                                  "dissuasion, commander or admin"),
                  unit: str = typer.Option(None, help="Unit code (station officers)."),
                  institution: str = typer.Option(None, help="Institution code (liaisons)."),
                  display_name: str = typer.Option("", help="Name shown to people."),
                  password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True,
                                               envvar="FANZHA_NEW_PASSWORD")) -> None:
        """Add a person who logs in."""
        from fanzha.store import db
        from fanzha.store.users import create_user

        try:
            with db.transaction(db.session_factory(db.make_engine())) as session:
                user = create_user(session, username=username, password=password, role=role,
                                   display_name=display_name, unit_code=unit, institution_code=institution)
                typer.echo(f"added {user.username} ({user.role})")
        except InputError as err:
            fail(err)

    @clients_app.command("add")
    def clients_add(name: str, role: str = typer.Option(..., help="platform, institution or carrier"),
                    institution: str = typer.Option(None, help="Institution code (institution clients).")) -> None:
        """Add another system; prints its API key once."""
        from fanzha.store import db
        from fanzha.store.users import create_client

        try:
            with db.transaction(db.session_factory(db.make_engine())) as session:
                client, key = create_client(session, name=name, role=role, institution_code=institution)
                emit_json({"name": client.name, "role": client.role, "api_key": key})
        except InputError as err:
            fail(err)
