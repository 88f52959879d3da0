"""The loop "by hand": what an answer calls for waits for the officer's next round.
The same decisions (the same keys) as the automatic loop, only later — so against
fraudsters who keep moving it holds no more than the automatic loop, and nothing twice."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from fanzha.gateway import loop
from fanzha.store import services
from fanzha.store.db import transaction
from fanzha.store.models import Order, Victim

from gwkit import A, START, VICTIM, ManualClock, dispatch, seed, start_loop  # noqa: E402
from fanzha.gateway.loop import Placed
from test_loop_core import facts, statement  # noqa: E402

T0 = datetime(2024, 4, 29, 1, 0, tzinfo=UTC)


@given(st.integers(0, 10**7), st.integers(-10**5, 10**7), st.integers(1, 10**6))
def test_next_round_is_the_first_round_not_before_now(start_ms, offset_ms, every_ms):
    started, every = T0 + timedelta(milliseconds=start_ms), timedelta(milliseconds=every_ms)
    now = started + timedelta(milliseconds=offset_ms)
    at = loop.next_round(started, now, every)
    assert at >= now and at >= started
    assert (at - started) % every == timedelta(0)
    assert at == started or at - now < every


def test_a_round_must_be_positive():
    with pytest.raises(ValueError, match="officer_round"):
        loop.LoopPolicy(officer_round=timedelta(0))


def test_by_hand_decides_the_same_orders_each_waiting_for_the_round():
    q = Placed("transaction_details", A, "ICBC", "done", key="q-A", round_no=1)
    f = replace(facts([statement(A, 100, 1_000_000)], [q]), started_at=T0)
    now = T0 + timedelta(minutes=7)
    auto = loop.decide(f, now=now)
    hand = loop.decide(f, now=now, policy=loop.LoopPolicy(officer_round=timedelta(minutes=5)))
    assert auto.orders and [replace(o, not_before=None) for o in hand.orders] == auto.orders
    assert {o.not_before for o in hand.orders} == {T0 + timedelta(minutes=10)}
    assert all(o.not_before is None for o in auto.orders)


def _race(sessions, keys, make_sim, round_s: float | None) -> tuple[int, list]:
    """The report comes at START+30 s, after the victim's 50,000 reached A (T1) and
    before A sweeps 30,000 on (T2, +60 s) and cashes out 10,000 (T3, +90 s). The
    institutions' clock stands at +30 s until every order sent without waiting has been
    answered, then moves to +200 s — while a by-hand order waits for its round."""
    clock = ManualClock(START + timedelta(seconds=30))
    h = make_sim(clock=clock)
    start_loop(sessions, h)
    policy = loop.LoopPolicy(officer_round=timedelta(seconds=round_s)) if round_s else None
    loop.warm_up()
    dispatch(sessions, keys, deadline_s=2.0, loop_policy=policy)
    clock.t = START + timedelta(seconds=200)
    dispatch(sessions, keys, deadline_s=30.0, loop_policy=policy)
    assert set(h.sim.holds_by_request().values()) == {1}          # each hold acted on once
    assert set(h.sim.effects.values()) == {1}
    with sessions() as s:
        got = s.execute(select(Order.kind, Order.target, Order.state, Order.next_attempt_at)).all()
    return sum(x.held_fen for x in h.sim.world.holds), got


#: what the automatic loop holds in this race: all of it, before A sweeps it on
AUTOMATIC_HELD = 5_000_000


def test_automatic_holds_at_least_what_by_hand_holds(sessions, keys, make_sim):
    auto, auto_orders = _race(sessions, keys, make_sim, None)
    assert auto == AUTOMATIC_HELD
    assert all(o.state == "done" for o in auto_orders)


def test_by_hand_the_hold_waits_for_the_round_and_finds_less(sessions, keys, make_sim):
    hand, orders = _race(sessions, keys, make_sim, 6.0)
    stops = [o for o in orders if o.kind == "stop_payment"]
    assert len(stops) == 1 and stops[0].state == "done"
    # the officer's round came after A had swept 30,000 on and cashed 10,000 out
    assert hand == 1_000_000 < AUTOMATIC_HELD


def test_the_first_round_may_come_later_than_the_report(sessions):
    case_no = seed(sessions, None)
    policy = loop.LoopPolicy(officer_round=timedelta(minutes=10), first_round_after=timedelta(minutes=3))
    with transaction(sessions) as s:
        case = services.get_case(s, case_no)
        made = loop.start(s, case, [(A, "ICBC", 100_000)], policy=policy)
        waits = {o.next_attempt_at - o.created_at for o in made}
    assert len(made) == 2 and all(timedelta(minutes=3) - timedelta(seconds=1) < w <= timedelta(minutes=3)
                                  for w in waits)
    with pytest.raises(ValueError, match="first_round_after"):
        loop.LoopPolicy(officer_round=timedelta(minutes=1), first_round_after=timedelta(minutes=-1))


@pytest.mark.parametrize("by_hand", [True, False])
def test_a_callback_follows_the_cases_own_way_of_handling(sessions, by_hand):
    """The mode a case's loop was started in is recorded on its orders: an answer coming
    back by callback (the API's road, which knows no dispatcher's settings) takes the
    same step the dispatcher would — by hand, what it calls for waits for the round."""
    from fanzha.gateway import protocol as p
    from fanzha.gateway.store import record_callback
    from test_loop_core import rows_of

    case_no = seed(sessions, None)
    policy = loop.LoopPolicy(officer_round=timedelta(minutes=10)) if by_hand else loop.LoopPolicy()
    with transaction(sessions) as s:
        case = services.get_case(s, case_no)
        s.add(Victim(case=case, account=VICTIM, loss_fen=5_000_000))
        [query] = loop.start(s, case, [(A, "ICBC", None)], policy=policy)
        key = query.idempotency_key
    with transaction(sessions) as s:
        result = p.TransactionsResult(account=A, institution="ICBC", balance="10000.00",
                                      as_of=START + timedelta(seconds=100), rows=list(rows_of(A, 100)))
        cb = p.Callback(request_id=key, institution="ICBC", kind="transaction_details", status="done",
                        answered_at=START + timedelta(seconds=100), result=result.model_dump(mode="json"),
                        callback_id="cb-hand")
        assert record_callback(s, "ICBC", cb).outcome == "applied"
    with sessions() as s:
        made = s.execute(select(Order).where(Order.idempotency_key != key)).scalars().all()
        assert {o.kind for o in made} == {"stop_payment", "transaction_details"}
        if by_hand:
            assert all(o.next_attempt_at is not None and o.request["loop"]["mode"]["officer_round_s"] == 600
                       for o in made)
        else:
            assert all(o.next_attempt_at is None for o in made)
