"""The case page's money: ledgers in, traces run, the flow graph, holds queued, returns planned.

Every action here is the tracing API's own handler (:mod:`fanzha.api.tracing`) called
with the logged-in person, so the permission (``tracing:run``), the case's unit scope,
the stored ledger versions and traces and the audit records are exactly the API's. The
console adds what a person needs around them: the case's timeline gets a step for each
(``ledger_added``, ``traced``, ``holds_queued``), errors come back onto the page, and the
flow graph and an account's transactions and holds are drawn from the stored trace.

Restitution is planned from what was actually held: the answered (done) stop-payments
and freezes of the case, per account, as the institutions reported them.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, File, Form, HTTPException, Query, Request, UploadFile, status
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from fanzha.api import tracing as tracing_api
from fanzha.api.deps import Principal, SessionDep, require, write_audit
from fanzha.errors import InputError
from fanzha.intake.service import EMERGENCY_BASIS
from fanzha.money import AmountError, parse_yuan
from fanzha.roles import Permission, allowed
from fanzha.store.models import Case, Ledger, Order, TraceResult
from fanzha.tracing import service as tracing_service
from fanzha.web.flow import flow_graph
from fanzha.web.i18n import N_
from fanzha.web.pages import NO_STORE, _load_case, _local_input, _see_other, router
from fanzha.web.render import fragment

Tracer = Annotated[Principal, Depends(require(Permission.tracing))]

RULES = ("fifo", "lifo", "pro-rata", "libr")
RULE_LABELS = {"fifo": N_("先进先出"), "lifo": N_("后进先出"), "pro-rata": N_("按比例"), "libr": N_("最低余额")}
HOLD_KINDS = ("stop_payment", "freeze")
#: An account's transactions shown beside the graph (a case ledger is small; a mule's is not).
ACCOUNT_ROWS = 200
TRACE_HISTORY = 20


def _case_url(case: Case, **query: Any) -> str:
    q = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in query.items() if v not in (None, ""))
    return f"/console/cases/{quote(case.case_no)}" + (f"?{q}" if q else "") + "#money"


def _err(err: Exception) -> str:
    if isinstance(err, ValidationError):
        return "；".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors())
    if isinstance(err, HTTPException):
        return str(err.detail)
    return str(err)


# --- what the case page shows ------------------------------------------------------

def held_by_account(orders: list[Order]) -> dict[str, int]:
    """What the institutions say they actually held, per account: answered stop-payments
    and freezes (the answer's ``held``, else the amount asked), less answered unfreezes."""
    out: dict[str, int] = {}
    for o in orders:
        if o.state != "done" or o.kind not in HOLD_KINDS + ("unfreeze",):
            continue
        fen = o.amount_fen or 0
        held = (o.answer or {}).get("held")
        if held:
            try:
                fen = parse_yuan(str(held), allow_zero=True)
            except AmountError:
                pass
        out[o.target] = out.get(o.target, 0) + (-fen if o.kind == "unfreeze" else fen)
    return {a: max(0, x) for a, x in out.items()}


def money_context(session: Session, principal: Principal, case: Case, orders: list[Order], *,
                  trace_id: int | None, account: str, restitution: str, lang: str = "zh") -> dict[str, Any]:
    """The money section of the case page; ``None`` for a role without ``tracing:run``."""
    if not allowed(principal.role, Permission.tracing):
        return {"money": None}
    ledgers = list(session.execute(select(Ledger.version, Ledger.source, Ledger.rows, Ledger.received_at,
                                          Ledger.created_by, Ledger.sha256)
                                   .where(Ledger.case_id == case.id).order_by(Ledger.version.desc())).all())
    traces = list(session.execute(select(TraceResult.id, TraceResult.rule, TraceResult.as_of,
                                         TraceResult.created_at, TraceResult.created_by)
                                  .where(TraceResult.case_id == case.id).order_by(TraceResult.id.desc())
                                  .limit(TRACE_HISTORY)).all())
    money: dict[str, Any] = {"ledgers": ledgers, "traces": traces, "rules": RULES, "rule_labels": RULE_LABELS,
                             "trace": None, "default_basis": EMERGENCY_BASIS}
    chosen = trace_id or (traces[0].id if traces else None)
    if chosen is not None:
        t = session.get(TraceResult, chosen)
        if t is None or t.case_id != case.id:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"case {case.case_no} has no trace {chosen}")
        held = held_by_account(orders)
        plan = t.result.get("freeze_plan", {})
        by_target: dict[str, list[Order]] = {}
        for o in orders:
            by_target.setdefault(o.target, []).append(o)
        money.update(
            trace=t, result=t.result, plan=plan, held=held, orders_by_target=by_target,
            graph=flow_graph(t.result, lang=lang, link=_case_url(case, trace=t.id).removesuffix("#money") + "&account="),
            account=account_detail(session, principal, case, t, account, orders) if account else None)
        if restitution in ("traced", "pooled"):
            money["restitution"] = _restitution(session, principal, case, t, held, restitution)
    return {"money": money}


def _restitution(session: Session, principal: Principal, case: Case, t: TraceResult, held: dict[str, int],
                 mode: str) -> dict[str, Any]:
    frozen = {a: held.get(a, 0) for a in t.result.get("holdings", {})}
    plan = tracing_service.restitution(t.ledger.ledger_csv, t.ledger.victims_csv, t.ledger.accounts_csv,
                                       rule=t.rule, as_of=t.as_of, frozen=frozen, mode=mode)
    write_audit(session, principal, "restitution_planned", f"/console/cases/{case.case_no}", case.case_no,
                trace_id=t.id, mode=mode)
    return plan


