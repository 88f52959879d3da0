"""The loop keeps what each order told it between decisions (per database, checked
against the order's state each time): the answers are read once, a decision from kept
facts is the decision from a fresh read, and nothing of a rolled-back transaction is kept."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import event, select

from fanzha.gateway import loop
from fanzha.gateway import protocol as p
from fanzha.gateway.store import apply_answer
from fanzha.store import services
from fanzha.store.db import transaction
from fanzha.store.models import Order

from gwkit import A, B, START, start_loop  # noqa: E402
from test_loop_core import INST, rows_of  # noqa: E402


def _answer_query(sessions, account: str, until_s: int, balance: str) -> None:
    with transaction(sessions) as s:
        order = s.scalars(select(Order).where(Order.kind == "transaction_details", Order.target == account)).one()
        res = p.TransactionsResult(account=account, institution=INST[account], balance=balance,
                                   as_of=START + timedelta(seconds=until_s),
                                   rows=[p.LedgerRow(**r) for r in rows_of(account, until_s)])
        apply_answer(order, p.Answer(request_id=order.idempotency_key, institution=INST[account],
                                     kind="transaction_details", status="done", answered_at=datetime.now(timezone.utc),
                                     result=res.model_dump(mode="json")), actor="test")


def _answers_read(sessions):
    """Count the statements that read orders' answers while the block runs."""
    engine = sessions.kw["bind"]
    seen: list[str] = []

    def count(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "orders.answer" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    return seen, lambda: event.remove(engine, "before_cursor_execute", count)


def _facts(sessions, case_no):
    """The case's facts, read in a transaction that commits (only those are kept)."""
    with transaction(sessions) as s:
        return loop.facts_for(s, services.get_case(s, case_no))


def test_kept_facts_make_the_same_decision_as_a_fresh_read(sessions):
    case_no = start_loop(sessions, None)
    _answer_query(sessions, A, 100, "10000.00")
    _answer_query(sessions, B, 150, "10000.00")
    now = START + timedelta(minutes=5)
    kept = _facts(sessions, case_no)
    loop.forget_order_facts()
    fresh = _facts(sessions, case_no)
    assert kept == fresh
    assert [o.key for o in loop.decide(kept, now=now).orders] == [o.key for o in loop.decide(fresh, now=now).orders]
    assert len(fresh.statements) == 2 and len(fresh.placed) == 6


def test_an_unchanged_order_is_not_read_again_and_a_changed_one_is(sessions):
    case_no = start_loop(sessions, None)
    _answer_query(sessions, A, 100, "10000.00")
    _facts(sessions, case_no)                    # everything read once and kept
    seen, stop = _answers_read(sessions)
    try:
        again = _facts(sessions, case_no)
        assert seen == []                        # nothing changed: no answer read
        # another writer (a callback, a liaison) answers B's query: that order alone is read
        _answer_query(sessions, B, 150, "10000.00")
        seen.clear()
        after = _facts(sessions, case_no)
        assert len(seen) == 1
    finally:
        stop()
    assert len(after.statements) == len(again.statements) + 1
    assert {s.account for s in after.statements} == {A, B}


def test_nothing_of_a_rolled_back_transaction_is_kept(sessions):
    case_no = start_loop(sessions, None)
    try:
        with transaction(sessions) as s:
            order = s.scalars(select(Order).where(Order.target == A)).one()
            res = p.TransactionsResult(account=A, institution="ICBC", balance="10000.00",
                                       as_of=START + timedelta(seconds=100),
                                       rows=[p.LedgerRow(**r) for r in rows_of(A, 100)])
            apply_answer(order, p.Answer(request_id=order.idempotency_key, institution="ICBC",
                                         kind="transaction_details", status="done",
                                         answered_at=datetime.now(timezone.utc), result=res.model_dump(mode="json")),
                         actor="test")
            # the loop decided in this transaction and saw the statement…
            assert len(loop.facts_for(s, services.get_case(s, case_no)).statements) == 1
            raise RuntimeError("crash before commit")
        raise AssertionError("not reached")
    except RuntimeError:
        pass
    # …which never happened. The same order is then answered for real, differently (the
    # same key and state as the lost answer): what the loop believes is the committed one
    _answer_query(sessions, A, 150, "5000.00")
    [st] = _facts(sessions, case_no).statements
    assert st.balance_fen == 500_000 and st.as_of == START + timedelta(seconds=150)
