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
