"""Bad input at the API edge: a clear 4xx, and nothing changed."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from fanzha.roles import Role
from fanzha.store.models import Case, Order, User

ORDER = {"case_no": "FZ20240501000001", "kind": "stop_payment", "institution": "ICBC",
         "target": "6222025260181590832", "amount": "100.00", "legal_basis": "《反电信网络诈骗法》"}


def _count(api, model) -> int:
    with api.sessions() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


@pytest.mark.parametrize("body, where", [
    ({k: v for k, v in ORDER.items() if k != "case_no"}, "case_no"),
    ({**ORDER, "amount": "-5.00"}, "amount"),
    ({**ORDER, "amount": "12.345"}, "amount"),
    ({**ORDER, "amount": "abc"}, "amount"),
    ({**ORDER, "kind": "arrest"}, "kind"),
    ({**ORDER, "legal_basis": ""}, "legal_basis"),
    ({**ORDER, "surprise": 1}, "surprise"),
])
def test_malformed_orders(api, body, where):
    r = api.client.post("/orders", json=body, headers=api.as_(Role.analyst))
    assert r.status_code in (404, 422), r.text
    assert where in r.text or r.status_code == 404
    assert _count(api, Order) == 0


def test_order_for_unknown_case_is_404(api):
    r = api.client.post("/orders", json=ORDER, headers=api.as_(Role.analyst))
    assert r.status_code == 404 and "FZ20240501000001" in r.json()["detail"]


def test_broken_json_is_422(api):
    r = api.client.post("/cases", content=b"{not json", headers={**api.as_(Role.analyst),
                                                                 "Content-Type": "application/json"})
    assert r.status_code == 422
    assert _count(api, Case) == 0


@pytest.mark.parametrize("field, value", [("received_at", "2024-05-01T10:00:00"), ("loss", "1e5"),
                                          ("identifiers", [{"kind": "telepathy", "value": "x"}])])
def test_malformed_reports(api, field, value):
    body = {"received_at": "2024-05-01T10:00:00+08:00", "text": "报警", field: value}
    r = api.client.post("/cases", json=body, headers=api.as_(Role.analyst))
    assert r.status_code == 422 and field in r.text
    assert _count(api, Case) == 0


def test_unknown_role_for_new_user(api):
    before = _count(api, User)
    r = api.client.post("/users", json={"username": "x", "password": "longenough", "role": "sheriff"},
                        headers=api.as_(Role.admin))
    assert r.status_code == 422 and "sheriff" in r.json()["detail"]
    assert _count(api, User) == before


def test_empty_feed_batch(api):
    r = api.client.post("/reports", json=[], headers=api.as_(Role.platform))
    assert r.status_code == 422


def _refused_for_nul(r, field: str) -> bool:
    return r.status_code == 422 and any(e["loc"][-1] == field and "NUL" in e["msg"] for e in r.json()["detail"])


def test_a_nul_character_is_refused_alike_on_either_database(api):
    """A NUL in any text of a request (which PostgreSQL's text cannot hold, and SQLite's
    would keep) is bad input on either database: 422 naming the field, nothing written."""
    from fastapi.testclient import TestClient

    from .test_cases_orders import REPORT

    client = TestClient(api.client.app, raise_server_exceptions=False)
    before = _count(api, Case)
    r = client.post("/cases", json={**REPORT, "text": "受害人\x00被骗"}, headers=api.as_(Role.analyst))
    assert _refused_for_nul(r, "text") and "(at 4)" in r.text
    r = client.post("/cases", json={**REPORT, "address": "中华街道\x00某小区"}, headers=api.as_(Role.analyst))
    assert _refused_for_nul(r, "address")
    r = client.post("/cases", json={**REPORT, "identifiers": [{"kind": "phone", "value": "139\x00"}]},
                    headers=api.as_(Role.analyst))
    assert _refused_for_nul(r, "value")
    assert _count(api, Case) == before
    case_no = client.post("/cases", json=REPORT, headers=api.as_(Role.analyst)).json()["case_no"]
    orders = _count(api, Order)
    r = client.post("/orders", json={"case_no": case_no, "kind": "stop_payment", "institution": "ICBC",
                                     "target": "6222025260181590832", "amount": "1.00",
                                     "legal_basis": "第十八条\x00"}, headers=api.as_(Role.analyst))
    assert _refused_for_nul(r, "legal_basis")
    assert _count(api, Order) == orders


@pytest.mark.parametrize("order_id", ["100000000000000000000", "9223372036854775808", "-9223372036854775809"])
def test_an_id_beyond_64_bits_is_bad_input_on_either_database(api, order_id):
    """An integer the database cannot hold (PostgreSQL: out of range; SQLite's driver:
    too large to convert) is the request's fault, a 422, not a 500."""
    from fastapi.testclient import TestClient

    client = TestClient(api.client.app, raise_server_exceptions=False)
    r = client.get(f"/orders/{order_id}", headers=api.as_(Role.analyst))
    assert r.status_code == 422 and "cannot store" in r.json()["detail"]
