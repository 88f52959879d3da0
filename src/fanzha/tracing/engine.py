"""The tracing engine: lots, the four rules, and two replays that agree to the fen.

Every account holds *lots* — amounts labelled with whose money they are: a victim's,
or the holder's own (clean, id ``""``). A victim's payment creates a lot of that
victim's money in the payee; every other debit draws lots from the payer by the rule
and hands them, in the order drawn, to the payee (or to a cash-out). FORMATS.md is
the contract; the choices it leaves open are made here, each the one an analyst
would expect:

* **Victim accounts** are the payers of the victims' rows being traced, over the whole
  ledger. They are outside the trace: their other payments are not followed — the
  payee receives clean money, as from a cash deposit — and whatever traced money is
  paid into one leaves the trace as ``to_victims`` (rebates in order-brushing scams).
  An account that is both a victim's and a mule's is treated as the victim's.
* **A victim's payment into another victim's account** (or back into their own)
  leaves the trace at once as ``to_victims``; the victim's loss still counts it.
* **A victim's payment with no payee** (cash handed to a courier, a common ending of
  police-impersonation scams) is a cash-out from the victim's own account.
* **A transfer from an account to itself** moves nothing and is skipped.
* **Opening balances** are the given ones, raised where the ledger would otherwise take
  the account below zero (see :mod:`fanzha.tracing.index`). A raise is warned about
  only for accounts that ever held victims' money: elsewhere it changes nothing traced.
* **Lots in a row with the same owner are one lot**: drawing from two neighbouring lots
  of one owner takes the same amounts as from their sum, under every rule. This is
  what lets a case be traced on its sub-ledger (below).

**Whole fen.** A proportional split gives each holder the floor of its exact share and
the fen left over one each to the largest remainders, ties by holder id (clean ``""``
first). Under ``pro-rata`` a holder's lot order is the order it first arrived.

**Two replays.** :func:`replay` is the obvious one: every row, every account, in
order. :func:`trace_indexed` traces on a :class:`~fanzha.tracing.index.LedgerIndex`
and touches only the case's *reachable sub-ledger*: the victims' payments, then every
debit of an account from the moment it holds victims' money until it holds none. An
account that holds no victims' money holds a single clean lot (same-owner lots
merge), whose size is its balance — read from the index's running balances. So an
account first reached at row ``p`` starts with one clean lot of its balance before
``p``, and the clean money that arrives between two of its traced rows is one clean
lot appended just before the second. The tests replay random mule networks both ways
and require the same result. A ledger of a few rows (a
:class:`~fanzha.tracing.ledger.SmallLedger`: the automatic loop's working ledgers) is
traced by :func:`replay`, on plain lists: indexing it would cost more than replaying it.

**Per case.** Tracing a subset of the victims (one case) treats the others' payments as
ordinary transfers. Under ``fifo`` and ``lifo`` a lot's owner never changes which lots
a debit takes, so a case's figures are the same alone or with every victim (unless its
money reaches another victim's account, which alone is an ordinary account); under
``pro-rata`` they can differ by rounding fen, and under ``libr`` other victims' money
counts as the holder's own. Trace linked cases together when their money mixes.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from fanzha.errors import InputError
from fanzha.money import format_fen
from fanzha.tracing.index import LedgerIndex
from fanzha.tracing.ledger import Accounts, Ledger, SmallLedger, VictimRow, from_micros, to_micros

CLEAN = ""
RULES = ("fifo", "lifo", "pro-rata", "libr")


# ---------------------------------------------------------------------------
# Whole-fen splits
# ---------------------------------------------------------------------------

def split_fen(amount: int, weights: dict[str, int]) -> dict[str, int]:
    """Split ``amount`` fen in proportion to ``weights`` (positive ints), in whole fen:
    floors first, then one fen each to the largest remainders, ties by key. The result
    keeps the keys' order and never gives a key more than its weight when
    ``amount <= sum(weights)``."""
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("nothing to split over")
    out: dict[str, int] = {}
    rem: dict[str, int] = {}
    given = 0
    for k, w in weights.items():
        q, r = divmod(amount * w, total)
        out[k] = q
        rem[k] = r
        given += q
    left = amount - given
    if left:
        for k in sorted(rem, key=lambda k: (-rem[k], k))[:left]:
            out[k] += 1
    return out


# ---------------------------------------------------------------------------
# Holdings and the rules
# ---------------------------------------------------------------------------

class Holdings:
    """One account's lots. ``lots`` is a deque of ``[owner, fen]`` (oldest first) for
    ``fifo``/``lifo`` and an ``owner -> fen`` dict (first arrival first) for ``pro-rata``
    and ``libr``, where only the amounts per owner matter."""

    __slots__ = ("lots", "total", "victim")

    def __init__(self, lots, total: int = 0, victim: int = 0) -> None:
        self.lots = lots
        self.total = total
        self.victim = victim

    def owners(self) -> dict[str, int]:
        if isinstance(self.lots, dict):
            return {o: a for o, a in self.lots.items() if a}
        out: dict[str, int] = {}
        for o, a in self.lots:
            out[o] = out.get(o, 0) + a
        return out


class Rule:
    """How a debit draws lots. Subclasses are stateless; state lives in :class:`Holdings`."""

    name = ""

    def new(self, clean: int) -> Holdings:
        raise NotImplementedError

    def add(self, h: Holdings, lots: list[tuple[str, int]]) -> None:
        raise NotImplementedError

    def draw(self, h: Holdings, amount: int) -> list[tuple[str, int]]:
        raise NotImplementedError


class _Sequence(Rule):
    def new(self, clean: int) -> Holdings:
        return Holdings(deque([[CLEAN, clean]]) if clean else deque(), clean, 0)

    def add(self, h: Holdings, lots: list[tuple[str, int]]) -> None:
        q = h.lots
        for o, a in lots:
            if q and q[-1][0] == o:
                q[-1][1] += a
            else:
                q.append([o, a])
            h.total += a
            if o:
                h.victim += a

    #: The end of the queue drawn from: 0 the oldest lot, -1 the newest.
    end = 0

    def draw(self, h: Holdings, amount: int) -> list[tuple[str, int]]:
        q, out, need, end = h.lots, [], amount, self.end
        take = q.popleft if end == 0 else q.pop
        while need:
            lot = q[end]
            o, a = lot
            if a <= need:
                take()
                out.append((o, a))
                need -= a
                if o:
                    h.victim -= a
            else:
                lot[1] = a - need
                out.append((o, need))
                if o:
                    h.victim -= need
                need = 0
        h.total -= amount
        return out


class Fifo(_Sequence):
    """Oldest lots first (Clayton's Case)."""

    name = "fifo"
    end = 0


class Lifo(_Sequence):
    """Newest lots first."""

    name = "lifo"
    end = -1


class _Mapping(Rule):
    def new(self, clean: int) -> Holdings:
        return Holdings({CLEAN: clean} if clean else {}, clean, 0)

    def add(self, h: Holdings, lots: list[tuple[str, int]]) -> None:
        m = h.lots
        for o, a in lots:
            m[o] = m.get(o, 0) + a
            h.total += a
            if o:
                h.victim += a

    @staticmethod
    def _take(h: Holdings, shares: dict[str, int]) -> list[tuple[str, int]]:
        m, out = h.lots, []
        for o, s in shares.items():
            if not s:
                continue
            left = m[o] - s
            if left:
                m[o] = left
            else:
                del m[o]
            h.total -= s
            if o:
                h.victim -= s
            out.append((o, s))
        return out


class ProRata(_Mapping):
    """From every holder, clean included, in proportion to what each holds."""

    name = "pro-rata"

    def draw(self, h: Holdings, amount: int) -> list[tuple[str, int]]:
        m = h.lots
        if len(m) == 1 or amount == h.total:
            shares = dict(m) if amount == h.total else {next(iter(m)): amount}
        else:
            shares = split_fen(amount, m)
        return self._take(h, shares)


class Libr(_Mapping):
    """The holder's own money first, then the victims' in proportion (lowest
    intermediate balance: a victim's claim never grows back when clean money arrives)."""

    name = "libr"

    def draw(self, h: Holdings, amount: int) -> list[tuple[str, int]]:
        m = h.lots
        clean = min(m.get(CLEAN, 0), amount)
        shares = {CLEAN: clean} if clean else {}
        rest = amount - clean
        if rest:
            victims = {o: a for o, a in m.items() if o}
            if rest == h.victim:
                shares.update(victims)
            elif len(victims) == 1:
                shares.update({next(iter(victims)): rest})
            else:
                shares.update(split_fen(rest, victims))
        return self._take(h, shares)


def make_rule(name: str) -> Rule:
    try:
        return {"fifo": Fifo, "lifo": Lifo, "pro-rata": ProRata, "libr": Libr}[name]()
    except KeyError:
        raise InputError(f"unknown rule {name!r}: one of {', '.join(RULES)}", field="--rule") from None


# ---------------------------------------------------------------------------
# The result
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Movement:
    """Victims' money leaving the trace: a cash-out (``to_account`` None) or a payment
    into a victim's account."""

    pos: int
    txn_id: str
    account: str                 # the account it left from
    to_account: str | None
    victims: dict[str, int]


@dataclass(frozen=True)
class Step:
    """One transfer carrying one victim's money: the victim's path is its steps."""

    pos: int
    txn_id: str
    kind: str                    # victim_payment | transfer | cash_out | to_victim
    source: str
    target: str | None
    fen: int


@dataclass
class Trace:
    rule: str
    as_of: datetime | None
    replayed_to: datetime | None         # time of the last row replayed
    stolen: dict[str, int]
    holdings: dict[str, dict[str, int]]  # account -> victim -> fen, after the last row replayed
    balances: dict[str, int]             # account -> whole balance then (holding accounts)
    cash_outs: list[Movement]
    to_victims: list[Movement]
    warnings: list[str]
    layers: dict[str, int]
    paths: dict[str, list[Step]]
    reach: dict[str, list[str]]
    victim_accounts: dict[str, dict[str, int]]   # victim -> own account -> fen paid from it
    rebated: dict[str, int]                      # victim -> traced money paid into their own accounts
    last_in: dict[str, int] = field(default_factory=dict)  # holding account -> µs of the last victim money in
    raised: dict[str, tuple[int, int]] = field(default_factory=dict)  # account -> (given, used)

    def held(self, victim: str) -> int:
        return sum(h.get(victim, 0) for h in self.holdings.values())

    def summary(self) -> dict[str, dict[str, int]]:
        """Per victim: stolen, held, cashed out, paid to victims' accounts, rebated."""
        out = {v: {"stolen": s, "held": 0, "cashed_out": 0, "to_victims": 0,
                   "rebated": self.rebated.get(v, 0)} for v, s in self.stolen.items()}
        for h in self.holdings.values():
            for v, x in h.items():
                out[v]["held"] += x
        for m in self.cash_outs:
            for v, x in m.victims.items():
                out[v]["cashed_out"] += x
        for m in self.to_victims:
            for v, x in m.victims.items():
                out[v]["to_victims"] += x
        return out


def _fmt_victims(d: dict[str, int]) -> dict[str, str]:
    return {v: format_fen(x) for v, x in sorted(d.items())}


def _iso(us: int) -> str:
    return from_micros(us).isoformat().replace("+00:00", "Z")


def trace_json(t: Trace, *, paths: bool = True) -> dict:
    """FORMATS.md's ``fanzha trace`` JSON, then the added keys. Money as ``"500.00"``;
    victims by id; holdings by the victims' money there, largest first (the order a
    freeze should go in), then account id; movements in replay order."""
    holdings = sorted(t.holdings.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    summary = t.summary()
    out: dict = {
        "rule": t.rule,
        "stolen": _fmt_victims(t.stolen),
        "holdings": {a: _fmt_victims(h) for a, h in holdings},
        "cash_outs": [{"txn_id": m.txn_id, "account": m.account, "victims": _fmt_victims(m.victims)}
                      for m in t.cash_outs],
        "to_victims": [{"txn_id": m.txn_id, "account": m.account, "to_account": m.to_account,
                        "victims": _fmt_victims(m.victims)} for m in t.to_victims],
        "warnings": list(t.warnings),
        "as_of": t.as_of.isoformat() if t.as_of else None,
        "totals": {k: format_fen(sum(s[k] for s in summary.values()))
                   for k in ("stolen", "held", "cashed_out", "to_victims")},
        "victims": {v: {**{k: format_fen(x) for k, x in s.items()},
                        "accounts": {a: format_fen(x) for a, x in sorted(t.victim_accounts.get(v, {}).items())}}
                    for v, s in sorted(summary.items())},
        "balances": {a: format_fen(t.balances[a]) for a, _ in holdings},
        "layers": {a: n for a, n in sorted(t.layers.items(), key=lambda kv: (kv[1], kv[0]))},
        "reach": {v: list(accts) for v, accts in sorted(t.reach.items())},
    }
    if paths:
        out["paths"] = {v: [{"txn_id": s.txn_id, "kind": s.kind, "from": s.source, "to": s.target or "",
                             "amount": format_fen(s.fen)} for s in steps]
                        for v, steps in sorted(t.paths.items())}
    return out


# ---------------------------------------------------------------------------
# Victims' payments
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class VictimPayments:
    """The victims' rows resolved to replay positions, in replay order."""

    pos: tuple[int, ...]
    victim: tuple[str, ...]

    def only(self, victims: set[str] | frozenset[str]) -> "VictimPayments":
        keep = [(p, v) for p, v in zip(self.pos, self.victim) if v in victims]
        return VictimPayments(tuple(p for p, _ in keep), tuple(v for _, v in keep))

    def by_victim(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for p, v in zip(self.pos, self.victim):
            out.setdefault(v, []).append(p)
        return out


def resolve_victims(ledger: Ledger | SmallLedger, rows: list[VictimRow], *,
                    name: str = "victims.csv") -> VictimPayments:
    """Find each victim row's transfer. Unknown ``txn_id`` and a transfer with no payer
    (a victim's payment must come from the victim's account) are input errors."""
    if not rows:
        return VictimPayments((), ())
    where = ledger.positions_of([r.txn_id for r in rows])
    found = [where.get(r.txn_id) for r in rows]
    pairs = []
    for r, p in zip(rows, found):
        if p is None:
            raise InputError(f"txn_id {r.txn_id!r} is not in the ledger ({ledger.source})", file=name,
                             line=r.line, field="txn_id")
        if ledger.payer[p] < 0:
            raise InputError(f"the victim's payment {r.txn_id!r} has no payer (empty from_account on "
                             f"{ledger.source} line {ledger.line_of(p)}): it must come from the victim's account",
                             file=name, line=r.line, field="txn_id")
        pairs.append((int(p), r.victim_id))
    pairs.sort()
    return VictimPayments(tuple(p for p, _ in pairs), tuple(v for _, v in pairs))


# ---------------------------------------------------------------------------
# The recorder both replays share
# ---------------------------------------------------------------------------

class _Recorder:
    def __init__(self, ledger: Ledger | SmallLedger, rule: str) -> None:
        self.ledger = ledger
        self.rule = rule
        self.names = ledger.accounts
        self.stolen: dict[str, int] = {}
        self.victim_accounts: dict[str, dict[str, int]] = {}
        self.cash: list[tuple[int, str, None, dict[str, int]]] = []
        self.to_vict: list[tuple[int, str, str, dict[str, int]]] = []
        self.steps: list[tuple[int, str, str, str, str | None, int]] = []  # pos, victim, kind, from, to, fen
        self.layer1: set[str] = set()
        self.edges: set[tuple[str, str]] = set()
        self.last_in: dict[str, int] = {}
        self.rebated_accounts: dict[str, int] = {}

    def victim_payment(self, pos: int, victim: str, payer: int, payee: int, amount: int, outside: bool) -> None:
        src = self.names[payer]
        self.stolen[victim] = self.stolen.get(victim, 0) + amount
        paid = self.victim_accounts.setdefault(victim, {})
        paid[src] = paid.get(src, 0) + amount
        if payee < 0:
            self.cash.append((pos, src, None, {victim: amount}))
            self.steps.append((pos, victim, "cash_out", src, None, amount))
        elif outside:
            dst = self.names[payee]
            self.to_vict.append((pos, src, dst, {victim: amount}))
            self.steps.append((pos, victim, "to_victim", src, dst, amount))
            self.rebated_accounts[dst] = self.rebated_accounts.get(dst, 0) + amount
        else:
            dst = self.names[payee]
            self.steps.append((pos, victim, "victim_payment", src, dst, amount))
            self.layer1.add(dst)
            self.last_in[dst] = int(self.ledger.ts[pos])

    def moved(self, pos: int, payer: int, payee: int, lots: list[tuple[str, int]], outside: bool) -> bool:
        """Record a debit's victims' money; returns whether it carried any."""
        victims: dict[str, int] = {}
        for o, a in lots:
            if o:
                victims[o] = victims.get(o, 0) + a
        if not victims:
            return False
        src = self.names[payer]
        if payee < 0:
            self.cash.append((pos, src, None, victims))
            kind, dst = "cash_out", None
        elif outside:
            dst = self.names[payee]
            self.to_vict.append((pos, src, dst, victims))
            kind = "to_victim"
            self.rebated_accounts[dst] = self.rebated_accounts.get(dst, 0) + sum(victims.values())
        else:
            dst = self.names[payee]
            kind = "transfer"
            self.edges.add((src, dst))
            self.last_in[dst] = int(self.ledger.ts[pos])
        for v, a in victims.items():
            self.steps.append((pos, v, kind, src, dst, a))
        return True

    def finish(self, holdings: dict[str, dict[str, int]], balances: dict[str, int], warnings: list[str],
               raised: dict[str, tuple[int, int]], as_of: datetime | None, end: int) -> Trace:
        ledger = self.ledger
        need = sorted({p for p, *_ in self.steps} | {p for p, *_ in self.cash} | {p for p, *_ in self.to_vict})
        tid = dict(zip(need, ledger.txn_ids(need)))
        paths: dict[str, list[Step]] = {}
        reach: dict[str, list[str]] = {}
        seen: dict[str, set[str]] = {}
        for pos, v, kind, src, dst, a in sorted(self.steps, key=lambda s: (s[0], s[1])):
            paths.setdefault(v, []).append(Step(pos, tid[pos], kind, src, dst, a))
            if dst is not None and kind != "cash_out":
                got = seen.setdefault(v, set())
                if dst not in got:
                    got.add(dst)
                    reach.setdefault(v, []).append(dst)
        # Layers: hops over the transfers that carried victims' money, from the payees
        # of the victims' payments (layer 1).
        layers: dict[str, int] = {a: 1 for a in self.layer1}
        nxt: dict[str, list[str]] = {}
        for s, d in sorted(self.edges):
            nxt.setdefault(s, []).append(d)
        frontier = sorted(self.layer1)
        depth = 1
        while frontier:
            depth += 1
            new = []
            for a in frontier:
                for b in nxt.get(a, ()):
                    if b not in layers:
                        layers[b] = depth
                        new.append(b)
            frontier = sorted(new)
        rebated: dict[str, int] = {}
        # Money paid into an account several victims paid from is shared by what each paid.
        owners: dict[str, dict[str, int]] = {}
        for v, accts in self.victim_accounts.items():
            for a, x in accts.items():
                owners.setdefault(a, {})[v] = x
        for a, x in self.rebated_accounts.items():
            if a in owners:
                for v, share in split_fen(x, owners[a]).items():
                    rebated[v] = rebated.get(v, 0) + share
        return Trace(
            rule=self.rule, as_of=as_of,
            replayed_to=from_micros(int(ledger.ts[end - 1])) if end > 0 else None,
            stolen=dict(sorted(self.stolen.items())),
            holdings=holdings, balances=balances,
            cash_outs=[Movement(p, tid[p], a, None, m) for p, a, _, m in self.cash],
            to_victims=[Movement(p, tid[p], a, b, m) for p, a, b, m in self.to_vict],
            warnings=warnings, layers=layers, paths=paths, reach=reach,
            victim_accounts={v: dict(sorted(d.items())) for v, d in sorted(self.victim_accounts.items())},
            rebated=rebated,
            last_in={a: self.last_in[a] for a in holdings if a in self.last_in},
            raised=raised,
        )


def _end(ledger: Ledger | SmallLedger, as_of: datetime | None) -> int:
    if as_of is None:
        return len(ledger)
    if as_of.tzinfo is None:
        raise InputError("as-of time has no UTC offset", field="--as-of")
    return ledger.rows_until(to_micros(as_of))


def _raise_warning(acct: str, given: int, used: int, txn: str | None) -> str:
    at = f" (the ledger takes it below zero by {txn})" if txn else ""
    return (f"opening balance of {acct} raised from {format_fen(given)} to {format_fen(used)}"
            f" so it never goes below zero{at}")


# ---------------------------------------------------------------------------
# The full replay
# ---------------------------------------------------------------------------

def replay(ledger: Ledger | SmallLedger, victims: VictimPayments, rule: str, *, accounts: Accounts | None = None,
           as_of: datetime | None = None) -> Trace:
    """Replay every row up to ``as_of`` for every account: the plain statement of the
    rules, how a :class:`~fanzha.tracing.ledger.SmallLedger` is traced (a few rows
    replayed cost less than indexing them), and the yardstick of :func:`trace_indexed`."""
    r = make_rule(rule)
    accounts = accounts or Accounts.empty()
    names = ledger.accounts
    payer_a, payee_a, amount_a = ledger.lists()
    n = len(ledger)
    end = _end(ledger, as_of)
    vict_at = dict(zip(victims.pos, victims.victim))
    outside = {payer_a[p] for p in victims.pos}
    # Opening balances over the whole ledger (see index.py for why the whole).
    given = [accounts.opening.get(a, 0) for a in names]
    bal = list(given)
    low = [0] * len(names)
    low_at: list[int | None] = [None] * len(names)
    for i in range(n):
        p, q, x = payer_a[i], payee_a[i], amount_a[i]
        if p == q:
            continue
        if p >= 0:
            bal[p] -= x
            if bal[p] < low[p]:
                low[p], low_at[p] = bal[p], i
        if q >= 0:
            bal[q] += x
    opening = [g - lo if lo < 0 else g for g, lo in zip(given, low)]
    rec = _Recorder(ledger, rule)
    state: dict[int, Holdings] = {}
    ever: set[int] = set()

    def holdings_of(a: int) -> Holdings:
        h = state.get(a)
        if h is None:
            h = state[a] = r.new(opening[a])
        return h

    for i in range(end):
        p, q, x = payer_a[i], payee_a[i], amount_a[i]
        v = vict_at.get(i)
        if v is not None:
            rec.victim_payment(i, v, p, q, x, q in outside)
            if q >= 0 and q not in outside:
                r.add(holdings_of(q), [(v, x)])
                ever.add(q)
            continue
        if p == q:
            continue
        if p < 0 or p in outside:
            if q >= 0 and q not in outside:
                r.add(holdings_of(q), [(CLEAN, x)])
            continue
        lots = r.draw(holdings_of(p), x)
        carried = rec.moved(i, p, q, lots, q in outside)
        if q >= 0 and q not in outside:
            r.add(holdings_of(q), lots)
            if carried:
                ever.add(q)
    holdings: dict[str, dict[str, int]] = {}
    balances: dict[str, int] = {}
    for a, h in state.items():
        if h.victim:
            holdings[names[a]] = {o: x for o, x in sorted(h.owners().items()) if o}
            balances[names[a]] = h.total
    warnings, raised = [], {}
    for a in sorted(ever, key=lambda a: names[a]):
        if opening[a] > given[a]:
            t = low_at[a]
            warnings.append(_raise_warning(names[a], given[a], opening[a],
                                           ledger.txn_ids([t])[0] if t is not None else None))
            raised[names[a]] = (given[a], opening[a])
    return rec.finish(holdings, balances, warnings, raised, as_of, end)


# ---------------------------------------------------------------------------
# The sub-ledger trace
# ---------------------------------------------------------------------------

def trace_indexed(index: LedgerIndex, victims: VictimPayments, rule: str, *,
                  as_of: datetime | None = None) -> Trace:
    """Trace ``victims`` on the indexed ledger, touching only their reachable
    sub-ledger (see the module docstring); the same result as :func:`replay`.

    Under ``pro-rata`` and ``libr`` a debit that cannot carry victims' money is not
    even visited. Between two visits an account's victims' money ``V`` is fixed, so
    such a debit takes only clean money, which the next visit reads off the balance.
    ``libr`` takes victims' money only when the debit exceeds the clean balance
    (``d > H - V``, ``H`` the balance before it); ``pro-rata`` gives the victims
    nothing when ``2·d·V < H`` (their exact shares sum below half a fen, so no floor is
    positive and the one leftover fen, if any, goes to the clean remainder, which is
    then above one half). The next debit worth a visit is found with one vectorised
    test over the account's remaining debits (keys precomputed once per index: see
    :meth:`~fanzha.tracing.index.LedgerIndex.skip_keys`). A debit visited needlessly
    is harmless — it draws by the rule like any other — so the ``pro-rata`` key may be
    a float compared with a margin: it only ever errs towards visiting.
    """
    r = make_rule(rule)
    skipping = rule in ("pro-rata", "libr")
    ledger = index.ledger
    names = ledger.accounts
    payer_a, payee_a, amount_a = ledger.payer, ledger.payee, ledger.amount
    end = _end(ledger, as_of)
    outside = {int(payer_a[p]) for p in victims.pos}
    rec = _Recorder(ledger, rule)
    acc_ptr, acc_pos, acc_bal, opening = index.acc_ptr, index.acc_pos, index.acc_bal, index.opening
    out_ptr, out_pos, out_idx = index.out_ptr, index.out_pos, index.out_idx
    searchsorted = np.searchsorted
    heappush, heappop = heapq.heappush, heapq.heappop
    skip_key = index.skip_keys(rule) if skipping else None

    def balance_before(a: int, pos: int) -> int:
        s, e = acc_ptr[a], acc_ptr[a + 1]
        k = searchsorted(acc_pos[s:e], pos, "left")
        return int(opening[a]) if k == 0 else int(acc_bal[s + k - 1])

    # account -> [holdings, next debit (index into out_*), end of its debits, version]
    active: dict[int, list] = {}
    ever: set[int] = set()
    heap: list[tuple[int, int, int, int]] = [(p, -1, 0, 0) for p in victims.pos if p < end]
    heapq.heapify(heap)
    vict_at = dict(zip(victims.pos, victims.victim))
    version_counter = [0]   # one counter for all: a stale entry never matches a newer one

    def sync(a: int, entry: list, before: int) -> Holdings:
        """Bring the account's clean money up to its balance ``before`` the current row."""
        h = entry[0]
        gap = before - h.total
        if gap > 0:
            r.add(h, [(CLEAN, gap)])
        elif gap < 0:   # debits skipped since the last visit took clean money only
            m = h.lots
            left = m.get(CLEAN, 0) + gap
            if left < 0 or not skipping:  # pragma: no cover - the index and the rules disagree
                raise AssertionError(f"account {names[a]} short by {-gap} fen at {before}")
            if left:
                m[CLEAN] = left
            else:
                m.pop(CLEAN, None)
            h.total = before
        return h

    def activate(a: int, pos: int) -> list:
        s, e = int(out_ptr[a]), int(out_ptr[a + 1])
        k = s + int(searchsorted(out_pos[s:e], pos, "right"))
        entry = [r.new(balance_before(a, pos)), k, e, 0]
        active[a] = entry
        ever.add(a)
        return entry

    def schedule(a: int, entry: list, now: int) -> None:
        """Queue the account's next debit after row ``now`` that may carry victims' money.
        ``entry[1]`` only ever moves past rows already replayed: a debit skipped for
        today's ``V`` may carry money once more arrives."""
        k, e = entry[1], entry[2]
        if k < e and out_pos[k] <= now:
            k += int(searchsorted(out_pos[k:e], now, "right"))
            entry[1] = k
        if k >= e:
            return
        if skipping:
            victim = entry[0].victim
            if e - k <= 8:   # short lists: a Python loop beats numpy's call overhead
                j = k
                if rule == "libr":
                    for key in skip_key[k:e].tolist():
                        if key < victim:
                            break
                        j += 1
                else:
                    limit = victim * (1 + 1e-9) + 1
                    for key in skip_key[k:e].tolist():
                        if key <= limit:
                            break
                        j += 1
                if j >= e:
                    entry[3] = -1
                    return
                k = j
            else:
                keys = skip_key[k:e]
                cond = keys < victim if rule == "libr" else keys <= victim * (1 + 1e-9) + 1
                j = int(cond.argmax())
                if not cond[j]:
                    entry[3] = -1
                    return
                k += j
        nxt = int(out_pos[k])
        if nxt < end:
            entry[3] = version_counter[0] = version_counter[0] + 1
            heappush(heap, (nxt, a, entry[3], k))
        else:
            entry[3] = -1

    while heap:
        pos, a, version, k = heappop(heap)
        if a < 0:
            v = vict_at[pos]
            p, q, x = int(payer_a[pos]), int(payee_a[pos]), int(amount_a[pos])
            rec.victim_payment(pos, v, p, q, x, q in outside)
            if q >= 0 and q not in outside:
                entry = active.get(q)
                if entry is None:
                    entry = activate(q, pos)
                    r.add(entry[0], [(v, x)])
                else:
                    r.add(sync(q, entry, balance_before(q, pos)), [(v, x)])
                schedule(q, entry, pos)
            continue
        entry = active.get(a)
        if entry is None or entry[3] != version:
            continue    # superseded: the account was rescheduled or went clean
        i = int(out_idx[k])
        h = sync(a, entry, int(opening[a]) if i == acc_ptr[a] else int(acc_bal[i - 1]))
        q, x = int(payee_a[pos]), int(amount_a[pos])
        lots = r.draw(h, x)
        to_outside = q in outside
        carried = rec.moved(pos, a, q, lots, to_outside)
        if q >= 0 and not to_outside:
            qe = active.get(q)
            if qe is not None:
                r.add(sync(q, qe, balance_before(q, pos)), lots)
                if carried:
                    schedule(q, qe, pos)
            elif carried:
                qe = activate(q, pos)
                r.add(qe[0], lots)
                schedule(q, qe, pos)
        if h.victim:
            schedule(a, entry, pos)
        else:
            del active[a]   # all clean again: its balance says everything until money returns
    holdings: dict[str, dict[str, int]] = {}
    balances: dict[str, int] = {}
    for a, entry in active.items():
        h = entry[0]
        if h.victim:
            holdings[names[a]] = {o: x for o, x in sorted(h.owners().items()) if o}
            balances[names[a]] = balance_before(a, end)
    warnings, raised = [], {}
    for a in sorted(ever, key=lambda a: names[a]):
        if index.raised(a):
            t = index.shortfall_txn(a)
            warnings.append(_raise_warning(names[a], int(index.given[a]), int(index.opening[a]),
                                           ledger.txn_id[t].as_py() if t is not None else None))
            raised[names[a]] = (int(index.given[a]), int(index.opening[a]))
    return rec.finish(holdings, balances, warnings, raised, as_of, end)
