"""Tracing a case's money through the API: ledgers in, traces kept, holds queued, returns planned.

Ledgers received for a case are kept verbatim with their source and a content hash,
versioned per case; a trace is stored with the rule, the as-of time and the ledger
version it used, so the figures shown to a court can be explained later.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, UploadFile, status
from pydantic import AwareDatetime, Field
from sqlalchemy import func, select

from fanzha.api.deps import Principal, SessionDep, case_for, require, write_audit
from fanzha.api.schemas import Body
from fanzha.errors import InputError
from fanzha.roles import Permission
from fanzha.store import services
from fanzha.store.models import Case, CaseEvent, Ledger, TraceResult
from fanzha.tracing import service as tracing_service

router = APIRouter(prefix="/cases/{case_no}", tags=["tracing"])

Tracer = Annotated[Principal, Depends(require(Permission.tracing))]

MAX_UPLOAD = 512 * 1024 * 1024  # a case's sub-ledger; whole-bank dumps go through the CLI


async def _text(upload: UploadFile | None, name: str) -> str | None:
    if upload is None:
        return None
    data = await upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise InputError(f"larger than {MAX_UPLOAD // 2**20} MiB", file=name)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 (byte {err.start})", file=name) from None


def _ledger_out(l: Ledger) -> dict:
    return {"version": l.version, "source": l.source, "received_at": l.received_at.isoformat(),
            "sha256": l.sha256, "rows": l.rows, "created_by": l.created_by}


@router.post("/ledgers", status_code=status.HTTP_201_CREATED)
async def add_ledger(case_no: str, principal: Tracer, session: SessionDep,
                     ledger: UploadFile = File(..., description="ledger.csv (FORMATS.md)"),
                     victims: UploadFile = File(..., description="victims.csv"),
                     accounts: UploadFile | None = File(None, description="accounts.csv (optional)"),
                     source: str = Form(..., min_length=1, max_length=256,
                                        description="where it came from: a file name or an institution code")
                     ) -> dict:
    """Keep a ledger for the case. It is checked in full first: a bad row names its file, line and field."""
    case = case_for(session, principal, case_no)
    ledger_csv = await _text(ledger, "ledger.csv")
    victims_csv = await _text(victims, "victims.csv")
    accounts_csv = await _text(accounts, "accounts.csv")
    rows = tracing_service.validate(ledger_csv, victims_csv, accounts_csv)
    digest = hashlib.sha256("\x1e".join([ledger_csv, victims_csv, accounts_csv or ""]).encode()).hexdigest()
    same = session.execute(select(Ledger).where(Ledger.case_id == case.id, Ledger.sha256 == digest)
                           ).scalar_one_or_none()
    if same is not None:  # the same files again: the version already kept
        return _ledger_out(same)
    version = (session.execute(select(func.max(Ledger.version)).where(Ledger.case_id == case.id)).scalar() or 0) + 1
    row = Ledger(case_id=case.id, version=version, source=source, sha256=digest, rows=rows, ledger_csv=ledger_csv,
                 victims_csv=victims_csv, accounts_csv=accounts_csv, created_by=principal.name)
    session.add(row)
    case.events.append(CaseEvent(kind="ledger_added", actor=principal.name,
                                 detail={"version": version, "rows": rows, "source": source}))
    session.flush()
    write_audit(session, principal, "ledger_added", f"/cases/{case_no}/ledgers", case_no, version=version,
                source=source, rows=rows, sha256=digest)
    return _ledger_out(row)


@router.get("/ledgers")
def list_ledgers(case_no: str, principal: Tracer, session: SessionDep) -> list[dict]:
    case = case_for(session, principal, case_no)
    rows = session.execute(select(Ledger).where(Ledger.case_id == case.id).order_by(Ledger.version)).scalars()
    return [_ledger_out(l) for l in rows]


class TraceIn(Body):
    rule: str = Field(default="fifo", pattern="^(fifo|lifo|pro-rata|libr)$")
    as_of: AwareDatetime | None = None
    ledger_version: int | None = Field(default=None, ge=1, description="default: the newest")


def _trace_out(t: TraceResult) -> dict:
    return {"trace_id": t.id, "rule": t.rule, "as_of": t.as_of.isoformat() if t.as_of else None,
            "ledger_version": t.ledger.version, "created_at": t.created_at.isoformat(), "created_by": t.created_by,
            "result": t.result}


@router.post("/traces", status_code=status.HTTP_201_CREATED)
def run_trace(case_no: str, body: TraceIn, principal: Tracer, session: SessionDep) -> dict:
    """Trace the case's ledger by a rule; the result, with its freeze plan, is kept."""
    case = case_for(session, principal, case_no)
    q = select(Ledger).where(Ledger.case_id == case.id)
    q = q.where(Ledger.version == body.ledger_version) if body.ledger_version else q.order_by(Ledger.version.desc())
    ledger = session.execute(q.limit(1)).scalar_one_or_none()
    if ledger is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"case {case_no} has no ledger"
                            + (f" version {body.ledger_version}" if body.ledger_version else ""))
    result = tracing_service.trace(ledger.ledger_csv, ledger.victims_csv, ledger.accounts_csv, rule=body.rule,
                                   as_of=body.as_of)
    row = TraceResult(case_id=case.id, ledger=ledger, rule=body.rule, as_of=body.as_of, created_by=principal.name,
                      result=result)
    session.add(row)
    session.flush()
    plan = result.get("freeze_plan", {})
    case.events.append(CaseEvent(kind="traced", actor=principal.name, detail={
        "trace_id": row.id, "rule": body.rule, "ledger_version": ledger.version, "held_accounts": plan.get("accounts", 0),
        "traceable": plan.get("total", "0.00")}))
    session.flush()
    write_audit(session, principal, "trace_run", f"/cases/{case_no}/traces", case_no, trace_id=row.id,
                rule=body.rule, ledger_version=ledger.version)
    return _trace_out(row)


