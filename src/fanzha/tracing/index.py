"""A ledger indexed once, so that one case's trace touches only that case's rows.

A city's ledger is millions of rows; a case's money moves through a few dozen
accounts. Replaying everything for every case would spend almost all the time on
strangers' grocery bills. The index answers the two questions a case trace asks of
the rest of the ledger, each in microseconds:

* *which transfers does this account pay next?* — per-account debit lists (CSR);
* *what was this account's balance just before transfer ``pos``?* — per-account
  running balances (CSR), starting from the opening balance.

Opening balances are settled here too, once: the given one (``accounts.csv``, else
zero), raised where the ledger would otherwise take the account below zero — the
least clean balance that keeps it non-negative over the whole ledger. An opening
balance is a fact about the time before the ledger; later rows are evidence about it,
so the raise is computed over every row, and a trace ``as_of`` an earlier time sees
the same opening balance (its holdings are then exactly the full replay's at that
time).

A transfer from an account to itself moves nothing and is left out.

A ledger of a few rows (:class:`~fanzha.tracing.ledger.SmallLedger`) is not worth
indexing: it is traced by replaying it whole, and :class:`SmallIndex` answers the
freeze plan's questions about it by scanning it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fanzha.tracing.ledger import Accounts, Ledger, SmallLedger


@dataclass
class LedgerIndex:
    ledger: Ledger
    opening: np.ndarray        # int64 per account: the opening balance used (given, raised where needed)
    given: np.ndarray          # int64 per account: the given opening balance (0 when none)
    acc_ptr: np.ndarray        # int64, len = accounts + 1: each account's slice of acc_pos / acc_bal
    acc_pos: np.ndarray        # int32 replay positions of every transfer touching the account
    acc_bal: np.ndarray        # int64 the account's balance just after that transfer
    out_ptr: np.ndarray        # int64, len = accounts + 1
    out_pos: np.ndarray        # int32 replay positions of the account's debits
    out_idx: np.ndarray        # where each debit sits in acc_pos / acc_bal
    institution: list[str]     # per account: accounts.csv institution, else one the ledger names
    holder: dict[str, str]
    _skip: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def skip_keys(self, rule: str) -> np.ndarray:
        """Per debit (aligned with ``out_pos``), a key telling whether it can carry
        victims' money ``V`` held in its payer (see :func:`fanzha.tracing.engine.trace_indexed`):

        * ``libr``: ``H - d`` (the clean money left if it were all clean); it carries iff key < V;
        * ``pro-rata``: ``H / 2d`` as a float; it carries only if key <= V (exactly: 2dV >= H).

        ``H`` is the payer's balance before the debit. Built on first use, then kept.
        """
        if rule not in self._skip:
            idx = self.out_idx.astype(np.int64)
            counts = np.diff(self.out_ptr)
            owner_first = np.repeat(self.acc_ptr[:-1], counts)
            before = self.acc_bal[np.maximum(idx - 1, 0)]
            first = idx == owner_first
            before[first] = np.repeat(self.opening, counts)[first]
            d = self.ledger.amount[self.out_pos]
            if rule == "libr":
                self._skip[rule] = before - d
            else:
                self._skip[rule] = before / (2.0 * d)
        return self._skip[rule]

    @property
    def accounts(self) -> list[str]:
        return self.ledger.accounts

    def raised(self, a: int) -> bool:
        return bool(self.opening[a] > self.given[a])

    def balance_before(self, a: int, pos: int) -> int:
        """Account ``a``'s balance just before the transfer at replay position ``pos``."""
        s, e = int(self.acc_ptr[a]), int(self.acc_ptr[a + 1])
        k = int(np.searchsorted(self.acc_pos[s:e], pos, "left"))
        return int(self.opening[a]) if k == 0 else int(self.acc_bal[s + k - 1])

    def balance_at(self, a: int, end: int) -> int:
        """Balance after every transfer before position ``end`` (``end`` = rows replayed)."""
        return self.balance_before(a, end)

    def debits_after(self, a: int, pos: int) -> tuple[np.ndarray, int]:
        """``(debit positions of a, index of the first one after pos)``."""
        s, e = int(self.out_ptr[a]), int(self.out_ptr[a + 1])
        out = self.out_pos[s:e]
        return out, int(np.searchsorted(out, pos, "right"))

    def shortfall_txn(self, a: int) -> int | None:
        """Replay position of the transfer where the given opening balance would first
        have gone lowest below zero (what the raise covers)."""
        if not self.raised(a):
            return None
        s, e = int(self.acc_ptr[a]), int(self.acc_ptr[a + 1])
        bal = self.acc_bal[s:e] - (self.opening[a] - self.given[a])
        return int(self.acc_pos[s + int(np.argmin(bal))])

    def debit_activity(self, a: int, start_pos: int, end_pos: int) -> tuple[int, int]:
        """``(count, fen)`` of account ``a``'s debits with ``start_pos <= pos < end_pos``."""
        s, e = int(self.out_ptr[a]), int(self.out_ptr[a + 1])
        out = self.out_pos[s:e]
        lo, hi = np.searchsorted(out, [start_pos, end_pos], "left")
        if hi <= lo:
            return 0, 0
        return int(hi - lo), int(self.ledger.amount[out[lo:hi]].sum())


