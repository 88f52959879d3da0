"""``fanzha intercept …`` through Typer's test runner."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from fanzha.intercept.cli import register


@pytest.fixture(scope="module")
def app():
    try:  # the whole CLI, when every capability's module is importable
        from fanzha.cli import app as full
        return full
    except Exception:
        local = typer.Typer()
        register(local)

        @local.callback()
        def _root() -> None:  # keeps "intercept" a sub-command even alone
            pass
        return local


runner = CliRunner()


def run(app, *args):
    return runner.invoke(app, list(args))


def test_canon_prints_one_canonical_url_a_line(app):
    r = run(app, "intercept", "canon", "http://www.GOOgle.com/", "http://3279880203/blah",
            "http://host/%25%32%35", "www.google.com")
    assert r.exit_code == 0, r.output
    assert r.stdout == ("http://www.google.com/\nhttp://195.127.0.11/blah\n"
                        "http://host/%25\nhttp://www.google.com/\n")


def test_canon_json(app):
    r = run(app, "intercept", "canon", "http://a.b.c/1/2.html?param=1", "--format", "json")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert doc[0]["canonical"] == "http://a.b.c/1/2.html?param=1"
    assert doc[0]["expressions"][:2] == ["a.b.c/1/2.html?param=1", "a.b.c/1/2.html"]
    assert doc[0]["host"]["mixed_script"] is False


def test_canon_bad_url_exits_2(app):
    r = run(app, "intercept", "canon", "ok.com", "http:///nohost")
    assert r.exit_code == 2
    assert "URL 2" in r.output and "no host" in r.output


@pytest.fixture
def lists(tmp_path):
    block = tmp_path / "block.txt"
    block.write_text("# fraud list\nevil.com\nhttp://phish.example.cn/pay/\n+86 139 1234 5678\n"
                     "95588\n", encoding="utf-8")
    allow = tmp_path / "allow.txt"
    allow.write_text("help.evil.com\n95588\n", encoding="utf-8")
    return block, allow


def test_check_json(app, lists):
    block, allow = lists
    r = run(app, "intercept", "check", "http://x.evil.com/a", "13912345678", "95588",
            "http://help.evil.com/", "http://good.cn/", "--list", str(block), "--allow", str(allow),
            "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [d["blocked"] for d in doc] == [True, True, False, False, False]
    assert doc[0]["matched_expression"] == "evil.com/" and doc[0]["entry_id"] == 2
    assert doc[1]["value"] == "+8613912345678" and doc[1]["entry_id"] == 4
    assert [d["reason"] for d in doc[2:]] == ["allowlisted", "allowlisted", "not_listed"]


def test_check_text(app, lists):
    block, _ = lists
    r = run(app, "intercept", "check", "http://phish.example.cn/pay/x", "--list", str(block))
    assert r.exit_code == 0
    assert r.stdout.startswith("BLOCKED\thttp://phish.example.cn/pay/x\tlisted phish.example.cn/pay/")


def test_check_expiry_with_at(app, lists):
    block, _ = lists
    r = run(app, "intercept", "check", "evil.com", "--list", str(block),
            "--at", "2024-05-01T10:00:00+08:00", "--format", "json")
    assert json.loads(r.stdout)[0]["blocked"] is True  # loaded "as of" then, valid 30 days


def test_check_bad_inputs_exit_2(app, lists, tmp_path):
    block, _ = lists
    bad = tmp_path / "bad.txt"
    bad.write_text("evil.com\n\nhttp:///nohost\n", encoding="utf-8")
    r = run(app, "intercept", "check", "evil.com", "--list", str(bad))
    assert r.exit_code == 2 and "bad.txt" in r.output and "line 3" in r.output
    r = run(app, "intercept", "check", "1391234567", "--list", str(block))
    assert r.exit_code == 2 and "argument 1" in r.output
    r = run(app, "intercept", "check", "evil.com", "--list", str(tmp_path / "missing.txt"))
    assert r.exit_code == 2 and "not found" in r.output
    r = run(app, "intercept", "check", "evil.com", "--list", str(block), "--at", "2024-05-01")
    assert r.exit_code == 2 and "offset" in r.output


def test_rpz(app, lists):
    block, allow = lists
    r = run(app, "intercept", "rpz", "--list", str(block), "--allow", str(allow), "--serial", "42")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert "@ IN SOA localhost. hostmaster.localhost. ( 42 3600 600 86400 300 )" in lines
    assert "evil.com CNAME ." in lines and "*.evil.com CNAME ." in lines
    assert "help.evil.com CNAME rpz-passthru." in lines
    r = run(app, "intercept", "rpz", "--list", str(block), "--format", "json", "--serial", "42")
    doc = json.loads(r.stdout)
    assert doc["blocked_hosts"] == 1 and doc["skipped"][0]["reason"].startswith("page entry")
