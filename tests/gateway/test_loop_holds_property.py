"""For generated mule chains, played out in the simulator's world (holds stop money,
fraudsters keep moving what is not held, other money keeps coming in): whatever the
order in which answers come back, the holds of a case never add up to more than the
victims lost, and no order is made or acted on twice.

The case starts as intake starts an emergency: the receiving account queried and
stopped at once for the report's amount — the stop may reach it after the victim's
money has moved on and other money has come in, and catch that instead.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.gateway.loop import (
    HOLD_KINDS,
    TD,
    CaseFacts,
    Placed,
    Statement,
    check_decision,
    decide,
    hold_key,
    query_key,
)
from fanzha.gateway.simulator import AccountState, Row, World

T0 = datetime(2024, 4, 29, 9, 0, tzinfo=timezone(timedelta(hours=8)))
INSTS = ("ICBC", "ALIPAY", "CMB")
VICTIM = "V0"


@st.composite
def chains(draw):
    """A victim's payment into M0, then sweeps down (and across) the mules, cash-outs,
    and other people's money coming into the mules at any time."""
    n = draw(st.integers(2, 5))
    inst = {f"M{i}": draw(st.sampled_from(INSTS)) for i in range(n)}
    inst.update({VICTIM: "CCB", "O": "CCB"})
    paid = draw(st.integers(10_000, 5_000_000))
    rows = [Row("P", T0 + timedelta(seconds=1), VICTIM, "M0", paid, {})]
    for k, t in enumerate(range(2, draw(st.integers(3, 40))), 1):
        what = draw(st.sampled_from(("sweep", "sweep", "cash", "other", "wait")))
        a = draw(st.integers(0, n - 1))
        fen = draw(st.integers(100, paid))
        if what == "sweep":
            b = draw(st.integers(0, n - 1))
            if a != b:
                rows.append(Row(f"X{k}", T0 + timedelta(seconds=5 * t), f"M{a}", f"M{b}", fen, {}))
        elif what == "cash":
            rows.append(Row(f"C{k}", T0 + timedelta(seconds=5 * t), f"M{a}", "", fen, {}))
        elif what == "other":
            rows.append(Row(f"O{k}", T0 + timedelta(seconds=5 * t), "O", f"M{a}", fen, {}))
    opening = {a: draw(st.integers(0, 200_000)) for a in inst}
    opening["O"] = 10 ** 12
    for r in rows:
        r.extra = {"from_institution": inst.get(r.from_account, ""), "to_institution": inst.get(r.to_account, "")}
    return inst, opening, rows, paid


@settings(max_examples=int(os.environ.get("FANZHA_PROPERTY_EXAMPLES", "25")), deadline=None)
@given(chain=chains(), delays=st.lists(st.integers(1, 60), min_size=40, max_size=40),
       report_after=st.integers(2, 120))
def test_a_cases_holds_never_add_up_to_more_than_was_stolen(chain, delays, report_after):
    inst, opening, rows, paid = chain
    world = World(list(rows), {a: AccountState(a, i, "某", opening[a]) for a, i in inst.items()})
    case = "FZH"
    at = T0 + timedelta(seconds=report_after)
    world.advance(at)
    # intake's emergency: M0 queried and stopped for the reported amount, each answered later
    placed: dict[str, Placed] = {}
    due: list[tuple[datetime, str]] = []
    delay = iter(delays * 4)
    for kind, amount, key in ((TD, None, query_key(case, inst["M0"], "M0", 1)),
                              ("stop_payment", paid, hold_key(case, "stop_payment", inst["M0"], "M0", paid, 1, 0))):
        placed[key] = Placed(kind, "M0", inst["M0"], "sent", amount, None, key, 1)
        due.append((at + timedelta(seconds=next(delay)), key))
    statements: list[Statement] = []
    acted: list[str] = []
    while due:
        due.sort()
        at, key = due.pop(0)
        world.advance(at)
        o = placed[key]
        acted.append(key)
        if o.kind == TD:
            acct = world.accounts[o.account]
            statements.append(Statement(o.account, o.institution, acct.balance_fen, at, tuple(
                r.model_dump(mode="json") for r in world.rows_of(o.account, until=at)), key, o.round_no))
            placed[key] = Placed(TD, o.account, o.institution, "done", key=key, round_no=o.round_no)
        else:
            h = world.hold(o.account, o.amount_fen, case_no=case, request_id=key, at=at)
            placed[key] = Placed(o.kind, o.account, o.institution, "done", o.amount_fen, h.held_fen, key, o.round_no,
                                 at)
        facts = CaseFacts(case, (("M0", inst["M0"]),), frozenset({VICTIM}), paid, T0 + timedelta(seconds=1),
                          T0 + timedelta(seconds=report_after), tuple(statements), tuple(placed.values()))
        d = decide(facts, now=at)
        check_decision(facts, d)
        assert sum(p.committed_fen for p in facts.placed) + sum(
            o.amount_fen or 0 for o in d.orders if o.kind in HOLD_KINDS) <= paid
        for new in d.orders:
            assert new.key not in placed, "an order decided twice"
            placed[new.key] = Placed(new.kind, new.account, new.institution, "sent", new.amount_fen, None, new.key,
                                     new.layer)
            due.append((at + timedelta(seconds=next(delay)), new.key))
    assert len(acted) == len(set(acted)), "an order acted on twice"
    assert all(h.account != VICTIM for h in world.holds)
    # what the institutions held; what the case counts its holds for (held when answered,
    # asked while on their way) — a hold that found less than it asked leaves room
    held = sum(h.held_fen for h in world.holds)
    committed = sum(p.committed_fen for p in placed.values())
    assert held == committed <= paid, (held, committed, paid)
