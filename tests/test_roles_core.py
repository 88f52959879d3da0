"""The pure parts: permissions and order transitions, without a database."""

from __future__ import annotations

from hypothesis import given, strategies as st

from fanzha.gateway.orders import TRANSITIONS, OrderState, check_transition, idempotency_key
from fanzha.roles import MATRIX, Permission, Role, allowed


def test_unknown_role_has_no_permission():
    assert not allowed("sheriff", Permission.cases_read)


def test_systems_and_people_are_kept_apart():
    assert not allowed(Role.platform, Permission.cases_read)
    assert not allowed(Role.liaison, Permission.cases_read)
    assert allowed(Role.institution, Permission.orders_answer)
    assert not any(Permission.users_admin in MATRIX[r] for r in Role if r != Role.admin)


@given(st.sampled_from(list(OrderState)), st.sampled_from(list(OrderState)))
def test_transitions_follow_the_table(a, b):
    if b in TRANSITIONS[a]:
        assert check_transition(a, b) == b
    else:
        try:
            check_transition(a, b)
        except ValueError:
            pass
        else:
            raise AssertionError(f"{a} -> {b} allowed")


def test_final_states_are_final():
    for s in (OrderState.done, OrderState.rejected, OrderState.cancelled):
        assert not TRANSITIONS[s]


@given(st.text(min_size=1), st.text(min_size=1), st.integers(min_value=1))
def test_idempotency_key_is_a_function_of_the_decision(case_no, target, amount):
    k = idempotency_key(case_no, "freeze", "ICBC", target, amount)
    assert k == idempotency_key(case_no, "freeze", "ICBC", target, amount)
    assert k != idempotency_key(case_no, "freeze", "ICBC", target, amount + 1)
    assert k != idempotency_key(case_no, "stop_payment", "ICBC", target, amount)


def test_linking_is_for_the_centre_not_for_stations():
    """Linked groups cross units, so they are the centre's: analysts read and decide,
    commanders read, station officers and outside systems see none of it."""
    assert allowed(Role.analyst, Permission.linking_read) and allowed(Role.analyst, Permission.linking_write)
    assert allowed(Role.commander, Permission.linking_read) and not allowed(Role.commander, Permission.linking_write)
    for role in Role:
        if role not in (Role.analyst, Role.commander):
            assert not allowed(role, Permission.linking_read) and not allowed(role, Permission.linking_write)


def test_interception_permissions():
    """Carriers ask and forward their customers' appeals; only analysts change the lists or decide."""
    assert allowed(Role.carrier, Permission.intercept_check)
    assert allowed(Role.carrier, Permission.intercept_appeal)
    assert not allowed(Role.carrier, Permission.intercept_manage)
    assert [r for r in Role if allowed(r, Permission.intercept_manage)] == [Role.analyst]
    assert allowed(Role.station_officer, Permission.intercept_appeal)
    assert not allowed(Role.platform, Permission.intercept_check)
    assert not allowed(Role.commander, Permission.intercept_check)
