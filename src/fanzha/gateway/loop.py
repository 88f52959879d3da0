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

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from fanzha.gateway.orders import OrderKind, OrderState, idempotency_key
from fanzha.money import format_fen, parse_yuan
# Imported here, not on the first answer: the tracer pulls in numpy and pyarrow, and a
# dispatcher must not stall its first batch of answers for seconds loading them.
from fanzha.tracing import ledger as ledger_mod
from fanzha.tracing.engine import resolve_victims
from fanzha.tracing.freeze import LEGAL_BASIS, HoldPolicy, activity_from_index, plan_holds
from fanzha.tracing.index import build_index
from fanzha.tracing.service import Loaded, run

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

    def round_at(self, started_at: datetime, now: datetime) -> datetime | None:
        """By hand, when what is decided at ``now`` goes out (None: automatic, at once)."""
        if self.officer_round is None:
            return None
        return next_round(started_at + self.first_round_after, now, self.officer_round)


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
    plan: dict[str, int] = field(default_factory=dict)        # account -> victims' money there (capped)
    committed: dict[str, int] = field(default_factory=dict)   # account -> held or asked, before this decision
    untraced: dict[str, int] = field(default_factory=dict)    # victims' money in accounts not answered yet
    unheld: dict[str, int] = field(default_factory=dict)      # answered accounts, money not covered by holds
    cashed_out_fen: int = 0
    layers: dict[str, int] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (account, why)
    warnings: list[str] = field(default_factory=list)

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
           policy: LoopPolicy, now: datetime):
    """Trace the working ledger with fanzha.tracing; returns (trace, freeze plan)."""
    # The rows go to the tracer's exact reader as already-split records (the same checks
    # as a CSV file's, without writing one to disk and parsing it back for every answer).
    led = ledger_mod.read_ledger_rows(
        ((n + 2, {"txn_id": str(r["txn_id"]), "timestamp": _ts(r["timestamp"]).isoformat(),
                  "from_account": r.get("from_account") or "", "to_account": r.get("to_account") or "",
                  "amount": format_fen(r["amount_fen"]), "from_institution": inst.get(r.get("from_account") or "", ""),
                  "to_institution": inst.get(r.get("to_account") or "", "")}) for n, r in enumerate(rows)),
        "working-ledger", "line")
    accts = ledger_mod.Accounts({a: f for a, f in opening.items()}, {a: i for a, i in inst.items() if i}, {})
    vrows = [ledger_mod.VictimRow(v, t, n + 2) for n, (v, t) in enumerate(victims)]
    loaded = Loaded(build_index(led, accts), resolve_victims(led, vrows, name="victims"))
    trace = run(loaded, policy.rule)
    hp = HoldPolicy(kind=policy.hold_kind)
    plan = plan_holds(trace, activity_from_index(loaded.index, trace, window=hp.recent_window),
                      issued_at=now, policy=hp)
    return trace, plan


def decide(facts: CaseFacts, *, now: datetime | None = None, policy: LoopPolicy | None = None) -> Decision:
    """What the loop does next for one case, given everything the case knows.

    Pure: the same facts give the same decision (the same orders with the same keys).
    ``now`` only dates the holds' expiry.
    """
    policy = policy or LoopPolicy()
    now = now or datetime.now(UTC)
    d = Decision()
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
    rows, inst, opening = working_ledger(facts.statements)
    victims = victim_payments(facts, rows, policy) if rows else []
    if not victims:
        return _wait_for_round(d, facts, policy, now)
    trace, plan = _trace(rows, victims, inst, opening, policy, now)
    d.stolen_fen = sum(trace.stolen.values())
    d.cashed_out_fen = sum(sum(m.victims.values()) for m in trace.cash_outs)
    d.layers = dict(trace.layers)
    d.warnings = list(trace.warnings)
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
        gap = h.amount - committed
        if gap >= policy.min_hold_fen:
            if len(mine) >= policy.max_holds_per_account:
                d.skipped.append((acct, f"{len(mine)} holds already; {format_fen(gap)} not held"))
            else:
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


def _wait_for_round(d: Decision, facts: CaseFacts, policy: LoopPolicy, now: datetime) -> Decision:
    """By hand (``policy.officer_round``): the decided orders wait for the next round."""
    at = policy.round_at(facts.started_at or now, now)
    if at is not None and d.orders:
        d.orders = [replace(o, not_before=at) for o in d.orders]
    return d


def warm_up() -> None:
    """Trace a two-row ledger once: the tracer's first run loads what it loads lazily
    (pyarrow brings in pandas — most of a second), which must not fall on the first
    batch of real answers. A dispatcher calls this while its first requests are out."""
    t = datetime(2024, 1, 1, tzinfo=UTC)
    rows = ({"txn_id": "w1", "timestamp": t.isoformat(), "from_account": "v", "to_account": "a", "amount": "2.00"},
            {"txn_id": "w2", "timestamp": (t + timedelta(minutes=1)).isoformat(), "from_account": "a",
             "to_account": "b", "amount": "1.00", "to_institution": "X"})
    decide(CaseFacts("warm-up", (("a", "X"),), frozenset({"v"}), 200, None, None,
                     (Statement("a", "X", 100, t + timedelta(minutes=2), rows),), (), True), now=t)


