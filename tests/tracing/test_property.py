"""Properties over random mule networks, every rule: conservation, agreement with a
slow reference, no money before it was paid, sub-ledger == full replay, holds within
balances, restitution within losses and to the fen."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fanzha.tracing import service
from fanzha.tracing.engine import RULES, replay, trace_indexed, trace_json
from fanzha.tracing.freeze import activity_from_index, plan_holds
from fanzha.tracing.ledger import read_accounts
from fanzha.tracing.restitution import plan_restitution

from .gen import START, mule_world
from .reference import reference_trace

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

worlds = st.builds(lambda seed, v, m, p, n: (seed, v, m, p, n), st.integers(0, 10**9), st.integers(1, 4),
                   st.integers(2, 8), st.integers(1, 6), st.integers(5, 90))


def build(params):
    seed, v, m, p, n = params
    w = mule_world(seed, victims=v, mules=m, people=p, rows=n)
    tmp = Path(tempfile.mkdtemp(prefix="fz-prop-"))
    paths = w.write(tmp)
    loaded = service.load(paths["ledger"], paths["victims"], paths["accounts"])
    return w, paths, loaded


@SETTINGS
@given(worlds, st.sampled_from(RULES))
def test_conservation_and_reference(params, rule):
    w, paths, loaded = build(params)
    tr = service.run(loaded, rule)
    # Conservation, per victim, to the fen.
    for v, s in tr.summary().items():
        assert s["stolen"] == s["held"] + s["cashed_out"] + s["to_victims"], v
    # The slow reference says the same.
    led = loaded.index.ledger
    rows = [(led.txn_id[i].as_py(), led.accounts[led.payer[i]] if led.payer[i] >= 0 else "",
             led.accounts[led.payee[i]] if led.payee[i] >= 0 else "", int(led.amount[i])) for i in range(len(led))]
    victims = {tid: v for v, tid in w.victims}
    holdings, cash, back, stolen, raised = reference_trace(rows, victims, w.opening, rule)
    assert tr.holdings == holdings
    assert [(m.txn_id, m.account, m.victims) for m in tr.cash_outs] == cash
    assert [(m.txn_id, m.account, m.to_account, m.victims) for m in tr.to_victims] == back
    assert tr.stolen == stolen
    assert set(tr.raised) <= raised
    # Balances: victims' money never exceeds the account's balance.
    for a, h in tr.holdings.items():
        assert 0 < sum(h.values()) <= tr.balances[a]


@SETTINGS
@given(worlds, st.sampled_from(RULES))
def test_money_never_appears_before_it_was_paid(params, rule):
    _, _, loaded = build(params)
    tr = service.run(loaded, rule)
    for v, steps in tr.paths.items():
        has: dict[str, int] = {}
        for s in steps:
            if s.kind == "victim_payment" or (s.kind in ("cash_out", "to_victim") and s.source in tr.victim_accounts[v]
                                              and s.source not in has):
                assert s.source in tr.victim_accounts[v]
            else:
                assert has.get(s.source, 0) >= s.fen, (v, s)
                has[s.source] -= s.fen
            if s.target is not None and s.kind in ("victim_payment", "transfer"):
                has[s.target] = has.get(s.target, 0) + s.fen
        for a, h in tr.holdings.items():
            assert h.get(v, 0) == has.get(a, 0)


@SETTINGS
@given(worlds, st.sampled_from(RULES), st.data())
def test_sub_ledger_trace_equals_full_replay(params, rule, data):
    w, paths, loaded = build(params)
    ids = sorted({v for v, _ in w.victims})
    chosen = set(data.draw(st.lists(st.sampled_from(ids), min_size=1, unique=True))) if ids else set()
    minutes = data.draw(st.one_of(st.none(), st.integers(0, 200)))
    as_of = None if minutes is None else (START + timedelta(minutes=minutes)).astimezone(UTC)
    pay = loaded.payments.only(chosen)
    accounts = read_accounts(paths["accounts"])
    full = replay(loaded.index.ledger, pay, rule, accounts=accounts, as_of=as_of)
    sub = trace_indexed(loaded.index, pay, rule, as_of=as_of)
    assert trace_json(sub) == trace_json(full)
    # fifo and lifo: a case traced alone sees the same as with every victim — as long as
    # its money never meets the other victims' accounts (alone, those are ordinary accounts).
    everyone_accts = {led_acct for led_acct in _victim_accounts(loaded)}
    touched = {a for accts in sub.reach.values() for a in accts}
    if rule in ("fifo", "lifo") and not touched & everyone_accts:
        everyone = trace_indexed(loaded.index, loaded.payments, rule, as_of=as_of)
        alone = {a: {v: x for v, x in h.items() if v in chosen} for a, h in everyone.holdings.items()}
        assert sub.holdings == {a: h for a, h in alone.items() if h}


def _victim_accounts(loaded) -> set[str]:
    led = loaded.index.ledger
    return {led.accounts[led.payer[p]] for p in loaded.payments.pos}


@SETTINGS
@given(worlds, st.sampled_from(RULES))
def test_holds_never_exceed_balance_or_victims_money(params, rule):
    _, _, loaded = build(params)
    tr = service.run(loaded, rule)
    holds = plan_holds(tr, activity_from_index(loaded.index, tr), issued_at=datetime(2024, 4, 30, tzinfo=UTC))
    assert [h.priority for h in holds] == list(range(1, len(holds) + 1))
    assert [h.amount for h in holds] == sorted((h.amount for h in holds), reverse=True)
    for h in holds:
        assert h.amount <= h.balance
        assert h.amount <= sum(tr.holdings[h.account].values())
        assert h.expires_at - h.issued_at == timedelta(hours=48)


@SETTINGS
@given(worlds, st.sampled_from(RULES), st.sampled_from(["traced", "pooled"]), st.data())
def test_restitution_within_losses_and_to_the_fen(params, rule, mode, data):
    _, _, loaded = build(params)
    tr = service.run(loaded, rule)
    accounts = sorted(tr.holdings) + ["stranger"]
    frozen = {a: data.draw(st.integers(0, 2 * sum(tr.holdings.get(a, {}).values()) + 500)) for a in accounts}
    r = plan_restitution(tr, frozen, mode=mode)
    assert sum(o.amount for o in r.orders) + sum(u.amount for u in r.unallocated) == sum(frozen.values())
    per_from: dict[str, int] = {}
    for o in r.orders:
        per_from[o.from_account] = per_from.get(o.from_account, 0) + o.amount
        assert o.to_account in tr.victim_accounts[o.victim]
        assert o.amount > 0
    for a, x in per_from.items():
        assert x <= frozen[a]
    for v, got in r.returned.items():
        assert got <= r.loss[v]
        assert got == sum(o.amount for o in r.orders if o.victim == v)
    if mode == "traced":
        for o in r.orders:
            assert o.from_account in tr.holdings
