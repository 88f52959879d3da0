"""For random fault schedules: every order ends final or is still queued, none is acted
on twice, and the record never says an order was sent or answered twice."""

from __future__ import annotations

import itertools
import os
import time
from collections import Counter

from hypothesis import HealthCheck, given, settings, strategies as st

from fanzha.gateway.simulator import Faults

from gwkit import A, B, C, dispatch, orders, queue, seed  # noqa: E402

TARGETS = {"ICBC": A, "ALIPAY": B, "CMB": C}
KINDS = ("stop_payment", "freeze", "account_holder", "transaction_details")
_cases = itertools.count(1)

rate = st.floats(0, 0.4)
faults = st.builds(
    Faults, latency_s=st.just((1.0, 5.0)), error_rate=rate, timeout_rate=st.floats(0, 0.2), hang_s=st.just(0.3),
    malformed_rate=rate, callback_rate=st.floats(0, 1), duplicate_callback_rate=st.floats(0, 1),
    late_callback_rate=st.floats(0, 1), late_callback_s=st.just((100.0, 400.0)),
    outages=st.lists(st.tuples(st.floats(0, 0.5), st.floats(0.1, 1.5)).map(lambda t: (t[0], t[0] + t[1])),
                     max_size=1))
work = st.lists(st.tuples(st.sampled_from(sorted(TARGETS)), st.sampled_from(KINDS)), min_size=1, max_size=10)


@settings(max_examples=int(os.environ.get("FANZHA_PROPERTY_EXAMPLES", "5")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(default=faults, worst=faults, who=st.sampled_from(sorted(TARGETS)), jobs=work)
def test_random_faults_lose_nothing_and_double_nothing(sessions, keys, make_sim, centre, default, worst, who, jobs):
    h = _sim(make_sim)
    h.sim.faults, h.sim.faults_by, h.sim.started = default, {who: worst}, time.monotonic()
    case = seed(sessions, h, case_no=f"FZ20240429{next(_cases):06d}")
    for i, (code, kind) in enumerate(jobs):
        amount = 100 + i if kind in ("stop_payment", "freeze") else None
        queue(sessions, case, kind, code, TARGETS[code], amount, round_no=i)
    dispatch(sessions, keys, deadline_s=2.5, timeout_s=0.2, callback_url=centre.url + "/gateway/callbacks",
             answer_poll_s=0.3)
    mine = [o for o in orders(sessions) if o.case_id == _case_id(sessions, case)]
    assert len(mine) == len(jobs)
    for o in mine:
        assert o.state in ("done", "rejected", "pending", "acknowledged"), (o.state, o.last_error)
        if o.state in ("pending", "acknowledged"):
            assert o.last_error or o.next_attempt_at or o.state == "acknowledged"  # queued, and says why
        steps = Counter(e.to_state for e in o.events)
        assert steps["sent"] <= 1 and steps["done"] <= 1 and steps["acknowledged"] <= 1, o.events
        acted = h.sim.effects.get((o.institution.code, o.idempotency_key), 0)
        assert acted <= 1
        if o.state == "done":
            assert acted == 1
    assert max(h.sim.holds_by_request().values(), default=0) <= 1


_sims: dict[int, object] = {}


def _sim(make_sim):
    """One simulator per test (not per example): its faults are swapped per example."""
    key = id(make_sim)
    if key not in _sims:
        _sims.clear()
        _sims[key] = make_sim()
    return _sims[key]


def _case_id(sessions, case_no: str) -> int:
    from fanzha.store.models import Case

    with sessions() as s:
        return s.query(Case.id).filter_by(case_no=case_no).scalar()
