"""The console's pages: every role's work, server-rendered, on the API's own rules.

Each page is guarded by the same ``require(Permission…)`` dependency as the JSON
endpoint it mirrors, is scoped the same way (``unit_scope``, ``check_case_access``,
``check_order_access``) and writes the same kind of audit record, so the browser is
never a way around a rule. Forms post back here (urlencoded, with the CSRF token of
the login) and answer with a redirect, so reloading a page never repeats an action.
The two live parts — a case's orders and a liaison's inbox — are polled as small JSON
documents carrying a version and, only when something changed, the re-rendered part.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fanzha.api import stats as stats_api
from fanzha.api.cases import _file as file_report_form  # the JSON API's own filing path, not a copy
from fanzha.api.deps import (SESSION_COOKIE, Principal, PrincipalDep, SessionDep, check_case_access,
                             check_order_access, require, same_origin, unit_scope, write_audit)
from fanzha.api.schemas import ReportIn, yuan_to_fen
from fanzha.api.security import issue_token
from fanzha.errors import InputError, nul_refusal
from fanzha.gateway.orders import MONEY_ORDERS, OrderKind, OrderState, TransitionError
from fanzha.intake.service import EMERGENCY_BASIS, read_text
from fanzha.money import format_fen
from fanzha.roles import PEOPLE, Permission, Role, allowed
from fanzha.store import audit, services
from fanzha.store.models import AuditRecord, Case, Institution, Order, Unit, User
from fanzha.store.types import utcnow
from fanzha.store.users import authenticate_user, create_user
from fanzha.web.i18n import COOKIE, LANGS, N_, lang_of, translate
from fanzha.web.labels import IDENTIFIER_KINDS, SCAM_TYPE_LABELS
from fanzha.web.render import SHANGHAI, fragment, html, landing_path, page, request_csrf


async def _no_nul_in_forms(request: Request) -> None:
    """A NUL character in a posted form's field is refused, 422 naming the field, on
    either database (as in the API's request bodies: PostgreSQL's text cannot hold
    one, SQLite's would keep it). The form is the one the route reads, parsed once."""
    if request.method != "POST":
        return
    form = await request.form()
    bad = [{"type": "value_error", "loc": ("body", name), "input": value, "msg": f"Value error, {why}"}
           for name, value in form.multi_items() if isinstance(value, str) and (why := nul_refusal(value))]
    if bad:
        raise RequestValidationError(bad)


router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False,
                   dependencies=[Depends(_no_nul_in_forms)])
#: The bare address a person types: sent on to the console.
entry = APIRouter(include_in_schema=False)

CaseReader = Annotated[Principal, Depends(require(Permission.cases_read))]
CaseWriter = Annotated[Principal, Depends(require(Permission.cases_write))]
OrderReader = Annotated[Principal, Depends(require(Permission.orders_read))]
OrderSender = Annotated[Principal, Depends(require(Permission.orders_send))]
OrderAnswerer = Annotated[Principal, Depends(require(Permission.orders_answer))]
StatsReader = Annotated[Principal, Depends(require(Permission.stats_read))]
UserAdmin = Annotated[Principal, Depends(require(Permission.users_admin))]
AuditReader = Annotated[Principal, Depends(require(Permission.audit_read))]

#: Orders still waiting on the institution: what a liaison must act on.
OPEN_STATES = (OrderState.sent.value, OrderState.acknowledged.value)
#: Answered orders shown under the open ones, newest first.
INBOX_HISTORY = 30
CASE_LIST_LIMIT = 200
NO_STORE = {"Cache-Control": "no-store"}
AUDIT_PAGE = 200
#: How long the language choice is remembered.
LANG_COOKIE_DAYS = 365


def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=status.HTTP_303_SEE_OTHER)


