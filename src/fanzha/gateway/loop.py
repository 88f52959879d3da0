"""The automatic loop (以快制快): chase the victims' money layer by layer, no person in it.

A report with a recent payment starts it: the receiving accounts are queried for their
transaction details (and, when the report says how much went where, stopped for that
much at once — intake does both for an emergency report). Then, every time an
institution's transaction-details answer comes back:

1. its rows join the case's *working ledger* — the union of every statement the case
   has received (a transfer appears in both the payer's and the payee's statement; it
   counts once);
2. the working ledger is traced with :mod:`fanzha.tracing` from the victims' payments;
3. the freeze plan (:func:`fanzha.tracing.freeze.plan_holds`) says how much victims'
   money sits in each account — never more than the account holds. Wherever the plan
   is above what the case already holds or has asked to hold there, a stop-payment for
   the difference goes out (so the holds on an account never exceed the victims' money
   the plan puts there when it is decided);
4. every account the trace reaches that has not been queried yet is queried at its
   institution (``round_no`` = its layer) — the next layer.

It stops by itself: when every account still holding victims' money has answered and
is held, nothing new is decided. Money cashed out is lost to the trace and is reported.

The same loop handles a case "by hand" for comparison (:attr:`LoopPolicy.officer_round`):
the same decisions, but what an answer calls for is written with a ``not before`` of
the officer's next round, so one layer goes out per round.

The decision is :func:`decide`, a plain function of :class:`CaseFacts` (no database);
the store layer (:func:`facts_for`, :func:`apply_decision`, :func:`on_answer`,
:func:`start`) reads the facts and writes the orders in the transaction that recorded
the answer, so an order exists if and only if the decision that made it does. Every
order's idempotency key is a function of the decision (case, kind, institution,
account, amount, layer and how many holds the account had before), so deciding the
same thing twice — a replayed answer, a duplicate callback — makes no new order.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from fanzha.gateway.orders import OrderKind, OrderState, idempotency_key
from fanzha.money import format_fen, parse_yuan
# Imported here, not on the first answer: the tracer pulls in numpy and pyarrow, and a
# dispatcher must not stall its first batch of answers for seconds loading them.
from fanzha.tracing import ledger as ledger_mod
from fanzha.tracing.freeze import LEGAL_BASIS, HoldPolicy, plan_holds
from fanzha.tracing.service import trace_rows

ACTOR = "gateway-loop"
TD = OrderKind.transaction_details.value
HOLD_KINDS = (OrderKind.stop_payment.value, OrderKind.freeze.value)
DEAD = frozenset({OrderState.rejected.value, OrderState.failed.value, OrderState.cancelled.value})
FINAL_TD = frozenset({OrderState.done.value, *DEAD})


# --- the facts and the decision, as plain data ----------------------------------------

@dataclass(frozen=True)
class Statement:
    """One institution's answer to a transaction-details query."""

    account: str
    institution: str
    balance_fen: int
    as_of: datetime
    rows: tuple[dict[str, Any], ...]   # protocol LedgerRow dicts: txn_id, timestamp, from/to, amount…
    key: str = ""                      # the query's idempotency key
    layer: int = 1


@dataclass(frozen=True)
class Placed:
    """An order the case already has (any state)."""

    kind: str
    account: str
    institution: str
    state: str
    amount_fen: int | None = None
    held_fen: int | None = None        # a done hold: what the institution actually held
    key: str = ""
    round_no: int = 0
    answered_at: datetime | None = None   # a done hold: when the institution acted

    @property
    def short(self) -> bool:
        """A done hold that found less than it asked: the money had moved on."""
        return self.state == OrderState.done.value and self.held_fen is not None and \
            self.held_fen < (self.amount_fen or 0)

    @property
    def committed_fen(self) -> int:
        """What this hold counts for on its account: what was held when done, what was
        asked while it is still on its way, nothing when refused or given up."""
        if self.kind not in HOLD_KINDS or self.state in DEAD:
            return 0
        if self.state == OrderState.done.value and self.held_fen is not None:
            return min(self.held_fen, self.amount_fen or 0)
        return self.amount_fen or 0


@dataclass(frozen=True)
class CaseFacts:
    case_no: str
    layer1: tuple[tuple[str, str], ...]          # (account, institution) the report named
    victim_accounts: frozenset[str] = frozenset()
    loss_fen: int = 0
    paid_at: datetime | None = None
    received_at: datetime | None = None
    statements: tuple[Statement, ...] = ()
    placed: tuple[Placed, ...] = ()
    started: bool = True     # the loop runs for this case: an emergency report, or started by hand
    started_at: datetime | None = None   # when its first order was queued (officer rounds count from it)
    #: How the case is handled, as recorded on its loop orders (:func:`mode_of`): the
    #: same for every answer whichever road it came by. None: not recorded yet.
    mode: dict[str, float | None] | None = None


@dataclass(frozen=True)
class LoopPolicy:
    rule: str = "fifo"
    hold_kind: str = OrderKind.stop_payment.value
    min_hold_fen: int = 100                 # below a yuan a hold is not worth an institution's time
    min_query_fen: int = 100
    max_holds_per_account: int = 3          # top-ups as more money is traced there
    victim_window: timedelta = timedelta(hours=24)   # without the victims' accounts: payments this long before
    #: ``None``: automatic, every order goes as soon as it is decided. A duration: the
    #: case handled "by hand" — what an answer calls for waits for the officer's next
    #: round (rounds this far apart), one layer a round.
    officer_round: timedelta | None = None
    #: By hand: the first round (the report's own orders) comes this long after the
    #: loop starts; the later rounds follow ``officer_round`` apart.
    first_round_after: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        if self.officer_round is not None and self.officer_round <= timedelta(0):
            raise ValueError(f"officer_round must be positive, not {self.officer_round}")
        if self.first_round_after < timedelta(0):
            raise ValueError(f"first_round_after must not be negative, not {self.first_round_after}")

    def for_case(self, mode: dict[str, float | None] | None) -> LoopPolicy:
        """This policy with the case's own way of handling (:func:`mode_of`), when it
        has one: a case started by hand stays by hand whoever records its answers — the
        dispatcher or a callback through the API — and an automatic one automatic."""
        if mode is None:
            return self
        round_s, first_s = mode.get("officer_round_s"), mode.get("first_round_after_s") or 0
        return replace(self, officer_round=timedelta(seconds=round_s) if round_s else None,
                       first_round_after=timedelta(seconds=first_s))

    def round_at(self, started_at: datetime, now: datetime) -> datetime | None:
        """By hand, when what is decided at ``now`` goes out (None: automatic, at once)."""
        if self.officer_round is None:
            return None
        return next_round(started_at + self.first_round_after, now, self.officer_round)


