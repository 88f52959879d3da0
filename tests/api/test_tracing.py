"""Tracing through the API: ledgers kept with their source, traces explained, holds queued once."""

from __future__ import annotations

from sqlalchemy import select

from fanzha.roles import Role
from fanzha.store.models import AuditRecord, Order

HEADER = "txn_id,timestamp,from_account,to_account,amount"
LEDGER = "\n".join([HEADER,
                    "T1,2024-04-29T10:00:00+08:00,v1,B,500.00",
                    "T2,2024-04-29T10:01:00+08:00,v2,A,300.00",
                    "T3,2024-04-29T10:03:00+08:00,A,,200.00"]) + "\n"
VICTIMS = "victim_id,txn_id\nV1,T1\nV2,T2\n"
ACCOUNTS = "account,opening_balance,institution,holder\nA,0.00,ICBC,张三\nB,10.00,ALIPAY,李四\n"
REPORT = {"received_at": "2024-04-29T10:30:00+08:00", "district": "思明区", "address": "中华街道",
          "scam_type": "customer_service", "loss": "800.00", "text": "受害人被冒充客服诈骗800元。",
          "identifiers": [], "victim": {"name": "王某", "phone": "+8613912345678"}}


def _case(api, district="思明区") -> str:
    r = api.client.post("/cases", json={**REPORT, "district": district}, headers=api.as_(Role.analyst))
    assert r.status_code == 201, r.text
    return r.json()["case_no"]


def _upload(api, case_no, role=Role.analyst, ledger=LEDGER, headers=None):
    files = {"ledger": ("ledger.csv", ledger.encode()), "victims": ("victims.csv", VICTIMS.encode()),
             "accounts": ("accounts.csv", ACCOUNTS.encode())}
    return api.client.post(f"/cases/{case_no}/ledgers", files=files, data={"source": "ICBC answer 17"},
                           headers=api.as_(role) if headers is None else headers)


def test_ledger_trace_holds_and_restitution(api):
    case_no = _case(api)
    up = _upload(api, case_no)
    assert up.status_code == 201, up.text
    assert (up.json()["version"], up.json()["rows"], up.json()["source"]) == (1, 3, "ICBC answer 17")
    assert _upload(api, case_no).json()["version"] == 1          # the same files again: the same version
    assert _upload(api, case_no, ledger=LEDGER.replace("200.00", "100.00")).json()["version"] == 2

    r = api.client.post(f"/cases/{case_no}/traces", json={"rule": "fifo", "ledger_version": 1},
                        headers=api.as_(Role.analyst))
    assert r.status_code == 201, r.text
    trace = r.json()
    assert (trace["rule"], trace["ledger_version"]) == ("fifo", 1)
    holds = trace["result"]["freeze_plan"]["holds"]
    assert [(h["account"], h["institution"], h["amount"]) for h in holds] == [("B", "ALIPAY", "500.00"),
                                                                              ("A", "ICBC", "100.00")]
    again = api.client.get(f"/cases/{case_no}/traces/{trace['trace_id']}", headers=api.as_(Role.analyst))
    assert again.json()["result"] == trace["result"]

    url = f"/cases/{case_no}/traces/{trace['trace_id']}/holds"
    body = {"kind": "stop_payment", "legal_basis": "《反电信网络诈骗法》第十八条"}
    first = api.client.post(url, json=body, headers=api.as_(Role.analyst))
    second = api.client.post(url, json=body, headers=api.as_(Role.analyst))
    assert first.status_code == second.status_code == 201, first.text
    assert [q["new"] for q in first.json()["queued"]] == [True, True]
    assert [q["new"] for q in second.json()["queued"]] == [False, False]
    with api.sessions() as s:
        orders = s.execute(select(Order).where(Order.kind == "stop_payment")).scalars().all()
        assert sorted((o.target, o.amount_fen) for o in orders) == [("A", 10000), ("B", 50000)]

    r = api.client.post(f"/cases/{case_no}/traces/{trace['trace_id']}/restitution",
                        json={"mode": "traced", "frozen": {"A": "100.00", "B": "0"}}, headers=api.as_(Role.analyst))
    assert r.status_code == 200, r.text
    assert r.json()["orders"] == [{"victim": "V2", "from_account": "A", "to_account": "v2", "amount": "100.00"}]

    with api.sessions() as s:
        actions = [a.action for a in s.execute(select(AuditRecord).where(AuditRecord.case_no == case_no)
                                                .order_by(AuditRecord.id)).scalars()]
    for action in ("ledger_added", "trace_run", "trace_read", "holds_queued", "restitution_planned"):
        assert action in actions
    timeline = api.client.get(f"/cases/{case_no}", headers=api.as_(Role.analyst)).json()
    kinds = [e["kind"] for e in timeline["timeline"]]
    assert kinds.count("ledger_added") == 2 and kinds.count("traced") == 1
    assert kinds.count("holds_queued") == 1          # the second, empty queuing is not an event


def test_bad_ledger_names_file_line_and_field_and_keeps_nothing(api):
    case_no = _case(api)
    r = _upload(api, case_no, ledger=LEDGER.replace("300.00", "3OO"))
    assert r.status_code == 422 or r.status_code == 400, r.text
    assert "ledger.csv" in r.text and "3" in r.text and "amount" in r.text
    listed = api.client.get(f"/cases/{case_no}/ledgers", headers=api.as_(Role.analyst))
    assert listed.json() == []
    r = api.client.post(f"/cases/{case_no}/traces", json={"rule": "fifo"}, headers=api.as_(Role.analyst))
    assert r.status_code == 404
    r = api.client.post(f"/cases/{case_no}/traces", json={"rule": "newest"}, headers=api.as_(Role.analyst))
    assert r.status_code == 422


def test_roles_and_units(api):
    other = _case(api, district="湖里区")           # owned by the 湖里 station
    assert _upload(api, other, role=Role.station_officer).status_code == 403
    assert _upload(api, other, role=Role.liaison).status_code == 403
    assert _upload(api, other, headers={}).status_code == 401
    assert api.client.get("/cases/NOSUCHCASE/ledgers", headers=api.as_(Role.analyst)).status_code == 404
