"""``fanzha link`` as FORMATS.md gives it: JSON shape, exit codes, strictness."""

import importlib.util
import json
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from fanzha.linking.cli import register

GOOD = [
    {"report_id": "R1", "received_at": "2024-05-01T10:00:00+08:00", "district": "思明区",
     "scam_type": "冒充电商物流客服类", "loss": "990000.00",
     "identifiers": [{"kind": "phone", "value": "+85265432109"},
                     {"kind": "bank_card", "value": "6222025260181590832"}], "text": "…"},
    {"report_id": "R7", "received_at": "2024-05-02T10:00:00+08:00", "loss": "10.00",
     "identifiers": [{"kind": "bank_card", "value": "6222 0252 6018 1590 832"}, {"kind": "phone", "value": "95588"}]},
    {"report_id": "R9", "received_at": "2024-05-03T10:00:00+08:00",
     "identifiers": [{"kind": "phone", "value": "95588"}]},
]
BAD = {"report_id": "R8", "identifiers": [{"kind": "fax", "value": "1"}]}


def _app():
    app = typer.Typer()
    register(app)

    @app.callback()
    def main() -> None:
        """fanzha (test harness)."""

    return app


def write(tmp_path, rows):
    p = tmp_path / "reports.jsonl"
    p.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return p


def invoke(*args):
    return CliRunner().invoke(_app(), ["link", *map(str, args)])


def test_json_document(tmp_path):
    res = invoke(write(tmp_path, GOOD + [BAD]), "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert [(g["group_id"], g["reports"]) for g in doc["groups"]] == [("G1", ["R1", "R7"]), ("G2", ["R9"])]
    assert [{"kind": s["kind"], "value": s["value"]} for s in doc["groups"][0]["shared"]] == \
        [{"kind": "bank_card", "value": "6222025260181590832"}]
    assert doc["common_values"][0]["value"] == "95588;phone-context=+86"
    assert doc["errors"] == [{"line": 4, "report_id": "R8", "field": "identifiers[0].kind",
                              "error": doc["errors"][0]["error"]}]


def test_strict_exits_2_naming_line_and_field(tmp_path):
    res = invoke(write(tmp_path, GOOD + [BAD]), "--strict", "--format", "json")
    assert res.exit_code == 2
    assert "line 4" in res.output and "identifiers[0].kind" in res.output


def test_table_gangs_decisions_and_options(tmp_path):
    decisions = tmp_path / "decisions.jsonl"
    decisions.write_text('{"a": "R1", "b": "R7", "verdict": "rejected", "by": "lin"}\n', encoding="utf-8")
    res = invoke(write(tmp_path, GOOD), "--decisions", decisions, "--format", "json")
    assert [g["reports"] for g in json.loads(res.stdout)["groups"]] == [["R1"], ["R7"], ["R9"]]
    res = invoke(write(tmp_path, GOOD), "--gangs", "--format", "json")
    assert "key_members" in json.loads(res.stdout)["groups"][0]["gang"]
    res = invoke(write(tmp_path, GOOD))
    assert res.exit_code == 0 and "G1" in res.stdout


def test_bad_decisions_file_exits_2(tmp_path):
    decisions = tmp_path / "decisions.jsonl"
    decisions.write_text('{"a": "R1", "b": "R7", "verdict": "maybe"}\n', encoding="utf-8")
    res = invoke(write(tmp_path, GOOD), "--decisions", decisions)
    assert res.exit_code == 2 and "verdict" in res.output


def test_missing_file_exits_2(tmp_path):
    assert invoke(tmp_path / "absent.jsonl").exit_code == 2


def _fanzha_cli_links() -> bool:
    try:
        spec = importlib.util.find_spec("fanzha.cli")
        if spec is None:
            return False
        mod = importlib.import_module("fanzha.cli")
    except Exception:
        return False
    return "fanzha.linking.cli" in getattr(mod, "CAPABILITY_CLIS", ())


@pytest.mark.skipif(not _fanzha_cli_links(), reason="fanzha.cli does not load the link command yet")
def test_through_fanzha_cli(tmp_path):
    out = subprocess.run([sys.executable, "-m", "fanzha.cli", "link", str(write(tmp_path, GOOD)), "--format", "json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["groups"][0]["reports"] == ["R1", "R7"]
