"""``fanzha intercept import``: plain lists, CSV and STIX 2.1 feeds into the store, on both databases."""

from __future__ import annotations

import json

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from fanzha.intercept.cli import register
from fanzha.intercept.feeds import read_stix
from fanzha.store.models import AuditRecord, InterceptEntry

runner = CliRunner()


@pytest.fixture(scope="module")
def app():
    local = typer.Typer()
    register(local)

    @local.callback()
    def _root() -> None:
        pass
    return local


def run(app, *args):
    return runner.invoke(app, ["intercept", "import", *args])


def entries(sessions) -> dict[str, InterceptEntry]:
    with sessions() as s:
        return {e.value: e for e in s.execute(select(InterceptEntry)).scalars()}


def test_plain_list(app, migrated_url, sessions, tmp_path):
    f = tmp_path / "detector.txt"
    f.write_text("# from the crawler\nevil.com\nhttp://pay.scam.top/login\n139 1234 5678\n+86170*\n\n95588\n",
                 encoding="utf-8")
    r = run(app, str(f), "--database-url", migrated_url, "--source-kind", "detector", "--format", "json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["created"] == 5 and out["source"] == "detector.txt"
    got = entries(sessions)
    assert set(got) == {"evil.com/", "pay.scam.top/login", "+8613912345678", "+86170*",
                        "95588;phone-context=+86"}
    assert got["+86170*"].kind == "phone_range" and got["evil.com/"].source_kind == "detector"
    # importing again is a sighting of each, not a duplicate
    r = run(app, str(f), "--database-url", migrated_url, "--format", "json")
    assert json.loads(r.stdout)["extended"] == 5
    assert all(e.sightings == 2 for e in entries(sessions).values())
    with sessions() as s:
        assert s.execute(select(AuditRecord.action)).scalars().all() == ["intercept_feed_imported"] * 2


def test_csv_feed_and_its_errors(app, migrated_url, sessions, tmp_path):
    f = tmp_path / "partner.csv"
    f.write_text("value,kind,listing,reason,score,valid_until\n"
                 "fake-bank.cn,,block,仿冒银行,0.8,2099-06-01T00:00:00+08:00\n"
                 "95566,phone,allow,中国银行客服,,\n", encoding="utf-8")
    r = run(app, str(f), "--database-url", migrated_url)
    assert r.exit_code == 0, r.output
    got = entries(sessions)
    assert got["fake-bank.cn/"].score == pytest.approx(0.8) and got["fake-bank.cn/"].valid_until.year == 2099
    assert got["95566;phone-context=+86"].listing == "allow"

    bad = tmp_path / "bad.csv"
    bad.write_text("value,score\nok.cn,0.5\nhttp://[]/,1\n", encoding="utf-8")
    r = run(app, str(bad), "--database-url", migrated_url)
    assert r.exit_code == 2
    assert "bad.csv" in r.output and "line 3" in r.output and "IPv6" in r.output
    assert "ok.cn/" not in entries(sessions)  # all or nothing
    bad.write_text("value,score\nok.cn,high\n", encoding="utf-8")
    r = run(app, str(bad), "--database-url", migrated_url)
    assert r.exit_code == 2 and "line 2" in r.output and "score" in r.output
    bad.write_text("url\nok.cn\n", encoding="utf-8")
    assert run(app, str(bad), "--database-url", migrated_url).exit_code == 2


STIX = {
    "type": "bundle", "id": "bundle--1",
    "objects": [
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--a", "name": "Phishing site of a fake bank",
         "pattern": "[url:value = 'http://fake-icbc.top/login'] OR [domain-name:value = 'fake-icbc.vip']",
         "pattern_type": "stix", "valid_from": "2024-05-01T00:00:00Z", "valid_until": "2099-05-01T00:00:00Z",
         "confidence": 85},
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--b", "name": "Fraud call centre number",
         "pattern": "[x-phone-number:value = '+85265432109']", "pattern_type": "stix",
         "valid_from": "2024-05-01T00:00:00Z"},
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--c", "revoked": True,
         "pattern": "[domain-name:value = 'old.example']", "pattern_type": "stix", "valid_from": "2024-05-01T00:00:00Z"},
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--d",
         "pattern": "[ipv4-addr:value = '103.215.44.12'] AND [url:value = 'x']", "pattern_type": "stix",
         "valid_from": "2024-05-01T00:00:00Z"},
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--e",
         "pattern": "[file:hashes.MD5 = 'abc']", "pattern_type": "stix", "valid_from": "2024-05-01T00:00:00Z"},
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--f", "pattern": "alert tcp any any",
         "pattern_type": "snort", "valid_from": "2024-05-01T00:00:00Z"},
        {"type": "malware", "id": "malware--1", "name": "fake app", "is_family": False},
    ],
}


def test_stix_bundle(app, migrated_url, sessions, tmp_path):
    f = tmp_path / "feed.json"
    f.write_text(json.dumps(STIX), encoding="utf-8")
    r = run(app, str(f), "--database-url", migrated_url, "--format", "json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["created"] == 3
    assert {s["where"] for s in out["skipped"]} == {"indicator--c", "indicator--d", "indicator--e",
                                                     "indicator--f", "malware--1"}
    got = entries(sessions)
    assert got["fake-icbc.top/login"].score == pytest.approx(0.85)
    assert got["fake-icbc.top/login"].reason == "Phishing site of a fake bank"
    assert got["fake-icbc.vip/"].valid_until.year == 2099
    assert got["+85265432109"].kind == "phone"


def test_stix_errors_name_the_indicator(tmp_path):
    f = tmp_path / "bad.json"
    f.write_text(json.dumps([{"type": "indicator", "id": "indicator--x", "pattern": "[url:value = 'a.com']",
                              "confidence": 300}]), encoding="utf-8")
    with pytest.raises(Exception, match="indicator--x.confidence"):
        read_stix(f)
    f.write_text("{", encoding="utf-8")
    with pytest.raises(Exception, match="not a STIX JSON"):
        read_stix(f)


def test_missing_file_and_unknown_format(app, migrated_url, tmp_path):
    r = run(app, str(tmp_path / "none.txt"), "--database-url", migrated_url)
    assert r.exit_code == 2 and "not found" in r.output
    f = tmp_path / "x.txt"
    f.write_text("evil.com\n", encoding="utf-8")
    r = run(app, str(f), "--as", "xml", "--database-url", migrated_url)
    assert r.exit_code == 2 and "xml" in r.output
