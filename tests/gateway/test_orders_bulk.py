"""services.create_orders: the one checked way orders enter the outbox (single orders,
the loop's decisions, intake's emergency orders)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from fanzha.errors import InputError
from fanzha.store import services
from fanzha.store.db import transaction
from fanzha.store.models import Order, OrderEvent
from fanzha.store.services import OrderSpec, create_orders

from gwkit import A, B, seed  # noqa: E402

BASIS = "反电信网络诈骗法 第二十条"


def _count(sessions) -> tuple[int, int]:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(Order)), s.scalar(select(func.count()).select_from(OrderEvent))


def test_many_specs_in_one_call_each_key_once(sessions):
    case_no = seed(sessions, None)
    with transaction(sessions) as s:
        case, icbc = services.get_case(s, case_no), services.get_institution(s, "ICBC")
        specs = [OrderSpec(case, "transaction_details", icbc, A, BASIS, round_no=1),
                 OrderSpec(case, "stop_payment", icbc, A, BASIS, 500_000, key="k-stop-a"),
                 OrderSpec(case, "stop_payment", icbc, A, BASIS, 500_000, key="k-stop-a"),   # the same, twice
                 OrderSpec(case, "transaction_details", icbc, B, BASIS, extra={"loop": {"layer": 2}})]
        got = create_orders(s, specs, created_by="test")
        assert [c for _, c in got] == [True, True, False, True]
        assert got[1][0] is got[2][0]
        s.flush()
        assert got[3][0].request["loop"] == {"layer": 2} and got[3][0].request["target"] == B
    assert _count(sessions) == (3, 3)
    with transaction(sessions) as s:   # again: the same orders, nothing new
        case, icbc = services.get_case(s, case_no), services.get_institution(s, "ICBC")
        again = create_orders(s, specs, created_by="test")
        assert not any(c for _, c in again)
        assert len({o.id for o, _ in again}) == 3
    assert _count(sessions) == (3, 3)


BAD = [(dict(kind="no_such_kind"), "kind"), (dict(target=""), "target"), (dict(legal_basis="  "), "legal_basis"),
       (dict(amount_fen=None), "amount"), (dict(kind="transaction_details"), "amount")]


def test_a_bad_spec_names_itself_and_nothing_is_written(sessions):
    case_no = seed(sessions, None)
    for bad, field in BAD:
        with pytest.raises(InputError) as err, transaction(sessions) as s:
            case, icbc = services.get_case(s, case_no), services.get_institution(s, "ICBC")
            good = OrderSpec(case, "transaction_details", icbc, A, BASIS)
            spec = dict(case=case, kind="stop_payment", institution=icbc, target=B, legal_basis=BASIS,
                        amount_fen=100)
            spec.update(bad)
            create_orders(s, [good, OrderSpec(**spec)], created_by="test")
        assert err.value.field == field and "order 2" in str(err.value), bad
        assert _count(sessions) == (0, 0)


def test_a_key_used_for_another_order_is_refused(sessions):
    case_no = seed(sessions, None)
    with transaction(sessions) as s:
        case, icbc = services.get_case(s, case_no), services.get_institution(s, "ICBC")
        create_orders(s, [OrderSpec(case, "stop_payment", icbc, A, BASIS, 100, key="k1")], created_by="test")
    with pytest.raises(InputError) as err, transaction(sessions) as s:
        case, icbc = services.get_case(s, case_no), services.get_institution(s, "ICBC")
        create_orders(s, [OrderSpec(case, "stop_payment", icbc, A, BASIS, 200, key="k1")], created_by="test")
    assert err.value.field == "idempotency_key"
    assert _count(sessions) == (1, 1)


def test_create_order_is_one_spec(sessions):
    case_no = seed(sessions, None)
    with transaction(sessions) as s:
        case, icbc = services.get_case(s, case_no), services.get_institution(s, "ICBC")
        order, created = services.create_order(s, case=case, kind="freeze", institution=icbc, target=A,
                                               legal_basis=BASIS, created_by="test", amount_fen=300)
        assert created and order.id is not None and order.events[0].actor == "test"
        same, created = services.create_order(s, case=case, kind="freeze", institution=icbc, target=A,
                                              legal_basis=BASIS, created_by="test", amount_fen=300)
        assert same is order and not created