def _local_input(value: str, field: str) -> datetime | None:
    """A ``datetime-local`` form value, which has no offset, read as Shanghai time."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=SHANGHAI)
    except ValueError:
        raise InputError(f"not a date and time: {value!r}", field=field) from None


def _safe_next(path: str | None) -> str | None:
    """Only our own console pages are followed after logging in (no open redirect)."""
    if path and path.startswith("/console") and not path.startswith("//") and "\\" not in path:
        return path
    return None


def _version(orders: list[Order]) -> str:
    """A fingerprint of what a live part shows: changes when any order moves."""
    parts = "|".join(f"{o.id}:{o.state}:{o.updated_at.isoformat()}" for o in orders)
    return hashlib.sha256(parts.encode()).hexdigest()[:16]


def _institutions(session: Session) -> list[Institution]:
    return list(session.execute(select(Institution).order_by(Institution.kind, Institution.code)).scalars())


@entry.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/console", status_code=status.HTTP_307_TEMPORARY_REDIRECT)


# --- logging in and out ------------------------------------------------------------

@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return _login_form(request, next=_safe_next(next))


def _login_form(request: Request, *, next: str | None, error: str = "", username: str = "",
                status_code: int = 200) -> HTMLResponse:
    return html(request, "login.html", {"next": next or "", "error": error, "username": username}, status_code)


@router.post("/login")
def login(request: Request, session: SessionDep, username: Annotated[str, Form(max_length=64)],
          password: Annotated[str, Form(max_length=256)],
          next: Annotated[str, Form(max_length=512)] = "") -> Response:
    """Check the password, put the login token in an HttpOnly, SameSite=Strict cookie.

    A login posted from another site's page is refused (login CSRF would put the
    victim's browser in the attacker's account).
    """
    if not same_origin(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site login refused")
    user = authenticate_user(session, username, password)
    if user is None:
        audit.record(session, actor=username, actor_kind="user", role="", action="login_failed",
                     resource="/console/login")
        return _login_form(request, next=_safe_next(next), error=N_("用户名或密码错误"), username=username,
                           status_code=status.HTTP_401_UNAUTHORIZED)
    settings = request.app.state.settings
    token = issue_token(request.app.state.secret, user.username, user.role, settings.token_minutes)
    audit.record(session, actor=user.username, actor_kind="user", role=user.role, action="login",
                 resource="/console/login")
    response = _see_other(_safe_next(next) or landing_path(Role(user.role)) or "/console")
    response.set_cookie(SESSION_COOKIE, token, max_age=settings.token_minutes * 60, path="/", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    return response


@router.get("/lang")
def switch_language(request: Request, to: Annotated[str, Query(max_length=8)] = "",
                    next: Annotated[str, Query(max_length=2048)] = "") -> Response:
    """The header's language switch: keep the choice in a cookie and go back to the page."""
    response = _see_other(_safe_next(next) or "/console")
    if to in LANGS:
        response.set_cookie(COOKIE, to, max_age=LANG_COOKIE_DAYS * 86400, path="/", httponly=True,
                            samesite="lax", secure=request.url.scheme == "https")
    return response


@router.post("/logout")
def logout(principal: PrincipalDep, session: SessionDep) -> Response:
    write_audit(session, principal, "logout", "/console/logout")
    response = _see_other("/console/login")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("", response_class=HTMLResponse)
def home(request: Request, principal: PrincipalDep, session: SessionDep) -> Response:
    """Each role starts on its own page; a role with no console page yet sees its menu."""
    target = landing_path(principal.role)
    if target:
        return _see_other(target)
    return page(request, session, principal, "home.html")


# --- cases -------------------------------------------------------------------------