#: ``session.info`` key: the loop policy of the deployment recording answers in this
#: session (the API sets its app's, :func:`deployment_policy`); an explicit policy wins.
POLICY = "fanzha.gateway.loop.policy"


def deployment_policy(settings=None) -> LoopPolicy:
    """The deployment's way of running the loop (``FANZHA_LOOP_OFFICER_ROUND``, in
    minutes; unset: automatic), from ``settings`` or the environment's. Every road that
    records answers without a policy of its own reads it, so a case started without a
    policy runs the same way whichever road brings its first answer."""
    if settings is None:
        from fanzha.settings import get_loop_settings

        settings = get_loop_settings()
    minutes = settings.loop_officer_round
    return LoopPolicy(officer_round=timedelta(minutes=minutes)) if minutes else LoopPolicy()


def policy_for(session, policy: LoopPolicy | None) -> LoopPolicy:
    """``policy`` when given (a dispatcher's ``--officer-round``), else the one set on the
    session by the road recording the answer, else the deployment's."""
    if policy is not None:
        return policy
    given = session.info.get(POLICY) if session is not None else None
    return given if given is not None else deployment_policy()


def mode_of(policy: LoopPolicy) -> dict[str, float | None]:
    """How a case is handled, as its loop orders record it (``request.loop.mode``)."""
    if policy.officer_round is None:
        return {"officer_round_s": None}
    return {"officer_round_s": policy.officer_round.total_seconds(),
            "first_round_after_s": policy.first_round_after.total_seconds()}


