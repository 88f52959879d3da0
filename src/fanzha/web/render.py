"""Rendering pages: the Jinja2 environment, its filters, the menu and the shared context.

Every page goes through :func:`page`, so every page shows who is logged in, that
role's menu, and carries the CSRF token its forms post back. Every page and live part
is rendered in the person's language (:mod:`fanzha.web.i18n`): templates write their
texts as ``t("中文")``, and the label helpers translate the labels they look up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from fanzha.api.deps import SESSION_COOKIE, Principal, csrf_token
from fanzha.money import format_fen, format_fen_cn, parse_yuan
from fanzha.roles import Permission, Role, allowed
from fanzha.store.models import User
from fanzha.web import labels
from fanzha.web.i18n import DEFAULT, HTML_LANG, N_, SWITCH, lang_of, translate

HERE = Path(__file__).parent
SHANGHAI = ZoneInfo("Asia/Shanghai")

templates = Jinja2Templates(directory=HERE / "templates")


def local_time(value: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """Times are stored in UTC and shown in Asia/Shanghai (DESIGN.md, conventions)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(SHANGHAI).strftime(fmt)


def yuan(fen: int | None) -> str:
    return "—" if fen is None else format_fen_cn(int(fen))  # SUM() is a Decimal on PostgreSQL


def yuan_text(value: str | None) -> str:
    """A yuan string from the JSON API (``"990000.00"``) as people read it: ``¥990,000.00``."""
    return "—" if value is None else format_fen_cn(parse_yuan(value, allow_zero=True))


