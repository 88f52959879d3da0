"""Thin storage operations the API and CLI share: cases, reports, orders.

The rules live in the pure cores (``fanzha.gateway.orders``, ``fanzha.roles``);
these functions only read and write rows, inside the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fanzha.errors import InputError
from fanzha.gateway.orders import MONEY_ORDERS, OrderKind, OrderState, idempotency_key
from fanzha.store.models import Case, Institution, Order, OrderEvent
from fanzha.store.types import utcnow

SHANGHAI = ZoneInfo("Asia/Shanghai")


def next_case_no(session: Session, at: datetime) -> str:
    """``FZ`` + the local date + a six-digit sequence of the day: ``FZ20240501000012``."""
    day = at.astimezone(SHANGHAI).strftime("%Y%m%d")
    prefix = f"FZ{day}"
    last = session.execute(select(func.max(Case.case_no)).where(Case.case_no.like(prefix + "%"))).scalar()
    seq = int(last[len(prefix):]) + 1 if last else 1
    return f"{prefix}{seq:06d}"


def get_case(session: Session, case_no: str) -> Case:
    case = session.execute(select(Case).where(Case.case_no == case_no)).scalar_one_or_none()
    if case is None:
        raise LookupError(f"no case {case_no!r}")
    return case


def get_institution(session: Session, code: str) -> Institution:
    inst = session.execute(select(Institution).where(Institution.code == code)).scalar_one_or_none()
    if inst is None:
        raise InputError(f"unknown institution {code!r}", field="institution")
    return inst


def create_order(session: Session, *, case: Case, kind: str, institution: Institution, target: str,
                 legal_basis: str, created_by: str, amount_fen: int | None = None,
                 key: str | None = None, expires_at: datetime | None = None,
                 round_no: int = 0, flush: bool = True) -> tuple[Order, bool]:
    """Put an order in the outbox. The same idempotency key twice is the same order.

    Returns ``(order, created)``.
    """
    try:
        kind_ = OrderKind(kind)
    except ValueError:
        raise InputError(f"unknown order kind {kind!r}; one of: {', '.join(k.value for k in OrderKind)}",
                         field="kind") from None
    if not target:
        raise InputError("an order needs a target (account, number or URL)", field="target")
    if not legal_basis.strip():
        raise InputError("an order needs a legal basis", field="legal_basis")
    if kind_ in MONEY_ORDERS and not amount_fen:
        raise InputError(f"a {kind_.value} order needs an amount", field="amount")
    if kind_ not in MONEY_ORDERS and amount_fen is not None:
        raise InputError(f"a {kind_.value} order takes no amount", field="amount")
    key = key or idempotency_key(case.case_no, kind_, institution.code, target, amount_fen, round_no)
    existing = session.execute(select(Order).where(Order.idempotency_key == key)).scalar_one_or_none()
    if existing is not None:
        same = (existing.case_id == case.id and existing.kind == kind_.value and existing.target == target
                and existing.institution_id == institution.id and existing.amount_fen == amount_fen)
        if not same:
            raise InputError("idempotency key already used for a different order", field="idempotency_key")
        return existing, False
    now = utcnow()
    order = Order(case=case, kind=kind_.value, institution=institution, target=target, amount_fen=amount_fen,
                  legal_basis=legal_basis, idempotency_key=key, state=OrderState.pending.value,
                  created_by=created_by, created_at=now, updated_at=now, expires_at=expires_at, round_no=round_no,
                  request={"case_no": case.case_no, "kind": kind_.value, "institution": institution.code,
                           "target": target, "amount_fen": amount_fen, "legal_basis": legal_basis})
    order.events.append(OrderEvent(at=now, from_state=None, to_state=order.state, actor=created_by,
                                   note="queued in the outbox"))
    session.add(order)
    if flush:  # the caller needs the order's id now (not so a report filing many at once)
        session.flush()
    return order, True


def move_order(session: Session, order: Order, new_state: str, *, actor: str, note: str = "",
               answer: dict | None = None) -> Order:
    """Move an order along an allowed transition, recording the move (as the gateway
    records an institution's answers)."""
    from fanzha.gateway import loop
    from fanzha.gateway.store import transition

    transition(order, new_state, actor=actor, note=note)
    if answer is not None:
        order.answer = answer
    session.flush()
    if order.state == OrderState.done.value and order.kind == OrderKind.transaction_details.value:
        # a liaison's answer through the inbox feeds the automatic loop like an institution's API
        loop.on_answer(session, order)
    return order


def queue_holds(session: Session, *, case: Case, holds: list[dict], kind: str, legal_basis: str, created_by: str,
                key_prefix: str, expires_at: datetime | None = None) -> tuple[list[dict], list[dict]]:
    """Queue a freeze plan's holds (``plan_json`` rows) as orders, in the plan's order.

    Each hold's idempotency key is ``key_prefix``, the kind and the account, so queuing
    the same plan again queues nothing twice. A hold whose institution is unknown is
    skipped with the reason (the holder must be queried first). Returns (queued, skipped).
    """
    from fanzha.money import parse_yuan

    queued: list[dict] = []
    skipped: list[dict] = []
    for hold in holds:
        code = hold.get("institution") or ""
        inst = session.execute(select(Institution).where(Institution.code == code)).scalar_one_or_none()
        if inst is None:
            skipped.append({"account": hold["account"], "reason": "institution unknown: query the holder first"})
            continue
        expires = expires_at or (datetime.fromisoformat(hold["expires_at"]) if hold.get("expires_at") else None)
        order, created = create_order(
            session, case=case, kind=kind, institution=inst, target=hold["account"], legal_basis=legal_basis,
            created_by=created_by, amount_fen=parse_yuan(hold["amount"]), expires_at=expires,
            key=f"{key_prefix}-{kind}-{hold['account']}"[:64])
        queued.append({"order_id": order.id, "account": hold["account"], "amount": hold["amount"], "new": created})
    return queued, skipped