@router.get("/cases", response_class=HTMLResponse)
def case_list(request: Request, principal: CaseReader, session: SessionDep,
              emergency: bool = False) -> HTMLResponse:
    """Newest first; emergency cases flagged (and filterable). An officer sees its unit's."""
    q = select(Case).order_by(Case.opened_at.desc(), Case.id.desc()).limit(CASE_LIST_LIMIT)
    scope = unit_scope(session, principal)
    if scope is not None:
        q = q.where(Case.unit_id.in_(scope))
    if emergency:
        q = q.where(Case.emergency.is_(True))
    cases = session.execute(q).scalars().all()
    open_orders = dict(session.execute(
        select(Order.case_id, func.count(Order.id))
        .where(Order.case_id.in_([c.id for c in cases]), Order.state.in_(("pending",) + OPEN_STATES))
        .group_by(Order.case_id)).all()) if cases else {}
    write_audit(session, principal, "cases_listed", "/console/cases", None, case_nos=[c.case_no for c in cases])
    return page(request, session, principal, "cases.html", active="cases", cases=cases,
                open_orders=open_orders, emergency=emergency, limit=CASE_LIST_LIMIT)


def _load_case(session: Session, principal: Principal, case_no: str) -> Case:
    try:
        case = services.get_case(session, case_no)
    except LookupError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_no}") from None
    check_case_access(session, principal, case)
    return case


def _case_orders(session: Session, case: Case) -> list[Order]:
    return list(session.execute(select(Order).where(Order.case_id == case.id).order_by(Order.id)).scalars())


def _first_received(case: Case) -> datetime | None:
    return min((r.received_at for r in case.reports), default=None)


@router.get("/cases/{case_no}", response_class=HTMLResponse)
def case_page(case_no: str, request: Request, principal: CaseReader, session: SessionDep,
              trace: Annotated[int | None, Query(ge=1)] = None,
              account: Annotated[str, Query(max_length=128)] = "",
              restitution: Annotated[str, Query(pattern="^(|traced|pooled)$")] = "") -> HTMLResponse:
    """The case: facts, orders (live), money (ledgers, traces, graph, holds, restitution),
    linked cases (loaded after the page), timeline, victims and reports."""
    from fanzha.web.money import money_context

    case = _load_case(session, principal, case_no)
    orders = _case_orders(session, case)
    write_audit(session, principal, "case_read", f"/console/cases/{case_no}", case_no)
    money_part = money_context(session, principal, case, orders, trace_id=trace, account=account.strip(),
                               restitution=restitution, lang=lang_of(request))
    return page(request, session, principal, "case.html", active="cases", case=case, orders=orders,
                t0=_first_received(case), version=_version(orders), institutions=_institutions(session),
                can_send=allowed(principal.role, Permission.orders_send), kinds=list(OrderKind),
                money_kinds=[k.value for k in MONEY_ORDERS], default_basis=EMERGENCY_BASIS,
                form={}, error="", can_link=allowed(principal.role, Permission.linking_read), **money_part)


@router.get("/cases/{case_no}/live")
def case_orders_live(case_no: str, request: Request, principal: OrderReader, session: SessionDep,
                     since: Annotated[str, Query(max_length=32)] = "") -> JSONResponse:
    """The case page's orders, for polling: ``html`` only when they changed since ``since``.

    A poll that returns nothing new shows no personal data and is not audited; one that
    returns the orders again is, like any view of them.
    """
    case = _load_case(session, principal, case_no)
    orders = _case_orders(session, case)
    version = _version(orders)
    if version == since:
        return JSONResponse({"version": version, "html": None}, headers=NO_STORE)
    write_audit(session, principal, "case_orders_viewed", f"/console/cases/{case_no}/live", case_no,
                order_ids=[o.id for o in orders])
    part = fragment(request, "_orders.html", orders=orders, t0=_first_received(case))
    return JSONResponse({"version": version, "html": part}, headers=NO_STORE)


# --- filing a report ---------------------------------------------------------------

def _report_page(request: Request, session: Session, principal: Principal, *, form: dict[str, str],
                 error: str = "", status_code: int = 200) -> HTMLResponse:
    return page(request, session, principal, "report.html", active="report", form=form, error=error,
                scam_types=SCAM_TYPE_LABELS, status_code=status_code,
                now=datetime.now(SHANGHAI).strftime("%Y-%m-%dT%H:%M"))


