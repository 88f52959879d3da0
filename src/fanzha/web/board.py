"""The live board (值班看板): new reports, emergency cases on the clock, late institutions.

The clocks are :mod:`fanzha.gateway.sla`'s, read off the orders' own event history:
report received → first request sent → acknowledged → hold confirmed, with the
field's targets (first request in 30 s, first round of stop-payments in 5 minutes).
An institution is late when a request has waited on it longer than the first-round
target, or an order for it is still in the outbox after the first-request target.

The board is scoped like the case list (an officer sees its unit's reports and cases;
institutions' lateness is not personal data and is shown to all). It is polled like the
case page's orders: the part is re-sent only when something on it changed, and the
running clocks tick in the browser between polls.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fanzha.api.deps import Principal, SessionDep, unit_scope, write_audit
from fanzha.gateway import sla
from fanzha.store.models import Case, Institution, Order, Report
from fanzha.store.types import utcnow
from fanzha.web.pages import NO_STORE, CaseReader, router
from fanzha.web.render import fragment, page

NEW_REPORTS = 15
EMERGENCY_CASES = 15
#: Emergency cases stay on the board this long after their report.
EMERGENCY_WINDOW = timedelta(hours=24)
OPEN = ("pending", "sent", "acknowledged")
TARGETS = sla.Targets()


def _scoped(q, session: Session, principal: Principal):
    scope = unit_scope(session, principal)
    return q if scope is None else q.where(Case.unit_id.in_(scope))


def board_data(session: Session, principal: Principal, now: datetime) -> dict[str, Any]:
    reports = session.execute(_scoped(select(Report, Case.case_no, Case.emergency).join(Case), session, principal)
                              .order_by(Report.received_at.desc(), Report.id.desc()).limit(NEW_REPORTS)).all()
    received = (select(Report.case_id, func.min(Report.received_at).label("received"))
                .group_by(Report.case_id).subquery())
    rows = session.execute(_scoped(select(Case, received.c.received).join(received, received.c.case_id == Case.id),
                                   session, principal)
                           .where(Case.emergency.is_(True), Case.status == "open",
                                  received.c.received >= now - EMERGENCY_WINDOW)
                           .order_by(received.c.received.desc()).limit(EMERGENCY_CASES)).all()
    ids = [c.id for c, _ in rows]
    case_of = dict(session.execute(select(Order.id, Order.case_id).where(Order.case_id.in_(ids))).all()) if ids else {}
    recs: dict[int, list[sla.OrderRec]] = {}
    for rec in sla._order_recs(session, [Order.case_id.in_(ids)]) if ids else []:
        recs.setdefault(case_of[rec.order_id], []).append(rec)
    clocks = []
    for case, got in rows:
        clock = sla.case_clock(got, recs.get(case.id, []), now, TARGETS)
        clocks.append({"case": case, "clock": clock, "orders": len(recs.get(case.id, [])),
                       "alarms": {a.target: a for a in clock.alarms}})
    return {"reports": reports, "clocks": clocks, "late": late_institutions(session, now), "now": now}


def late_institutions(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Institutions with requests waiting past the targets, the longest wait first."""
    names = dict(session.execute(select(Institution.code, Institution.name)).all())
    out: dict[str, dict[str, Any]] = {}
    for rec in sla._order_recs(session, [Order.state.in_(OPEN)]):
        sent, _, _, _ = sla.order_milestones(rec)
        if rec.state == "pending":
            since, limit, what = rec.created_at, TARGETS.first_request_s, "queued"
        else:
            since, limit, what = (sent or rec.created_at), TARGETS.first_round_s, "waiting"
        waited = (now - since).total_seconds()
        row = out.setdefault(rec.institution, {"code": rec.institution, "name": names.get(rec.institution, ""),
                                               "open": 0, "late": 0, "queued": 0, "oldest": None})
        row["open"] += 1
        if waited > limit:
            row["late"] += 1
            row["queued"] += what == "queued"
            row["oldest"] = since if row["oldest"] is None else min(row["oldest"], since)
    late = [r for r in out.values() if r["late"]]
    return sorted(late, key=lambda r: (r["oldest"], r["code"]))


def _version(data: dict[str, Any]) -> str:
    parts = [f"r{r.id}" for r, _, _ in data["reports"]]
    for c in data["clocks"]:
        m = c["clock"].case
        parts.append(f"c{c['case'].id}:{c['orders']}:{m.sent}:{m.acknowledged}:{m.hold_confirmed}:"
                     + ",".join(a.state for a in c["clock"].alarms))
    parts += [f"i{r['code']}:{r['late']}:{r['open']}" for r in data["late"]]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _audit(session: Session, principal: Principal, resource: str, data: dict[str, Any]) -> None:
    write_audit(session, principal, "board_viewed", resource, None,
                case_nos=sorted({no for _, no, _ in data["reports"]} | {c["case"].case_no for c in data["clocks"]}))


@router.get("/board", response_class=HTMLResponse)
def board(request: Request, principal: CaseReader, session: SessionDep) -> HTMLResponse:
    data = board_data(session, principal, utcnow())
    _audit(session, principal, "/console/board", data)
    return page(request, session, principal, "board.html", active="board", version=_version(data), **data)


@router.get("/board/live")
def board_live(request: Request, principal: CaseReader, session: SessionDep,
               since: Annotated[str, Query(max_length=32)] = "") -> JSONResponse:
    data = board_data(session, principal, utcnow())
    version = _version(data)
    if version == since:
        return JSONResponse({"version": version, "html": None}, headers=NO_STORE)
    _audit(session, principal, "/console/board/live", data)
    return JSONResponse({"version": version, "html": fragment(request, "_board.html", **data)}, headers=NO_STORE)