def build_index(ledger: Ledger, accounts: Accounts | None = None) -> LedgerIndex:
    """Index ``ledger`` (already in replay order) with opening balances from ``accounts``.

    Written for ten million rows in a few seconds and little more memory than the
    result: every step is a whole-array numpy operation, and temporaries are dropped
    as soon as the next step no longer needs them.
    """
    accounts = accounts or Accounts.empty()
    n_acc = len(ledger.accounts)
    n = len(ledger)
    given = np.zeros(n_acc, np.int64)
    if accounts.opening:
        idx = ledger.account_index()
        for acct, fen in accounts.opening.items():
            a = idx.get(acct)
            if a is not None:
                given[a] = fen
    payer, payee, amount = ledger.payer, ledger.payee, ledger.amount
    keep = payer != payee
    # Interleave payer and payee entries in replay order, then group by account with a
    # stable sort, so each account's entries stay in replay order.
    acct = np.empty(2 * n, np.int32)
    acct[0::2] = np.where(keep, payer, -1)
    acct[1::2] = np.where(keep, payee, -1)
    del keep
    valid = np.flatnonzero(acct >= 0)
    acct = acct[valid]
    order = np.argsort(acct, kind="stable")
    entry = valid[order]          # interleaved entry numbers: 2*pos (+1 for the payee's)
    del valid
    acct = acct[order]
    del order
    epos = (entry >> 1).astype(np.int32)
    credit = (entry & 1).astype(bool)
    del entry
    counts = np.bincount(acct, minlength=n_acc)
    del acct
    acc_ptr = np.zeros(n_acc + 1, np.int64)
    np.cumsum(counts, out=acc_ptr[1:])
    running = amount[epos]
    np.negative(running, out=running, where=~credit)
    np.cumsum(running, out=running)
    starts = acc_ptr[:-1]
    nonempty = counts > 0
    base = np.zeros(n_acc, np.int64)   # the running sum before each account's first entry
    s_ne = starts[nonempty]
    base[nonempty] = np.where(s_ne > 0, running[np.maximum(s_ne - 1, 0)], 0)
    low = np.zeros(n_acc, np.int64)    # lowest balance relative to the opening one
    if len(running):
        low[nonempty] = np.minimum.reduceat(running, s_ne) - base[nonempty]
    opening = np.maximum(given, -np.minimum(low, 0))
    running += np.repeat(opening - base, counts)
    debit_idx = np.flatnonzero(~credit)
    del credit
    out_counts = np.bincount(np.repeat(np.arange(n_acc, dtype=np.int32), counts)[debit_idx],
                             minlength=n_acc) if len(debit_idx) else np.zeros(n_acc, np.int64)
    out_ptr = np.zeros(n_acc + 1, np.int64)
    np.cumsum(out_counts, out=out_ptr[1:])
    return LedgerIndex(ledger=ledger, opening=opening, given=given, acc_ptr=acc_ptr, acc_pos=epos,
                       acc_bal=running, out_ptr=out_ptr, out_pos=epos[debit_idx],
                       out_idx=debit_idx.astype(np.int64 if len(epos) >= 2**31 else np.int32),
                       institution=_institutions(ledger, accounts), holder=dict(accounts.holder))


def _institutions(ledger: Ledger | SmallLedger, accounts: Accounts) -> list[str]:
    """Per account: its ``accounts.csv`` institution, else one the ledger names."""
    institution = list(ledger.institution)
    if accounts.institution:
        idx = ledger.account_index()
        for acct_name, inst in accounts.institution.items():
            a = idx.get(acct_name)
            if a is not None:
                institution[a] = inst
    return institution


@dataclass
class SmallIndex:
    """:class:`LedgerIndex`'s answers about holding accounts (what
    :func:`fanzha.tracing.freeze.activity_from_index` asks) for a small ledger, by scanning it."""

    ledger: SmallLedger
    institution: list[str]
    holder: dict[str, str]

    def debit_activity(self, a: int, start_pos: int, end_pos: int) -> tuple[int, int]:
        """``(count, fen)`` of account ``a``'s debits with ``start_pos <= pos < end_pos``."""
        led = self.ledger
        fen = [x for p, q, x in zip(led.payer[start_pos:end_pos], led.payee[start_pos:end_pos],
                                    led.amount[start_pos:end_pos]) if p == a and q != a]
        return len(fen), sum(fen)


def index_small(ledger: SmallLedger, accounts: Accounts | None = None) -> SmallIndex:
    """:func:`build_index` for a :class:`~fanzha.tracing.ledger.SmallLedger`."""
    accounts = accounts or Accounts.empty()
    return SmallIndex(ledger, _institutions(ledger, accounts), dict(accounts.holder))
