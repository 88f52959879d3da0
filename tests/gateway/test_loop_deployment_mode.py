"""The loop's mode is the deployment's (FANZHA_LOOP_OFFICER_ROUND), read by every road an
answer comes by: a case started without a policy runs by hand in a by-hand deployment
even when its first answer comes by callback, and automatic in an automatic one."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from gwkit import START, A, seed
from pydantic import ValidationError
from sqlalchemy import select
from test_loop_core import rows_of

from fanzha.api.app import create_app
from fanzha.gateway import loop
from fanzha.gateway import protocol as p
from fanzha.gateway.signing import signed_headers
from fanzha.gateway.store import record_callback, transition
from fanzha.settings import LoopSettings, Settings, get_loop_settings
from fanzha.store import services
from fanzha.store.db import transaction
from fanzha.store.models import Order, Victim

PATH = "/gateway/callbacks"


@pytest.fixture
def deployment(monkeypatch):
    """Set the deployment's officer round (minutes, or None: unset) for the test."""
    def set_round(minutes: float | None) -> None:
        if minutes is None:
            monkeypatch.delenv("FANZHA_LOOP_OFFICER_ROUND", raising=False)
        else:
            monkeypatch.setenv("FANZHA_LOOP_OFFICER_ROUND", str(minutes))
        get_loop_settings.cache_clear()

    yield set_round
    monkeypatch.delenv("FANZHA_LOOP_OFFICER_ROUND", raising=False)
    get_loop_settings.cache_clear()


def _start(sessions) -> tuple[str, str]:
    """A case started without a policy, its one query sent: (case_no, the query's key)."""
    case_no = seed(sessions, None)
    with transaction(sessions) as s:
        case = services.get_case(s, case_no)
        s.add(Victim(case=case, account="6217000000000000001", loss_fen=5_000_000))
        [query] = loop.start(s, case, [(A, "ICBC", None)])
        transition(query, "sent", actor="test")
        return case_no, query.idempotency_key


def _statement(key: str, callback_id: str = "cb-1") -> p.Callback:
    result = p.TransactionsResult(account=A, institution="ICBC", balance="10000.00",
                                  as_of=START + timedelta(seconds=100), rows=list(rows_of(A, 100)))
    return p.Callback(request_id=key, institution="ICBC", kind="transaction_details", status="done",
                      answered_at=START + timedelta(seconds=100), result=result.model_dump(mode="json"),
                      callback_id=callback_id)


def _next_orders(sessions, key: str) -> list[Order]:
    with sessions() as s:
        made = s.execute(select(Order).where(Order.idempotency_key != key)).scalars().all()
        for o in made:
            s.expunge(o)
    assert {o.kind for o in made} == {"stop_payment", "transaction_details"}   # the answer moved the loop
    return made


def _by_hand(made: list[Order], minutes: float) -> bool:
    waits = [o.next_attempt_at is not None and o.request["loop"]["mode"]["officer_round_s"] == minutes * 60
             for o in made]
    assert len(set(waits)) == 1, "every order of one step the same way"
    return waits[0]


def test_the_setting_in_minutes_unset_or_zero_is_automatic(deployment):
    deployment(None)
    assert loop.deployment_policy().officer_round is None
    deployment(0)
    assert loop.deployment_policy().officer_round is None
    deployment(7.5)
    assert loop.deployment_policy().officer_round == timedelta(minutes=7.5)
    assert Settings(loop_officer_round=3).loop_officer_round == 3   # the same setting in the whole Settings
    with pytest.raises(ValidationError):
        LoopSettings(loop_officer_round=-1)


@pytest.mark.parametrize("minutes", [10, None])
def test_a_callback_first_follows_the_deployment(sessions, deployment, minutes):
    """The callback road (record_callback, as the API calls it) with no policy of its own."""
    deployment(minutes)
    _, key = _start(sessions)
    with transaction(sessions) as s:
        assert record_callback(s, "ICBC", _statement(key)).outcome == "applied"
    made = _next_orders(sessions, key)
    assert _by_hand(made, minutes or 0) is (minutes is not None)
    if minutes is None:
        assert all(o.next_attempt_at is None for o in made)


@pytest.mark.parametrize("minutes", [10, None])
def test_the_dispatchers_road_without_a_flag_takes_the_same_step(sessions, deployment, minutes):
    """The dispatcher records an answer and calls the loop with its configured policy —
    None unless --officer-round was given: the same deployment setting decides."""
    deployment(minutes)
    _, key = _start(sessions)
    with transaction(sessions) as s:
        order = s.execute(select(Order).where(Order.idempotency_key == key)).scalar_one()
        s.info[loop.DEFER] = []          # as the dispatcher records: the loop's step taken for the batch
        assert record_callback(s, "ICBC", _statement(key)).outcome == "applied"
        deferred = s.info.pop(loop.DEFER)
        assert deferred == [order]
        loop.on_answers(s, deferred, policy=None)
    made = _next_orders(sessions, key)
    assert _by_hand(made, minutes or 0) is (minutes is not None)


def test_the_dispatchers_flag_overrides_the_setting(sessions, deployment):
    deployment(10)
    _, key = _start(sessions)
    with transaction(sessions) as s:
        s.info[loop.DEFER] = []
        record_callback(s, "ICBC", _statement(key))
        loop.on_answers(s, s.info.pop(loop.DEFER), policy=loop.LoopPolicy())   # --officer-round 0
    assert all(o.next_attempt_at is None for o in _next_orders(sessions, key))


@pytest.mark.parametrize("minutes", [10, None])
def test_the_callback_route_uses_the_deployments_setting(migrated_url, keys, tmp_path, deployment, minutes):
    """POST /gateway/callbacks: the app's own settings decide, not the route's silence."""
    deployment(None)   # the environment says automatic; the app is configured apart
    app = create_app(Settings(database_url=migrated_url, secret_key="test-secret-not-for-use-" + "x" * 16,
                              data_dir=tmp_path, loop_officer_round=minutes))
    app.state.gateway_keys = keys
    try:
        sessions = app.state.sessions
        _, key = _start(sessions)
        body = _statement(key).model_dump_json().encode()
        r = TestClient(app).post(PATH, content=body, headers=signed_headers(keys.get("ICBC"), "ICBC", "POST", PATH,
                                                                             body))
        assert r.status_code == 200 and r.json()["outcome"] == "applied", r.text
        made = _next_orders(sessions, key)
        assert _by_hand(made, minutes or 0) is (minutes is not None)
        assert json.dumps(made[0].request["loop"]["mode"])   # recorded: later answers follow the case's own mode
    finally:
        app.state.engine.dispose()
