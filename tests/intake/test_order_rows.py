"""Emergency orders as rows (what a bulk filing inserts) pass the outbox's checks and
give the answers :func:`create_orders` gives: the same values, the same "already queued"
and the same refusals."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from fanzha.errors import InputError
from fanzha.store import seed
from fanzha.store.db import transaction
from fanzha.store.models import Case, Institution
from fanzha.store.services import OrderSpec, create_orders, order_rows

BASIS = "紧急止付"


@pytest.fixture
def world(sessions):
    with transaction(sessions) as s:
        seed.seed_reference(s)
        s.add_all([Case(case_no="FZ20240501000001"), Case(case_no="FZ20240501000002")])
    return sessions


def _specs(s) -> list[OrderSpec]:
    a, b = s.execute(select(Case).order_by(Case.case_no)).scalars().all()
    icbc, abc = s.execute(select(Institution).order_by(Institution.code)).scalars().all()[:2]
    return [OrderSpec(a, "transaction_details", icbc, "6212260566850009457", BASIS),
            OrderSpec(a, "stop_payment", icbc, "6212260566850009457", BASIS, 5_000_000),
            OrderSpec(a, "stop_payment", icbc, "6212260566850009457", BASIS, 5_000_000),  # the same again
            OrderSpec(b, "stop_payment", abc, "6228493615857736334", BASIS, 2_300_000)]


def _answers(made) -> list[tuple]:
    return [(o.case.id, o.kind, o.target, o.amount_fen, o.idempotency_key, o.institution.id, o.state, created)
            for o, created in made]


def test_rows_answer_what_orders_answer(world):
    with world() as s:
        rows = order_rows(s, _specs(s), created_by="desk")
        assert not s.new  # nothing added: the caller inserts the rows
        orders = create_orders(s, _specs(s), created_by="desk")
        assert _answers(rows) == _answers(orders)
        assert [created for _, created in rows] == [True, True, False, True]
        assert rows[2][0] is rows[1][0]
        for (row, _), (order, _) in zip(rows, orders):
            assert row.request == order.request and row.event["to_state"] == order.events[0].to_state
        s.flush()
        again = order_rows(s, _specs(s), created_by="desk")  # now in the store: none is new
        assert [created for _, created in again] == [False] * 4
        assert [o.id for o, _ in again] == [o.id for o, _ in orders]


@pytest.mark.parametrize("change,field", [({"kind": "telepathy"}, "kind"), ({"amount_fen": None}, "amount"),
                                          ({"legal_basis": " "}, "legal_basis"), ({"target": ""}, "target")])
def test_rows_are_refused_as_orders_are(world, change, field):
    with world() as s:
        spec = _specs(s)[1]
        bad = [OrderSpec(**{**vars(spec), **change})]
        with pytest.raises(InputError) as by_rows:
            order_rows(s, bad, created_by="desk")
        with pytest.raises(InputError) as by_orders:
            create_orders(s, bad, created_by="desk")
        assert (str(by_rows.value), by_rows.value.field) == (str(by_orders.value), by_orders.value.field) and \
            by_rows.value.field == field
