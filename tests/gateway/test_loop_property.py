"""For random mule networks and answer timings: the loop never asks an account to hold
more than the victims' money the plan puts there, and replaying the same answers makes
no new order."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings, strategies as st

from fanzha.gateway.loop import HOLD_KINDS, CaseFacts, Placed, Statement, check_decision, decide
from fanzha.money import format_fen

T0 = datetime(2024, 4, 29, 9, 0, tzinfo=timezone(timedelta(hours=8)))
INSTS = ("ICBC", "ALIPAY", "CMB")


@st.composite
def networks(draw):
    n = draw(st.integers(2, 6))
    inst = {f"M{i}": draw(st.sampled_from(INSTS)) for i in range(n)}
    base = {f"M{i}": draw(st.integers(0, 500_000)) for i in range(n)}   # the mules' own money
    pays = draw(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1), st.integers(100, 10_000_000)),
                         min_size=1, max_size=4))
    moves = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(-1, n - 1), st.floats(0.05, 1.0)),
                          max_size=12))
    bal = dict(base)
    rows = []
    t = 0
    for k, (v, m, fen) in enumerate(pays):
        t += 1
        acct = f"M{m}"
        rows.append((f"P{k}", t, f"V{v}", acct, fen))
        bal[acct] += fen
    for k, (a, b, frac) in enumerate(moves):
        t += 5
        frm, to = f"M{a}", (f"M{b}" if b >= 0 else "")
        fen = int(bal[frm] * frac)
        if fen <= 0 or frm == to:
            continue
        rows.append((f"X{k}", t, frm, to, fen))
        bal[frm] -= fen
        if to:
            bal[to] += fen
    inst.update({"V0": "CCB", "V1": "CCB"})
    l1 = sorted({f"M{m}" for _, m, _ in pays})
    return inst, base, rows, l1, t


def statement(account, at, inst, base, rows, layer):
    mine = [r for r in rows if r[1] <= at and account in (r[2], r[3])]
    bal = base.get(account, 0) + sum(r[4] if r[3] == account else -r[4] for r in mine)
    return Statement(account, inst[account], bal, T0 + timedelta(seconds=at), tuple(
        {"txn_id": r[0], "timestamp": (T0 + timedelta(seconds=r[1])).isoformat(), "from_account": r[2],
         "to_account": r[3], "amount": format_fen(r[4]), "from_institution": inst.get(r[2], ""),
         "to_institution": inst.get(r[3], "")} for r in mine), key=f"q-{account}", layer=layer)


@settings(max_examples=int(os.environ.get("FANZHA_PROPERTY_EXAMPLES", "15")), deadline=None)
@given(net=networks(), delays=st.lists(st.integers(0, 30), min_size=12, max_size=12))
def test_holds_within_victims_money_and_replays_make_nothing_new(net, delays):
    inst, base, rows, l1, end = net
    stolen = sum(r[4] for r in rows if r[2].startswith("V"))
    victims = frozenset({"V0", "V1"})
    statements: list[Statement] = []
    placed: list[Placed] = []
    history = []
    now = 1
    for step in range(12):
        facts = CaseFacts("FZP", tuple((a, inst[a]) for a in l1), victims, stolen, None, None,
                          tuple(statements), tuple(placed))
        d = decide(facts, now=T0)
        check_decision(facts, d)
        assert [o.key for o in decide(facts, now=T0).orders] == [o.key for o in d.orders]   # deterministic
        for acct, amount in d.plan.items():
            new = sum(o.amount_fen for o in d.orders if o.account == acct and o.kind in HOLD_KINDS)
            # the account's holds: within the victims' money the plan puts there…
            assert d.committed.get(acct, 0) + new <= max(amount, d.committed.get(acct, 0))
            # …which is within what was stolen (and, by the freeze plan, within the traced balance)
            assert amount <= stolen
            assert not new or new + d.committed.get(acct, 0) <= amount
        history.append((tuple(statements), tuple(placed)))
        placed += [Placed(o.kind, o.account, o.institution, "sent", o.amount_fen, None, o.key, o.layer)
                   for o in d.orders]
        pending = [p for p in placed if p.kind == "transaction_details" and p.state == "sent"]
        if not pending:
            break
        q = pending[0]
        now += delays[step]
        statements.append(statement(q.account, now, inst, base, rows, q.round_no))
        placed[placed.index(q)] = Placed(q.kind, q.account, q.institution, "done", key=q.key, round_no=q.round_no)
    # never a hold on a victim's own account, never one account asked for more than was stolen
    asked: dict[str, int] = {}
    for p in placed:
        if p.kind in HOLD_KINDS:
            asked[p.account] = asked.get(p.account, 0) + p.amount_fen
            assert not p.account.startswith("V")
    assert all(x <= stolen for x in asked.values())
    # replaying the answers received so far, with the orders they made, makes nothing new
    facts = CaseFacts("FZP", tuple((a, inst[a]) for a in l1), victims, stolen, None, None,
                      tuple(statements), tuple(placed))
    replay = CaseFacts("FZP", facts.layer1, victims, stolen, None, None, tuple(statements) * 2, tuple(placed))
    assert {o.key for o in decide(replay, now=T0).orders} == {o.key for o in decide(facts, now=T0).orders}
    for sts, _ in history:
        again = decide(CaseFacts("FZP", facts.layer1, victims, stolen, None, None, sts, tuple(placed)), now=T0)
        assert not {o.key for o in again.orders} & {p.key for p in placed}
