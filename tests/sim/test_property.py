"""Invariants that hold for every seed and size, not just the fixture's."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fanzha.money import format_fen
from fanzha.sim.check import lowest_balances
from fanzha.sim.fraud import CASH_OUT, VICTIM_PAYMENT
from fanzha.sim.world import generate_world


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), transactions=st.integers(1500, 6000), reports=st.integers(0, 14),
       days=st.integers(1, 2))
def test_world_invariants(seed, transactions, reports, days):
    w = generate_world(seed, transactions, reports, days=days)
    ledger = w.ledger_table()
    assert ledger.num_rows == transactions
    ts = ledger.column("timestamp").to_pylist()
    assert ts == sorted(ts)
    accounts = pa.table({"account": w.accounts.number,
                         "opening_balance": [format_fen(int(x)) for x in w.accounts.opening]})
    low, _ = lowest_balances(ledger, accounts)
    assert (low >= 0).all()
    txn = ledger.column("txn_id").to_pylist()
    position = {t: i for i, t in enumerate(txn)}
    frm, to = ledger.column("from_account").to_pylist(), ledger.column("to_account").to_pylist()
    amount = ledger.column("amount_fen").to_numpy()
    for row, t in zip(w.fraud.rows, w.fraud_txn):
        i = position[t]
        assert amount[i] == row.amount
        if row.kind == VICTIM_PAYMENT:
            case = w.fraud.cases[row.case]
            assert frm[i] == w.accounts.number[case.payer]
            mule = w.fraud.accounts[row.payee - w.fraud.account_base]
            assert w.fraud.gangs[case.gang].gang_id in mule.gangs and 1 in mule.layer.values()
        if row.kind == CASH_OUT:
            assert to[i] == ""
    assert len(w.reports) == reports
    # Money is conserved inside the fraud: what mules received = what they paid on + what they hold.
    base = w.fraud.account_base
    into = sum(r.amount for r in w.fraud.rows if r.payee >= base)
    out = sum(r.amount for r in w.fraud.rows if r.payer >= base)
    assert into - out == sum(w.fraud.held.values()) - _negative(w)
    assert np.all(w.accounts.opening >= w.accounts.base)


def _negative(w) -> int:
    """Fen the simulation's books show below zero (rebates paid from a mule's own money)."""
    base = w.fraud.account_base
    books: dict[tuple[int, int], int] = {}
    for r in w.fraud.rows:
        if r.payee >= base:
            books[(r.payee, r.gang)] = books.get((r.payee, r.gang), 0) + r.amount
        if r.payer >= base:
            books[(r.payer, r.gang)] = books.get((r.payer, r.gang), 0) - r.amount
    return -sum(v for v in books.values() if v < 0)
