"""Outgoing orders and their life cycle, as plain data.

An order is anything that leaves the centre for an institution: a query, a
stop-payment, a freeze, an unfreeze, a number shutdown, a URL takedown. Every order has
an idempotency key, so sending it twice never acts twice, and a state that moves only
along the transitions below, each move recorded.
"""

from __future__ import annotations

import enum
import hashlib


class OrderKind(str, enum.Enum):
    account_holder = "account_holder"            # 账户持有人查询
    transaction_details = "transaction_details"  # 交易明细查询
    stop_payment = "stop_payment"                # 紧急止付
    freeze = "freeze"                            # 冻结
    unfreeze = "unfreeze"                        # 解冻
    number_owner = "number_owner"                # 号码机主查询
    number_shutdown = "number_shutdown"          # 关停
    url_takedown = "url_takedown"                # 网址封堵


#: Orders that act on money and so must name an amount.
MONEY_ORDERS = frozenset({OrderKind.stop_payment, OrderKind.freeze, OrderKind.unfreeze})


class OrderState(str, enum.Enum):
    pending = "pending"            # in the outbox, not yet sent
    sent = "sent"                  # delivered to the institution
    acknowledged = "acknowledged"  # the institution has it and is working
    done = "done"                  # answered / hold confirmed
    rejected = "rejected"          # the institution refused (with a reason)
    failed = "failed"              # gave up after retries (with a reason); can be re-queued
    cancelled = "cancelled"        # withdrawn by the centre before it was done


TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    OrderState.pending: frozenset({OrderState.sent, OrderState.failed, OrderState.cancelled}),
    OrderState.sent: frozenset({OrderState.acknowledged, OrderState.done, OrderState.rejected,
                                OrderState.failed, OrderState.pending}),
    OrderState.acknowledged: frozenset({OrderState.done, OrderState.rejected, OrderState.failed}),
    # A late answer to an order given up on still counts: the institution did act.
    OrderState.failed: frozenset({OrderState.pending, OrderState.cancelled, OrderState.done, OrderState.rejected}),
    OrderState.done: frozenset(),
    OrderState.rejected: frozenset(),
    OrderState.cancelled: frozenset(),
}


class TransitionError(ValueError):
    pass


def check_transition(current: OrderState | str, new: OrderState | str) -> OrderState:
    """Return ``new`` as an OrderState if ``current → new`` is allowed, else raise."""
    cur, nxt = OrderState(current), OrderState(new)
    if nxt not in TRANSITIONS[cur]:
        raise TransitionError(f"an order cannot go from {cur.value} to {nxt.value}")
    return nxt


def idempotency_key(case_no: str, kind: OrderKind | str, institution: str, target: str,
                    amount_fen: int | None = None, round_no: int = 0) -> str:
    """A key that is the same for the same decision, so a repeated decision is one order.

    The decision is: this case, this kind of order, at this institution, on this target,
    for this amount, in this round of the loop.
    """
    parts = [case_no, OrderKind(kind).value, institution, target,
             "" if amount_fen is None else str(amount_fen), str(round_no)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
