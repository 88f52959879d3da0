"""The case page's linked reports and the gang they belong to (串并案件与团伙).

Groups are computed on demand by the linking API's own handler
(:func:`fanzha.api.linking.gang_page`), called with the logged-in person: the same
permission (``linking:read``), the same case scope and the same audit records (one per
case whose data is shown). Because a group can be large, the case page loads this part
after it has rendered; opened directly, the same address is a page of its own.
Confirming or rejecting a link is the API's ``decide``: a view, never a merge.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from fanzha.api import linking as linking_api
from fanzha.api.deps import Principal, SessionDep, require
from fanzha.errors import InputError
from fanzha.roles import Permission, allowed
from fanzha.web import wants_html
from fanzha.web.pages import NO_STORE, _see_other, router
from fanzha.web.render import fragment, page, request_csrf

LinkReader = Annotated[Principal, Depends(require(Permission.linking_read))]
LinkDecider = Annotated[Principal, Depends(require(Permission.linking_write))]
#: Key members shown; the API allows up to 200.
TOP = 10


@router.get("/cases/{case_no}/linked")
def linked(case_no: str, request: Request, principal: LinkReader, session: SessionDep) -> Response:
    """On the case page: the linked cases and what links them (the group). Opened as a
    page: the whole gang analysis too (gangs, key members, 身份还原), which costs more."""
    whole = wants_html(request) and "application/json" not in request.headers.get("accept", "")
    g = (linking_api.gang_page(case_no, principal, session, request, top=TOP) if whole
         else linking_api.case_group(case_no, principal, session))
    decisions = {(d["a"], d["b"]): d["verdict"] for d in _decisions(session, principal, case_no)}
    ctx = dict(g=g, case_no=case_no, decisions=decisions, csrf=request_csrf(request), whole=whole,
               can_decide=allowed(principal.role, Permission.linking_write))
    if whole:
        return page(request, session, principal, "linked.html", active="cases", **ctx)
    return JSONResponse({"html": fragment(request, "_linked.html", **ctx)}, headers=NO_STORE)


def _decisions(session, principal: Principal, case_no: str) -> list[dict]:
    from fanzha.linking import store as linking_store
    from fanzha.store import services

    return linking_store.decisions_of(session, services.get_case(session, case_no))


@router.post("/cases/{case_no}/links")
def decide_link(case_no: str, principal: LinkDecider, session: SessionDep,
                other: Annotated[str, Form(max_length=32)], verdict: Annotated[str, Form(max_length=16)],
                note: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Confirm or reject that another case belongs with this one."""
    try:
        body = linking_api.DecisionIn(a=case_no, b=other, verdict=verdict, note=note.strip())
        linking_api.decide(body, principal, session)
    except (InputError, ValidationError) as err:
        session.rollback()
        raise HTTPException(422, str(err)) from None
    return _see_other(f"/console/cases/{case_no}#linked")
