"""The gateway's API: institutions' signed callbacks, delivery records and SLA figures.

``POST /gateway/callbacks`` is where an institution's system answers a request it
accepted earlier (``fanzha-institution/1``). It authenticates by the message's HMAC
signature under that institution's key — the same key that signs our requests — so an
institution needs nothing else to call back. Every callback is recorded with what
became of it (applied, duplicate, late, unknown order, bad signature, malformed); a
refused one gets 401 and still leaves its record.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy import select

from fanzha.api.deps import (Principal, SessionDep, api_key, bearer, case_for, check_order_access,
                             get_principal, require, write_audit)
from fanzha.gateway import sla
from fanzha.gateway.protocol import MalformedAnswer, parse_callback
from fanzha.gateway.signing import H_INSTITUTION, H_SIGNATURE, Keyring, SignatureError, verify
from fanzha.gateway.store import record_callback
from fanzha.roles import Permission, Role, allowed
from fanzha.store import audit
from fanzha.store.db import transaction
from fanzha.store.models import GatewayCallback, Institution, Order, OrderAttempt
from fanzha.store.types import utcnow

router = APIRouter(prefix="/gateway", tags=["gateway"])


def gateway_keys(app) -> Keyring:
    """The institutions' keys: set on ``app.state.gateway_keys``, else loaded once from the
    keys file / environment (never from the repository)."""
    keys = getattr(app.state, "gateway_keys", None)
    if keys is None:
        keys = app.state.gateway_keys = Keyring.load()
    return keys


class SignedCaller:
    def __init__(self, principal: Principal, institution: str | None, body: bytes):
        self.principal, self.institution, self.body = principal, institution, body


async def _raw_body(request: Request) -> bytes:
    """The body as sent: what the signature covers. (Only this part runs on the event
    loop; the database work below runs in the thread pool, as every sync endpoint does.)"""
    return await request.body()


def signed_institution(request: Request, session: SessionDep, body: Annotated[bytes, Depends(_raw_body)],
                       creds=Depends(bearer), key=Depends(api_key)) -> SignedCaller:
    """A signed message authenticates its institution. Without a signature the caller goes
    through the ordinary log-in (and is then told callbacks must be signed)."""
    if H_SIGNATURE not in request.headers:
        principal = get_principal(request, session, creds, key)
        if not allowed(principal.role, Permission.orders_callback):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"role {principal.role.value} may not {Permission.orders_callback.value}")
        return SignedCaller(principal, None, body)
    claimed = request.headers.get(H_INSTITUTION, "")[:32]
    try:
        code = verify(gateway_keys(request.app), request.headers, "POST", request.url.path, body)
        inst_id = session.execute(select(Institution.id).where(Institution.code == code)).scalar_one_or_none()
        if inst_id is None:
            raise SignatureError(f"institution {code!r} is not known to the centre")
    except SignatureError as err:
        with transaction(request.app.state.sessions) as s:  # the refusal is recorded, the request is not
            record_callback(s, claimed, None, outcome="bad_signature", detail=str(err))
            audit.record(s, actor=f"institution:{claimed or '?'}", actor_kind="client", role=Role.institution.value,
                         action="callback_refused", resource=request.url.path, case_no=None,
                         detail={"reason": str(err), "client": request.client.host if request.client else None})
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"signature refused: {err}",
                            headers={"WWW-Authenticate": "fanzha-institution/1"}) from None
    return SignedCaller(Principal(f"institution:{code}", "client", Role.institution, institution_id=inst_id),
                        code, body)


signed_institution.permission = Permission.orders_callback  # type: ignore[attr-defined]  # role-matrix test

Signed = Annotated[SignedCaller, Depends(signed_institution)]
CaseReader = Annotated[Principal, Depends(require(Permission.cases_read))]
OrderReader = Annotated[Principal, Depends(require(Permission.orders_read))]
StatsReader = Annotated[Principal, Depends(require(Permission.stats_read))]


@router.post("/callbacks", status_code=status.HTTP_200_OK)
def callback(request: Request, caller: Signed, session: SessionDep) -> JSONResponse:
    """An institution's later answer to a request (signed). Applied once; a duplicate or
    late copy is recorded and changes nothing."""
    try:
        cb = parse_callback(caller.body)
    except MalformedAnswer as err:
        if caller.institution is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(err)) from None
        record_callback(session, caller.institution, None, outcome="malformed", detail=str(err))
        return JSONResponse({"detail": str(err), "outcome": "malformed"}, status_code=422)
    if caller.institution is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "callbacks must be signed (fanzha-institution/1)",
                            headers={"WWW-Authenticate": "fanzha-institution/1"})
    if cb.institution != caller.institution:
        rec = record_callback(session, caller.institution, None, outcome="malformed", request_id=cb.request_id,
                              detail=f"callback names {cb.institution!r} but is signed by {caller.institution!r}")
        return JSONResponse({"detail": rec.detail, "outcome": rec.outcome}, status_code=422)
    rec = record_callback(session, caller.institution, cb)
    order = session.get(Order, rec.order_id) if rec.order_id else None
    write_audit(session, caller.principal, "callback_" + rec.outcome, request.url.path,
                order.case.case_no if order else None, order_id=rec.order_id, request_id=cb.request_id,
                status=cb.status, detail=rec.detail)
    code = status.HTTP_404_NOT_FOUND if rec.outcome == "unknown_order" else status.HTTP_200_OK
    return JSONResponse({"outcome": rec.outcome, "order_id": rec.order_id, "detail": rec.detail}, status_code=code)


@router.get("/orders/{order_id}/attempts")
def attempts(order_id: int, principal: OrderReader, session: SessionDep) -> dict:
    """Every delivery attempt and callback of an order: why it is where it is."""
    order = session.get(Order, order_id)
    if order is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no order {order_id}")
    check_order_access(session, principal, order)
    rows = session.execute(select(OrderAttempt).where(OrderAttempt.order_id == order_id)
                           .order_by(OrderAttempt.id)).scalars().all()
    cbs = session.execute(select(GatewayCallback).where(GatewayCallback.order_id == order_id)
                          .order_by(GatewayCallback.id)).scalars().all()
    write_audit(session, principal, "order_attempts_read", f"/gateway/orders/{order_id}/attempts",
                order.case.case_no)
    return {"order_id": order.id, "state": order.state, "last_error": order.last_error,
            "next_attempt_at": order.next_attempt_at.isoformat() if order.next_attempt_at else None,
            "attempts": [{"at": a.started_at.isoformat(), "dispatcher": a.dispatcher, "outcome": a.outcome,
                          "http_status": a.http_status, "latency_ms": a.latency_ms, "detail": a.detail}
                         for a in rows],
            "callbacks": [{"at": c.received_at.isoformat(), "callback_id": c.callback_id, "status": c.status,
                           "outcome": c.outcome, "detail": c.detail} for c in cbs]}


@router.get("/cases/{case_no}/sla")
def case_sla(case_no: str, principal: CaseReader, session: SessionDep) -> dict:
    """The case's clocks: received → first sent → acknowledged → hold confirmed, per
    institution, with the targets (30 s, 5 min) met, missed or running."""
    case_for(session, principal, case_no)
    clock = sla.load_case(session, case_no, utcnow())
    write_audit(session, principal, "sla_read", f"/gateway/cases/{case_no}/sla", case_no)
    return {"case_no": case_no, **clock.as_dict()}


@router.get("/institutions/stats")
def institution_stats(principal: StatsReader, session: SessionDep,
                      hours: Annotated[int, Query(ge=1, le=24 * 366)] = 24) -> dict:
    """Per institution: attempts, error rate, median and p95 latency, time to a final answer."""
    since = utcnow() - timedelta(hours=hours)
    stats = sla.load_institution_stats(session, since)
    write_audit(session, principal, "gateway_stats_read", "/gateway/institutions/stats", None, hours=hours)
    return {"since": since.isoformat(), "institutions": [s.as_dict() for _, s in sorted(stats.items())]}


@router.get("/alarms")
def alarms(principal: StatsReader, session: SessionDep,
           hours: Annotated[int, Query(ge=1, le=24 * 31)] = 24) -> dict:
    """Targets missed or still running on the cases with orders in the last ``hours``."""
    now = utcnow()
    found = sla.load_alarms(session, now, now - timedelta(hours=hours))
    write_audit(session, principal, "gateway_alarms_read", "/gateway/alarms", None, hours=hours)
    return {"at": now.isoformat(), "alarms": found}
