"""End to end over real HTTP: a report starts the loop, simulated institutions answer
(one synchronously, one by callback to the centre's API), the dispatcher delivers what
the loop decides, and the victims' money is held at two layers in two institutions."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from fanzha.gateway import loop
from fanzha.gateway.simulator import Faults
from fanzha.store import services
from fanzha.store.models import Order

from gwkit import A, B, START, ManualClock, dispatch, start_loop  # noqa: E402


def test_the_loop_holds_money_across_two_layers_at_two_institutions(sessions, keys, make_sim, centre):
    # the institutions' time: T1 (the victim's 50,000 to A), T2 (30,000 on to B at Alipay)
    # and T3 (10,000 cashed out of A) have happened; T4 (B on to C) not yet
    clock = ManualClock(START + timedelta(seconds=100), speed=50)
    h = make_sim(clock=clock, by={"ALIPAY": Faults(latency_s=(1, 5), callback_rate=1.0)})
    case_no = start_loop(sessions, h)
    d = dispatch(sessions, keys, callback_url=centre.url + "/gateway/callbacks", answer_poll_s=5.0, deadline_s=30)
    # the orders decided on the first layer's answer left straight from the transaction
    # that wrote it (leased there), not by reading them back from the outbox
    assert d.counters.handed_over >= 3
    with sessions() as s:
        got = {(o.kind, o.target, o.round_no, o.state, o.amount_fen) for o in s.scalars(select(Order))}
    assert got == {("transaction_details", A, 1, "done", None), ("stop_payment", A, 1, "done", 1_000_000),
                   ("stop_payment", B, 2, "done", 3_000_000), ("transaction_details", B, 2, "done", None)}
    held = {(x.account, h.sim.world.accounts[x.account].institution): x.held_fen for x in h.sim.world.holds}
    assert held == {(A, "ICBC"): 1_000_000, (B, "ALIPAY"): 3_000_000}
    assert set(h.sim.holds_by_request().values()) == {1}
    assert h.sim.stats["ALIPAY"].callbacks_sent >= 1          # the second layer came back by callback
    # the fraudsters move on: B's 30,000 is held, so T4 (B → C) moves nothing
    clock.t = START + timedelta(seconds=300)
    h.sim.world.advance(clock.t)
    assert h.sim.world.accounts[B].balance_fen == 3_000_000
    with sessions() as s:
        st = loop.status(s, services.get_case(s, case_no))
    assert st["done"] and st["held"] == "40000.00" and st["cashed_out"] == "10000.00"