def check_decision(facts: CaseFacts, d: Decision) -> None:
    """The invariants, for tests: no account asked to hold more than the plan's victims'
    money there; no key twice; nothing already placed asked again."""
    keys = [o.key for o in d.orders]
    assert len(keys) == len(set(keys)), "a key twice in one decision"
    placed = {p.key for p in facts.placed}
    assert not placed & set(keys), "an order decided again"
    for acct, amount in d.plan.items():
        new = sum(o.amount_fen or 0 for o in d.orders if o.account == acct and o.kind in HOLD_KINDS)
        assert d.committed.get(acct, 0) + new <= max(amount, d.committed.get(acct, 0)), acct


# --- the store layer ----------------------------------------------------------------------

def _placed_from(order, code: str) -> Placed:
    """``order``: an Order, or a row with its columns (kind, target, state, amount_fen,
    answer, idempotency_key, round_no)."""
    held = None
    if order.kind in HOLD_KINDS and order.state == OrderState.done.value and order.answer:
        res = (order.answer or {}).get("result") or {}
        if res.get("held") is not None:
            held = parse_yuan(str(res["held"]), allow_zero=True)
    return Placed(order.kind, order.target, code, order.state, order.amount_fen, held, order.idempotency_key,
                  order.round_no or 0)


def facts_for(session, case) -> CaseFacts:
    """Everything the loop knows about ``case``: three small queries (orders, report,
    victims)."""
    return facts_for_many(session, [case])[case.id]


def facts_for_many(session, cases) -> dict[int, CaseFacts]:
    """:func:`facts_for` of several cases at once, with the same three queries (columns
    only: no ORM objects to build for what is only read)."""
    from sqlalchemy import func, select

    from fanzha.store.models import Institution, Order, Report, Victim

    ids = [c.id for c in cases]
    rows = session.execute(select(Order.case_id, Order.kind, Order.target, Order.state, Order.amount_fen,
                                  Order.answer, Order.idempotency_key, Order.round_no, Order.request, Order.created_at,
                                  Institution.code)
                           .join(Institution, Order.institution_id == Institution.id)
                           .where(Order.case_id.in_(ids), Order.kind.in_((TD, *HOLD_KINDS)))
                           .order_by(Order.id)).all()
    by_case: dict[int, list] = {i: [] for i in ids}
    for r in rows:
        by_case[r.case_id].append(r)
    reps = {r[0]: (r[1], r[2]) for r in session.execute(
        select(Report.case_id, func.min(Report.received_at), func.max(Report.paid_at))
        .where(Report.case_id.in_(ids)).group_by(Report.case_id))}
    victims: dict[int, set[str]] = {i: set() for i in ids}
    for cid, acct in session.execute(select(Victim.case_id, Victim.account).where(Victim.case_id.in_(ids))):
        if acct:
            victims[cid].add(acct)
    out = {}
    for case in cases:
        placed, statements, layer1 = [], [], []
        started, started_at = False, None
        for order in by_case[case.id]:
            code = order.code
            if "loop" in (order.request or {}):
                started = True
                started_at = order.created_at if started_at is None else min(started_at, order.created_at)
            placed.append(_placed_from(order, code))
            if order.kind == TD and (order.round_no or 0) <= 1 and (order.target, code) not in layer1:
                layer1.append((order.target, code))
            if order.kind == TD and order.state == OrderState.done.value and order.answer:
                res = (order.answer or {}).get("result") or {}
                if res.get("rows") is None:
                    continue
                statements.append(Statement(order.target, res.get("institution") or code,
                                            parse_yuan(str(res.get("balance") or "0"), allow_zero=True),
                                            _ts(res.get("as_of") or order.answer.get("answered_at")),
                                            tuple(res["rows"]), order.idempotency_key, max(order.round_no or 1, 1)))
        received, paid = reps.get(case.id, (None, None))
        # a report with a recent payment (intake marks the case an emergency) starts it too
        started = started or bool(case.emergency and paid is not None)
        out[case.id] = CaseFacts(case.case_no, tuple(layer1), frozenset(victims[case.id]), case.loss_fen or 0, paid,
                                 received, tuple(statements), tuple(placed), started, started_at)
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


def _create_orders(session, todo: list[tuple[Any, NewOrder, Any, str | None]], *, actor: str) -> list:
    """Queue ``todo`` (each a case, a decided order, its institution and the answer that
    decided it) with :func:`fanzha.store.services.create_orders` — one query for the keys
    already used; the caller's flush writes them. Returns the orders new here, leased
    to the dispatcher recording the answers (``LEASE_TO``) when it can send them now.
    """
    from fanzha.store.services import OrderSpec, create_orders

    specs = [OrderSpec(case, o.kind, inst, o.account, o.legal_basis or _basis(o.kind), o.amount_fen, o.key,
                       o.expires_at, o.layer, {"loop": {"layer": o.layer, "after": after, "reason": o.reason}},
                       o.not_before)
             for case, o, inst, after in todo]
    lease = session.info.get(LEASE_TO)
    made = []
    for order, created in create_orders(session, specs, created_by=actor):
        if not created:
            continue
        if lease is not None and order.institution.api_url and order.institution.id not in lease[2] \
                and order.next_attempt_at is None:
            order.leased_by, order.lease_until = lease[0], lease[1]
        made.append(order)
    return made


