"""Orders to institutions: sent by the centre, answered by the institution or its liaison."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from sqlalchemy import select

from fanzha.api.deps import (Principal, SessionDep, check_case_access, check_order_access, require,
                             unit_scope, write_audit)
from fanzha.api.schemas import OrderAnswerIn, OrderIn, OrderOut, yuan_to_fen
from fanzha.api.views import order_out
from fanzha.gateway.orders import TransitionError
from fanzha.roles import Permission, Role
from fanzha.store import services
from fanzha.store.models import Case, Order

router = APIRouter(prefix="/orders", tags=["orders"])

Sender = Annotated[Principal, Depends(require(Permission.orders_send))]
Reader = Annotated[Principal, Depends(require(Permission.orders_read))]
Answerer = Annotated[Principal, Depends(require(Permission.orders_answer))]


@router.post("", response_model=OrderOut, status_code=status.HTTP_201_CREATED)
def send_order(body: OrderIn, principal: Sender, session: SessionDep, response: Response) -> OrderOut:
    """Queue an order in the outbox. Sending the same idempotency key again returns the first order."""
    try:
        case = services.get_case(session, body.case_no)
    except LookupError as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from None
    check_case_access(session, principal, case)
    institution = services.get_institution(session, body.institution)
    order, created = services.create_order(
        session, case=case, kind=body.kind, institution=institution, target=body.target,
        legal_basis=body.legal_basis, created_by=principal.name, amount_fen=yuan_to_fen(body.amount),
        key=body.idempotency_key, expires_at=body.expires_at)
    write_audit(session, principal, "order_sent" if created else "order_repeated", "/orders", case.case_no,
                order_id=order.id, kind=order.kind, institution=institution.code, target=order.target)
    if not created:
        response.status_code = status.HTTP_200_OK
    return order_out(order)


@router.get("", response_model=list[OrderOut])
def list_orders(principal: Reader, session: SessionDep, state: str | None = None,
                case_no: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[OrderOut]:
    """A liaison's inbox shows only its institution's orders; a station officer only its unit's."""
    q = select(Order).join(Case).order_by(Order.id.desc()).limit(limit)
    if principal.role in (Role.liaison, Role.institution):
        q = q.where(Order.institution_id == principal.institution_id)
    else:
        scope = unit_scope(session, principal)
        if scope is not None:
            q = q.where(Case.unit_id.in_(scope))
    if state:
        q = q.where(Order.state == state)
    if case_no:
        q = q.where(Case.case_no == case_no)
    orders = session.execute(q).scalars().all()
    write_audit(session, principal, "orders_listed", "/orders", case_no,
                order_ids=[o.id for o in orders])
    return [order_out(o) for o in orders]


def _load(session, principal: Principal, order_id: int) -> Order:
    order = session.get(Order, order_id)
    if order is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no order {order_id}")
    check_order_access(session, principal, order)
    return order


@router.get("/{order_id}", response_model=OrderOut)
def read_order(order_id: int, principal: Reader, session: SessionDep) -> OrderOut:
    order = _load(session, principal, order_id)
    write_audit(session, principal, "order_read", f"/orders/{order_id}", order.case.case_no)
    return order_out(order)


@router.post("/{order_id}/answer", response_model=OrderOut)
def answer_order(order_id: int, body: OrderAnswerIn, principal: Answerer, session: SessionDep) -> OrderOut:
    """The institution's answer: acknowledged, done (with holders, transactions or the hold) or rejected."""
    order = _load(session, principal, order_id)
    try:
        services.move_order(session, order, body.state, actor=principal.name, note=body.note,
                            answer=body.answer or None)
    except TransitionError as err:
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from None
    write_audit(session, principal, "order_answered", f"/orders/{order_id}", order.case.case_no,
                state=body.state)
    return order_out(order)


@router.post("/{order_id}/cancel", response_model=OrderOut)
def cancel_order(order_id: int, principal: Sender, session: SessionDep) -> OrderOut:
    order = _load(session, principal, order_id)
    try:
        services.move_order(session, order, "cancelled", actor=principal.name, note="withdrawn by the centre")
    except TransitionError as err:
        raise HTTPException(status.HTTP_409_CONFLICT, str(err)) from None
    write_audit(session, principal, "order_cancelled", f"/orders/{order_id}", order.case.case_no)
    return order_out(order)

