"""The loop over the store (SQLite and PostgreSQL): answers land, orders follow in the
same transaction, and the same answer twice makes nothing twice."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from fanzha.gateway import loop
from fanzha.gateway import protocol as p
from fanzha.gateway.store import apply_answer, record_callback
from fanzha.store import services
from fanzha.store.db import transaction
from fanzha.store.models import CaseEvent, Order, Victim

from gwkit import A, B, C, START, VICTIM, seed  # noqa: E402
from test_loop_core import INST, rows_of  # noqa: E402


def _answer(order: Order, account: str, until_s: int, balance: str) -> p.Answer:
    res = p.TransactionsResult(account=account, institution=INST[account], balance=balance,
                               as_of=START + timedelta(seconds=until_s),
                               rows=[p.LedgerRow(**r) for r in rows_of(account, until_s)])
    return p.Answer(request_id=order.idempotency_key, institution=INST[account], kind="transaction_details",
                    status="done", answered_at=datetime.now(timezone.utc), result=res.model_dump(mode="json"))


def _start(sessions) -> str:
    case_no = seed(sessions, None)
    with transaction(sessions) as s:
        case = services.get_case(s, case_no)
        s.add(Victim(case=case, name="受害人", account=VICTIM, loss_fen=5_000_000))
        case.loss_fen = 5_000_000
        loop.start(s, case, [(A, "ICBC", None)])
    return case_no


def _orders(sessions):
    with sessions() as s:
        return [(o.kind, o.target, o.amount_fen, o.round_no, o.request.get("loop", {}).get("after"))
                for o in s.scalars(select(Order).order_by(Order.id))]


def _answer_query(sessions, account: str, until_s: int, balance: str) -> None:
    with transaction(sessions) as s:
        order = s.scalars(select(Order).where(Order.kind == "transaction_details", Order.target == account)).one()
        apply_answer(order, _answer(order, account, until_s, balance), actor="test")


def test_answers_drive_the_loop_across_layers(sessions):
    _start(sessions)
    assert _orders(sessions) == [("transaction_details", A, None, 1, None)]
    _answer_query(sessions, A, 100, "10000.00")
    with sessions() as s:
        qa = s.scalars(select(Order.idempotency_key).where(Order.target == A)).first()
    got = _orders(sessions)
    assert set(got[1:]) == {("stop_payment", A, 1_000_000, 1, qa), ("stop_payment", B, 3_000_000, 2, qa),
                            ("transaction_details", B, None, 2, qa)}
    _answer_query(sessions, B, 150, "10000.00")
    got = _orders(sessions)
    assert {g[:4] for g in got[4:]} == {("stop_payment", C, 2_000_000, 3), ("transaction_details", C, None, 3)}
    _answer_query(sessions, C, 150, "20000.00")
    assert len(_orders(sessions)) == 6                          # nothing left to chase
    with sessions() as s:
        case = services.get_case(s, "FZ20240429000001")
        st = loop.status(s, case)
        assert st["stolen"] == "50000.00" and st["untraced"] == "0.00" and st["new_orders"] == 0
        assert s.scalars(select(CaseEvent).where(CaseEvent.kind == "loop")).all()


def test_the_same_answer_twice_by_callback_makes_nothing_twice(sessions):
    _start(sessions)
    with sessions() as s:
        order = s.scalars(select(Order).where(Order.target == A)).one()
        ans = _answer(order, A, 100, "10000.00")
    cb = p.Callback(**ans.model_dump(), callback_id="cb-1")
    with transaction(sessions) as s:
        assert record_callback(s, "ICBC", cb).outcome == "applied"
    first = _orders(sessions)
    assert len(first) == 4
    for cid in ("cb-1", "cb-2"):                                 # the same callback, and a second copy
        with transaction(sessions) as s:
            assert record_callback(s, "ICBC", p.Callback(**ans.model_dump(), callback_id=cid)).outcome == "duplicate"
    assert _orders(sessions) == first
    # deciding again from the stored facts (a replay) proposes only what exists already
    with transaction(sessions) as s:
        case = services.get_case(s, "FZ20240429000001")
        facts = loop.facts_for(s, case)
        assert loop.decide(facts).orders == []
        assert loop.apply_decision(s, case, loop.decide(facts)) == []
    assert _orders(sessions) == first


def test_a_refused_statement_is_noted_and_the_answer_kept(sessions):
    _start(sessions)
    with transaction(sessions) as s:
        order = s.scalars(select(Order).where(Order.target == A)).one()
        ans = _answer(order, A, 100, "10000.00")
        bad = ans.result
        bad["rows"][0]["timestamp"] = "not a time"
        apply_answer(order, p.Answer(**{**ans.model_dump(), "result": bad}), actor="test")
    with sessions() as s:
        assert s.scalars(select(Order.state).where(Order.target == A)).one() == "done"
        ev = s.scalars(select(CaseEvent).where(CaseEvent.kind == "loop_error")).one()
        assert "after" in ev.detail


def test_a_liaisons_answer_through_the_inbox_drives_the_loop_too(sessions):
    """An institution with no API answers through its liaison; the loop takes that answer
    exactly as it takes a signed one (services.move_order is what the inbox calls)."""
    _start(sessions)
    with transaction(sessions) as s:
        order = s.scalars(select(Order).where(Order.kind == "transaction_details", Order.target == A)).one()
        services.move_order(s, order, "sent", actor="dispatcher")
        ans = _answer(order, A, 100, "10000.00")
        services.move_order(s, order, "done", actor="liaison-icbc", note="uploaded by the liaison",
                            answer={"status": "done", "result": ans.result, "answered_at": ans.answered_at.isoformat()})
    got = _orders(sessions)
    assert {g[:4] for g in got[1:]} == {("stop_payment", A, 1_000_000, 1), ("stop_payment", B, 3_000_000, 2),
                                        ("transaction_details", B, None, 2)}
