"""SLA clocks over plain records."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from fanzha.gateway.sla import AttemptRec, EventRec, OrderRec, Targets, case_clock, institution_stats, percentile

T0 = datetime(2024, 4, 29, 1, 0, tzinfo=timezone.utc)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def order(oid, inst, kind, *steps, round_no=0):
    return OrderRec(oid, inst, kind, at(steps[0][0]), tuple(EventRec(at(t), to) for t, to in steps), round_no)


def test_fast_case_meets_both_targets():
    orders = [
        order(1, "ICBC", "transaction_details", (1, "pending"), (2, "sent"), (4, "done")),
        order(2, "ICBC", "stop_payment", (1, "pending"), (3, "sent"), (5, "acknowledged"), (60, "done")),
        order(3, "ALIPAY", "stop_payment", (1, "pending"), (8, "sent"), (9, "done")),
    ]
    c = case_clock(T0, orders, at(600))
    assert (c.case.sent, c.case.acknowledged, c.case.hold_confirmed) == (at(2), at(4), at(9))
    assert c.by_institution["ICBC"].hold_confirmed == at(60)
    assert c.first_round_done_at == at(60) and c.first_round_orders == 2
    assert [(a.target, a.state) for a in c.alarms] == [("first_request", "met"), ("first_round_stop_payments", "met")]
    d = c.as_dict()
    assert d["seconds"] == {"sent": 2.0, "acknowledged": 4.0, "hold_confirmed": 9.0}
    assert d["first_round"]["seconds"] == 60.0


def test_late_and_running_alarms():
    slow = [order(1, "CMB", "stop_payment", (1, "pending"), (45, "sent"), (400, "done"))]
    c = case_clock(T0, slow, at(1000))
    assert [(a.state, a.late_by_s) for a in c.alarms] == [("missed", 15.0), ("missed", 100.0)]
    waiting = [order(1, "CMB", "stop_payment", (1, "pending"))]
    assert [a.state for a in case_clock(T0, waiting, at(10)).alarms] == ["running", "running"]
    c = case_clock(T0, waiting, at(31))
    assert [(a.state, a.late_by_s) for a in c.alarms] == [("missed", 1.0), ("running", None)]


def test_only_round_zero_stop_payments_make_the_first_round():
    orders = [order(1, "A", "stop_payment", (0, "pending"), (1, "sent"), (10, "done")),
              order(2, "B", "stop_payment", (0, "pending"), round_no=1),
              order(3, "C", "account_holder", (0, "pending"))]
    c = case_clock(T0, orders, at(20), Targets(first_round_s=15))
    assert c.first_round_done_at == at(10) and c.alarms[1].state == "met"
    assert case_clock(T0, orders[2:], at(20)).alarms[1:] == []  # no stop-payments: no such target


def test_a_rejected_stop_payment_completes_the_round_but_confirms_no_hold():
    c = case_clock(T0, [order(1, "A", "freeze", (0, "pending"), (1, "sent"), (3, "rejected"))], at(5))
    assert c.first_round_done_at == at(3) and c.case.hold_confirmed is None


def test_percentile_is_nearest_rank():
    assert percentile([], 50) is None
    assert percentile([5], 95) == 5
    assert percentile(list(range(1, 101)), 50) == 50 and percentile(list(range(1, 101)), 95) == 95
    assert percentile([3, 1, 2], 50) == 2


def test_institution_statistics():
    attempts = [AttemptRec("ICBC", T0, "answered", ms) for ms in (100, 200, 300, 4000)] + [
        AttemptRec("ICBC", T0, "server_error", 50), AttemptRec("ICBC", T0, "timeout", 1000),
        AttemptRec("ICBC", T0, "circuit_open"), AttemptRec("CMB", T0, "refused", 10)]
    orders = [order(1, "ICBC", "stop_payment", (0, "pending"), (1, "sent"), (3, "done")),
              order(2, "ICBC", "stop_payment", (0, "pending"), (1, "sent"), (11, "done"))]
    st = institution_stats(attempts, orders)
    icbc = st["ICBC"]
    assert (icbc.attempts, icbc.errors, icbc.answered) == (6, 2, 4)
    assert round(icbc.error_rate, 3) == 0.333
    assert (icbc.latency_ms_median, icbc.latency_ms_p95) == (200, 4000)
    assert (icbc.answer_s_median, icbc.answer_s_p95) == (2.0, 10.0)
    assert st["CMB"].errors == 0 and st["CMB"].attempts == 1
