"""``fanzha demo``: the centre's main job, end to end, on the embedded default.

A synthetic city is built (``fanzha.sim``), its reports are filed and routed as cases,
the money of the largest cases is traced (``fanzha.tracing``), and the holds of the
freeze plan are queued as stop-payment orders in the outbox. Everything lands in a
SQLite file under the data directory; the logins printed at the end work with
``fanzha serve``. Running it again reuses the same city and changes nothing twice.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import typer
from rich.console import Console

from fanzha.settings import get_settings

#: One demo login per role, each scoped where the role needs it.
DEMO_PEOPLE = [
    ("analyst", "analyst", None, None),
    ("officer", "station_officer", "STATION", None),
    ("liaison", "liaison", None, "ICBC"),
    ("dissuader", "dissuasion", None, None),
    ("commander", "commander", None, None),
    ("admin", "admin", None, None),
]


def demo_logins(session, data_dir: Path, station_code: str) -> dict[str, str]:
    """Make the demo users once, with random passwords kept (mode 0600) in the data dir."""
    from fanzha.store.users import create_user
    from fanzha.store.models import User
    from sqlalchemy import select

    path = data_dir / "demo-logins.json"
    logins: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    for username, role, unit, inst in DEMO_PEOPLE:
        if session.execute(select(User).where(User.username == username)).scalar_one_or_none():
            continue
        logins[username] = secrets.token_urlsafe(9)
        create_user(session, username=username, password=logins[username], role=role,
                    unit_code=station_code if unit else None, institution_code=inst)
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(logins, f, ensure_ascii=False, indent=2)
    return logins


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(seed: int = typer.Option(1, help="Seed of the synthetic city."),
             transactions: int = typer.Option(200_000, help="Ledger size of the synthetic city."),
             reports: int = typer.Option(1_000, help="Reports the city's victims and officers file."),
             cases: int = typer.Option(5, help="How many of the largest cases to trace and hold.")) -> None:
        """Build a synthetic city and run the centre's main job on it (SQLite, nothing to install)."""
        from fanzha.demo_run import run_demo

        run_demo(get_settings(), seed=seed, transactions=transactions, reports=reports, top_cases=cases,
                 console=Console())
