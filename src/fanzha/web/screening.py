"""Interception admin (拦截管理): search an entry, read its history, revoke it, decide appeals.

Each page calls the interception API's own handler (:mod:`fanzha.api.intercept`) with
the logged-in person, so the permission (``intercept:manage``), the entries' life cycle
and the audit records are the API's; a change is committed and the process's live
lists rebuilt exactly as through the API.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from fanzha.api import intercept as intercept_api
from fanzha.api.deps import Principal, SessionDep, require, write_audit
from fanzha.errors import InputError
from fanzha.roles import Permission
from fanzha.web.i18n import N_
from fanzha.web.pages import _see_other, router
from fanzha.web.render import page

Manager = Annotated[Principal, Depends(require(Permission.intercept_manage))]

ENTRY_STATES = {"active": "生效", "expired": "已过期", "revoked": "已撤销"}
APPEAL_STATES = {"pending": "待裁决", "upheld": "申诉成立", "rejected": "驳回"}
KINDS = {"url": "网址", "phone": "号码", "phone_range": "号段"}


def _opt(value: str, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


@router.get("/intercept", response_class=HTMLResponse)
def intercept_page(request: Request, principal: Manager, session: SessionDep,
                   value: Annotated[str, Query(max_length=2200)] = "",
                   contains: Annotated[str, Query(max_length=256)] = "",
                   kind: Annotated[str, Query(max_length=16)] = "",
                   state: Annotated[str, Query(max_length=16)] = "",
                   listing: Annotated[str, Query(max_length=8)] = "",
                   error: Annotated[str, Query(max_length=300)] = "") -> HTMLResponse:
    """Search the lists (exact value, or a part of it) and the appeals waiting for a decision."""
    entries, message = [], error
    contains = contains.strip()
    if contains and len(contains) < 3:
        message = N_("包含检索至少 3 个字符")
        contains = ""
    try:
        entries = intercept_api.search_entries(
            principal, session, value=value.strip() or None, contains=contains or None,
            kind=_opt(kind, ("url", "phone", "phone_range")), listing=_opt(listing, ("block", "allow")),
            state=_opt(state, ("active", "expired", "revoked")), source_kind=None, source=None, limit=100)
    except InputError as err:
        message = str(err)
    appeals = intercept_api.list_appeals(principal, session, state="pending", limit=100)
    write_audit(session, principal, "intercept_searched", "/console/intercept", None, value=value or None,
                contains=contains or None, found=len(entries))
    return page(request, session, principal, "intercept.html", active="intercept", entries=entries, appeals=appeals,
                q={"value": value, "contains": contains, "kind": kind, "state": state, "listing": listing},
                error=message, entry_states=ENTRY_STATES, kinds=KINDS)


@router.get("/intercept/entries/{entry_id}", response_class=HTMLResponse)
def entry_page(entry_id: int, request: Request, principal: Manager, session: SessionDep,
               error: Annotated[str, Query(max_length=300)] = "") -> HTMLResponse:
    e = intercept_api.read_entry(entry_id, principal, session)
    write_audit(session, principal, "intercept_entry_read", f"/console/intercept/entries/{entry_id}", None)
    return page(request, session, principal, "intercept_entry.html", active="intercept", e=e, error=error,
                entry_states=ENTRY_STATES, appeal_states=APPEAL_STATES, kinds=KINDS)


@router.post("/intercept/entries/{entry_id}/revoke")
def revoke_entry(entry_id: int, request: Request, principal: Manager, session: SessionDep,
                 reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    try:
        intercept_api.revoke(entry_id, intercept_api.RevokeIn(reason=reason.strip()), principal, session,
                             intercept_api.live_lists(request))
    except (InputError, ValidationError) as err:
        session.rollback()
        return _see_other(f"/console/intercept/entries/{entry_id}?error={quote(N_('撤销须填写理由') if isinstance(err, ValidationError) else str(err))}")
    return _see_other(f"/console/intercept/entries/{entry_id}")


@router.post("/intercept/appeals/{appeal_id}/decision")
def decide_appeal(appeal_id: int, request: Request, principal: Manager, session: SessionDep,
                  decision: Annotated[Literal["upheld", "rejected"], Form()],
                  note: Annotated[str, Form(max_length=2000)] = "",
                  back: Annotated[str, Form(max_length=64)] = "") -> Response:
    """Uphold (the block is revoked and the value allowlisted) or reject, with a note."""
    target = back if back.startswith("/console/intercept") else "/console/intercept"
    sep = "&" if "?" in target else "?"
    try:
        intercept_api.decide(appeal_id, intercept_api.DecisionIn(upheld=decision == "upheld", note=note.strip()),
                             principal, session, intercept_api.live_lists(request))
    except ValidationError:
        session.rollback()
        return _see_other(f"{target}{sep}error={quote(N_('裁决须填写说明'))}#appeal-{appeal_id}")
    except (InputError, HTTPException) as err:
        session.rollback()
        if isinstance(err, HTTPException) and err.status_code == 404:
            raise
        return _see_other(f"{target}{sep}error={quote(str(getattr(err, 'detail', err)))}#appeal-{appeal_id}")
    return _see_other(f"{target}#appeal-{appeal_id}")
