"""Reading the audit log. There is no endpoint that changes or removes a record."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from fanzha.api.deps import Principal, SessionDep, require, write_audit
from fanzha.roles import Permission
from fanzha.store import audit
from fanzha.store.models import AuditRecord

router = APIRouter(prefix="/audit", tags=["audit"])

Auditor = Annotated[Principal, Depends(require(Permission.audit_read))]


@router.get("")
def read_log(principal: Auditor, session: SessionDep, case_no: str | None = None, actor: str | None = None,
             after_id: Annotated[int, Query(ge=0)] = 0,
             limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[dict]:
    q = select(AuditRecord).where(AuditRecord.id > after_id).order_by(AuditRecord.id).limit(limit)
    if case_no:
        q = q.where(AuditRecord.case_no == case_no)
    if actor:
        q = q.where(AuditRecord.actor == actor)
    rows = session.execute(q).scalars().all()
    out = [{"id": r.id, "at": r.at.isoformat(), "actor": r.actor, "actor_kind": r.actor_kind, "role": r.role,
            "action": r.action, "resource": r.resource, "case_no": r.case_no, "detail": r.detail,
            "hash": r.hash} for r in rows]
    write_audit(session, principal, "audit_read", "/audit", case_no, filter_actor=actor)
    return out


@router.get("/verify")
def verify(principal: Auditor, session: SessionDep) -> dict:
    """Walk the hash chain: any removed or altered record shows."""
    check = audit.verify_chain(session)
    return {"ok": check.ok, "records": check.records, "first_bad_id": check.first_bad_id, "reason": check.reason}