def apply_decision(session, case, decision: Decision, *, after: str | None = None, actor: str = ACTOR) -> list:
    """Queue the decision's orders (in the caller's transaction) and note it on the case."""
    return _apply_decisions(session, [(case, decision, after)], actor=actor).get(case.id, [])


def _apply_decisions(session, decided: list[tuple[Any, Decision, str | None]], *, actor: str = ACTOR) -> dict:
    """:func:`apply_decision` for several cases' decisions: one query for the
    institutions, one for the keys already used, one flush for every order, event and
    note. Returns the orders made, by case id."""
    from sqlalchemy import select

    from fanzha.store.models import CaseEvent, Institution

    decided = [(c, d, a) for c, d, a in decided if d.orders or d.skipped]
    if not decided:
        return {}
    codes = sorted({o.institution for _, d, _ in decided for o in d.orders})
    insts = {i.code: i for i in session.execute(select(Institution).where(Institution.code.in_(codes))).scalars()} \
        if codes else {}
    todo = []
    for case, decision, after in decided:
        for o in decision.orders:
            inst = insts.get(o.institution)
            if inst is None:
                decision.skipped.append((o.account, f"institution {o.institution} not connected"))
                continue
            todo.append((case, o, inst, after))
    made = _create_orders(session, todo, actor=actor)
    by_case: dict[int, list] = {}
    for order in made:
        by_case.setdefault(order.case.id, []).append(order)
    for case, decision, after in decided:
        mine = by_case.get(case.id, [])
        if mine or decision.skipped:
            session.add(CaseEvent(case_id=case.id, kind="loop", actor=actor, detail={
                "after": after, "orders": [{"kind": o.kind, "account": o.target, "amount_fen": o.amount_fen,
                                            "layer": o.round_no} for o in mine],
                "untraced": format_fen(sum(decision.untraced.values())),
                "unheld": format_fen(sum(decision.unheld.values())),
                "skipped": [{"account": a, "reason": r} for a, r in decision.skipped][:50]}))
    session.flush()   # one flush: the orders (their ids back in one statement), then their events
    if made:
        session.info.setdefault(NEW_ORDERS, []).extend(made)
    return by_case


def _basis(kind: str) -> str:
    return LEGAL_BASIS.get(kind) or LEGAL_BASIS["stop_payment"]


def _lock_cases(session, case_ids):
    """Lock the cases' rows (in id order, so two writers never wait on each other in a
    circle) and read them afresh."""
    from sqlalchemy import select

    from fanzha.store.models import Case

    return list(session.execute(select(Case).where(Case.id.in_(sorted(set(case_ids)))).order_by(Case.id)
                                .with_for_update().execution_options(populate_existing=True)).scalars())


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

    answered = [o for o in orders if o.kind == TD and o.state == OrderState.done.value]
    if not answered:
        return {}
    cases = [c for c in _lock_cases(session, [o.case_id for o in answered]) if c.status == "open"]
    if not cases:
        return {}
    session.flush()
    last = {o.case_id: o.idempotency_key for o in answered}
    facts = facts_for_many(session, cases)
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
    and, where the report says how much was paid there, stop that much at once."""
    from sqlalchemy import select

    from fanzha.store.models import Institution
    from fanzha.store.services import OrderSpec, create_orders
    from fanzha.store.types import utcnow

    policy = policy or LoopPolicy()
    now = utcnow()
    first = policy.round_at(now, now)   # by hand: the officer's first round
    codes = sorted({code for _, code, _ in receiving})
    insts = {i.code: i for i in session.execute(select(Institution).where(Institution.code.in_(codes))).scalars()}
    specs = []
    for acct, code, fen in receiving:
        inst = insts.get(code)
        if inst is None:
            raise LookupError(f"institution {code!r} is not connected")
        todo = [(TD, None, query_key(case.case_no, code, acct, 1))]
        if fen:
            todo.append((policy.hold_kind, fen, hold_key(case.case_no, policy.hold_kind, code, acct, fen, 1, 0)))
        specs += [OrderSpec(case, kind, inst, acct, _basis(kind), amount, key, round_no=1,
                            extra={"loop": {"layer": 1, "after": None, "reason": "named in the report"}},
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
                "orders": len(facts.placed)})
    return out


__all__ = ["ACTOR", "CaseFacts", "Decision", "LoopPolicy", "NewOrder", "Placed", "Statement", "apply_decision",
           "check_decision", "decide", "facts_for", "facts_for_many", "hold_key", "on_answer", "on_answers",
           "query_key", "start", "status",
           "victim_payments", "working_ledger"]
