"""``fanzha sim world``: files written, summary printed, bad input exits 2."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from fanzha.sim.cli import register

runner = CliRunner()


def local_app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command()
    def other() -> None:  # a second command keeps ``sim`` a sub-command, as in fanzha
        pass

    return app


def test_world_writes_every_file(tmp_path):
    out = tmp_path / "w"
    result = runner.invoke(local_app(), ["sim", "world", "--seed", "3", "--transactions", "4000",
                                         "--reports", "12", "--out", str(out), "--format", "json", "--quiet"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["transactions"] == 4000 and summary["reports"] == 12
    for name in ("ledger.csv", "ledger.parquet", "victims.csv", "victims.parquet", "accounts.csv",
                 "accounts.parquet", "reports.jsonl", "units.json", "institutions.json", "world.json",
                 "truth/gangs.json", "truth/report_victims.csv", "truth/cash_outs.csv", "truth/mules.csv"):
        assert (out / name).is_file(), name
    assert len((out / "ledger.csv").read_text("utf-8").splitlines()) == 4001
    units = json.loads((out / "units.json").read_text("utf-8"))
    assert units[0]["kind"] == "city" and any(u["kind"] == "station" for u in units)
    institutions = json.loads((out / "institutions.json").read_text("utf-8"))
    assert {"code", "name", "kind"} <= set(institutions[0])


def test_help():
    result = runner.invoke(local_app(), ["sim", "world", "--help"])
    assert result.exit_code == 0 and "--transactions" in result.output


def test_bad_input_exits_2(tmp_path):
    app = local_app()
    cases = [
        ["--transactions", "0"],
        ["--transactions", "100", "--reports", "50"],
        ["--start", "yesterday"],
        ["--start", "2024-04-29T00:00:00"],
        ["--days", "0"],
    ]
    for extra in cases:
        result = runner.invoke(app, ["sim", "world", "--out", str(tmp_path / "x"), "--quiet", *extra])
        assert result.exit_code == 2, (extra, result.output)
        assert "error:" in result.output
    result = runner.invoke(app, ["sim", "world", "--out", str(tmp_path / "x"), "--transactions", "lots"])
    assert result.exit_code == 2


def test_out_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    result = runner.invoke(local_app(), ["sim", "world", "--out", str(f), "--transactions", "2000", "--quiet"])
    assert result.exit_code == 2 and "not a directory" in result.output


def test_through_the_fanzha_command(tmp_path):
    from fanzha.cli import app

    result = runner.invoke(app, ["sim", "world", "--seed", "1", "--transactions", "3000", "--reports", "6",
                                 "--out", str(tmp_path), "--quiet"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ledger.parquet").is_file()
