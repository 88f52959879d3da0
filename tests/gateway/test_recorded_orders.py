"""Orders recorded as plain rows (:class:`fanzha.gateway.store.RecordedOrder`) end up
exactly as the same answers applied to ORM orders leave them: the same columns, the
same events, the same answers handed to the loop."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from fanzha.gateway import loop
from fanzha.gateway import protocol as p
from fanzha.gateway.store import (
    EVENT_ROWS,
    apply_answer,
    load_recorded_orders,
    lock_order,
    transition,
    write_event_rows,
    write_recorded_orders,
)
from fanzha.store.models import Order, OrderEvent

from gwkit import A, queue, seed  # noqa: E402

T0 = datetime(2024, 4, 29, 1, 0, tzinfo=timezone.utc)

# a step: an answer (status, via), a retry note, or the order given up on
steps_st = st.lists(st.one_of(
    st.tuples(st.just("answer"), st.sampled_from(["accepted", "done", "rejected"]),
              st.sampled_from(["answer", "poll", "callback"])),
    st.tuples(st.just("retry"), st.integers(0, 3), st.text(max_size=20)),
    st.tuples(st.just("fail"), st.just(""), st.just(""))), min_size=1, max_size=5)


def _step(order, step, n: int) -> None:
    kind, a, b = step
    at = T0 + timedelta(seconds=n)
    if kind == "answer":
        answer = p.Answer(request_id=order.idempotency_key, institution="ICBC", kind=order.kind, status=a,
                          answered_at=at, reason="no such account" if a == "rejected" else None,
                          result={"held": "0.00"} if a == "done" and order.kind == "stop_payment" else None)
        apply_answer(order, answer, actor="d", sent_at=at, received_at=at + timedelta(milliseconds=5), via=b,
                     institution="ICBC")
    elif kind == "retry":
        order.attempts += 1
        order.lease_until = order.leased_by = None
        order.next_attempt_at = at + timedelta(seconds=a)
        order.last_error = f"timeout: {b}"
    elif order.state == "pending":
        transition(order, "failed", actor="d", at=at, note="refused")


def _run(sessions, oid: int, start: str, steps, recorded: bool) -> tuple[dict, list, list]:
    """Apply ``steps`` to order ``oid`` (first put in ``start``) by one road; what the
    order's row, its new events and the answers handed to the loop then are. Rolled back."""
    with sessions() as s:
        s.execute(update(Order).where(Order.id == oid).values(state=start, leased_by="d", lease_until=T0))
        s.info[EVENT_ROWS] = []
        s.info[loop.DEFER] = deferred = []
        order = load_recorded_orders(s, [oid])[oid] if recorded else lock_order(s, oid)
        for n, step in enumerate(steps):
            try:
                _step(order, step, n)
            except ValueError:   # a move the order's state does not allow: both roads refuse it
                pass
        if recorded:
            write_recorded_orders(s, [order])
        write_event_rows(s)
        s.flush()
        row = dict(s.execute(select(*Order.__table__.c).where(Order.id == oid)).one()._mapping)
        events = [tuple(e) for e in s.execute(select(OrderEvent.at, OrderEvent.from_state, OrderEvent.to_state,
                                                     OrderEvent.actor, OrderEvent.note)
                                              .where(OrderEvent.order_id == oid).order_by(OrderEvent.id))]
        handed = [(o.id, o.state, o.answer) for o in deferred]
        s.rollback()
    return row, events, handed


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(kind=st.sampled_from(["transaction_details", "stop_payment"]),
       start=st.sampled_from(["pending", "sent", "acknowledged", "failed", "done"]), steps=steps_st)
def test_recorded_orders_are_written_as_orm_orders_are(sessions, kind, start, steps):
    if not getattr(sessions, "_seeded", None):
        case_no = seed(sessions, None)
        sessions._seeded = {k: queue(sessions, case_no, k, "ICBC", A, 100_000 if k == "stop_payment" else None)
                            for k in ("transaction_details", "stop_payment")}
    oid = sessions._seeded[kind]
    assert _run(sessions, oid, start, steps, recorded=True) == _run(sessions, oid, start, steps, recorded=False)


def test_only_changed_columns_are_written(sessions):
    """Columns a batch did not change keep what the database holds, even when another
    statement of the same transaction changed them after the orders were read."""
    case_no = seed(sessions, None)
    ids = [queue(sessions, case_no, "transaction_details", "ICBC", f"{A}{i}") for i in range(3)]
    with sessions() as s:
        got = load_recorded_orders(s, ids + [10**9])
        assert sorted(got) == ids   # an order that is not there is left out
        s.execute(update(Order).where(Order.id.in_(ids)).values(last_error="circuit open"))
        got[ids[0]].attempts += 1
        got[ids[1]].next_attempt_at = T0
        write_recorded_orders(s, got.values())
        rows = {r.id: r for r in s.execute(select(Order.id, Order.attempts, Order.next_attempt_at,
                                                  Order.last_error).where(Order.id.in_(ids)))}
        assert [rows[i].attempts for i in ids] == [1, 0, 0]
        assert [rows[i].next_attempt_at for i in ids] == [None, T0, None]
        assert {rows[i].last_error for i in ids} == {"circuit open"}
        assert got[ids[0]].changes() == {}   # written: nothing left to write
        s.rollback()
