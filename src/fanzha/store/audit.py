"""The append-only audit log: writing a record and checking the chain.

Each record's hash covers its fields and the previous record's hash. Writers first
bump the one-row ``audit_head`` (a row lock on PostgreSQL, the write lock on SQLite),
so two writers never chain onto the same predecessor.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fanzha.store.models import AuditHead, AuditRecord
from fanzha.store.types import utcnow

GENESIS = "0" * 64


def _digest(prev_hash: str, rec: AuditRecord) -> str:
    body = json.dumps(
        [prev_hash, rec.at.isoformat(), rec.actor, rec.actor_kind, rec.role, rec.action,
         rec.resource, rec.case_no, rec.detail],
        ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record(session: Session, *, actor: str, actor_kind: str, role: str, action: str,
           resource: str, case_no: str | None = None, detail: dict[str, Any] | None = None) -> AuditRecord:
    """Append one record in the caller's transaction (it commits or rolls back with it)."""
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1))
    head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one()
    session.refresh(head)
    rec = AuditRecord(at=utcnow(), actor=actor,
                      actor_kind=actor_kind, role=role, action=action, resource=resource,
                      case_no=case_no, detail=detail or {}, prev_hash=head.hash)
    rec.hash = _digest(head.hash, rec)
    head.hash = rec.hash
    session.add(rec)
    session.flush()
    return rec


@dataclass
class ChainCheck:
    ok: bool
    records: int
    first_bad_id: int | None = None
    reason: str = ""


def verify_chain(session: Session) -> ChainCheck:
    """Walk the log in order; report the first record whose hash or link does not hold."""
    prev = GENESIS
    n = 0
    for rec in session.execute(select(AuditRecord).order_by(AuditRecord.id)).scalars():
        n += 1
        if rec.prev_hash != prev:
            return ChainCheck(False, n, rec.id, "link to the previous record is broken")
        if _digest(prev, rec) != rec.hash:
            return ChainCheck(False, n, rec.id, "record does not match its hash")
        prev = rec.hash
    head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one()
    if head.hash != prev:
        return ChainCheck(False, n, None, "the last record is missing")
    return ChainCheck(True, n)
