"""The RPZ zone file: well-formed, whole hosts only, allowlist wins."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from fanzha.intercept.rpz import render_rpz

AT = datetime(2024, 5, 1, 2, 0, tzinfo=timezone.utc)
OWNER = re.compile(r"(\*\.)?[a-z0-9_](?:[a-z0-9_\-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_\-]{0,61}[a-z0-9_])?)*")


def records(text):
    return [ln for ln in text.splitlines() if ln and not ln.startswith((";", "$", "@"))]


def test_zone_is_well_formed():
    z = render_rpz(["evil.com", "http://WWW.Phish.CN/", "http://例子.测试/"], serial=2024050101,
                   generated_at=AT)
    lines = z.text.splitlines()
    assert "$TTL 300" in lines
    soa = [ln for ln in lines if " SOA " in ln]
    assert soa == ["@ IN SOA localhost. hostmaster.localhost. ( 2024050101 3600 600 86400 300 )"]
    assert "@ IN NS localhost." in lines
    assert lines.index(soa[0]) < lines.index("@ IN NS localhost.") < lines.index("evil.com CNAME .")
    for rec in records(z.text):
        owner, rtype, target = rec.split(" ")
        assert rtype == "CNAME" and target in (".", "rpz-passthru.")
        assert OWNER.fullmatch(owner), owner
        assert len(owner) <= 253
    assert set(records(z.text)) == {
        "evil.com CNAME .", "*.evil.com CNAME .", "www.phish.cn CNAME .", "*.www.phish.cn CNAME .",
        "xn--fsqu00a.xn--0zwm56d CNAME .", "*.xn--fsqu00a.xn--0zwm56d CNAME .",
    }
    assert z.text.endswith("\n") and z.blocked_hosts == 3


def test_what_dns_cannot_express_is_skipped_and_counted():
    z = render_rpz(["http://evil.com/pay/login", "http://1.2.3.4/", "http://[::2]/",
                    "http://bad%20host.com/", "ok.com"], serial=1, generated_at=AT)
    assert records(z.text) == ["ok.com CNAME .", "*.ok.com CNAME ."]
    reasons = [r for _, r in z.skipped]
    assert len(reasons) == 4
    assert any("page entry" in r for r in reasons) and any("IP host" in r for r in reasons)


def test_allowlist_wins_in_dns_too():
    z = render_rpz(["evil.com", "pay.bank.com", "shop.com"],
                   ["bank.com", "http://shop.com/help/"], serial=1, generated_at=AT)
    recs = records(z.text)
    assert "pay.bank.com CNAME ." not in recs and "*.pay.bank.com CNAME ." not in recs
    assert "bank.com CNAME rpz-passthru." in recs and "*.bank.com CNAME rpz-passthru." in recs
    # an allowlisted page keeps its host resolvable; subdomains stay blocked
    assert "shop.com CNAME ." not in recs and "shop.com CNAME rpz-passthru." in recs
    assert "*.shop.com CNAME ." in recs
    assert "evil.com CNAME ." in recs


def test_serial_defaults_to_time_and_is_checked():
    assert render_rpz(["a.com"], generated_at=AT).serial == int(AT.timestamp())
    with pytest.raises(ValueError):
        render_rpz(["a.com"], serial=2**32)
    assert "$ORIGIN rpz.example." in render_rpz(["a.com"], serial=1, origin="rpz.example").text