@router.get("/report", response_class=HTMLResponse)
def report_form(request: Request, principal: CaseWriter, session: SessionDep) -> HTMLResponse:
    return _report_page(request, session, principal, form={})


@router.post("/report")
def report_submit(request: Request, principal: CaseWriter, session: SessionDep,
                  text: Annotated[str, Form(max_length=100_000)] = "",
                  received_at: Annotated[str, Form(max_length=32)] = "",
                  paid_at: Annotated[str, Form(max_length=32)] = "",
                  district: Annotated[str, Form(max_length=64)] = "",
                  address: Annotated[str, Form(max_length=256)] = "",
                  caller: Annotated[str, Form(max_length=32)] = "",
                  victim_name: Annotated[str, Form(max_length=64)] = "",
                  victim_account: Annotated[str, Form(max_length=64)] = "",
                  loss: Annotated[str, Form(max_length=32)] = "",
                  scam_type: Annotated[str, Form(max_length=32)] = "") -> Response:
    """一站式: the report is filed, its case opened (or joined) and routed, and a recent
    payment starts the emergency orders — all in this request's one transaction."""
    form = dict(text=text, received_at=received_at, paid_at=paid_at, district=district, address=address,
                caller=caller, victim_name=victim_name, victim_account=victim_account, loss=loss,
                scam_type=scam_type)
    try:
        body = ReportIn(
            received_at=_local_input(received_at, "received_at") or utcnow(), text=text,
            paid_at=_local_input(paid_at, "paid_at"), district=district.strip(), address=address.strip(),
            caller=caller.strip(), loss=loss.strip() or None,
            scam_type=scam_type if scam_type in SCAM_TYPE_LABELS else None,
            victim={"name": victim_name.strip(), "phone": caller.strip(), "account": victim_account.strip()})
        filed = file_report_form(session, principal, body, "station")
    except (InputError, ValidationError) as err:
        session.rollback()  # a refused form leaves nothing half-written behind
        return _report_page(request, session, principal, form=form, error=_message(err),
                            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    return _see_other(f"/console/cases/{quote(filed.case.case_no)}?filed={filed.outcome}")


@router.post("/report/preview")
def report_preview(request: Request, principal: CaseWriter,
                   text: Annotated[str, Form(max_length=100_000)] = "") -> dict:
    """What intake will read out of the text, shown as the officer types, to confirm.

    Nothing is stored and nothing is looked up, so there is nothing to audit.
    """
    from fanzha.intake.classify import classify

    found, amounts = read_text(text) if text.strip() else ([], [])
    guess = classify(text) if text.strip() else None
    lang = lang_of(request)
    return {"identifiers": [{"kind": k, "label": translate(IDENTIFIER_KINDS.get(k, k), lang), "value": v}
                            for k, v in found],
            "amounts": amounts, "scam_type": guess.scam_type if guess else None,
            "scam_label": translate(SCAM_TYPE_LABELS.get(guess.scam_type, guess.label), lang) if guess else None}


def _message(err: Exception) -> str:
    if isinstance(err, ValidationError):
        return "；".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors())
    return str(err)


# --- orders: one-stop query and answers ----------------------------------------------

def _query_page(request: Request, session: Session, principal: Principal, *, form: dict[str, str],
                error: str = "", status_code: int = 200) -> HTMLResponse:
    q = select(Case.case_no).where(Case.status == "open").order_by(Case.opened_at.desc()).limit(50)
    scope = unit_scope(session, principal)
    if scope is not None:
        q = q.where(Case.unit_id.in_(scope))
    return page(request, session, principal, "query.html", active="query", form=form, error=error,
                recent=list(session.execute(q).scalars()), institutions=_institutions(session),
                kinds=list(OrderKind), money_kinds=[k.value for k in MONEY_ORDERS],
                default_basis=EMERGENCY_BASIS, status_code=status_code)


