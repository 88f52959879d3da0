"""The freeze plan: which accounts to hold, for how much, in what order, on what basis.

Hold only the victims' money. Freezing a whole account of someone who received money
innocently is the first complaint about anti-fraud systems, so every hold is for the
victims' money traced there — never the account's balance — and never more than the
balance either (the invariant the tests check).

Order. Money that is about to move is money about to be lost, but a hold costs an
institution's attention, so the plan goes by:

1. **most victims' money first**;
2. then **accounts about to move it**: those that paid out within the recent window
   (default the last hour before the trace time) — mules sweep within minutes, so an
   account that has just paid out is likely to pay out again;
3. then **deeper layers first** (the last layers cash out; the first ones only pass on);
4. then account id, so the plan is the same every time.

Each hold carries its legal basis and an expiry. Chinese practice: an emergency
stop-payment (紧急止付) lasts 48 hours; a freeze (冻结) of deposits six months, renewable.
Both are settings (:class:`HoldPolicy`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fanzha.money import format_fen
from fanzha.tracing.engine import Trace

STOP_PAYMENT = "stop_payment"
FREEZE = "freeze"

#: The law a hold rests on, written as the orders to institutions cite it.
LEGAL_BASIS = {
    STOP_PAYMENT: "《中华人民共和国反电信网络诈骗法》第二十条；公安部、中国人民银行电信网络诈骗涉案账户紧急止付和快速冻结机制",
    FREEZE: "《中华人民共和国刑事诉讼法》第一百四十四条；《中华人民共和国反电信网络诈骗法》第二十条",
}


@dataclass(frozen=True)
class HoldPolicy:
    """How long holds last and what they cite; one object so a centre can set its own."""

    kind: str = STOP_PAYMENT
    stop_payment_hours: int = 48
    freeze_days: int = 183           # six months
    recent_window: timedelta = timedelta(hours=1)
    legal_basis: dict[str, str] = field(default_factory=lambda: dict(LEGAL_BASIS))

    def duration(self) -> timedelta:
        if self.kind == STOP_PAYMENT:
            return timedelta(hours=self.stop_payment_hours)
        if self.kind == FREEZE:
            return timedelta(days=self.freeze_days)
        raise ValueError(f"unknown hold kind {self.kind!r}: {STOP_PAYMENT} or {FREEZE}")


@dataclass(frozen=True)
class Activity:
    """What the ledger says about an account around the trace time."""

    balance: int                 # whole balance, fen
    institution: str
    holder: str = ""
    recent_debits: int = 0       # debits within the recent window before the trace time
    recent_outflow: int = 0      # fen paid out in that window


@dataclass(frozen=True)
class Hold:
    priority: int
    account: str
    institution: str
    amount: int
    balance: int
    victims: dict[str, int]
    layer: int | None
    about_to_move: bool
    recent_outflow: int
    kind: str
    legal_basis: str
    issued_at: datetime
    expires_at: datetime
    reason: str


def plan_holds(trace: Trace, activity: dict[str, Activity], *, issued_at: datetime,
               policy: HoldPolicy | None = None) -> list[Hold]:
    """One hold per account still holding victims' money, in priority order."""
    policy = policy or HoldPolicy()
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must carry its UTC offset")
    basis = policy.legal_basis.get(policy.kind, "")
    expires = issued_at + policy.duration()
    rows = []
    for acct, victims in trace.holdings.items():
        amount = sum(victims.values())
        act = activity.get(acct) or Activity(balance=trace.balances.get(acct, amount), institution="")
        amount = min(amount, act.balance)   # never more than the account holds
        if amount <= 0:
            continue
        moving = act.recent_debits > 0
        layer = trace.layers.get(acct)
        rows.append((-amount, not moving, -(layer or 0), acct, amount, victims, act, moving, layer))
    rows.sort(key=lambda r: r[:4])
    out = []
    for i, (_, _, _, acct, amount, victims, act, moving, layer) in enumerate(rows, 1):
        who = ", ".join(f"{v} {format_fen(x)}" for v, x in sorted(victims.items()))
        why = (f"holds {format_fen(amount)} of victims' money ({who}) in a balance of {format_fen(act.balance)}"
               + (f"; paid out {format_fen(act.recent_outflow)} in the last "
                  f"{int(policy.recent_window.total_seconds() // 60)} min" if moving else "")
               + (f"; layer {layer}" if layer else ""))
        out.append(Hold(priority=i, account=acct, institution=act.institution, amount=amount,
                        balance=act.balance, victims=dict(sorted(victims.items())), layer=layer,
                        about_to_move=moving, recent_outflow=act.recent_outflow, kind=policy.kind,
                        legal_basis=basis, issued_at=issued_at, expires_at=expires, reason=why))
    return out


def activity_from_index(index, trace: Trace, *, window: timedelta = timedelta(hours=1)) -> dict[str, Activity]:
    """Balances, institutions and recent outflow of the trace's holding accounts
    (``index``: a :class:`~fanzha.tracing.index.LedgerIndex` or a
    :class:`~fanzha.tracing.index.SmallIndex`)."""
    ledger = index.ledger
    ids = ledger.account_index()
    end = len(ledger) if trace.as_of is None else ledger.rows_until(_us(trace.as_of))
    now_us = int(ledger.ts[end - 1]) if end else 0
    if trace.as_of is not None:
        now_us = _us(trace.as_of)
    start = ledger.rows_until(now_us - int(window.total_seconds() * 1e6))
    out = {}
    for acct in trace.holdings:
        a = ids[acct]
        count, fen = index.debit_activity(a, start, end)
        out[acct] = Activity(balance=trace.balances[acct],   # every holding account's balance is traced
                             institution=index.institution[a], holder=index.holder.get(acct, ""),
                             recent_debits=count, recent_outflow=fen)
    return out


def _us(dt: datetime) -> int:
    from fanzha.tracing.ledger import to_micros

    return to_micros(dt)


def plan_json(holds: list[Hold]) -> dict:
    total = sum(h.amount for h in holds)
    return {
        "total": format_fen(total),
        "accounts": len(holds),
        "holds": [{
            "priority": h.priority, "account": h.account, "institution": h.institution,
            "amount": format_fen(h.amount), "balance": format_fen(h.balance),
            "victims": {v: format_fen(x) for v, x in h.victims.items()},
            "layer": h.layer, "about_to_move": h.about_to_move, "recent_outflow": format_fen(h.recent_outflow),
            "kind": h.kind, "legal_basis": h.legal_basis,
            "issued_at": h.issued_at.isoformat(), "expires_at": h.expires_at.isoformat(), "reason": h.reason,
        } for h in holds],
    }


__all__ = ["FREEZE", "STOP_PAYMENT", "Activity", "Hold", "HoldPolicy", "activity_from_index", "plan_holds",
           "plan_json"]
