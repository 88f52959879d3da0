"""Outgoing orders: idempotent, validated, with their state history."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from fanzha.errors import InputError
from fanzha.intake.service import Incoming, file_report
from fanzha.gateway.orders import OrderKind, OrderState, TransitionError
from fanzha.store import services
from fanzha.store.db import transaction
from fanzha.store.models import Institution, Order, OrderEvent

AT = datetime(2024, 5, 1, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def case_and_bank(sessions):
    with transaction(sessions) as s:
        s.add(Institution(code="ICBC", name="中国工商银行", kind="national_bank"))
        return file_report(s, Incoming(received_at=AT, text="报警", source="110"), actor="t").case.case_no


def _send(s, case_no, **kw):
    case = services.get_case(s, case_no)
    bank = services.get_institution(s, "ICBC")
    args = dict(kind="stop_payment", target="6222025260181590832", legal_basis="反电信网络诈骗法",
                created_by="analyst", amount_fen=100)
    args.update(kw)
    return services.create_order(s, case=case, institution=bank, **args)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(decisions=st.lists(st.tuples(st.sampled_from(["stop_payment", "freeze"]),
                                    st.sampled_from(["A1", "A2", "A3"]),
                                    st.integers(min_value=1, max_value=3)), min_size=1, max_size=12))
def test_repeated_decisions_make_one_order_each(sessions, case_and_bank, decisions):
    """However often the same decision is taken, exactly one order exists for it."""
    with transaction(sessions) as s:
        s.execute(OrderEvent.__table__.delete())
        s.execute(Order.__table__.delete())
    for kind, target, amount in decisions:
        with transaction(sessions) as s:
            _send(s, case_and_bank, kind=kind, target=target, amount_fen=amount * 100)
    with sessions() as s:
        n = s.execute(select(func.count()).select_from(Order)).scalar_one()
        events = s.execute(select(func.count()).select_from(OrderEvent)).scalar_one()
    assert n == len(set(decisions)) == events


def test_order_rules(sessions, case_and_bank):
    with transaction(sessions) as s:
        with pytest.raises(InputError, match="needs an amount"):
            _send(s, case_and_bank, amount_fen=None)
        with pytest.raises(InputError, match="takes no amount"):
            _send(s, case_and_bank, kind="account_holder", amount_fen=5)
        with pytest.raises(InputError, match="unknown order kind"):
            _send(s, case_and_bank, kind="arrest")
        with pytest.raises(InputError, match="legal basis"):
            _send(s, case_and_bank, legal_basis=" ")
        order, created = _send(s, case_and_bank, kind=OrderKind.account_holder.value, amount_fen=None)
        assert created and order.state == OrderState.pending.value


def test_state_moves_are_checked_and_recorded(sessions, case_and_bank):
    with transaction(sessions) as s:
        order, _ = _send(s, case_and_bank)
        with pytest.raises(TransitionError):
            services.move_order(s, order, "done", actor="bank")
        services.move_order(s, order, "sent", actor="dispatcher")
        services.move_order(s, order, "acknowledged", actor="bank")
        services.move_order(s, order, "done", actor="bank", answer={"held": "1.00"})
        with pytest.raises(TransitionError):
            services.move_order(s, order, "cancelled", actor="analyst")
    with sessions() as s:
        order = s.execute(select(Order)).scalar_one()
        assert [e.to_state for e in order.events] == ["pending", "sent", "acknowledged", "done"]
        assert order.answer == {"held": "1.00"}


def test_case_numbers_run_per_day(sessions):
    with transaction(sessions) as s:
        nos = [file_report(s, Incoming(received_at=AT, text=f"报警{i}", source="110"), actor="t").case.case_no
               for i in range(3)]
    assert nos == ["FZ20240501000001", "FZ20240501000002", "FZ20240501000003"]