def elapsed(later: datetime | None, earlier: datetime | None, lang: str = DEFAULT) -> str:
    """A clock for the emergency loop: ``3分12秒`` from report to this step."""
    if later is None or earlier is None:
        return ""
    s = int((later - earlier).total_seconds())
    if s < 0:
        return ""
    if s < 3600:
        return translate(N_("{m}分{s}秒"), lang, m=s // 60, s=f"{s % 60:02d}")
    return translate(N_("{h}小时{m}分"), lang, h=s // 3600, m=f"{(s % 3600) // 60:02d}")


def brief(detail: dict[str, Any] | None, lang: str = DEFAULT) -> str:
    """A record's detail on one line: ``unit: 350203-01；reason: …`` (empty values left out)."""
    if not detail:
        return ""
    parts = []
    for key, value in detail.items():
        if value in (None, "", [], {}):
            continue
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value)
        parts.append(f"{key}: {value}")
    return translate(N_("；"), lang).join(parts)


def _lang(ctx: Any) -> str:
    return ctx.get("lang") or DEFAULT


@pass_context
def _t(ctx: Any, text: str | None, **values: Any) -> str:
    """``t("中文")`` in a template: the text in the page's language."""
    return translate(text, _lang(ctx), **values)


@pass_context
def _label(ctx: Any, table: dict[str, str], code: str | None) -> str:
    return translate(labels.label(table, code), _lang(ctx))


@pass_context
def _order_state(ctx: Any, kind: str, state: str) -> str:
    return translate(labels.order_state(kind, state), _lang(ctx))


@pass_context
def _brief(ctx: Any, detail: dict[str, Any] | None) -> str:
    return brief(detail, _lang(ctx))


@pass_context
def _elapsed(ctx: Any, later: datetime | None, earlier: datetime | None) -> str:
    return elapsed(later, earlier, _lang(ctx))


#: The page script's texts (console.js's ``say("…")``), given to it in the page's language.
SCRIPT_TEXTS = (N_("{m}分{s}秒"), N_("{h}小时{m}分"), N_("，"))


@pass_context
def _script_texts(ctx: Any) -> dict[str, str]:
    return {text: translate(text, _lang(ctx)) for text in SCRIPT_TEXTS}

env = templates.env
env.filters.update(local=local_time, yuan=yuan, yuan_plain=format_fen, yuan_text=yuan_text, brief=_brief)
env.globals.update(labels=labels, label=_label, order_state=_order_state, elapsed=_elapsed, t=_t,
                   script_texts=_script_texts)


@dataclass(frozen=True)
class MenuItem:
    key: str
    title: str
    path: str
    permission: Permission


#: The whole menu; each role sees the items its permissions allow (roles.MATRIX).
MENU: tuple[MenuItem, ...] = (
    MenuItem("board", N_("值班看板"), "/console/board", Permission.cases_read),
    MenuItem("cases", N_("案件"), "/console/cases", Permission.cases_read),
    MenuItem("report", N_("报案登记"), "/console/report", Permission.cases_write),
    MenuItem("query", N_("一站式查询"), "/console/query", Permission.orders_send),
    MenuItem("inbox", N_("指令待办"), "/console/inbox", Permission.orders_answer),
    MenuItem("stats", N_("成效统计"), "/console/stats", Permission.stats_read),
    MenuItem("figures", N_("成效趋势"), "/console/figures", Permission.stats_read),
    MenuItem("intercept", N_("拦截管理"), "/console/intercept", Permission.intercept_manage),
    MenuItem("users", N_("用户管理"), "/console/users", Permission.users_admin),
    MenuItem("audit", N_("审计日志"), "/console/audit", Permission.audit_read),
)

#: Where a role starts when it logs in; otherwise its first menu item.
LANDING: dict[Role, str] = {Role.analyst: "cases", Role.station_officer: "cases", Role.commander: "stats",
                            Role.admin: "users", Role.liaison: "inbox"}


def menu_for(role: Role) -> list[MenuItem]:
    return [m for m in MENU if allowed(role, m.permission)]


def landing_path(role: Role) -> str | None:
    items = {m.key: m for m in menu_for(role)}
    key = LANDING.get(role)
    if key in items:
        return items[key].path
    first = next(iter(items.values()), None)
    return first.path if first else None


#: Headers on every console page: scripts and styles only from us, no framing (click-
#: jacking), forms post only to us, and personal data never kept in a browser cache.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _here(request: Request) -> str:
    """Where the language switch returns to: this page, or for a page answering a form
    post, the page the form was on (a form's address may have no page of its own)."""
    if request.method == "GET":
        return request.url.path + (f"?{request.url.query}" if request.url.query else "")
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.path.startswith("/console") and (not referer.netloc or referer.netloc == request.url.netloc):
        return referer.path + (f"?{referer.query}" if referer.query else "")
    return request.url.path if request.url.path == "/console/login" else "/console"


def lang_context(request: Request) -> dict[str, Any]:
    """What every page needs for its language: the language, ``<html lang>`` and the switch."""
    lang = lang_of(request)
    other, name = SWITCH[lang]
    return {"lang": lang, "html_lang": HTML_LANG[lang],
            "switch": {"lang": other, "html_lang": HTML_LANG[other], "name": name,
                       "href": f"/console/lang?to={other}&next={quote(_here(request), safe='')}"}}


def html(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """Render a whole page with the console's headers, in the person's language."""
    context = {**lang_context(request), **context}
    return templates.TemplateResponse(request, template, context, status_code=status_code, headers=PAGE_HEADERS)


def request_csrf(request: Request) -> str:
    """The CSRF token for this login's forms; empty for callers not using the cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    return csrf_token(request.app.state.secret, token) if token else ""


def page(request: Request, session: Session, principal: Principal, template: str, *,
         active: str = "", status_code: int = 200, **context: Any) -> HTMLResponse:
    user = session.execute(select(User).where(User.username == principal.name)).scalar_one_or_none()
    where = ""
    if user is not None and user.unit is not None:
        where = user.unit.name
    elif user is not None and user.institution is not None:
        where = user.institution.name
    ctx: dict[str, Any] = dict(me=principal, display_name=user.display_name if user else principal.name,
                               role_label=translate(labels.label(labels.ROLES, principal.role.value),
                                                    lang_of(request)), where=where,
                               menu=menu_for(principal.role), active=active, csrf=request_csrf(request))
    ctx.update(context)
    return html(request, template, ctx, status_code)


def fragment(request: Request, template: str, **context: Any) -> str:
    """A partial rendered alone, for the live parts the page scripts swap in."""
    return env.get_template(template).render(lang=lang_of(request), **context)