def _trace(session, case: Case, trace_id: int) -> TraceResult:
    t = session.get(TraceResult, trace_id)
    if t is None or t.case_id != case.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"case {case.case_no} has no trace {trace_id}")
    return t


@router.get("/traces/{trace_id}")
def read_trace(case_no: str, trace_id: int, principal: Tracer, session: SessionDep) -> dict:
    case = case_for(session, principal, case_no)
    t = _trace(session, case, trace_id)
    write_audit(session, principal, "trace_read", f"/cases/{case_no}/traces/{trace_id}", case_no)
    return _trace_out(t)


class HoldsIn(Body):
    kind: str = Field(default="stop_payment", pattern="^(stop_payment|freeze)$")
    legal_basis: str = Field(min_length=1, max_length=256)
    hours: int | None = Field(default=None, ge=1, le=24 * 366, description="default: the plan's expiry")


@router.post("/traces/{trace_id}/holds", status_code=status.HTTP_201_CREATED)
def queue_holds(case_no: str, trace_id: int, body: HoldsIn, principal: Tracer, session: SessionDep) -> dict:
    """Queue the freeze plan's holds as orders, in the plan's order; repeating it queues nothing twice."""
    case = case_for(session, principal, case_no)
    t = _trace(session, case, trace_id)
    expires = t.created_at + timedelta(hours=body.hours) if body.hours else None
    queued, skipped = services.queue_holds(
        session, case=case, holds=t.result.get("freeze_plan", {}).get("holds", []), kind=body.kind,
        legal_basis=body.legal_basis, created_by=principal.name, key_prefix=f"trace{t.id}", expires_at=expires)
    new = [q["order_id"] for q in queued if q["new"]]
    if new:
        case.events.append(CaseEvent(kind="holds_queued", actor=principal.name, detail={
            "trace_id": t.id, "order_kind": body.kind, "orders": new, "skipped": len(skipped)}))
    write_audit(session, principal, "holds_queued", f"/cases/{case_no}/traces/{trace_id}/holds", case_no,
                trace_id=t.id, orders=[q["order_id"] for q in queued])
    return {"queued": queued, "skipped": skipped}


class RestitutionIn(Body):
    mode: str = Field(default="traced", pattern="^(traced|pooled)$")
    frozen: dict[str, str] = Field(description="account → amount actually frozen, yuan")


@router.post("/traces/{trace_id}/restitution")
def restitution(case_no: str, trace_id: int, body: RestitutionIn, principal: Tracer, session: SessionDep) -> dict:
    """Return orders to each victim's own account from what was actually frozen, with explanations."""
    case = case_for(session, principal, case_no)
    t = _trace(session, case, trace_id)
    frozen = {acct: tracing_service.fen(v, field=f"frozen.{acct}") for acct, v in body.frozen.items()}
    plan = tracing_service.restitution(t.ledger.ledger_csv, t.ledger.victims_csv, t.ledger.accounts_csv,
                                       rule=t.rule, as_of=t.as_of, frozen=frozen, mode=body.mode)
    write_audit(session, principal, "restitution_planned", f"/cases/{case_no}/traces/{trace_id}/restitution",
                case_no, trace_id=t.id, mode=body.mode)
    return plan

