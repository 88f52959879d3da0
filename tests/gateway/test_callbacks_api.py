"""POST /gateway/callbacks: signed by the institution, applied once, every one recorded."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fanzha.api.app import create_app
from fanzha.gateway.signing import Keyring, signed_headers
from fanzha.gateway.store import transition
from fanzha.settings import Settings
from fanzha.store.db import transaction
from fanzha.store.models import AuditRecord, GatewayCallback, Order
from fanzha.store.users import create_client

from gwkit import A, queue, seed  # noqa: E402

PATH = "/gateway/callbacks"


@pytest.fixture
def app(migrated_url, keys, tmp_path):
    app = create_app(Settings(database_url=migrated_url, secret_key="test-secret-not-for-use-" + "x" * 16,
                              data_dir=tmp_path))
    app.state.gateway_keys = keys
    yield app
    app.state.engine.dispose()


def _order(app) -> Order:
    s = app.state.sessions
    case = seed(s, None)
    oid = queue(s, case, "stop_payment", "ICBC", A, 500)
    with transaction(s) as t:
        o = t.get(Order, oid)
        transition(o, "sent", actor="test")
        transition(o, "acknowledged", actor="test")
        return o


def _callback(order: Order, **over) -> bytes:
    cb = dict(protocol="fanzha-institution/1", callback_id="cb-1", request_id=order.idempotency_key,
              institution="ICBC", kind="stop_payment", status="done", answered_at=datetime.now(timezone.utc).isoformat(),
              result=dict(account=A, hold_id="H1", requested="5.00", held="5.00", balance="9.00"))
    cb.update(over)
    return json.dumps(cb).encode()


def _post(client, body: bytes, key: bytes, code: str = "ICBC"):
    return client.post(PATH, content=body, headers=signed_headers(key, code, "POST", PATH, body))


def _records(app) -> list[GatewayCallback]:
    with app.state.sessions() as s:
        return s.execute(select(GatewayCallback).order_by(GatewayCallback.id)).scalars().all()


def test_applied_once_then_duplicate(app, keys):
    order = _order(app)
    c = TestClient(app)
    r = _post(c, _callback(order), keys.get("ICBC"))
    assert r.status_code == 200 and r.json()["outcome"] == "applied"
    r = _post(c, _callback(order), keys.get("ICBC"))
    assert r.status_code == 200 and r.json()["outcome"] == "duplicate"
    r = _post(c, _callback(order, callback_id="cb-2"), keys.get("ICBC"))  # a second message, same answer
    assert r.json()["outcome"] == "duplicate"
    with app.state.sessions() as s:
        o = s.get(Order, order.id)
        assert o.state == "done" and [e.to_state for e in o.events].count("done") == 1
        assert o.answer["result"]["held"] == "5.00"
        actions = [a.action for a in s.execute(select(AuditRecord)).scalars()]
    assert [x.outcome for x in _records(app)] == ["applied", "duplicate", "duplicate"]
    assert actions.count("callback_applied") == 1 and actions.count("callback_duplicate") == 2


def test_wrong_signature_is_401_with_a_clear_record(app, keys):
    order = _order(app)
    c = TestClient(app)
    r = _post(c, _callback(order), Keyring.generate(["ICBC"]).get("ICBC"))
    assert r.status_code == 401 and "signature refused" in r.json()["detail"]
    (rec,) = _records(app)
    assert (rec.institution, rec.outcome) == ("ICBC", "bad_signature") and "does not match" in rec.detail
    with app.state.sessions() as s:
        assert s.get(Order, order.id).state == "acknowledged"      # nothing applied
        assert "callback_refused" in [a.action for a in s.execute(select(AuditRecord)).scalars()]


def test_signed_by_another_institution_or_for_nothing(app, keys):
    order = _order(app)
    c = TestClient(app)
    r = _post(c, _callback(order), keys.get("ALIPAY"), code="ALIPAY")  # ALIPAY answering for ICBC
    assert r.status_code == 422 and "signed by 'ALIPAY'" in r.json()["detail"]
    keys.keys["NOBANK"] = b"k" * 32                                        # a key, but no such institution
    r = _post(c, _callback(order, institution="NOBANK"), keys.get("NOBANK"), code="NOBANK")
    assert r.status_code == 401 and "not known" in r.json()["detail"]
    r = _post(c, _callback(order, request_id="nosuchkey-123"), keys.get("ICBC"))
    assert r.status_code == 404 and r.json()["outcome"] == "unknown_order"
    r = _post(c, b"{not json", keys.get("ICBC"))
    assert r.status_code == 422 and r.json()["outcome"] == "malformed"
    assert [x.outcome for x in _records(app)] == ["malformed", "bad_signature", "unknown_order", "malformed"]
    with app.state.sessions() as s:
        assert s.get(Order, order.id).state == "acknowledged"


def test_an_api_key_alone_is_not_enough(app):
    order = _order(app)
    with transaction(app.state.sessions) as s:
        _, key = create_client(s, name="icbc", role="institution", institution_code="ICBC")
    r = TestClient(app).post(PATH, content=_callback(order), headers={"X-API-Key": key})
    assert r.status_code == 401 and "must be signed" in r.json()["detail"]
