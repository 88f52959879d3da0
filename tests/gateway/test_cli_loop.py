"""``fanzha gateway loop start|status``: thin over loop.start and loop.status."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from fanzha.errors import InputError
from fanzha.gateway.cli import gateway_app, parse_receiving

from gwkit import A, seed  # noqa: E402


def test_parse_receiving():
    assert parse_receiving(f"{A}@ICBC=500.50") == (A, "ICBC", 50_050)
    assert parse_receiving(f"{A}@ICBC") == (A, "ICBC", None)
    for bad in (A, "@ICBC", f"{A}@ICBC=5,000"):
        with pytest.raises(InputError):
            parse_receiving(bad)


def test_start_then_status(sessions, migrated_url):
    case_no = seed(sessions, None)
    run = CliRunner().invoke
    db = ["--database-url", migrated_url]
    r = run(gateway_app, ["loop", "start", case_no, f"{A}@ICBC=500", *db, "--format", "json"])
    assert r.exit_code == 0, r.output
    queued = json.loads(r.output)["queued"]
    assert sorted((q["kind"], q["target"], q["amount_fen"]) for q in queued) == [
        ("stop_payment", A, 50_000), ("transaction_details", A, None)]
    r = run(gateway_app, ["loop", "start", case_no, f"{A}@ICBC=500", *db])   # again: nothing new
    assert r.exit_code == 0 and "0 order(s) queued" in r.output
    r = run(gateway_app, ["loop", "status", case_no, *db, "--format", "json"])
    assert r.exit_code == 0, r.output
    st = json.loads(r.output)
    assert st["case_no"] == case_no and st["orders"] == 2 and st["held"] == "0.00"
    # nothing has come back yet: not "done" but waiting
    assert st["state"] == "waiting for statements" and not st["done"]
    r = run(gateway_app, ["loop", "status", case_no, *db])
    assert r.exit_code == 0 and "waiting for statements" in r.output and "done" not in r.output.split("\n")[0]
    r = run(gateway_app, ["loop", "start", case_no, f"{A}@NOPE", *db])
    assert r.exit_code == 2 and "NOPE" in r.output
    r = run(gateway_app, ["loop", "status", "FZ-none", *db])
    assert r.exit_code == 2 and "FZ-none" in r.output
