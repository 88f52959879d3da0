"""Case linking through the API, on SQLite and PostgreSQL: groups from the store's identifiers,
decisions as views, the gang page, 身份还原, exports and STIX imports, audit and roles."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import networkx as nx
import stix2
from sqlalchemy import func, select

from fanzha.roles import Role
from fanzha.store.models import AuditRecord, Case, Institution, Order, Report, SharedIndicator
from fanzha.store.types import utcnow

CARD = "6222025260181590832"
CARD2 = "6217001234567890123"
URL = "http://pay.example.cn/order?id=77"
DEALER = "6228480000000000001"


def _file(api, n: int, identifiers: list[tuple[str, str]], loss: str = "10000.00", district: str = "思明区") -> str:
    body = {"received_at": f"2024-05-0{n}T10:00:00+08:00", "district": district, "scam_type": "customer_service",
            "loss": loss, "text": f"第{n}位受害人接到自称客服的电话，按要求转账。",
            "identifiers": [{"kind": k, "value": v} for k, v in identifiers],
            "victim": {"name": f"受害人{n}", "phone": f"+861380000000{n}"}}
    r = api.client.post("/cases", json=body, headers=api.as_(Role.analyst))
    assert r.status_code == 201, r.text
    return r.json()["case_no"]


def _world(api) -> list[str]:
    """A–B share a card, B–C a URL; C and D share only 95588 (a bank hotline: never links)."""
    a = _file(api, 1, [("bank_card", CARD), ("phone", "+85265432109")], "10000.00")
    b = _file(api, 2, [("bank_card", CARD), ("url", URL)], "20000.00", "湖里区")
    c = _file(api, 3, [("url", URL), ("phone", "95588;phone-context=+86"), ("bank_card", CARD2)], "30000.00")
    d = _file(api, 4, [("phone", "95588;phone-context=+86")], "40000.00")
    return [a, b, c, d]


def _audit(api, **where):
    with api.sessions() as s:
        q = select(AuditRecord).order_by(AuditRecord.id)
        for k, v in where.items():
            q = q.where(getattr(AuditRecord, k) == v)
        return s.execute(q).scalars().all()


def _group(api, case_no, role=Role.analyst):
    r = api.client.get(f"/linking/cases/{case_no}", headers=api.as_(role))
    assert r.status_code == 200, r.text
    return r.json()


def test_case_links_to_group_through_identifiers(api):
    a, b, c, d = _world(api)
    g = _group(api, a)
    assert g["group_id"] == f"G-{a}" and g["cases"] == 3 and g["reports"] == 3
    assert [m["case_no"] for m in g["members"]] == [a, b, c]
    assert g["loss"] == "60000.00"
    assert {(s["kind"], s["value"]) for s in g["through"]} == {("bank_card", CARD), ("url", URL)}
    assert next(s for s in g["through"] if s["kind"] == "url")["cases"] == [b, c]
    assert [(h["value"], h["reason"]) for h in g["held_back"]] == [("95588;phone-context=+86", "listed")]
    # every case shown is audited under its own number
    for no in (a, b, c):
        assert any(r.action == "linking_group_read" for r in _audit(api, case_no=no))
    assert not any(r.action == "linking_group_read" for r in _audit(api, case_no=d))
    assert _group(api, d)["cases"] == 1
    # the same through a stored report
    with api.sessions() as s:
        rid = s.execute(select(Report.id).join(Case).where(Case.case_no == c)).scalar_one()
    r = api.client.get(f"/linking/reports/{rid}", headers=api.as_(Role.commander))
    assert r.status_code == 200 and r.json()["group_id"] == f"G-{a}" and r.json()["case_no"] == c
    assert api.client.get("/linking/reports/999999", headers=api.as_(Role.analyst)).status_code == 404
    assert api.client.get("/linking/cases/NOPE", headers=api.as_(Role.analyst)).status_code == 404


def test_new_report_is_checked_without_filing(api):
    a, b, c, _ = _world(api)
    with api.sessions() as s:
        before = s.execute(select(func.count()).select_from(Report)).scalar()
    r = api.client.post("/linking/check", json={"identifiers": [{"kind": "url", "value": URL},
                                                                {"kind": "phone", "value": "95588"}]},
                        headers=api.as_(Role.analyst))
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["links"] and got["group_id"] == f"G-{a}" and got["cases"] == 3
    assert {s["value"] for s in got["through"]} == {CARD, URL}
    r = api.client.post("/linking/check", json={"identifiers": [{"kind": "qq", "value": "2890145567"}]},
                        headers=api.as_(Role.analyst))
    assert r.json()["links"] is False and r.json()["group_id"] is None
    with api.sessions() as s:
        assert s.execute(select(func.count()).select_from(Report)).scalar() == before
    r = api.client.post("/linking/check", json={"identifiers": [{"kind": "ip", "value": "999.1.1.1"}]},
                        headers=api.as_(Role.analyst))
    assert r.status_code == 422 and r.json()["field"] == "identifiers[0].value"
    r = api.client.post("/linking/check", json={"identifiers": [{"kind": "fax", "value": "1"}]},
                        headers=api.as_(Role.analyst))
    assert r.status_code == 422


def _case_row(api, case_no):
    with api.sessions() as s:
        c = s.execute(select(Case).where(Case.case_no == case_no)).scalar_one()
        return (c.case_no, c.status, c.loss_fen, c.scam_type, c.unit_id, c.summary,
                sorted((i.kind, i.value) for r in c.reports for i in r.identifiers))


def test_decisions_are_views_not_merges(api):
    a, b, c, d = _world(api)
    rows = {no: _case_row(api, no) for no in (a, b, c, d)}
    r = api.client.post("/linking/decisions", json={"a": a, "b": b, "verdict": "rejected", "note": "不同团伙"},
                        headers=api.as_(Role.analyst))
    assert r.status_code == 201, r.text
    assert [m["case_no"] for m in _group(api, a)["members"]] == [a]
    assert [m["case_no"] for m in _group(api, b)["members"]] == [b, c]
    # confirm a link with nothing in common: D joins C's group
    r = api.client.post("/linking/decisions", json={"a": d, "b": c, "verdict": "confirmed"},
                        headers=api.as_(Role.analyst))
    assert r.status_code == 201
    g = _group(api, c)
    assert [m["case_no"] for m in g["members"]] == [b, c, d] and [c, d] in g["confirmed"] + [[d, c]]
    # a later confirmation withdraws the rejection
    api.client.post("/linking/decisions", json={"a": b, "b": a, "verdict": "confirmed"}, headers=api.as_(Role.analyst))
    assert [m["case_no"] for m in _group(api, a)["members"]] == [a, b, c, d]
    hist = api.client.get(f"/linking/cases/{a}/decisions", headers=api.as_(Role.commander)).json()
    assert [(h["verdict"], h["in_force"]) for h in hist] == [("rejected", False), ("confirmed", True)]
    assert hist[0]["by"] == "analyst" and hist[0]["note"] == "不同团伙"
    # no case was rewritten
    assert {no: _case_row(api, no) for no in (a, b, c, d)} == rows
    assert [r.action for r in _audit(api, case_no=b) if r.action.startswith("link_")] == \
        ["link_rejected", "link_confirmed"]
    # bad decisions
    for body, code in (({"a": a, "b": a, "verdict": "confirmed"}, 422), ({"a": a, "b": b, "verdict": "maybe"}, 422),
                       ({"a": a, "b": "NOPE", "verdict": "confirmed"}, 404)):
        assert api.client.post("/linking/decisions", json=body, headers=api.as_(Role.analyst)).status_code == code


def _order(s, case_no, kind, target, answer, *, inst="ICBC", amount=None, expires=None, key=""):
    case = s.execute(select(Case).where(Case.case_no == case_no)).scalar_one()
    institution = s.execute(select(Institution).where(Institution.code == inst)).scalar_one()
    s.add(Order(case=case, kind=kind, institution=institution, target=target, amount_fen=amount,
                legal_basis="《反电信网络诈骗法》", idempotency_key=f"t-{kind}-{target}-{case_no}-{key}"[:64],
                state="done", created_by="analyst", answer=answer, expires_at=expires))


def test_gang_page_and_identities(api):
    a, b, c, _ = _world(api)
    now = utcnow()
    with api.sessions() as s:
        # holder answers: the gateway's shape, and one a liaison typed in; one person behind both cards
        _order(s, a, "account_holder", CARD, {"status": "done", "result": {
            "account": CARD, "holder": "张某某", "institution": "ICBC", "balance": "0.00",
            "id_number": "350203198807151234", "phone": "13912345678"}})
        _order(s, c, "account_holder", CARD2, {"holder": "张某某", "id_number": "350203198807151234"})
        # holds: a freeze following a stop-payment holds the same money; an expired one holds nothing
        _order(s, a, "stop_payment", CARD, {"status": "done", "result": {"held": "5000.00"}}, amount=900_000,
               expires=now + timedelta(hours=48))
        _order(s, a, "freeze", CARD, {"status": "done", "result": {"held": "5000.00"}}, amount=900_000)
        _order(s, b, "stop_payment", CARD, None, amount=120_000, key="b")
        _order(s, c, "stop_payment", CARD2, {"status": "done", "result": {"held": "700.00"}},
               expires=now - timedelta(hours=1))
        s.commit()
    r = api.client.get(f"/linking/cases/{b}/gang", headers=api.as_(Role.commander))
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["group_id"] == f"G-{a}" and page["loss"] == "60000.00"
    assert page["victim_count"] == 3 and {v["name"] for v in page["victims"]} == {"受害人1", "受害人2", "受害人3"}
    assert page["money_held"]["total"] == "6200.00"
    assert sorted((x["case_no"], x["held"]) for x in page["money_held"]["accounts"]) == [(a, "5000.00"), (b, "1200.00")]
    assert [x["case_no"] for x in page["members"]] == [a, b, c] and page["gangs"]
    assert page["key_members"][0]["reports"] == 2
    ident = {(i["kind"], i["value"]): i for i in page["identifiers"]}
    assert ident[("bank_card", CARD)]["cases"] == 2
    assert ident[("phone", "95588;phone-context=+86")]["held_back"] == "listed"
    people = page["people"]
    assert len(people) == 1 and people[0]["accounts"] == sorted([CARD, CARD2])
    assert people[0]["cash_out_suspect"] and people[0]["phones"] == ["+8613912345678"]
    r = api.client.get(f"/linking/cases/{a}/identities", headers=api.as_(Role.analyst))
    assert r.status_code == 200 and r.json()["people"] == people
    assert {x["case_no"] for x in r.json()["answers"]} == {a, c}
    for no in (a, b, c):
        actions = {x.action for x in _audit(api, case_no=no)}
        assert {"gang_page_read", "identities_read"} <= actions


def test_exports_and_stix_round_trip(api):
    a, b, c, _ = _world(api)
    h = api.as_(Role.analyst)
    r = api.client.get(f"/linking/cases/{a}/export?format=graphml", headers=h)
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    g = nx.read_graphml(io.BytesIO(r.content))
    assert {f"report:{a}", f"report:{b}", f"report:{c}", f"bank_card:{CARD}"} <= set(g.nodes)
    g = nx.read_gexf(io.BytesIO(api.client.get(f"/linking/cases/{a}/export?format=gexf", headers=h).content))
    assert g.number_of_nodes() == 3 + 5
    with zipfile.ZipFile(io.BytesIO(api.client.get(f"/linking/cases/{a}/export?format=csv", headers=h).content)) as z:
        assert sorted(z.namelist()) == [f"G-{a}-edges.csv", f"G-{a}-nodes.csv"]
    r = api.client.get(f"/linking/cases/{a}/export?format=stix", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/stix+json")
    bundle = r.content
    stix2.parse(bundle, allow_custom=True)
    assert api.client.get(f"/linking/cases/{a}/export?format=pdf", headers=h).status_code == 422
    assert any(x.action == "linking_exported" for x in _audit(api, case_no=c))

    r = api.client.post("/linking/stix?source=厦门反诈中心", content=bundle, headers=h)
    assert r.status_code == 201, r.text
    exported = {(i["kind"], i["value"]) for i in r.json()["identifiers"]}
    assert exported == {("bank_card", CARD), ("bank_card", CARD2), ("url", URL), ("phone", "+85265432109")}
    assert r.json()["added"] == 4
    again = api.client.post("/linking/stix?source=厦门反诈中心", content=bundle, headers=h).json()
    assert again["added"] == 0 and again["refreshed"] == 4
    with api.sessions() as s:
        rows = s.execute(select(SharedIndicator)).scalars().all()
        assert {(x.kind, x.value) for x in rows} == exported and {x.source for x in rows} == {"厦门反诈中心"}
    hits = _group(api, a)["shared_elsewhere"]
    assert {(x["kind"], x["value"]) for x in hits} == {("bank_card", CARD), ("url", URL)}
    assert any(x.action == "stix_imported" for x in _audit(api))


def test_broken_bundle_is_refused_whole(api):
    h = api.as_(Role.analyst)
    bad = {"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": [
        {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd",
         "value": "198.51.100.3"},
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
         "created": "2024-05-01T00:00:00Z", "modified": "2024-05-01T00:00:00Z",
         "valid_from": "2024-05-01T00:00:00Z", "pattern_type": "stix", "pattern": "[url:value = 'http://']"}]}
    r = api.client.post("/linking/stix", content=json.dumps(bad), headers=h)
    assert r.status_code == 422 and r.json()["field"] == "objects[1].pattern"
    assert api.client.post("/linking/stix", content=b"not json", headers=h).status_code == 422
    with api.sessions() as s:
        assert s.execute(select(func.count()).select_from(SharedIndicator)).scalar() == 0


def test_roles(api):
    a, *_ = _world(api)
    for role in (Role.station_officer, Role.liaison, Role.dissuasion, Role.admin, Role.platform, Role.carrier):
        assert api.client.get(f"/linking/cases/{a}", headers=api.as_(role)).status_code == 403
    assert api.client.get(f"/linking/cases/{a}/gang", headers=api.as_(Role.commander)).status_code == 200
    body = {"a": a, "b": a, "verdict": "confirmed"}
    assert api.client.post("/linking/decisions", json=body, headers=api.as_(Role.commander)).status_code == 403
    assert api.client.post("/linking/stix", content=b"{}", headers=api.as_(Role.commander)).status_code == 403
