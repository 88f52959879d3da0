"""Rows to response bodies, shared by the routers."""

from __future__ import annotations

from fanzha.api.schemas import CaseOut, OrderOut, fen_str
from fanzha.store.models import Case, Order


def case_out(case: Case) -> CaseOut:
    return CaseOut(case_no=case.case_no, opened_at=case.opened_at, status=case.status, scam_type=case.scam_type,
                   unit=case.unit.code if case.unit else None, loss=fen_str(case.loss_fen), emergency=case.emergency,
                   summary=case.summary)


def order_out(order: Order) -> OrderOut:
    return OrderOut(
        id=order.id, case_no=order.case.case_no, kind=order.kind, institution=order.institution.code,
        target=order.target, amount=fen_str(order.amount_fen), legal_basis=order.legal_basis,
        idempotency_key=order.idempotency_key, state=order.state, created_by=order.created_by,
        created_at=order.created_at, updated_at=order.updated_at, expires_at=order.expires_at,
        answer=order.answer,
        events=[{"at": e.at.isoformat(), "from": e.from_state, "to": e.to_state, "actor": e.actor, "note": e.note}
                for e in order.events],
    )
