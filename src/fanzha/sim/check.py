"""Invariants of a written world, checked from its files alone.

Used by the tests and the benchmark, and handy for anyone handed a world directory:
the ledger is sorted, its IDs unique, no account goes below zero when the ledger is
replayed from ``accounts.csv``, every victim row is paid from the victim's account into
a mule of the gang the victim's report belongs to, and cash-outs have no payee.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from fanzha.money import parse_yuan


def lowest_balances(ledger: pa.Table, accounts: pa.Table) -> tuple[np.ndarray, list[str]]:
    """Each account's lowest balance (fen) over a replay of ``ledger`` in file order.

    Vectorised: every row is a debit of its payer and a credit of its payee; entries are
    grouped by account (stably, so file order is kept) and summed cumulatively.
    """
    names = accounts.column("account").to_pylist()
    opening = np.array([parse_yuan(x, allow_zero=True) for x in accounts.column("opening_balance").to_pylist()],
                       dtype=np.int64)
    if "amount_fen" in ledger.column_names:
        amount = ledger.column("amount_fen").to_numpy()
    else:
        amount = np.array([parse_yuan(x) for x in ledger.column("amount").to_pylist()], dtype=np.int64)
    lookup = pa.array(names, pa.string())
    def positions(column: str) -> np.ndarray:
        found = pc.index_in(ledger.column(column), value_set=lookup)  # null: none, or unknown
        return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)

    payer, payee = positions("from_account"), positions("to_account")
    n = len(amount)
    acct = np.concatenate([payer, payee])
    delta = np.concatenate([-amount, amount])
    order = np.concatenate([np.arange(n) * 2, np.arange(n) * 2 + 1])  # the debit of a row, then its credit
    known = acct >= 0
    acct, delta, order = acct[known], delta[known], order[known]
    sort = np.lexsort((order, acct))
    acct, delta = acct[sort], delta[sort]
    running = np.cumsum(delta)
    starts = np.nonzero(np.r_[True, acct[1:] != acct[:-1]])[0]
    before = np.repeat(running[starts] - delta[starts], np.diff(np.r_[starts, len(acct)]))
    balance = running - before + opening[acct]
    low = opening.copy()
    np.minimum.at(low, acct, balance)
    return low, names


def check_world(path: str | Path) -> list[str]:
    """Problems found in the world at ``path`` (empty when it is sound)."""
    d = Path(path)
    problems: list[str] = []
    ledger = pq.read_table(d / "ledger.parquet")
    accounts = pacsv.read_csv(d / "accounts.csv", convert_options=pacsv.ConvertOptions(
        column_types={"account": pa.string(), "opening_balance": pa.string()}))
    ts = ledger.column("timestamp").to_pylist()
    if any(a > b for a, b in zip(ts, ts[1:])):
        problems.append("ledger rows are not in timestamp order")
    if len(set(ledger.column("txn_id").to_pylist())) != ledger.num_rows:
        problems.append("txn_id values are not unique")
    low, names = lowest_balances(ledger, accounts)
    bad = np.nonzero(low < 0)[0]
    if len(bad):
        problems.append(f"{len(bad)} accounts go negative on replay, e.g. {names[bad[0]]}")
    txn = {t: i for i, t in enumerate(ledger.column("txn_id").to_pylist())}
    frm = ledger.column("from_account").to_pylist()
    to = ledger.column("to_account").to_pylist()
    truth = d / "truth"
    victims = pacsv.read_csv(d / "victims.csv").to_pylist()
    vp = {r["victim_id"]: str(r["account"]) for r in pacsv.read_csv(
        truth / "victim_people.csv", convert_options=pacsv.ConvertOptions(column_types={"account": pa.string()})
    ).to_pylist()}
    gang_of_victim = {r["victim_id"]: r["gang_id"] for r in pacsv.read_csv(truth / "reports.csv").to_pylist()
                      if r["victim_id"]}
    gangs = json.loads((truth / "gangs.json").read_text("utf-8"))
    mules = {g["gang_id"]: {m["account"] for m in g["mule_accounts"]} for g in gangs}
    for r in victims:
        i = txn.get(r["txn_id"])
        if i is None:
            problems.append(f"victim row {r['txn_id']} is not in the ledger")
            continue
        if frm[i] != vp[r["victim_id"]]:
            problems.append(f"victim row {r['txn_id']} is not paid from {r['victim_id']}'s account")
        if to[i] not in mules[gang_of_victim[r["victim_id"]]]:
            problems.append(f"victim row {r['txn_id']} is not paid to a mule of {gang_of_victim[r['victim_id']]}")
    for r in pacsv.read_csv(truth / "cash_outs.csv").to_pylist():
        i = txn[r["txn_id"]]
        if to[i] != "":
            problems.append(f"cash-out {r['txn_id']} has a payee")
    return problems
