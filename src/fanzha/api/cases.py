"""Cases and the reports that open them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from sqlalchemy import select

from fanzha.api.deps import Principal, SessionDep, case_for, require, unit_scope, write_audit
from fanzha.api.schemas import CaseDetail, CaseOut, ReportIn, VictimIn, fen_str, yuan_to_fen
from fanzha.api.views import case_out, order_out
from fanzha.errors import InputError
from fanzha.intake.service import Filed, Incoming, file_report, file_reports
from fanzha.roles import Permission, Role
from fanzha.store.models import Case, Order, Unit

router = APIRouter(tags=["cases"])

Reader = Annotated[Principal, Depends(require(Permission.cases_read))]
Writer = Annotated[Principal, Depends(require(Permission.cases_write))]
Feeder = Annotated[Principal, Depends(require(Permission.reports_feed))]


def _incoming(session, principal: Principal, body: ReportIn, source: str) -> Incoming:
    unit_code = None
    if principal.role == Role.station_officer and not body.district and not body.address:
        # An officer's own report without a place belongs to the officer's unit.
        unit_code = session.get(Unit, principal.unit_id).code
    victim = body.victim or VictimIn()
    return Incoming(
        received_at=body.received_at, text=body.text, source=source, external_id=body.external_id,
        district=body.district, address=body.address, caller=body.caller or victim.phone, name=victim.name,
        loss_fen=yuan_to_fen(body.loss, allow_zero=True), scam_type=body.scam_type, paid_at=body.paid_at,
        identifiers=[(i.kind, i.value) for i in body.identifiers], victim_account=victim.account,
        unit_code=unit_code)


def _audit(session, principal: Principal, body: ReportIn, source: str, outcome: str, case_no: str, orders: int) -> None:
    write_audit(session, principal, f"report_{outcome}", "/reports", case_no, source=source,
                external_id=body.external_id, orders_queued=orders)


def _file(session, principal: Principal, body: ReportIn, source: str) -> Filed:
    filed = file_report(session, _incoming(session, principal, body, source), actor=principal.name)
    _audit(session, principal, body, source, filed.outcome, filed.case.case_no, filed.orders)
    return filed


@router.post("/cases", response_model=CaseOut, status_code=status.HTTP_201_CREATED)
def post_case(body: ReportIn, principal: Writer, session: SessionDep, response: Response) -> CaseOut:
    """A station officer's or analyst's report form: opens a case (or returns the open one)."""
    filed = _file(session, principal, body, "station")
    if filed.outcome != "opened":
        response.status_code = status.HTTP_200_OK
    return case_out(filed.case)


@router.post("/reports", response_model=list[CaseOut], status_code=status.HTTP_201_CREATED)
def feed_reports(body: list[ReportIn], principal: Feeder, session: SessionDep) -> list[CaseOut]:
    """Platform feeds (110, national case platform): a batch, all in or none."""
    if not body:
        raise HTTPException(422, "empty batch")
    if len(body) > 1000:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "at most 1000 reports a batch")
    source = principal.name
    done = file_reports(session, [_incoming(session, principal, r, source) for r in body], actor=principal.name)
    for n, (r, d) in enumerate(zip(body, done)):
        if isinstance(d, InputError):
            d.field = f"[{n}].{d.field}" if d.field else f"[{n}]"
            raise d
        _audit(session, principal, r, source, d.outcome, d.case_no, d.orders)
    cases = {c.id: c for c in session.execute(select(Case).where(Case.id.in_({d.case_id for d in done}))).scalars()}
    return [case_out(cases[d.case_id]) for d in done]


@router.get("/cases", response_model=list[CaseOut])
def list_cases(principal: Reader, session: SessionDep,
               limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[CaseOut]:
    q = select(Case).order_by(Case.opened_at.desc()).limit(limit)
    scope = unit_scope(session, principal)
    if scope is not None:
        q = q.where(Case.unit_id.in_(scope))
    cases = session.execute(q).scalars().all()
    write_audit(session, principal, "cases_listed", "/cases", None, case_nos=[c.case_no for c in cases])
    return [case_out(c) for c in cases]


@router.get("/cases/{case_no}", response_model=CaseDetail)
def read_case(case_no: str, principal: Reader, session: SessionDep) -> CaseDetail:
    case = case_for(session, principal, case_no)
    write_audit(session, principal, "case_read", f"/cases/{case_no}", case_no)
    orders = session.execute(select(Order).where(Order.case_id == case.id).order_by(Order.id)).scalars()
    base = case_out(case).model_dump()
    return CaseDetail(
        **base,
        escalated_to=case.escalated_to.code if case.escalated_to else None,
        timeline=[{"at": e.at.isoformat(), "kind": e.kind, "actor": e.actor, "detail": e.detail}
                  for e in case.events],
        reports=[{"source": r.source, "external_id": r.external_id, "received_at": r.received_at.isoformat(),
                  "district": r.district, "address": r.address, "caller": r.caller, "text": r.text, "loss": fen_str(r.loss_fen),
                  "identifiers": [{"kind": i.kind, "value": i.value} for i in r.identifiers]}
                 for r in case.reports],
        victims=[{"name": v.name, "phone": v.phone, "id_number": v.id_number, "account": v.account,
                  "loss": fen_str(v.loss_fen)} for v in case.victims],
        orders=[order_out(o).model_dump(mode="json") for o in orders],
    )
