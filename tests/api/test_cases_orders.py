"""Cases, orders, scoping and the audit trail through the API."""

from __future__ import annotations

from sqlalchemy import select

from fanzha.roles import Role
from fanzha.store.models import AuditRecord, Order, OrderEvent

REPORT = {"received_at": "2024-05-01T10:00:00+08:00", "district": "思明区", "address": "中华街道某小区",
          "scam_type": "customer_service", "loss": "990000.00",
          "text": "受害人接到自称快递客服电话，按对方要求转账99万元。",
          "identifiers": [{"kind": "phone", "value": "+85265432109"}],
          "victim": {"name": "张某", "phone": "+8613912345678", "account": "6222025260181590832"}}


def _case(api, role=Role.analyst, **over) -> dict:
    r = api.client.post("/cases", json={**REPORT, **over}, headers=api.as_(role))
    assert r.status_code in (200, 201), r.text
    return r.json()


def _order(api, case_no, role=Role.analyst, **over):
    body = {"case_no": case_no, "kind": "stop_payment", "institution": "ICBC", "target": "6222025260181590832",
            "amount": "500000.00", "legal_basis": "《反电信网络诈骗法》第十八条", **over}
    return api.client.post("/orders", json=body, headers=api.as_(role))


def _audit(api, **where):
    with api.sessions() as s:
        q = select(AuditRecord)
        for k, v in where.items():
            q = q.where(getattr(AuditRecord, k) == v)
        return s.execute(q).scalars().all()


def test_report_opens_a_case_routed_to_the_owning_station(api):
    case = _case(api)
    assert case["case_no"].startswith("FZ20240501")
    assert case["unit"] == "350203-01"  # the station whose zone covers 思明区
    assert case["loss"] == "990000.00"


def test_same_platform_report_twice_opens_one_case(api):
    body = [{**REPORT, "external_id": "110-2024-0501-0007"}]
    a = api.client.post("/reports", json=body, headers=api.as_(Role.platform))
    b = api.client.post("/reports", json=body, headers=api.as_(Role.platform))
    assert a.status_code == b.status_code == 201
    assert a.json()[0]["case_no"] == b.json()[0]["case_no"]


def test_station_officer_sees_only_its_units_cases(api):
    mine = _case(api)                                    # 思明区 → 中华派出所
    other = _case(api, district="湖里区", address="湖里街道", text="另一位受害人被骗",
                  victim={"name": "李某", "phone": "+8613800000001"})  # → 湖里派出所
    officer = api.as_(Role.station_officer)
    assert api.client.get(f"/cases/{mine['case_no']}", headers=officer).status_code == 200
    assert api.client.get(f"/cases/{other['case_no']}", headers=officer).status_code == 403
    listed = {c["case_no"] for c in api.client.get("/cases", headers=officer).json()}
    assert mine["case_no"] in listed and other["case_no"] not in listed
    assert _order(api, other["case_no"], role=Role.station_officer).status_code == 403
    huli = api.login("officer_huli")
    assert api.client.get(f"/cases/{other['case_no']}", headers=huli).status_code == 200


def test_orders_are_idempotent_and_audited(api):
    case = _case(api)
    first = _order(api, case["case_no"], idempotency_key="stop-round-1-icbc")
    again = _order(api, case["case_no"], idempotency_key="stop-round-1-icbc")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    with api.sessions() as s:
        assert s.execute(select(Order)).scalars().all().__len__() == 1
    sent = _audit(api, action="order_sent")
    assert len(sent) == 1 and sent[0].case_no == case["case_no"] and sent[0].actor == "analyst"
    assert len(_audit(api, action="order_repeated")) == 1


def test_same_key_for_a_different_order_is_refused(api):
    case = _case(api)
    assert _order(api, case["case_no"], idempotency_key="k-000001").status_code == 201
    r = _order(api, case["case_no"], idempotency_key="k-000001", amount="1.00")
    assert r.status_code == 422 and r.json()["field"] == "idempotency_key"


def test_liaison_sees_and_answers_only_its_institutions_orders(api):
    case = _case(api)
    icbc = _order(api, case["case_no"]).json()
    alipay = _order(api, case["case_no"], institution="ALIPAY", target="alipay:138xxxx").json()
    liaison = api.as_(Role.liaison)
    inbox = {o["id"] for o in api.client.get("/orders", headers=liaison).json()}
    assert inbox == {icbc["id"]}
    assert api.client.get(f"/orders/{alipay['id']}", headers=liaison).status_code == 403
    r = api.client.post(f"/orders/{alipay['id']}/answer", json={"state": "done"}, headers=liaison)
    assert r.status_code == 403
    # The outbox state machine: pending → sent happens in the gateway; answering a pending order is refused.
    r = api.client.post(f"/orders/{icbc['id']}/answer", json={"state": "done"}, headers=liaison)
    assert r.status_code == 409


def test_answer_moves_the_order_and_records_history(api):
    case = _case(api)
    order = _order(api, case["case_no"]).json()
    with api.sessions() as s:  # the dispatcher has sent it
        from fanzha.store import services
        services.move_order(s, s.get(Order, order["id"]), "sent", actor="dispatcher")
        s.commit()
    r = api.client.post(f"/orders/{order['id']}/answer",
                        json={"state": "done", "answer": {"held": "500000.00"}, "note": "已止付"},
                        headers=api.as_(Role.institution))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "done" and body["answer"] == {"held": "500000.00"}
    assert [e["to"] for e in body["events"]] == ["pending", "sent", "done"]
    assert _audit(api, action="order_answered")[0].case_no == case["case_no"]


def test_personal_data_reads_are_audited(api):
    case = _case(api)
    api.client.get(f"/cases/{case['case_no']}", headers=api.as_(Role.commander))
    reads = _audit(api, action="case_read")
    assert [(a.actor, a.case_no) for a in reads] == [("commander", case["case_no"])]
    api.client.get("/cases", headers=api.as_(Role.analyst))
    listed = _audit(api, action="cases_listed")
    assert case["case_no"] in listed[0].detail["case_nos"]


def test_audit_log_has_no_write_endpoints(api):
    for method in ("PUT", "PATCH", "DELETE"):
        r = api.client.request(method, "/audit", headers=api.as_(Role.admin))
        assert r.status_code == 405
    r = api.client.get("/audit/verify", headers=api.as_(Role.admin))
    assert r.json()["ok"] is True and r.json()["records"] > 0


def test_failed_request_writes_nothing(api):
    case = _case(api)
    before = len(_audit(api))
    r = _order(api, case["case_no"], kind="stop_payment", amount=None)
    assert r.status_code == 422 and r.json()["field"] == "amount"
    with api.sessions() as s:
        assert s.execute(select(Order)).first() is None
        assert s.execute(select(OrderEvent)).first() is None
    assert len(_audit(api)) == before