def next_round(started_at: datetime, now: datetime, every: timedelta) -> datetime:
    """The first officer round at or after ``now``, rounds ``every`` apart from ``started_at``."""
    if now <= started_at:
        return started_at
    n = -((started_at - now) // every)   # ceil((now − started_at) / every)
    return started_at + n * every


@dataclass(frozen=True)
class NewOrder:
    kind: str
    account: str
    institution: str
    layer: int
    key: str
    amount_fen: int | None = None
    expires_at: datetime | None = None
    legal_basis: str = ""
    reason: str = ""
    not_before: datetime | None = None    # by hand: not sent before the officer's next round


@dataclass
class Decision:
    orders: list[NewOrder] = field(default_factory=list)
    stolen_fen: int = 0                     # victims' payments found in the working ledger
    victims_fen: int = 0                    # what the case's holds may add up to (:func:`victims_money`)
    plan: dict[str, int] = field(default_factory=dict)        # account -> victims' money there (capped)
    committed: dict[str, int] = field(default_factory=dict)   # account -> held or asked, before this decision
    untraced: dict[str, int] = field(default_factory=dict)    # victims' money in accounts not answered yet
    unheld: dict[str, int] = field(default_factory=dict)      # answered accounts, money not covered by holds
    cashed_out_fen: int = 0
    layers: dict[str, int] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (account, why)
    warnings: list[str] = field(default_factory=list)
    mode: dict[str, float | None] = field(default_factory=dict)   # recorded on the orders (:func:`mode_of`)

    @property
    def done(self) -> bool:
        """Nothing left to ask for: every account holding victims' money answered and held."""
        return not self.orders and not self.untraced and not self.unheld

    def summary(self) -> dict[str, Any]:
        return {"stolen": format_fen(self.stolen_fen), "planned": format_fen(sum(self.plan.values())),
                "committed": format_fen(sum(self.committed.get(a, 0) for a in self.plan)),
                "untraced": format_fen(sum(self.untraced.values())), "unheld": format_fen(sum(self.unheld.values())),
                "cashed_out": format_fen(self.cashed_out_fen), "new_orders": len(self.orders),
                "holds": [{"account": o.account, "institution": o.institution, "amount": format_fen(o.amount_fen or 0),
                           "layer": o.layer} for o in self.orders if o.kind in HOLD_KINDS],
                "queries": [{"account": o.account, "institution": o.institution, "layer": o.layer}
                            for o in self.orders if o.kind == TD],
                "skipped": [{"account": a, "reason": r} for a, r in self.skipped], "done": self.done}


def hold_key(case_no: str, kind: str, institution: str, account: str, amount_fen: int, layer: int, seq: int) -> str:
    """The same hold decision (same account, amount, layer, and n-th hold there) is one key."""
    return idempotency_key(case_no, kind, institution, f"{account}#{seq}", amount_fen, layer)


def query_key(case_no: str, institution: str, account: str, layer: int) -> str:
    return idempotency_key(case_no, TD, institution, account, None, layer)


# --- the decision ------------------------------------------------------------------------

def working_ledger(statements: tuple[Statement, ...] | list[Statement]) -> tuple[list[dict], dict[str, str],
                                                                                  dict[str, int]]:
    """The union of the statements' rows (one per ``txn_id``), the institution of every
    account seen, and the opening balance of every account that answered (its balance
    when it answered, less what its own rows brought in, plus what they took out)."""
    rows: dict[str, dict] = {}
    inst: dict[str, str] = {}
    opening: dict[str, int] = {}
    for st in statements:
        inst[st.account] = st.institution
        net = 0
        for r in st.rows:
            fen = r["amount_fen"] if "amount_fen" in r else parse_yuan(str(r["amount"]))
            frm, to = r.get("from_account") or "", r.get("to_account") or ""
            if frm == st.account and to != st.account:
                net -= fen
            elif to == st.account and frm != st.account:
                net += fen
            if r["txn_id"] not in rows:
                rows[r["txn_id"]] = {**r, "amount_fen": fen}
            for acct, key in ((frm, "from_institution"), (to, "to_institution")):
                if acct and r.get(key) and acct not in inst:
                    inst[acct] = r[key]
        opening[st.account] = max(st.balance_fen - net, 0)
    ordered = sorted(rows.values(), key=lambda r: (_ts(r["timestamp"]), r["txn_id"]))
    return ordered, inst, opening


def _ts(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def victim_payments(facts: CaseFacts, rows: list[dict], policy: LoopPolicy) -> list[tuple[str, str]]:
    """(victim id, txn_id) of the victims' payments in the working ledger.

    With the victims' own accounts known (the report, the victim's record): their
    payments into the receiving accounts. Without: the payments into the receiving
    accounts made after ``paid_at − victim_window`` and not after the report, latest
    first until they make up the reported loss — each payer taken as one victim.
    """
    recv = {a for a, _ in facts.layer1}
    if facts.victim_accounts:
        return [(f"V:{r['from_account']}", r["txn_id"]) for r in rows
                if r.get("from_account") in facts.victim_accounts and r.get("to_account") in recv]
    lo = facts.paid_at - policy.victim_window if facts.paid_at else None
    cands = [r for r in rows if r.get("to_account") in recv and r.get("from_account")
             and r["from_account"] not in recv
             and (lo is None or _ts(r["timestamp"]) >= lo)
             and (facts.received_at is None or _ts(r["timestamp"]) <= facts.received_at)]
    out, total = [], 0
    for r in sorted(cands, key=lambda r: (_ts(r["timestamp"]), r["txn_id"]), reverse=True):
        if facts.loss_fen and total >= facts.loss_fen:
            break
        out.append((f"V:{r['from_account']}", r["txn_id"]))
        total += r["amount_fen"]
    return sorted(out, key=lambda v: v[1])


def _trace(rows: list[dict], victims: list[tuple[str, str]], inst: dict[str, str], opening: dict[str, int],
           policy: LoopPolicy):
    """Trace the working ledger with fanzha.tracing; returns (trace, the holding accounts'
    activity, hold policy) — what the freeze plan is made from."""
    # The rows go to the tracer's exact reader as already-split records (the same checks
    # as a CSV file's, without writing one to disk and parsing it back for every answer).
    # A working ledger is usually a few statements' rows, which the tracer replays on
    # plain lists rather than indexing them (:func:`fanzha.tracing.service.trace_rows`).
    records = [(n + 2, {"txn_id": str(r["txn_id"]), "timestamp": _ts(r["timestamp"]).isoformat(),
                        "from_account": r.get("from_account") or "", "to_account": r.get("to_account") or "",
                        "amount": format_fen(r["amount_fen"]),
                        "from_institution": inst.get(r.get("from_account") or "", ""),
                        "to_institution": inst.get(r.get("to_account") or "", "")}) for n, r in enumerate(rows)]
    accts = ledger_mod.Accounts({a: f for a, f in opening.items()}, {a: i for a, i in inst.items() if i}, {})
    vrows = [ledger_mod.VictimRow(v, t, n + 2) for n, (v, t) in enumerate(victims)]
    hp = HoldPolicy(kind=policy.hold_kind)
    trace, activity = trace_rows(records, vrows, accts, policy.rule, names=("working-ledger", "victims"),
                                 window=hp.recent_window)
    return trace, activity, hp


#: Traces of the working ledgers decided on lately, by everything a trace is made from
#: (the rows, openings, institutions, victims, rule). A case is decided again on the
#: same statements when a hold comes back short; the trace is the costly part of a
#: decision, and the same inputs give the same trace. Bounded: oldest out first.
_TRACES: dict[tuple, tuple] = {}
_TRACES_MAX = 2048


def _trace_once(rows, victims, inst, opening, policy: LoopPolicy, now: datetime):
    """:func:`_trace`, kept for the same inputs; returns (trace, freeze plan at ``now``)."""
    key = (tuple((r["txn_id"], str(r["timestamp"]), r.get("from_account") or "", r.get("to_account") or "",
                  r["amount_fen"]) for r in rows),
           tuple(sorted(opening.items())), tuple(sorted(inst.items())), tuple(victims), policy.rule, policy.hold_kind)
    got = _TRACES.get(key)
    if got is None:
        got = _TRACES[key] = _trace(rows, victims, inst, opening, policy)
        if len(_TRACES) > _TRACES_MAX:
            _TRACES.pop(next(iter(_TRACES)))
    trace, activity, hp = got
    return trace, plan_holds(trace, activity, issued_at=now, policy=hp)


def decide(facts: CaseFacts, *, now: datetime | None = None, policy: LoopPolicy | None = None) -> Decision:
    """What the loop does next for one case, given everything the case knows.

    Pure: the same facts give the same decision (the same orders with the same keys).
    ``now`` only dates the holds' expiry.
    """
    policy = (policy or LoopPolicy()).for_case(facts.mode)
    now = now or datetime.now(UTC)
    d = Decision(mode=mode_of(policy))
    queried: dict[str, Placed] = {}
    holds: dict[str, list[Placed]] = {}
    for o in facts.placed:
        if o.kind == TD:
            queried.setdefault(o.account, o)
        elif o.kind in HOLD_KINDS:
            holds.setdefault(o.account, []).append(o)
    # The receiving accounts are queried first (intake may have done it already).
    for acct, inst in facts.layer1:
        if acct not in queried and acct not in facts.victim_accounts:
            d.orders.append(NewOrder(TD, acct, inst, 1, query_key(facts.case_no, inst, acct, 1),
                                     reason="receiving account named in the report"))
            queried[acct] = Placed(TD, acct, inst, OrderState.pending.value)
    answered = {s.account for s in facts.statements}
    as_of: dict[str, datetime] = {}
    for st_ in facts.statements:
        as_of[st_.account] = max(as_of.get(st_.account, st_.as_of), st_.as_of)
    rows, inst, opening = working_ledger(facts.statements)
    victims = victim_payments(facts, rows, policy) if rows else []
    if not victims:
        return _wait_for_round(d, facts, policy, now)
    trace, plan = _trace_once(rows, victims, inst, opening, policy, now)
    d.stolen_fen = sum(trace.stolen.values())
    d.cashed_out_fen = sum(sum(m.victims.values()) for m in trace.cash_outs)
    d.layers = dict(trace.layers)
    d.warnings = list(trace.warnings)
    # The case's holds together never exceed the victims' money. A hold catches whatever
    # is free in its account when the institution acts — an emergency stop for the
    # report's amount at the receiving account may catch other money there after the
    # victims' has moved on — so what is held (or asked) anywhere is counted against it:
    # money already held upstream is not chased again downstream.
    d.victims_fen = victims_money(facts, d.stolen_fen, answered, queried)
    room = d.victims_fen - sum(p.committed_fen for p in facts.placed)
    # held for certain (answered holds) as much as the victims lost: nothing left to chase
    covered = sum(p.committed_fen for p in facts.placed if p.state == OrderState.done.value) >= d.victims_fen
    for h in plan:
        acct = h.account
        if acct in facts.victim_accounts:
            continue
        code = h.institution or inst.get(acct, "")
        layer = h.layer or trace.layers.get(acct) or 1
        d.plan[acct] = h.amount
        mine = holds.get(acct, [])
        committed = sum(o.committed_fen for o in mine)
        d.committed[acct] = committed
        if not code:
            d.skipped.append((acct, "institution unknown"))
            continue
        if covered:
            if h.amount > committed:
                d.skipped.append((acct, "the victims' money is held already (elsewhere in the chain)"))
            continue
        want = h.amount - committed
        gap = min(want, room)
        # a hold there found less than it asked after the account's last statement: the
        # money has moved on since; asking again on that statement would find nothing
        drained = any(o.short and o.answered_at is not None and (acct not in as_of or o.answered_at >= as_of[acct])
                      for o in mine)
        if drained and gap >= policy.min_hold_fen:
            d.skipped.append((acct, f"{format_fen(want)} not held: a hold found the money gone from there"))
            if acct in answered:
                d.unheld[acct] = want
        elif want >= policy.min_hold_fen and gap < policy.min_hold_fen:
            d.skipped.append((acct, f"{format_fen(want)} not asked: the case's holds already cover the victims' money"))
        elif gap >= policy.min_hold_fen:
            if len(mine) >= policy.max_holds_per_account:
                d.skipped.append((acct, f"{len(mine)} holds already; {format_fen(gap)} not held"))
            else:
                room -= gap
                d.orders.append(NewOrder(
                    policy.hold_kind, acct, code, layer,
                    hold_key(facts.case_no, policy.hold_kind, code, acct, gap, layer, len(mine)), gap,
                    expires_at=h.expires_at, legal_basis=h.legal_basis, reason=h.reason))
        if acct not in answered:
            d.untraced[acct] = h.amount
            if acct not in queried and h.amount >= policy.min_query_fen:
                d.orders.append(NewOrder(TD, acct, code, layer, query_key(facts.case_no, code, acct, layer),
                                         reason=f"layer {layer}: {format_fen(h.amount)} of victims' money "
                                                f"traced here"))
                queried[acct] = Placed(TD, acct, code, OrderState.pending.value)
        elif gap >= policy.min_hold_fen and len(mine) >= policy.max_holds_per_account:
            d.unheld[acct] = gap
    # Accounts the trace passed through whose query never came back cannot be followed.
    for acct, o in queried.items():
        if acct not in answered and o.state in DEAD and acct in d.untraced:
            d.skipped.append((acct, f"query {o.state}: the money there cannot be followed"))
    return _wait_for_round(d, facts, policy, now)


def victims_money(facts: CaseFacts, traced_fen: int, answered: set[str], queried: dict[str, Placed]) -> int:
    """What the case's holds may add up to: the victims' payments the trace found; while
    a receiving account the report named may still answer, at least the reported loss."""
    waiting = any(a not in answered and (a not in queried or queried[a].state not in DEAD)
                  for a, _ in facts.layer1 if a not in facts.victim_accounts)
    return max(traced_fen, facts.loss_fen) if waiting else traced_fen


def _wait_for_round(d: Decision, facts: CaseFacts, policy: LoopPolicy, now: datetime) -> Decision:
    """By hand (``policy.officer_round``): the decided orders wait for the next round."""
    at = policy.round_at(facts.started_at or now, now)
    if at is not None and d.orders:
        d.orders = [replace(o, not_before=at) for o in d.orders]
    return d


def warm_up() -> None:
    """Decide on a two-row ledger once, and trace it once more by the tracer's indexed
    road (the one a large working ledger takes): that road's first run loads what it
    loads lazily (pyarrow brings in pandas — most of a second), which must not fall on
    the first batch of real answers. A dispatcher calls this while its first requests
    are out."""
    t = datetime(2024, 1, 1, tzinfo=UTC)
    rows = ({"txn_id": "w1", "timestamp": t.isoformat(), "from_account": "v", "to_account": "a", "amount": "2.00"},
            {"txn_id": "w2", "timestamp": (t + timedelta(minutes=1)).isoformat(), "from_account": "a",
             "to_account": "b", "amount": "1.00", "to_institution": "X"})
    decide(CaseFacts("warm-up", (("a", "X"),), frozenset({"v"}), 200, None, None,
                     (Statement("a", "X", 100, t + timedelta(minutes=2), rows),), (), True), now=t)
    trace_rows(list(enumerate(rows, 2)), [ledger_mod.VictimRow("V:v", "w1", 2)], ledger_mod.Accounts.empty(),
               small_rows=0)


def check_decision(facts: CaseFacts, d: Decision) -> None:
    """The invariants, for tests: no account asked to hold more than the plan's victims'
    money there, nor the case's holds together more than the victims'; no key twice;
    nothing already placed asked again."""
    keys = [o.key for o in d.orders]
    assert len(keys) == len(set(keys)), "a key twice in one decision"
    placed = {p.key for p in facts.placed}
    assert not placed & set(keys), "an order decided again"
    for acct, amount in d.plan.items():
        new = sum(o.amount_fen or 0 for o in d.orders if o.account == acct and o.kind in HOLD_KINDS)
        assert d.committed.get(acct, 0) + new <= max(amount, d.committed.get(acct, 0)), acct
    before = sum(p.committed_fen for p in facts.placed)
    new = sum(o.amount_fen or 0 for o in d.orders if o.kind in HOLD_KINDS)
    assert not new or before + new <= d.victims_fen, "the case's holds above the victims' money"


# --- the store layer ----------------------------------------------------------------------

def _placed_from(order, code: str) -> Placed:
    """``order``: an Order, or a row with its columns (kind, target, state, amount_fen,
    answer, idempotency_key, round_no)."""
    held = None
    if order.kind in HOLD_KINDS and order.state == OrderState.done.value and order.answer:
        res = (order.answer or {}).get("result") or {}
        if res.get("held") is not None:
            held = parse_yuan(str(res["held"]), allow_zero=True)
    at = None
    if held is not None and order.answer.get("answered_at"):
        at = _ts(order.answer["answered_at"])
    return Placed(order.kind, order.target, code, order.state, order.amount_fen, held, order.idempotency_key,
                  order.round_no or 0, at)


def facts_for(session, case) -> CaseFacts:
    """Everything the loop knows about ``case``: three small queries (orders, report,
    victims)."""
    return facts_for_many(session, [case])[case.id]


@dataclass(frozen=True)
class _OrderFacts:
    """What one order tells the loop (:func:`facts_for_many`), kept between decisions.

    ``version`` is what the row is checked against each time: its idempotency key, its
    state and when it was made. Everything else an order carries for the loop is fixed
    when it is made (kind, account, amount, layer, the loop's note) or when it reaches
    the state it is in (the answer comes with ``done`` or ``rejected``, and a final
    order takes no other), so an unchanged version means unchanged facts.
    """

    version: tuple
    placed: Placed
    statement: Statement | None
    layer1: bool                         # a first-layer query: the report named the account
    loop: bool                           # written by the loop (its request carries ``loop``)
    mode: dict[str, float | None] | None


#: Per database (engine), the order facts of transactions that committed: order id →
#: :class:`_OrderFacts`. A process that starts (or restarts after a crash) has none and
#: reads every order's answer once; after that a decision reads again only the answers
#: of the orders that changed. Entries read inside a transaction are kept in its
#: session (``_STAGED``) and join only when it commits: a rolled-back transaction
#: leaves nothing behind. Bounded: past ``_ORDER_FACTS_MAX`` it starts over.
_ORDER_FACTS: weakref.WeakKeyDictionary[Any, dict[int, _OrderFacts]] = weakref.WeakKeyDictionary()
_ORDER_FACTS_MAX = 200_000
_STAGED = "gateway_loop_order_facts"
#: ``session.info`` key: order id → (state, answer, request) of orders whose JSON the
#: session holds in memory (answers it recorded, orders it made), not read back.
_FRESH = "gateway_loop_fresh_orders"


def _note_fresh(session, order_id: int, state: str, answer: dict | None, request: dict | None) -> None:
    session.info.setdefault(_FRESH, {})[order_id] = (state, answer, request)


def _committed_facts(session) -> dict[int, _OrderFacts] | None:
    """The kept order facts of the session's database (None: none can be kept for it)."""
    from sqlalchemy.exc import UnboundExecutionError

    try:
        bind = session.get_bind()
    except UnboundExecutionError:  # an unbound session: nothing is kept
        return None
    try:
        return _ORDER_FACTS.setdefault(bind, {})
    except TypeError:  # a bind that cannot be weakly referenced
        return None


def _keep_committed(session) -> None:
    """A transaction committed: what it read of its orders is now the database's."""
    staged = session.info.pop(_STAGED, None)
    if not staged:
        return
    kept = _committed_facts(session)
    if kept is None:
        return
    if len(kept) + len(staged) > _ORDER_FACTS_MAX:
        kept.clear()
    kept.update(staged)


def _end_transaction(session, transaction) -> None:
    """Whatever a transaction leaves staged when it ends without committing is dropped."""
    if transaction.parent is None:
        session.info.pop(_STAGED, None)
        session.info.pop(_FRESH, None)


_LISTENING: list[bool] = []


def _listen() -> None:
    """Have every session hand its staged order facts over on commit (once a process)."""
    if _LISTENING:
        return
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    event.listen(Session, "after_commit", _keep_committed)
    event.listen(Session, "after_transaction_end", _end_transaction)
    _LISTENING.append(True)


def forget_order_facts() -> None:
    """Drop every order fact kept between decisions (the next decisions read all again)."""
    _ORDER_FACTS.clear()


def _order_facts(row, answer: dict | None, request: dict | None) -> _OrderFacts:
    """:class:`_OrderFacts` of one order, from its columns (``row``) and its JSON."""
    code = row.code
    view = _Row(row.kind, row.target, row.state, row.amount_fen, answer, row.idempotency_key, row.round_no)
    statement = None
    if row.kind == TD and row.state == OrderState.done.value and answer:
        res = answer.get("result") or {}
        if res.get("rows") is not None:
            statement = Statement(row.target, res.get("institution") or code,
                                  parse_yuan(str(res.get("balance") or "0"), allow_zero=True),
                                  _ts(res.get("as_of") or answer.get("answered_at")),
                                  tuple(res["rows"]), row.idempotency_key, max(row.round_no or 1, 1))
    loop = "loop" in (request or {})
    return _OrderFacts((row.idempotency_key, row.state, row.created_at), _placed_from(view, code), statement,
                       row.kind == TD and (row.round_no or 0) <= 1, loop,
                       request["loop"].get("mode") if loop else None)


@dataclass(frozen=True)
class _Row:
    kind: str
    target: str
    state: str
    amount_fen: int | None
    answer: dict | None
    idempotency_key: str
    round_no: int | None


def facts_for_many(session, cases) -> dict[int, CaseFacts]:
    """:func:`facts_for` of several cases at once.

    The cases' orders are read as plain columns (no JSON, no ORM objects); the answers
    and requests are read only for the orders not seen in this state before — the ones
    just answered or just made, when the session does not hold them already — and
    what each order says is kept for the next decision (:class:`_OrderFacts`).
    Reports and victims: one query each. Core statements throughout: this runs for
    every batch of answers a dispatcher records.
    """
    q = _statements(session)
    session.flush()   # Core statements do not flush what the session holds
    ids = [c.id for c in cases]
    rows = session.execute(q.orders, {"ids": ids}).all()
    _listen()
    kept = _committed_facts(session)
    if kept is None:
        kept = {}
    staged = session.info.setdefault(_STAGED, {})
    known: dict[int, _OrderFacts] = {}
    unknown = []
    for r in rows:
        got = staged.get(r.id) or kept.get(r.id)
        if got is not None and got.version == (r.idempotency_key, r.state, r.created_at):
            known[r.id] = got
        else:
            unknown.append(r)
    if unknown:
        # the answers just recorded and the orders just made are in memory already
        fresh = session.info.get(_FRESH) or {}
        read = [r.id for r in unknown if r.id not in fresh or fresh[r.id][0] != r.state]
        heavy = {i: (a, r) for i, a, r in session.execute(q.answers, {"ids": read})} if read else {}
        for r in unknown:
            answer, request = heavy[r.id] if r.id in heavy else fresh.get(r.id, (None, None, None))[1:]
            known[r.id] = staged[r.id] = _order_facts(r, answer, request)
    by_case: dict[int, list] = {i: [] for i in ids}
    for r in rows:
        by_case[r.case_id].append((r, known[r.id]))
    reps = {r[0]: (r[1], r[2]) for r in session.execute(q.reports, {"ids": ids})}
    victims: dict[int, set[str]] = {i: set() for i in ids}
    for cid, acct in session.execute(q.victims, {"ids": ids}):
        if acct:
            victims[cid].add(acct)
    out = {}
    for case in cases:
        placed, statements, layer1 = [], [], []
        started, started_at, mode = False, None, None
        for r, of in by_case[case.id]:
            if of.loop:
                started = True
                started_at = r.created_at if started_at is None else min(started_at, r.created_at)
                if mode is None:
                    mode = of.mode
            placed.append(of.placed)
            if of.layer1 and (r.target, r.code) not in layer1:
                layer1.append((r.target, r.code))
            if of.statement is not None:
                statements.append(of.statement)
        received, paid = reps.get(case.id, (None, None))
        # a report with a recent payment (intake marks the case an emergency) starts it too
        started = started or bool(case.emergency and paid is not None)
        out[case.id] = CaseFacts(case.case_no, tuple(layer1), frozenset(victims[case.id]), case.loss_fen or 0, paid,
                                 received, tuple(statements), tuple(placed), started, started_at, mode)
    return out


#: ``session.info`` keys. A dispatcher recording answers sets ``LEASE_TO`` to
#: ``(dispatcher name, lease until, institution ids not to lease)``: the loop's new
#: orders are then written already leased to it (for institutions with an API), so it
#: sends them straight after the commit instead of reading them back from the outbox.
#: Every order the loop writes in the session is listed under ``NEW_ORDERS``. With
#: ``DEFER`` set to a list, answers recorded in the session are put there and the
#: loop's step for all of them is taken at once by :func:`on_answers`.
LEASE_TO = "gateway_loop_lease_to"
NEW_ORDERS = "gateway_loop_new_orders"
DEFER = "gateway_loop_defer"


def _create_orders(session, todo: list[tuple[Any, NewOrder, Any, str | None, dict]], *, actor: str) -> list:
    """Queue ``todo`` (each a case, a decided order, its institution, the answer that
    decided it and the case's mode), checked by :func:`fanzha.store.services.order_rows`
    (the same rules and keys as ``create_orders``: one query for the keys already used)
    and written with two multi-row inserts — orders, then their first events — not one
    ORM object at a time: this is the loop's hot path. Returns the new orders (as
    :class:`~fanzha.store.services.OrderRow` with their ``id``), leased to the dispatcher
    recording the answers (``LEASE_TO``) when it can send them now.
    """
    from fanzha.store.services import OrderSpec, insert_order_rows, order_rows

    specs = [OrderSpec(case, o.kind, inst, o.account, o.legal_basis or _basis(o.kind), o.amount_fen, o.key,
                       o.expires_at, o.layer, {"loop": {"layer": o.layer, "after": after, "reason": o.reason,
                                                        "mode": mode}},
                       o.not_before)
             for case, o, inst, after, mode in todo]
    lease = session.info.get(LEASE_TO)
    made = [row for row, created in order_rows(session, specs, created_by=actor) if created]
    if not made:
        return []
    for row in made:
        v = row.values
        leased = lease is not None and row.institution.api_url and row.institution.id not in lease[2] \
            and v["next_attempt_at"] is None
        v["leased_by"], v["lease_until"] = (lease[0], lease[1]) if leased else (None, None)
    insert_order_rows(session, made)
    for row in made:
        _note_fresh(session, row.values["id"], row.values["state"], None, row.values["request"])
    return made


def apply_decision(session, case, decision: Decision, *, after: str | None = None, actor: str = ACTOR) -> list:
    """Queue the decision's orders (in the caller's transaction) and note it on the case."""
    return _apply_decisions(session, [(case, decision, after)], actor=actor).get(case.id, [])


def _apply_decisions(session, decided: list[tuple[Any, Decision, str | None]], *, actor: str = ACTOR) -> dict:
    """:func:`apply_decision` for several cases' decisions: one query for the
    institutions, one for the keys already used, one multi-row insert each for the
    orders, their events and the cases' notes. Returns the orders made, by case id."""
    from fanzha.store.db import insert_rows
    from fanzha.store.models import CaseEvent
    from fanzha.store.types import utcnow

    decided = [(c, d, a) for c, d, a in decided if d.orders or d.skipped]
    if not decided:
        return {}
    codes = sorted({o.institution for _, d, _ in decided for o in d.orders})
    insts = _institutions(session, codes) if codes else {}
    todo = []
    for case, decision, after in decided:
        for o in decision.orders:
            inst = insts.get(o.institution)
            if inst is None:
                decision.skipped.append((o.account, f"institution {o.institution} not connected"))
                continue
            todo.append((case, o, inst, after, decision.mode))
    session.flush()   # what the session holds first (the answers' own changes)
    made = _create_orders(session, todo, actor=actor)
    by_case: dict[int, list] = {}
    for order in made:
        by_case.setdefault(order.case.id, []).append(order)
    notes = []
    for case, decision, after in decided:
        mine = by_case.get(case.id, [])
        if mine or decision.skipped:
            notes.append({"case_id": case.id, "at": utcnow(), "kind": "loop", "actor": actor, "detail": {
                "after": after, "orders": [{"kind": o.kind, "account": o.target, "amount_fen": o.amount_fen,
                                            "layer": o.round_no} for o in mine],
                "untraced": format_fen(sum(decision.untraced.values())),
                "unheld": format_fen(sum(decision.unheld.values())),
                "skipped": [{"account": a, "reason": r} for a, r in decision.skipped][:50]}})
    if notes:
        insert_rows(session, CaseEvent.__table__, notes)
    if made:
        session.info.setdefault(NEW_ORDERS, []).extend(made)
    return by_case


def _basis(kind: str) -> str:
    return LEGAL_BASIS.get(kind) or LEGAL_BASIS["stop_payment"]


def _institutions(session, codes) -> dict:
    """The institutions of ``codes`` (ORM objects: the orders are made with them), by code."""
    return {i.code: i for i in session.execute(_statements(session).institutions, {"codes": sorted(codes)}).scalars()}


def _lock_cases(session, case_ids):
    """Lock the cases' rows (in id order, so two writers never wait on each other in a
    circle) and read them afresh."""
    return list(session.execute(_statements(session).cases, {"ids": sorted(set(case_ids))}).scalars())


@dataclass(frozen=True)
class _Statements:
    """The statements taken for every batch of answers, built once per kind of database
    (their construction and cache keys were a good part of a small batch's cost), each
    with the ids as one parameter ``ids``."""

    cases: Any      # the cases, locked and read afresh (ORM: the decisions keep them)
    orders: Any     # the cases' loop orders as plain columns (:func:`facts_for_many`)
    answers: Any    # those orders' answers and requests
    reports: Any    # the cases' first receipt and last payment
    victims: Any    # the cases' victims' accounts
    institutions: Any   # institutions by code (parameter ``codes``)


_BUILT: dict[str, _Statements] = {}


def _statements(session) -> _Statements:
    dialect = session.get_bind().dialect.name
    built = _BUILT.get(dialect)
    if built is None:
        built = _BUILT[dialect] = _build_statements(dialect)
    return built


def _build_statements(dialect: str) -> _Statements:
    from sqlalchemy import bindparam, func, select

    from fanzha.store.db import one_of_bound
    from fanzha.store.models import Case, Institution, Order, Report, Victim

    def ids_in(column):
        return one_of_bound(dialect, column, "ids")

    o_, i_, r_, v_ = Order.__table__.c, Institution.__table__.c, Report.__table__.c, Victim.__table__.c
    return _Statements(
        cases=select(Case).where(Case.id.in_(bindparam("ids", expanding=True))).order_by(Case.id)
        .with_for_update().execution_options(populate_existing=True),
        orders=select(o_.id, o_.case_id, o_.kind, o_.target, o_.state, o_.amount_fen, o_.idempotency_key,
                      o_.round_no, o_.created_at, i_.code)
        .join_from(Order.__table__, Institution.__table__, o_.institution_id == i_.id)
        .where(ids_in(o_.case_id), o_.kind.in_((TD, *HOLD_KINDS))).order_by(o_.id),
        answers=select(o_.id, o_.answer, o_.request).where(ids_in(o_.id)),
        reports=select(r_.case_id, func.min(r_.received_at), func.max(r_.paid_at))
        .where(ids_in(r_.case_id)).group_by(r_.case_id),
        victims=select(v_.case_id, v_.account).where(ids_in(v_.case_id)),
        institutions=select(Institution).where(Institution.code.in_(bindparam("codes", expanding=True))))


def moves_on(order) -> bool:
    """Whether the answer just recorded on ``order`` calls for the loop's next step
    (:func:`calls_next_step`)."""
    return calls_next_step(order.kind, order.state, _placed_from(order, "").held_fen, order.amount_fen)


def calls_next_step(kind: str, state: str, held_fen: int | None, amount_fen: int | None) -> bool:
    """Whether an answer leaving an order of ``kind`` in ``state`` (a done hold having
    held ``held_fen``) calls for the loop's next step: a statement; or a hold refused,
    or done having found less than it asked — room the case's holds leave for the
    chase (:func:`victims_money`)."""
    if kind == TD:
        return state == OrderState.done.value
    if kind not in HOLD_KINDS:
        return False
    return state == OrderState.rejected.value or Placed(kind, "", "", state, amount_fen, held_fen).short


def on_answer(session, order, *, policy: LoopPolicy | None = None) -> Decision | None:
    """An answer to a transaction-details query was just recorded: take the loop's next step
    (for a case the loop runs for: started by :func:`start`, or an emergency report with
    its payment time).

    Called where answers land (:func:`fanzha.gateway.store.apply_answer`), in that
    transaction. The case row is locked first, so two answers of one case arriving at
    once decide one after the other, each seeing the other's orders.
    """
    return on_answers(session, [order], policy=policy).get(order.case_id)


def on_answers(session, orders, *, policy: LoopPolicy | None = None) -> dict[int, Decision]:
    """:func:`on_answer` for answers recorded together (a dispatcher writes them a few at
    a time): the cases locked in one statement, their facts read in three, one decision
    per case from everything it knows now (answers of one case in the batch decide once
    together, ``after`` the last of them), the orders written in one flush.
    """
    from fanzha.store.models import CaseEvent

    answered = [o for o in orders if moves_on(o)]
    if not answered:
        return {}
    policy = policy_for(session, policy)
    cases = [c for c in _lock_cases(session, [o.case_id for o in answered]) if c.status == "open"]
    if not cases:
        return {}
    for o in answered:
        _note_fresh(session, o.id, o.state, o.answer, o.request)
    last = {o.case_id: o.idempotency_key for o in answered}
    facts = facts_for_many(session, cases)   # flushes the answers first
    decided, out = [], {}
    for case in cases:
        f = facts[case.id]
        if not f.started:   # queries sent by hand on a case the loop does not run for
            continue
        try:
            decision = decide(f, policy=policy)
        except Exception as err:  # a statement the tracer refuses: note it, keep the answer
            session.add(CaseEvent(case_id=case.id, kind="loop_error", actor=ACTOR,
                                  detail={"after": last[case.id], "error": f"{type(err).__name__}: {err}"[:1000]}))
            continue
        decided.append((case, decision, last[case.id]))
        out[case.id] = decision
    _apply_decisions(session, decided)
    return out


def start(session, case, receiving: list[tuple[str, str, int | None]], *, actor: str = ACTOR,
          policy: LoopPolicy | None = None) -> list:
    """Start the loop for ``case``: query each receiving account (account, institution)
    and, where the report says how much was paid there, stop that much at once.

    With ``policy`` the case's way of handling (by hand or automatic) is recorded on
    these orders and every later step follows it, whoever records the answers; without,
    the deployment's (:func:`deployment_policy`) times these orders and the first step
    taken records it — the same whichever road (dispatcher, callback, inbox) took it.
    """
    from fanzha.store.services import OrderSpec, create_orders
    from fanzha.store.types import utcnow

    given = policy is not None
    policy = policy_for(session, policy)
    now = utcnow()
    first = policy.round_at(now, now)   # by hand: the officer's first round
    insts = _institutions(session, {code for _, code, _ in receiving})
    specs = []
    for acct, code, fen in receiving:
        inst = insts.get(code)
        if inst is None:
            raise LookupError(f"institution {code!r} is not connected")
        todo = [(TD, None, query_key(case.case_no, code, acct, 1))]
        if fen:
            todo.append((policy.hold_kind, fen, hold_key(case.case_no, policy.hold_kind, code, acct, fen, 1, 0)))
        specs += [OrderSpec(case, kind, inst, acct, _basis(kind), amount, key, round_no=1,
                            extra={"loop": {"layer": 1, "after": None, "reason": "named in the report",
                                            **({"mode": mode_of(policy)} if given else {})}},
                            not_before=first if first and first > now else None)
                  for kind, amount, key in todo]
    made = [order for order, created in create_orders(session, specs, created_by=actor) if created]
    session.flush()
    return made


def status(session, case) -> dict[str, Any]:
    """Where the loop stands for ``case`` (what it would decide now, without deciding)."""
    facts = facts_for(session, case)
    d = decide(facts)
    held = sum(p.committed_fen for p in facts.placed if p.state == OrderState.done.value)
    out = d.summary()
    out.update({"case_no": case.case_no, "statements": len(facts.statements), "held": format_fen(held),
                "orders": len(facts.placed), "state": loop_state(facts, d)})
    out["done"] = out["state"] == "done"
    return out


def loop_state(facts: CaseFacts, d: Decision) -> str:
    """In words: ``not started``; ``waiting for statements`` (queries out, none answered
    yet — nothing is known, so nothing is done); ``running``; ``done`` (nothing out,
    nothing left to ask)."""
    if not facts.started:
        return "not started"
    out = any(p.kind == TD and p.state not in FINAL_TD for p in facts.placed)
    if not facts.statements:
        return "waiting for statements" if out or d.orders else "no statement came back"
    return "done" if d.done and not out else "running"


__all__ = ["ACTOR", "POLICY", "CaseFacts", "Decision", "LoopPolicy", "NewOrder", "Placed", "Statement",
           "apply_decision", "check_decision", "decide", "deployment_policy", "facts_for", "facts_for_many",
           "forget_order_facts", "hold_key", "loop_state", "mode_of", "policy_for",
           "moves_on", "on_answer", "on_answers", "query_key", "start", "status", "victim_payments", "victims_money",
           "working_ledger"]