@router.get("/query", response_class=HTMLResponse)
def query_form(request: Request, principal: OrderSender, session: SessionDep,
               case_no: Annotated[str, Query(max_length=32)] = "") -> HTMLResponse:
    return _query_page(request, session, principal, form={"case_no": case_no})


@router.post("/orders")
def send_order(request: Request, principal: OrderSender, session: SessionDep,
               case_no: Annotated[str, Form(max_length=32)] = "",
               kind: Annotated[str, Form(max_length=32)] = "",
               institution: Annotated[str, Form(max_length=32)] = "",
               target: Annotated[str, Form(max_length=512)] = "",
               amount: Annotated[str, Form(max_length=32)] = "",
               legal_basis: Annotated[str, Form(max_length=256)] = "",
               back: Annotated[str, Form(max_length=8)] = "case") -> Response:
    """Queue a query, stop-payment, freeze… in the outbox (the gateway delivers it)."""
    form = dict(case_no=case_no, kind=kind, institution=institution, target=target, amount=amount,
                legal_basis=legal_basis)
    try:
        case = services.get_case(session, case_no.strip())
    except LookupError:
        missing = translate(N_("没有案件 {case_no}"), lang_of(request), case_no=case_no)
        return _query_page(request, session, principal, form=form, error=missing,
                           status_code=status.HTTP_404_NOT_FOUND)
    check_case_access(session, principal, case)
    try:
        inst = services.get_institution(session, institution)
        fen = yuan_to_fen(amount.strip()) if amount.strip() else None
        order, created = services.create_order(
            session, case=case, kind=kind, institution=inst, target=target.strip(),
            legal_basis=legal_basis.strip(), created_by=principal.name, amount_fen=fen)
    except (InputError, ValueError) as err:
        session.rollback()  # a refused form leaves nothing half-written behind
        return _query_page(request, session, principal, form=form, error=str(err),
                           status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    write_audit(session, principal, "order_sent" if created else "order_repeated", "/console/orders",
                case.case_no, order_id=order.id, kind=order.kind, institution=inst.code, target=order.target)
    return _see_other(f"/console/cases/{quote(case.case_no)}#order-{order.id}")


def _inbox_orders(session: Session, principal: Principal) -> tuple[list[Order], list[Order]]:
    mine = Order.institution_id == principal.institution_id
    open_ = list(session.execute(select(Order).where(mine, Order.state.in_(OPEN_STATES))
                                 .order_by(Order.created_at, Order.id).limit(500)).scalars())
    closed = list(session.execute(select(Order).where(mine, Order.state.in_(("done", "rejected")))
                                  .order_by(Order.updated_at.desc(), Order.id.desc())
                                  .limit(INBOX_HISTORY)).scalars())
    return open_, closed


def _inbox_context(request: Request, session: Session, principal: Principal) -> dict[str, Any]:
    open_, closed = _inbox_orders(session, principal)
    return dict(open_orders=open_, closed_orders=closed, version=_version(open_ + closed),
                money_kinds=[k.value for k in MONEY_ORDERS], csrf=request_csrf(request))


@router.get("/inbox", response_class=HTMLResponse)
def inbox(request: Request, principal: OrderAnswerer, session: SessionDep,
          error: Annotated[str, Query(max_length=200)] = "") -> HTMLResponse:
    """The requests for the liaison's own institution, oldest open first."""
    ctx = _inbox_context(request, session, principal)
    inst = session.get(Institution, principal.institution_id) if principal.institution_id else None
    write_audit(session, principal, "inbox_viewed", "/console/inbox", None,
                order_ids=[o.id for o in ctx["open_orders"] + ctx["closed_orders"]])
    return page(request, session, principal, "inbox.html", active="inbox", institution=inst, error=error, **ctx)


@router.get("/inbox/live")
def inbox_live(request: Request, principal: OrderAnswerer, session: SessionDep,
               since: Annotated[str, Query(max_length=32)] = "") -> JSONResponse:
    ctx = _inbox_context(request, session, principal)
    if ctx["version"] == since:
        return JSONResponse({"version": since, "html": None, "open": len(ctx["open_orders"])}, headers=NO_STORE)
    write_audit(session, principal, "inbox_viewed", "/console/inbox/live", None,
                order_ids=[o.id for o in ctx["open_orders"] + ctx["closed_orders"]])
    part = fragment(request, "_inbox.html", **ctx)
    return JSONResponse({"version": ctx["version"], "html": part, "open": len(ctx["open_orders"])}, headers=NO_STORE)


@router.post("/orders/{order_id}/answer")
def answer_order(order_id: int, principal: OrderAnswerer, session: SessionDep,
                 state: Annotated[str, Form(pattern="^(acknowledged|done|rejected)$")],
                 note: Annotated[str, Form(max_length=2000)] = "",
                 held: Annotated[str, Form(max_length=32)] = "",
                 content: Annotated[str, Form(max_length=20_000)] = "") -> Response:
    """Acknowledge, answer done (with what was found or held), or refuse with a reason."""
    order = session.get(Order, order_id)
    if order is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no order {order_id}")
    check_order_access(session, principal, order)
    answer: dict[str, Any] | None = None
    if state == "rejected" and not note.strip():
        return _see_other(f"/console/inbox?error={quote(N_('拒绝须填写理由'))}#order-{order_id}")
    if state == "done":
        answer = {"answered_by": principal.name}
        if content.strip():
            answer["text"] = content.strip()
        if order.kind in {k.value for k in MONEY_ORDERS}:
            try:
                fen = yuan_to_fen(held.strip()) if held.strip() else order.amount_fen
            except ValueError as err:
                return _see_other(f"/console/inbox?error={quote(str(err))}#order-{order_id}")
            answer.update(requested=format_fen(order.amount_fen or 0), held=format_fen(fen or 0))
    try:
        services.move_order(session, order, state, actor=principal.name, note=note.strip(), answer=answer)
    except TransitionError as err:
        return _see_other(f"/console/inbox?error={quote(str(err))}#order-{order_id}")
    write_audit(session, principal, "order_answered", f"/console/orders/{order_id}", order.case.case_no,
                state=state)
    return _see_other(f"/console/inbox#order-{order_id}")


# --- figures -----------------------------------------------------------------------

def _monthly(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Cases opened per month for the last twelve months, beside the same month a year before."""
    start = now.astimezone(SHANGHAI).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    months = []
    y, m = start.year, start.month
    for _ in range(12):
        months.append((y, m))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    months.reverse()
    first = datetime(months[0][0] - 1, months[0][1], 1, tzinfo=SHANGHAI)
    counts: dict[tuple[int, int], int] = {}
    for (opened,) in session.execute(select(Case.opened_at).where(Case.opened_at >= first)):
        local = opened.astimezone(SHANGHAI)
        counts[(local.year, local.month)] = counts.get((local.year, local.month), 0) + 1
    rows = [{"month": f"{yy}-{mm:02d}", "cases": counts.get((yy, mm), 0),
             "last_year": counts.get((yy - 1, mm), 0)} for yy, mm in months]
    peak = max([1] + [max(r["cases"], r["last_year"]) for r in rows])
    for r in rows:
        r["pct"], r["pct_last"] = round(100 * r["cases"] / peak), round(100 * r["last_year"] / peak)
    return rows


@router.get("/stats", response_class=HTMLResponse)
def stats_page(request: Request, principal: StatsReader, session: SessionDep) -> HTMLResponse:
    """成效: the same summary as ``/stats/summary``, plus the months side by side."""
    summary = stats_api.summary(principal, session)
    by_type = session.execute(select(Case.scam_type, func.count(Case.id), func.coalesce(func.sum(Case.loss_fen), 0))
                              .group_by(Case.scam_type).order_by(func.count(Case.id).desc())).all()
    by_kind = session.execute(select(Order.kind, Order.state, func.count(Order.id))
                              .group_by(Order.kind, Order.state)).all()
    kinds: dict[str, dict[str, int]] = {}
    for kind, state, n in by_kind:
        kinds.setdefault(kind, {})[state] = n
    emergency = session.execute(select(func.count(Case.id)).where(Case.emergency.is_(True))).scalar_one()
    return page(request, session, principal, "stats.html", active="stats", summary=summary, by_type=by_type,
                kinds=kinds, emergency=emergency, monthly=_monthly(session, utcnow()))


# --- administration ----------------------------------------------------------------

def _users_page(request: Request, session: Session, principal: Principal, *, form: dict[str, str],
                error: str = "", status_code: int = 200) -> HTMLResponse:
    users = session.execute(select(User).order_by(User.username)).scalars().all()
    write_audit(session, principal, "users_listed", "/console/users")
    units = session.execute(select(Unit).order_by(Unit.code)).scalars().all()
    return page(request, session, principal, "users.html", active="users", users=users, form=form, error=error,
                roles=sorted(r.value for r in PEOPLE), units=units, institutions=_institutions(session),
                status_code=status_code)


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, principal: UserAdmin, session: SessionDep) -> HTMLResponse:
    return _users_page(request, session, principal, form={})


@router.post("/users")
def add_user(request: Request, principal: UserAdmin, session: SessionDep,
             username: Annotated[str, Form(max_length=64)] = "",
             display_name: Annotated[str, Form(max_length=128)] = "",
             role: Annotated[str, Form(max_length=32)] = "",
             unit: Annotated[str, Form(max_length=32)] = "",
             institution: Annotated[str, Form(max_length=32)] = "",
             password: Annotated[str, Form(max_length=256)] = "") -> Response:
    form = dict(username=username, display_name=display_name, role=role, unit=unit, institution=institution)
    try:
        user = create_user(session, username=username.strip(), password=password, role=role,
                           display_name=display_name.strip(), unit_code=unit or None,
                           institution_code=institution or None)
    except InputError as err:
        session.rollback()  # a refused form leaves nothing half-written behind
        return _users_page(request, session, principal, form=form, error=str(err),
                           status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    write_audit(session, principal, "user_added", "/console/users", target=user.username, role_given=user.role)
    return _see_other("/console/users")


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, principal: AuditReader, session: SessionDep,
               actor: Annotated[str, Query(max_length=128)] = "",
               case_no: Annotated[str, Query(max_length=32)] = "",
               action: Annotated[str, Query(max_length=64)] = "",
               before: Annotated[int, Query(ge=0)] = 0) -> HTMLResponse:
    """The audit log, newest first, read-only: the console offers no way to change it."""
    q = select(AuditRecord).order_by(AuditRecord.id.desc()).limit(AUDIT_PAGE)
    if before:
        q = q.where(AuditRecord.id < before)
    if actor:
        q = q.where(AuditRecord.actor == actor)
    if case_no:
        q = q.where(AuditRecord.case_no == case_no)
    if action:
        q = q.where(AuditRecord.action == action)
    rows = session.execute(q).scalars().all()
    write_audit(session, principal, "audit_read", "/console/audit", case_no or None, filter_actor=actor or None,
                filter_action=action or None)
    older = rows[-1].id if len(rows) == AUDIT_PAGE else None
    return page(request, session, principal, "audit.html", active="audit", rows=rows, older=older,
                filters={"actor": actor, "case_no": case_no, "action": action})


# The other pages register on the same router (imported last: they import this module).
from fanzha.web import board, figures, linked, money, screening  # noqa: F401
