"""``fanzha trace`` and ``fanzha restitution``: exit codes, JSON shape, messages, the graph."""

from __future__ import annotations

import json
import subprocess
import sys

import typer
from typer.testing import CliRunner

from fanzha.tracing.cli import register

from .helpers import files, t

app = typer.Typer()
register(app)
runner = CliRunner()


def example(tmp_path):
    return files(tmp_path, [
        f"T1,{t(0)},v1,B,500.00", f"T2,{t(1)},v2,A,300.00", f"T3,{t(2)},,A,50.00", f"T4,{t(3)},A,,200.00",
    ], ["V1,T1", "V2,T2"], ["A,0.00", "B,0.00"])


def run(*args):
    res = runner.invoke(app, [str(a) for a in args])
    return res.exit_code, res.stdout, res.stderr if hasattr(res, "stderr") else res.output


def test_trace_json_matches_formats_md(tmp_path):
    p = example(tmp_path)
    code, out, _ = run("trace", p["ledger"], "--victims", p["victims"], "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert list(doc)[:6] == ["rule", "stolen", "holdings", "cash_outs", "to_victims", "warnings"]
    assert doc["holdings"] == {"B": {"V1": "500.00"}, "A": {"V2": "100.00"}}
    assert doc["cash_outs"] == [{"txn_id": "T4", "account": "A", "victims": {"V2": "200.00"}}]


def test_trace_rule_as_of_freeze_plan_and_graph(tmp_path):
    p = example(tmp_path)
    out_html = tmp_path / "flow.html"
    code, out, _ = run("trace", p["ledger"], "--victims", p["victims"], "--accounts", p["accounts"],
                       "--rule", "lifo", "--as-of", "2024-04-29T10:03:00+08:00", "--format", "json",
                       "--freeze-plan", "--issued-at", "2024-04-29T11:00:00+08:00", "--graph", out_html)
    assert code == 0, out
    doc = json.loads(out)
    assert doc["rule"] == "lifo" and doc["holdings"]["A"] == {"V2": "150.00"}
    holds = doc["freeze_plan"]["holds"]
    assert [h["account"] for h in holds] == ["B", "A"]
    assert holds[0]["expires_at"] == "2024-05-01T11:00:00+08:00" and holds[0]["legal_basis"]
    page = out_html.read_text(encoding="utf-8")
    assert "<svg" in page and "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")


def test_trace_table_for_people(tmp_path):
    p = example(tmp_path)
    code, out, _ = run("trace", p["ledger"], "--victims", p["victims"], "--format", "table")
    assert code == 0 and "¥500.00" in out and "holdings" in out


def test_bad_input_exits_2_naming_file_line_field(tmp_path):
    p = files(tmp_path, [f"T1,{t(0)},v1,B,500.00", f"T2,{t(1)},B,,-3"], ["V1,T1"])
    res = runner.invoke(app, ["trace", str(p["ledger"]), "--victims", str(p["victims"]), "--format", "json"])
    assert res.exit_code == 2
    assert f"{p['ledger']}, line 3, field 'amount'" in res.output
    res = runner.invoke(app, ["trace", str(p["ledger"]), "--victims", str(tmp_path / "nope.csv")])
    assert res.exit_code == 2
    p = example(tmp_path / "x")
    res = runner.invoke(app, ["trace", str(p["ledger"]), "--victims", str(p["victims"]), "--as-of", "2024-04-29"])
    assert res.exit_code == 2 and "--as-of" in res.output
    res = runner.invoke(app, ["trace", str(p["ledger"]), "--victims", str(p["victims"]), "--rule", "magic"])
    assert res.exit_code == 2


def test_restitution(tmp_path):
    p = example(tmp_path)
    (tmp_path / "frozen.csv").write_text("account,amount\nA,120.00\nB,400.00\n", encoding="utf-8")
    code, out, _ = run("restitution", p["ledger"], "--victims", p["victims"], "--frozen", tmp_path / "frozen.csv",
                       "--format", "json")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["orders"] == [
        {"victim": "V2", "from_account": "A", "to_account": "v2", "amount": "100.00"},
        {"victim": "V1", "from_account": "B", "to_account": "v1", "amount": "400.00"}]
    assert doc["unallocated"] == [{"account": "A", "amount": "20.00", "reason": "frozen beyond the victims' money there"}]
    assert "V1" in doc["victims"]["V1"]["explanation"]
    code, out, _ = run("restitution", p["ledger"], "--victims", p["victims"], "--frozen", tmp_path / "frozen.csv",
                       "--mode", "pooled", "--format", "json")
    doc = json.loads(out)
    # Pool 520 over losses 500 : 300 -> 325 : 195.
    assert {v: s["returned"] for v, s in doc["victims"].items()} == {"V1": "325.00", "V2": "195.00"}
    (tmp_path / "bad.csv").write_text("account,amount\nA,1.999\n", encoding="utf-8")
    res = runner.invoke(app, ["restitution", str(p["ledger"]), "--victims", str(p["victims"]),
                              "--frozen", str(tmp_path / "bad.csv")])
    assert res.exit_code == 2 and "line 2" in res.output and "amount" in res.output


def test_the_installed_command(tmp_path):
    p = example(tmp_path)
    res = subprocess.run([sys.executable, "-m", "fanzha.cli", "trace", str(p["ledger"]), "--victims",
                          str(p["victims"]), "--format", "json"], capture_output=True, text=True, timeout=120)
    if "No module named" in res.stderr and "fanzha.tracing" not in res.stderr:
        return  # another capability's CLI is not importable yet; covered through register() above
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["stolen"] == {"V1": "500.00", "V2": "300.00"}
    res = subprocess.run([sys.executable, "-m", "fanzha.cli", "trace", "--help"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0 and "--victims" in res.stdout
