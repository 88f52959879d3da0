"""``fanzha extract`` / ``fanzha classify``: JSON shape, JSON lines, exit codes."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from fanzha.intake.cli import register
from fanzha.intake.extract import FIELDS


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:
        """fanzha (test harness)."""

    register(app)
    return app


runner = CliRunner()


def test_extract_json(app: typer.Typer) -> None:
    res = runner.invoke(app, ["extract", "电话13912345678，转账12,800元", "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert list(out)[:9] == list(FIELDS)
    assert out["phones"] == ["+8613912345678"] and out["amounts"] == ["12800.00"]


def test_extract_stdin(app: typer.Typer) -> None:
    res = runner.invoke(app, ["extract", "--format", "json"], input="QQ 2890145567".encode())
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["qq"] == ["2890145567"]


def test_classify_json(app: typer.Typer) -> None:
    res = runner.invoke(app, ["classify", "自称公安局说我涉嫌洗钱，要转到安全账户", "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) == {"scam_type", "label", "confidence", "evidence"}
    assert out["scam_type"] == "police_impersonation"


def test_jsonl_keeps_order_and_marks_bad_lines(app: typer.Typer, tmp_path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": "R1", "text": "转账5000元"}\nnot json\n\n{"text": ""}\n{"text": "QQ 123456"}\n',
                    encoding="utf-8")
    res = runner.invoke(app, ["extract", "--jsonl", str(path)])
    assert res.exit_code == 2
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert len(lines) == 4
    assert lines[0]["id"] == "R1" and lines[0]["amounts"] == ["5000.00"]
    assert lines[1] == {"line": 2, "error": lines[1]["error"]}
    assert lines[2]["line"] == 4
    assert lines[3]["qq"] == ["123456"]
    assert f"{path}, line 2" in res.stderr


def test_jsonl_all_good_exits_0(app: typer.Typer, tmp_path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "刷单返利，垫付后无法提现"}\n{"text": "明天开会"}\n', encoding="utf-8")
    res = runner.invoke(app, ["classify", "--jsonl", str(path)])
    assert res.exit_code == 0, res.output
    assert len(res.stdout.splitlines()) == 2


@pytest.mark.parametrize("args,stdin", [
    (["extract", "--format", "json"], b""),
    (["extract", "--format", "json"], "被骗".encode("gbk") * 3),
    (["extract", "--format", "json"], b"x" * (10 * 1024 * 1024)),
    (["classify", "--format", "json"], b"   "),
    (["extract", "--jsonl", "/nonexistent/file.jsonl"], b""),
    (["extract", "text", "--jsonl", "x.jsonl"], b""),
])
def test_bad_input_exits_2(app: typer.Typer, args: list[str], stdin: bytes) -> None:
    res = runner.invoke(app, args, input=stdin)
    assert res.exit_code == 2
    assert "error:" in res.stderr


def test_gbk_with_encoding_option(app: typer.Typer) -> None:
    res = runner.invoke(app, ["extract", "--format", "json", "--encoding", "gb18030"],
                        input="转账五千元".encode("gbk"))
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["amounts"] == ["5000.00"]
