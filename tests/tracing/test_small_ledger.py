"""A ledger held in memory is traced by plain replay on lists when it is small and
indexed when it is not (:func:`fanzha.tracing.service.trace_rows`): both roads give the
same trace, the same activity of the holding accounts, and refuse the same bad input
with the same error."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fanzha.errors import InputError
from fanzha.money import format_fen
from fanzha.tracing.engine import RULES
from fanzha.tracing.ledger import Accounts, VictimRow, read_ledger_rows, read_small_ledger
from fanzha.tracing.service import trace_rows

from .gen import mule_world

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

INSTITUTIONS = ("", "BANK0", "BANK1")
SPOILS = ("none", "duplicate", "amount", "naive", "no_accounts", "unknown_victim", "victim_without_payer")


def _inputs(seed: int, victims: int, mules: int, people: int, n: int, spoil: str):
    """A random mule network as the records, victims' rows and accounts a caller hands
    over, with one thing spoiled (or none)."""
    w = mule_world(seed, victims=victims, mules=mules, people=people, rows=n)
    labels = {a: INSTITUTIONS[(seed + k) % len(INSTITUTIONS)]
              for k, a in enumerate(sorted({x for _, _, s, d, _ in w.rows for x in (s, d) if x}))}
    records = [(k + 2, {"txn_id": tid, "timestamp": ts.isoformat(), "from_account": src, "to_account": dst,
                        "amount": format_fen(fen), "from_institution": labels.get(src, ""),
                        "to_institution": labels.get(dst, "")})
               for k, (tid, ts, src, dst, fen) in enumerate(w.rows)]
    vrows = [VictimRow(v, t, k + 2) for k, (v, t) in enumerate(w.victims)]
    at = seed % len(records)
    if spoil == "duplicate" and len(records) > 1:
        records[at][1]["txn_id"] = records[at - 1][1]["txn_id"]
    elif spoil == "amount":
        records[at][1]["amount"] = ("-1.00", "0", "1.234", "abc")[seed % 4]
    elif spoil == "naive":
        records[at][1]["timestamp"] = records[at][1]["timestamp"][:19]
    elif spoil == "no_accounts":
        records[at][1]["from_account"] = records[at][1]["to_account"] = " "
    elif spoil == "unknown_victim":
        vrows.append(VictimRow("V9", "no-such-txn", len(vrows) + 2))
    elif spoil == "victim_without_payer":
        records[at][1]["from_account"] = ""
        records[at][1]["to_account"] = records[at][1]["to_account"] or "m0"
        vrows = [r for r in vrows if r.txn_id != records[at][1]["txn_id"]]
        vrows.append(VictimRow("V8", records[at][1]["txn_id"], len(vrows) + 2))
    inst = {a: f"BANK{len(a) % 3}" for a in w.opening if len(a) % 2}
    return records, vrows, Accounts(dict(w.opening), inst, {})


def _either(records, vrows, accounts, rule, window, *, small: bool):
    try:
        return trace_rows(records, vrows, accounts, rule, window=window, small_rows=len(records) if small else -1)
    except InputError as err:
        return err


@SETTINGS
@given(st.integers(0, 10**9), st.integers(1, 4), st.integers(2, 8), st.integers(1, 6), st.integers(1, 60),
       st.sampled_from(RULES), st.sampled_from(SPOILS), st.sampled_from([1, 5, 60, 24 * 60]))
def test_small_ledger_traces_as_the_index_does(seed, victims, mules, people, n, rule, spoil, minutes):
    records, vrows, accounts = _inputs(seed, victims, mules, people, n, spoil)
    window = timedelta(minutes=minutes)
    small = _either(records, vrows, accounts, rule, window, small=True)
    indexed = _either(records, vrows, accounts, rule, window, small=False)
    if isinstance(indexed, InputError):
        assert isinstance(small, InputError) and small.as_dict() == indexed.as_dict()
        return
    assert not isinstance(small, InputError), small
    # the whole trace — holdings, balances, movements, paths, layers, warnings, raises —
    # and every holding account's activity
    assert small == indexed


@SETTINGS
@given(st.integers(0, 10**9), st.integers(1, 60))
def test_small_ledger_reads_as_the_columns_do(seed, n):
    records, _, _ = _inputs(seed, 3, 5, 4, n, "none")
    small = read_small_ledger(iter(records), "ledger", "line")
    columns = read_ledger_rows(iter(records), "ledger", "line")
    assert small.txn_id == columns.txn_id.to_pylist()
    assert small.ts == columns.ts.tolist()
    assert small.lists() == columns.lists()
    assert [small.line_of(p) for p in range(len(small))] == [columns.line_of(p) for p in range(len(columns))]
    assert (small.accounts, small.institution) == (columns.accounts, columns.institution)
    ids = small.txn_id[::2] + ["missing"]
    assert small.positions_of(ids) == columns.positions_of(ids)
    for us in small.ts[:3] + [small.ts[-1] + 1, small.ts[0] - 1]:
        assert small.rows_until(us) == columns.rows_until(us)