def _ledger_rows(text: str, account: str) -> tuple[list[dict[str, str]], int]:
    rows, total = [], 0
    for r in csv.DictReader(io.StringIO(text)):
        if r.get("from_account") == account or r.get("to_account") == account:
            total += 1
            if len(rows) < ACCOUNT_ROWS:
                rows.append(r)
    return rows, total


def account_detail(session: Session, principal: Principal, case: Case, t: TraceResult, account: str,
                   orders: list[Order]) -> dict[str, Any]:
    """One account of a trace: its transactions in the ledger, the victims' money it still
    holds, its place in the freeze plan and the orders sent about it."""
    result = t.result
    rows, total = _ledger_rows(t.ledger.ledger_csv, account)
    traced = {s["txn_id"] for steps in result.get("paths", {}).values() for s in steps
              if account in (s["from"], s["to"])}
    hold = next((h for h in result.get("freeze_plan", {}).get("holds", []) if h["account"] == account), None)
    write_audit(session, principal, "trace_account_viewed", f"/console/cases/{case.case_no}/traces/{t.id}",
                case.case_no, trace_id=t.id, account=account)
    return {"account": account, "layer": result.get("layers", {}).get(account),
            "holdings": result.get("holdings", {}).get(account, {}), "balance": result.get("balances", {}).get(account),
            "hold": hold, "rows": rows, "total": total, "traced": traced, "limit": ACCOUNT_ROWS,
            "orders": [o for o in orders if o.target == account]}


@router.get("/cases/{case_no}/traces/{trace_id}/account")
def trace_account(case_no: str, trace_id: int, request: Request, principal: Tracer, session: SessionDep,
                  account: Annotated[str, Query(min_length=1, max_length=128)]) -> JSONResponse:
    """The graph's click: an account's transactions and holds, as a part the page swaps in."""
    case = _load_case(session, principal, case_no)
    t = session.get(TraceResult, trace_id)
    if t is None or t.case_id != case.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"case {case_no} has no trace {trace_id}")
    if account not in t.result.get("layers", {}) and account not in t.result.get("holdings", {}):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"account {account} is not in trace {trace_id}")
    orders = list(session.execute(select(Order).where(Order.case_id == case.id, Order.target == account)
                                  .order_by(Order.id)).scalars())
    detail = account_detail(session, principal, case, t, account, orders)
    return JSONResponse({"account": account, "html": fragment(request, "_account.html", a=detail, case=case)},
                        headers=NO_STORE)


# --- actions -----------------------------------------------------------------------

@router.post("/cases/{case_no}/ledgers")
async def upload_ledger(case_no: str, principal: Tracer, session: SessionDep,
                        ledger: Annotated[UploadFile, File()], victims: Annotated[UploadFile, File()],
                        accounts: Annotated[UploadFile | None, File()] = None,
                        source: Annotated[str, Form(max_length=256)] = "") -> Response:
    """Keep ledger.csv / victims.csv / accounts.csv for the case (checked in full first)."""
    case = _load_case(session, principal, case_no)
    if accounts is not None and not accounts.filename:
        accounts = None  # the file field left empty: a browser still sends an unnamed part
    try:
        out = await tracing_api.add_ledger(case_no, principal, session, ledger=ledger, victims=victims,
                                           accounts=accounts, source=source.strip() or ledger.filename or "upload")
    except (InputError, HTTPException) as err:
        session.rollback()
        return _see_other(_case_url(case, money_error=_err(err)))
    return _see_other(_case_url(case, ledger=out["version"]))


@router.post("/cases/{case_no}/traces")
def run_trace(case_no: str, principal: Tracer, session: SessionDep,
              rule: Annotated[str, Form(max_length=16)] = "fifo",
              as_of: Annotated[str, Form(max_length=32)] = "",
              ledger_version: Annotated[str, Form(max_length=8)] = "") -> Response:
    """Trace the case's ledger by a rule, as of a time (Shanghai) or to its last row."""
    case = _load_case(session, principal, case_no)
    try:
        body = tracing_api.TraceIn(rule=rule, as_of=_local_input(as_of, "as_of"),
                                   ledger_version=int(ledger_version) if ledger_version.strip() else None)
        out = tracing_api.run_trace(case_no, body, principal, session)
    except (InputError, ValidationError, ValueError, HTTPException) as err:
        session.rollback()
        return _see_other(_case_url(case, money_error=_err(err)))
    return _see_other(_case_url(case, trace=out["trace_id"]))


@router.post("/cases/{case_no}/traces/{trace_id}/holds")
def queue_holds(case_no: str, trace_id: int, principal: Tracer, session: SessionDep,
                kind: Annotated[str, Form(max_length=16)] = "stop_payment",
                legal_basis: Annotated[str, Form(max_length=256)] = "") -> Response:
    """Queue the freeze plan's holds as stop-payment (or freeze) orders, once each."""
    case = _load_case(session, principal, case_no)
    try:
        body = tracing_api.HoldsIn(kind=kind, legal_basis=legal_basis.strip() or EMERGENCY_BASIS)
        out = tracing_api.queue_holds(case_no, trace_id, body, principal, session)
    except (InputError, ValidationError, HTTPException) as err:
        session.rollback()
        if isinstance(err, HTTPException) and err.status_code == status.HTTP_404_NOT_FOUND:
            raise
        return _see_other(_case_url(case, trace=trace_id, money_error=_err(err)))
    return _see_other(_case_url(case, trace=trace_id, queued=sum(q['new'] for q in out['queued']), skipped=len(out["skipped"])))

