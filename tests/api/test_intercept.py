"""Interception through the API, on SQLite and PostgreSQL: checks, life cycle, appeals, exports."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from fanzha.intercept import store as istore
from fanzha.intercept.prefixes import PrefixDiff, PrefixList, apply_diff
from fanzha.roles import Role
from fanzha.store.db import transaction
from fanzha.store.models import AuditRecord, InterceptEntry

NOW = datetime.now(timezone.utc)


def add(api, value, role=Role.analyst, expect=(200, 201), **fields):
    r = api.client.post("/intercept/entries", json={"value": value, **fields}, headers=api.as_(role))
    assert r.status_code in expect, r.text
    return r.json()


def check(api, value, role=Role.carrier, **fields):
    r = api.client.post("/intercept/check", json={"value": value, **fields}, headers=api.as_(role))
    assert r.status_code == 200, r.text
    return r.json()


def batch(api, urls=(), phones=(), role=Role.carrier):
    r = api.client.post("/intercept/check/batch", json={"urls": list(urls), "phones": list(phones)},
                        headers=api.as_(role))
    assert r.status_code == 200, r.text
    return r.json()


def audit_actions(api) -> list[str]:
    with api.sessions() as s:
        return list(s.execute(select(AuditRecord.action).order_by(AuditRecord.id)).scalars())


# ------------------------------------------------------------------ checks

def test_single_and_batch_checks(api):
    url = add(api, "evil.com", reason="phishing page", source_kind="detector", source="site-crawler")
    assert url["value"] == "evil.com/" and url["outcome"] == "created" and url["state"] == "active"
    phone = add(api, "+86 139 1234 5678", source_kind="case", source="FZ20240501000001")
    assert phone["value"] == "+8613912345678"

    v = check(api, "HTTPS://M.Evil.COM:8443/pay/../login?id=1#top")
    assert v["blocked"] and v["reason"] == "listed" and v["matched_expression"] == "evil.com/"
    assert v["entry_id"] == url["id"] and v["source"] == "detector:site-crawler"
    assert check(api, "13912345678")["blocked"]
    assert check(api, "0086-139-1234-5678", kind="phone")["blocked"]
    assert check(api, "notevil.com")["reason"] == "not_listed"

    out = batch(api, urls=["evil.com/a", "good.com", 5, None, "http://[]/"],
                phones=["139 1234 5678", "13800138000", "nope", 7])
    assert [u["reason"] for u in out["urls"]] == ["listed", "not_listed", "invalid", "invalid", "invalid"]
    assert "IPv6" in out["urls"][4]["detail"]
    assert [p["reason"] for p in out["phones"]] == ["listed", "not_listed", "invalid", "invalid"]
    assert out["version"] >= 2


def test_hits_are_counted_for_the_figures(api):
    e = add(api, "scam.top")
    batch(api, urls=["scam.top/a", "scam.top/b", "fine.cn"], phones=["nope"])
    check(api, "http://scam.top/")
    r = api.client.get("/intercept/stats", headers=api.as_(Role.commander))
    assert r.status_code == 200, r.text
    figures = r.json()
    assert figures["totals"]["url_listed"] == 3
    assert figures["totals"]["url_not_listed"] == 1
    assert figures["totals"]["phone_invalid"] == 1
    assert figures["top_entries"][0] == {"id": e["id"], "kind": "url", "value": "scam.top/", "hits": 3}
    with api.sessions() as s:
        assert s.get(InterceptEntry, e["id"]).hits == 3


# ------------------------------------------------------------------ life cycle

def test_allowlist_always_wins(api):
    add(api, "bank-fake.com")
    add(api, "bank-fake.com/help/", listing="allow", reason="official help pages")
    add(api, "+86170*", kind="phone_range", source_kind="detector", source="range-model")
    add(api, "17012345678", listing="allow", reason="operator service line")
    add(api, "95588", listing="allow", reason="ICBC service number")
    add(api, "95588", reason="spoofed?")  # a block entry on an allowlisted number

    assert check(api, "http://bank-fake.com/login")["blocked"]
    v = check(api, "http://bank-fake.com/help/faq.html")
    assert not v["blocked"] and v["reason"] == "allowlisted"
    assert check(api, "17000000001")["matched_expression"] == "+86170*"
    assert check(api, "17012345678")["reason"] == "allowlisted"
    assert check(api, "95588")["reason"] == "allowlisted"
    zone = api.client.get("/intercept/rpz", headers=api.as_(Role.carrier)).text
    assert "bank-fake.com CNAME ." in zone


def test_expiry_is_explicit(api):
    past = (NOW - timedelta(days=10)).isoformat()
    gone = (NOW - timedelta(days=1)).isoformat()
    e = add(api, "old-scam.com", seen_at=past, valid_until=gone)
    assert e["state"] == "expired"  # valid-until already passed
    v = check(api, "old-scam.com/x")
    assert not v["blocked"] and v["reason"] == "expired"
    # a sweep writes the state down, with a history step, and the prefix leaves the list
    prefix_before = api.client.get("/intercept/prefixes", headers=api.as_(Role.carrier)).json()
    got = {int(x) for x in np.frombuffer(base64.b64decode(prefix_before["prefixes"]), dtype=">u4")}
    assert istore.expression_prefix("old-scam.com/") not in got
    detail = api.client.get(f"/intercept/entries/{e['id']}", headers=api.as_(Role.analyst)).json()
    assert [h["kind"] for h in detail["history"]] == ["listed", "expired"]
    found = api.client.get("/intercept/entries", params={"state": "expired"}, headers=api.as_(Role.analyst)).json()
    assert [x["id"] for x in found] == [e["id"]]


def test_a_sighting_extends_and_never_shortens(api):
    first = add(api, "repeat.cn", ttl_days=1, score=0.5)
    second = add(api, "http://REPEAT.cn/", ttl_days=10, score=0.9)
    assert second["id"] == first["id"] and second["outcome"] == "extended"
    assert second["sightings"] == 2 and second["score"] == 0.9
    assert datetime.fromisoformat(second["valid_until"]) > datetime.fromisoformat(first["valid_until"]) + timedelta(days=8)
    third = add(api, "repeat.cn", ttl_days=1, score=0.1)
    assert third["valid_until"] == second["valid_until"] and third["score"] == 0.9

    # expired, then seen again: active again
    old = add(api, "comeback.cn", seen_at=(NOW - timedelta(days=5)).isoformat(),
              valid_until=(NOW - timedelta(days=1)).isoformat())
    assert not check(api, "comeback.cn")["blocked"]
    api.client.get("/intercept/prefixes", headers=api.as_(Role.carrier))  # sweeps
    back = add(api, "comeback.cn")
    assert back["outcome"] == "reinstated" and back["state"] == "active" and back["id"] == old["id"]
    assert check(api, "comeback.cn")["blocked"]

    # revoked, then seen again: stays revoked (a person's decision)
    r = api.client.post(f"/intercept/entries/{first['id']}/revoke", json={"reason": "site taken over by owner"},
                        headers=api.as_(Role.analyst))
    assert r.status_code == 200 and r.json()["state"] == "revoked"
    again = add(api, "repeat.cn")
    assert again["outcome"] == "sighted_revoked" and again["state"] == "revoked"
    assert check(api, "repeat.cn")["reason"] == "revoked"
    history = api.client.get(f"/intercept/entries/{first['id']}", headers=api.as_(Role.analyst)).json()["history"]
    assert [h["kind"] for h in history] == ["listed", "sighted", "sighted", "revoked", "sighted_revoked"]
    assert "intercept_entry_revoked" in audit_actions(api)


def test_changes_by_another_process_are_picked_up(api):
    check(api, "elsewhere.com")  # the lists are loaded
    with transaction(api.sessions) as s:  # e.g. `fanzha intercept import` on another machine
        istore.list_entry(s, value="elsewhere.com", source_kind="feed", source="partner", actor="cli")
    lists = api.client.app.state.intercept_lists
    lists.refresh_interval = 0
    lists.fresh_wait = 60  # the check waits for the next build however slow the machine is (0.5 s by default)
    assert check(api, "elsewhere.com")["blocked"]


# ------------------------------------------------------------------ appeals

def test_appeal_flow(api):
    rng = add(api, "+86 170*", source_kind="detector", source="range-model")
    shop = add(api, "shop-example.com", source_kind="feed", source="partner-feed")

    r = api.client.post("/intercept/appeals", json={"value": "13800138000", "appellant": "李四",
                                                   "statement": "我的号码被拦截"},
                        headers=api.as_(Role.station_officer))
    assert r.status_code == 409 and "not blocked" in r.json()["detail"]

    # a carrier forwards its customer's appeal; a station officer files a business's
    r = api.client.post("/intercept/appeals", json={"value": "170 1234 5678", "appellant": "王五",
                                                   "contact": "+8613900000000", "statement": "本人正常使用"},
                        headers=api.as_(Role.carrier))
    assert r.status_code == 201, r.text
    person = r.json()
    assert person["entry_id"] == rng["id"] and person["blocked_by"] == "+86170*" and person["state"] == "pending"
    r = api.client.post("/intercept/appeals", json={"value": "https://shop-example.com/", "appellant": "某某商店",
                                                   "statement": "正规网店"},
                        headers=api.as_(Role.station_officer))
    assert r.status_code == 201, r.text
    business = r.json()

    pending = api.client.get("/intercept/appeals", headers=api.as_(Role.analyst)).json()
    assert {a["id"] for a in pending} == {person["id"], business["id"]}
    # only analysts decide
    r = api.client.post(f"/intercept/appeals/{person['id']}/decision", json={"upheld": True, "note": "x"},
                        headers=api.as_(Role.station_officer))
    assert r.status_code == 403

    r = api.client.post(f"/intercept/appeals/{person['id']}/decision",
                        json={"upheld": True, "note": "实名核验为本人"}, headers=api.as_(Role.analyst))
    assert r.status_code == 200 and r.json()["state"] == "upheld"
    # the range stays; the person's number is carved out
    assert check(api, "17012345678")["reason"] == "allowlisted"
    assert check(api, "17012345679")["blocked"]

    r = api.client.post(f"/intercept/appeals/{business['id']}/decision",
                        json={"upheld": False, "note": "仍在售假"}, headers=api.as_(Role.analyst))
    assert r.status_code == 200 and r.json()["state"] == "rejected"
    assert check(api, "shop-example.com")["blocked"]
    r = api.client.post(f"/intercept/appeals/{business['id']}/decision",
                        json={"upheld": True, "note": "再议"}, headers=api.as_(Role.analyst))
    assert r.status_code == 422 and "already decided" in r.json()["detail"]
    assert api.client.post("/intercept/appeals/999999/decision", json={"upheld": True, "note": "x"},
                           headers=api.as_(Role.analyst)).status_code == 404

    # an appeal against an exact entry revokes it
    exact = add(api, "13911112222")
    r = api.client.post("/intercept/appeals", json={"value": "13911112222", "appellant": "赵六", "statement": "误拦"},
                        headers=api.as_(Role.dissuasion))
    assert r.status_code == 201
    api.client.post(f"/intercept/appeals/{r.json()['id']}/decision", json={"upheld": True, "note": "核实"},
                    headers=api.as_(Role.analyst))
    detail = api.client.get(f"/intercept/entries/{exact['id']}", headers=api.as_(Role.analyst)).json()
    assert detail["state"] == "revoked"
    assert [h["kind"] for h in detail["history"]] == ["listed", "appealed", "revoked"]
    assert detail["appeals"][0]["state"] == "upheld"
    shop_history = api.client.get(f"/intercept/entries/{shop['id']}", headers=api.as_(Role.analyst)).json()
    assert [h["kind"] for h in shop_history["history"]] == ["listed", "appealed", "appeal_rejected"]

    actions = audit_actions(api)
    for action in ("intercept_appeal_filed", "intercept_appeal_upheld", "intercept_appeal_rejected",
                   "intercept_entry_created"):
        assert action in actions
    r = api.client.get("/audit/verify", headers=api.as_(Role.commander))
    assert r.json()["ok"]


# ------------------------------------------------------------------ roles

@pytest.mark.parametrize("role, method, path, body, allowed", [
    (Role.carrier, "POST", "/intercept/check", {"value": "a.com"}, True),
    (Role.dissuasion, "POST", "/intercept/check", {"value": "a.com"}, True),
    (Role.commander, "POST", "/intercept/check", {"value": "a.com"}, False),
    (Role.platform, "POST", "/intercept/check/batch", {"urls": ["a.com"]}, False),
    (Role.carrier, "POST", "/intercept/entries", {"value": "a.com"}, False),
    (Role.station_officer, "POST", "/intercept/entries", {"value": "a.com"}, False),
    (Role.carrier, "GET", "/intercept/entries", None, False),
    (Role.liaison, "GET", "/intercept/rpz", None, False),
    (Role.carrier, "GET", "/intercept/rpz", None, True),
    (Role.carrier, "GET", "/intercept/prefixes", None, True),
    (Role.institution, "GET", "/intercept/prefixes", None, False),
    (Role.dissuasion, "GET", "/intercept/appeals", None, False),
    (Role.carrier, "GET", "/intercept/stats", None, False),
    (Role.commander, "GET", "/intercept/stats", None, True),
])
def test_who_may_do_what(api, role, method, path, body, allowed):
    r = api.client.request(method, path, json=body, headers=api.as_(role))
    if allowed:
        assert r.status_code == 200, r.text
    else:
        assert r.status_code == 403, r.text
    assert api.client.request(method, path, json=body).status_code == 401


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("body, field", [
    ({"value": "http://[]/"}, "url"),
    ({"value": "http://" + "a" * 8200 + ".com/"}, "more than the 8192"),
    ({"value": "x" * 8200}, "more than the 8192"),
    ({"value": "http://evil.com/" + "a b" * 2100}, "canonical URL is"),  # too long once escaped
    ({"value": "x" * 20000}, "value"),
    ({"value": "12345abc", "kind": "phone"}, "phone"),
    ({"value": "+00 123"}, "phone"),
    ({"value": "1391234567"}, "phone"),
    ({"value": "+86170*"}, "value"),
    ({"value": ""}, "value"),
    ({"value": "evil.com", "kind": "fax"}, "kind"),
    ({"value": "evil.com", "extra": 1}, "extra"),
])
def test_bad_check_input_is_a_clear_422(api, body, field):
    r = api.client.post("/intercept/check", json=body, headers=api.as_(Role.carrier))
    assert r.status_code == 422, r.text
    assert field in r.text


@pytest.mark.parametrize("body, field", [
    ({"value": "+86*"}, "phone"),
    ({"value": "+86 1*", "kind": "phone_range"}, "too broad"),
    ({"value": "13900000000..13800000000"}, "starts after"),
    ({"value": "evil.com", "score": 2}, "score"),
    ({"value": "evil.com", "valid_until": "2030-01-01T00:00:00"}, "valid_until"),
    ({"value": "evil.com", "source_kind": "rumour"}, "source_kind"),
    ({"value": "evil.com", "listing": "grey"}, "listing"),
    ({"value": "evil.com", "ttl_days": 0}, "ttl_days"),
    ({"value": "evil.com", "reason": "r" * 5000}, "reason"),
    ({"value": "http://user@:80/"}, "no host"),
])
def test_bad_entries_are_refused_and_nothing_is_listed(api, body, field):
    r = api.client.post("/intercept/entries", json=body, headers=api.as_(Role.analyst))
    assert r.status_code == 422, r.text
    assert field in r.text
    assert api.client.get("/intercept/entries", headers=api.as_(Role.analyst)).json() == []


def test_bad_batches(api):
    h = {**api.as_(Role.carrier), "Content-Type": "application/json"}
    for raw, code in [(b"{not json", 422), (b"[1, 2]", 422), (b'{"urls": "evil.com"}', 422),
                      (b'{"urls": [], "mails": []}', 422), (b"\xff\xfe", 422)]:
        r = api.client.post("/intercept/check/batch", content=raw, headers=h)
        assert r.status_code == code, (raw, r.text)
    r = api.client.post("/intercept/check/batch", json={"urls": ["a.com"] * 10001}, headers=api.as_(Role.carrier))
    assert r.status_code == 413


def test_idn_and_homoglyph_tricks(api):
    add(api, "xn--80ak6aa92e.com")  # аррӏе.com, in Cyrillic
    e = add(api, "http://раypal.com/")  # Cyrillic р and а with Latin ypal
    assert e["warning"] and "mixes scripts" in e["warning"]
    v = check(api, "http://аррӏе.com/login")
    assert v["blocked"] and v["value"] == "http://xn--80ak6aa92e.com/login"
    assert v["warning"]["lookalike"] and v["warning"]["skeleton"] == "apple.com"
    assert not check(api, "apple.com")["blocked"]  # the real one is not caught by its look-alike
    add(api, "evil.com")
    assert check(api, "http://ｅｖｉｌ.com/")["blocked"]  # full-width letters map to ASCII
    assert check(api, "http://evil。com/")["blocked"]  # ideographic full stop
    assert check(api, "http://evil.com%2Fpay")["blocked"]  # escaped slash
    assert check(api, "http://0x7f.1/")["value"] == "http://127.0.0.1/"


# ------------------------------------------------------------------ exports

def test_rpz_export(api):
    add(api, "phish.top")
    add(api, "partial.cn/pay/login.html")
    add(api, "gov-site.gov.cn", listing="allow", reason="government domain")
    add(api, "sub.gov-site.gov.cn")
    revoked = add(api, "was-bad.com")
    api.client.post(f"/intercept/entries/{revoked['id']}/revoke", json={"reason": "cleaned"},
                    headers=api.as_(Role.analyst))
    r = api.client.get("/intercept/rpz", headers=api.as_(Role.carrier))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    zone = r.text
    assert "phish.top CNAME .\n*.phish.top CNAME ." in zone
    assert "gov-site.gov.cn CNAME rpz-passthru." in zone
    assert "sub.gov-site.gov.cn CNAME ." not in zone and "was-bad.com" not in zone and "partial.cn" not in zone
    doc = api.client.get("/intercept/rpz", params={"format": "json"}, headers=api.as_(Role.carrier)).json()
    assert doc["serial"] == int(r.headers["X-Fanzha-List-Version"])
    assert {s["reason"] for s in doc["skipped"]} >= {"page entry: DNS can only block whole hosts"}


def _apply(client_list: PrefixList | None, doc: dict) -> PrefixList:
    if doc["type"] == "full":
        return PrefixList.from_json(doc)
    return apply_diff(client_list, PrefixDiff.from_json(doc))


def test_prefix_list_full_diff_and_confirm(api):
    c = api.as_(Role.carrier)
    full = api.client.get("/intercept/prefixes", headers=c).json()
    local = _apply(None, full)
    assert full["type"] == "full" and len(local.prefixes) == 0
    add(api, "one.com")
    add(api, "two.com/path/")
    d = api.client.get("/intercept/prefixes", params={"since": local.version}, headers=c).json()
    assert d["type"] == "diff"
    local = _apply(local, d)
    expr_hash = hashlib.sha256(b"one.com/").digest()
    prefix = int.from_bytes(expr_hash[:4], "big")
    assert prefix in local
    r = api.client.post("/intercept/prefixes/hashes", json={"prefixes": [prefix]}, headers=c)
    assert base64.b64decode(r.json()["hashes"][str(prefix)][0]) == expr_hash
    assert api.client.post("/intercept/prefixes/hashes", json={"prefixes": [1 << 40]},
                           headers=c).status_code == 422
    # an unknown (future) version gets the full list
    assert api.client.get("/intercept/prefixes", params={"since": 10**9}, headers=c).json()["type"] == "full"
    same = api.client.get("/intercept/prefixes", params={"since": local.version}, headers=c).json()
    assert same["type"] == "diff" and same["removals"] == [] and same["additions"] == ""


_op = st.one_of(
    st.tuples(st.just("add"), st.integers(0, 30)),
    st.tuples(st.just("revoke"), st.integers(0, 30)),
    st.tuples(st.just("expire"), st.integers(0, 30)),
    st.tuples(st.just("phone"), st.integers(0, 30)),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(ops=st.lists(_op, min_size=1, max_size=8), start_fresh=st.booleans())
def test_diffs_in_sequence_equal_the_full_list(api, ops, start_fresh):
    """Whatever happens to the lists, a client following diffs holds exactly the full list."""
    c = api.as_(Role.carrier)
    local = _apply(None, api.client.get("/intercept/prefixes", headers=c).json())
    versions = [local]
    for op, n in ops:
        host = f"site{n}.example.cn"
        if op == "add":
            add(api, host)
        elif op == "phone":
            add(api, f"1391234{n:04d}")
        elif op == "expire":
            add(api, host + "/old/", seen_at=(NOW - timedelta(days=3)).isoformat(),
                valid_until=(NOW - timedelta(days=1)).isoformat())
        else:
            with api.sessions() as s:
                e = s.execute(select(InterceptEntry.id).where(InterceptEntry.value == host + "/",
                                                              InterceptEntry.state == "active")).scalar()
            if e is not None:
                api.client.post(f"/intercept/entries/{e}/revoke", json={"reason": "test"},
                                headers=api.as_(Role.analyst))
        since = versions[0].version if start_fresh else local.version
        base = versions[0] if start_fresh else local
        local = _apply(base, api.client.get("/intercept/prefixes", params={"since": since}, headers=c).json())
        full = PrefixList.from_json(api.client.get("/intercept/prefixes", headers=c).json())
        assert local.version == full.version
        assert np.array_equal(local.prefixes, full.prefixes)
        with api.sessions() as s:  # and the full list is what the entries say
            expected = sorted(set(s.execute(select(InterceptEntry.prefix).where(
                InterceptEntry.listing == "block", InterceptEntry.kind == "url",
                InterceptEntry.state == "active")).scalars()))
        assert full.prefixes.tolist() == expected


def test_search_and_history(api):
    a = add(api, "find-me.com", source_kind="case", source="FZ20240501000009", reason="report R1")
    add(api, "13922223333", source_kind="detector", source="call-model")
    h = api.as_(Role.analyst)
    assert [e["id"] for e in api.client.get("/intercept/entries", params={"value": "HTTP://FIND-ME.com"},
                                            headers=h).json()] == [a["id"]]
    assert len(api.client.get("/intercept/entries", params={"contains": "find"}, headers=h).json()) == 1
    assert len(api.client.get("/intercept/entries", params={"source_kind": "detector"}, headers=h).json()) == 1
    assert len(api.client.get("/intercept/entries", params={"kind": "phone", "state": "active"},
                              headers=h).json()) == 1
    r = api.client.get("/intercept/entries", params={"value": "not a url at all\x00"}, headers=h)
    assert r.status_code in (200, 422)
    assert api.client.get("/intercept/entries/999999", headers=h).status_code == 404
    with api.sessions() as s:
        rec = s.execute(select(AuditRecord).where(AuditRecord.action == "intercept_entry_created")
                        .order_by(AuditRecord.id)).scalars().first()
        assert rec.case_no == "FZ20240501000009"
