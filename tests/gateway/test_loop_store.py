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

from gwkit import A, B, C, START, VICTIM, seed, start_loop  # noqa: E402
from test_loop_core import INST, rows_of  # noqa: E402


def _answer(order: Order, account: str, until_s: int, balance: str) -> p.Answer:
    res = p.TransactionsResult(account=account, institution=INST[account], balance=balance,
                               as_of=START + timedelta(seconds=until_s),
                               rows=[p.LedgerRow(**r) for r in rows_of(account, until_s)])
    return p.Answer(request_id=order.idempotency_key, institution=INST[account], kind="transaction_details",
                    status="done", answered_at=datetime.now(timezone.utc), result=res.model_dump(mode="json"))


def _start(sessions) -> str:
    return start_loop(sessions, None)


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
    # B's stop for 30,000 is still on its way and counts for that much: of the 50,000
    # stolen (10,000 since cashed out) only 10,000 is left to ask for at C…
    assert {g[:4] for g in got[4:]} == {("stop_payment", C, 1_000_000, 3), ("transaction_details", C, None, 3)}
    # …until it comes back having held the 10,000 B still had: the rest is asked at C
    with transaction(sessions) as s:
        order = s.scalars(select(Order).where(Order.kind == "stop_payment", Order.target == B)).one()
        res = p.HoldResult(account=B, hold_id="H1", requested="30000.00", held="10000.00", balance="10000.00")
        apply_answer(order, p.Answer(request_id=order.idempotency_key, institution="ALIPAY", kind="stop_payment",
                                     status="done", answered_at=datetime.now(timezone.utc),
                                     result=res.model_dump(mode="json")), actor="test")
        hb = order.idempotency_key
    got = _orders(sessions)
    assert got[6:] == [("stop_payment", C, 1_000_000, 3, hb)]
    _answer_query(sessions, C, 150, "20000.00")
    assert len(_orders(sessions)) == 7                          # nothing left to chase
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


def test_a_hold_coming_back_short_through_the_inbox_moves_the_loop_on(sessions):
    """A liaison's hold found less than it asked: the room it leaves is chased further
    down, as when the same answer comes through an institution's API."""
    _start(sessions)
    _answer_query(sessions, A, 100, "10000.00")
    _answer_query(sessions, B, 150, "10000.00")
    before = _orders(sessions)
    with transaction(sessions) as s:
        order = s.scalars(select(Order).where(Order.kind == "stop_payment", Order.target == B)).one()
        services.move_order(s, order, "sent", actor="dispatcher")
        res = p.HoldResult(account=B, hold_id="H1", requested="30000.00", held="10000.00", balance="10000.00")
        services.move_order(s, order, "done", actor="liaison-alipay", note="held what was there",
                            answer={"status": "done", "result": res.model_dump(mode="json"),
                                    "answered_at": datetime.now(timezone.utc).isoformat()})
        hb = order.idempotency_key
    # B held 10,000 of the 30,000 asked: the other 20,000 went on to C and is asked there
    assert _orders(sessions)[len(before):] == [("stop_payment", C, 1_000_000, 3, hb)]


def test_orders_decided_while_a_dispatcher_records_are_leased_to_it_and_lapse_if_it_dies(sessions, keys):
    """A dispatcher writing an answer gets the loop's new orders already leased to it (it
    sends them straight after the commit, without reading the outbox). Killed before it
    sends them, it leaves nothing stuck: the leases lapse and the orders are claimed."""
    from datetime import timedelta

    from fanzha.gateway.dispatcher import Dispatcher
    from fanzha.store.models import Institution
    from fanzha.store.types import utcnow

    _start(sessions)
    with transaction(sessions) as s:   # ICBC and Alipay have an API; CMB answers by hand
        for inst in s.scalars(select(Institution)):
            inst.api_url = f"http://127.0.0.1:9/{inst.code}" if inst.code in ("ICBC", "ALIPAY") else None
    gone = Dispatcher(sessions, keys, name="dispatcher-killed")
    with transaction(sessions) as s:
        s.info[loop.LEASE_TO] = ("dispatcher-killed", utcnow() + timedelta(seconds=300), frozenset())
        order = s.scalars(select(Order).where(Order.kind == "transaction_details", Order.target == A)).one()
        apply_answer(order, _answer(order, A, 100, "10000.00"), actor="dispatcher-killed")
        new = s.info.pop(loop.NEW_ORDERS)
        s.flush()
        jobs = gone._jobs(s, [o.id for o in new if o.leased_by == "dispatcher-killed"], utcnow())
    assert {(j.kind, j.target) for j in jobs} == {("stop_payment", A), ("stop_payment", B),
                                                 ("transaction_details", B)}
    # …and it dies here, having sent nothing. Another dispatcher does not take them yet:
    other = Dispatcher(sessions, keys, name="dispatcher-2")
    assert other.claim([], 100) == []
    with transaction(sessions) as s:   # the leases lapse
        for o in s.scalars(select(Order).where(Order.leased_by == "dispatcher-killed")):
            o.lease_until = utcnow() - timedelta(seconds=1)
    taken = other.claim([], 100)
    assert sorted(j.key for j in taken) == sorted(j.key for j in jobs)   # each once, none lost
    with sessions() as s:
        assert all(o.state == "pending" and o.leased_by == "dispatcher-2"
                   for o in s.scalars(select(Order).where(Order.id.in_([j.order_id for j in taken]))))


def test_answers_recorded_together_decide_as_one_after_another(sessions):
    """Two cases' answers written in one transaction (as a dispatcher writes a batch):
    each case gets the orders its answer alone would have made."""
    _start(sessions)
    seed(sessions, None, case_no="FZ20240429000002")
    with transaction(sessions) as s:
        case2 = services.get_case(s, "FZ20240429000002")
        s.add(Victim(case=case2, name="受害人", account=VICTIM, loss_fen=5_000_000))
        case2.loss_fen = 5_000_000
        loop.start(s, case2, [(A, "ICBC", None)], actor="gateway-loop")
    with transaction(sessions) as s:
        s.info[loop.DEFER] = deferred = []
        for order in s.scalars(select(Order).where(Order.kind == "transaction_details")):
            apply_answer(order, _answer(order, A, 100, "10000.00"), actor="test")
        del s.info[loop.DEFER]
        assert len(deferred) == 2
        decided = loop.on_answers(s, deferred)
        assert len(decided) == 2
    with sessions() as s:
        by_case: dict[int, set] = {}
        for o in s.scalars(select(Order).order_by(Order.id)):
            by_case.setdefault(o.case_id, set()).add((o.kind, o.target, o.amount_fen, o.round_no))
    assert len(by_case) == 2
    for got in by_case.values():
        assert got == {("transaction_details", A, None, 1), ("stop_payment", A, 1_000_000, 1),
                       ("stop_payment", B, 3_000_000, 2), ("transaction_details", B, None, 2)}
