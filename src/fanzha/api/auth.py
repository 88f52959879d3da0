"""Logging in: a username and password for a token."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status

from fanzha.api.deps import PrincipalDep, SessionDep
from fanzha.api.schemas import LoginIn, TokenOut
from fanzha.api.security import issue_token
from fanzha.store import audit
from fanzha.store.users import authenticate_user

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=TokenOut)
def login(body: LoginIn, request: Request, session: SessionDep) -> TokenOut:
    user = authenticate_user(session, body.username, body.password)
    if user is None:
        # Failed logins are audited too; committed even though the request fails.
        audit.record(session, actor=body.username, actor_kind="user", role="", action="login_failed",
                     resource="/auth/login")
        session.commit()
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    minutes = request.app.state.settings.token_minutes
    token = issue_token(request.app.state.secret, user.username, user.role, minutes)
    audit.record(session, actor=user.username, actor_kind="user", role=user.role, action="login",
                 resource="/auth/login")
    return TokenOut(access_token=token, role=user.role, expires_in=minutes * 60)


@router.get("/me")
def me(principal: PrincipalDep) -> dict:
    return {"name": principal.name, "kind": principal.kind, "role": principal.role.value,
            "unit_id": principal.unit_id, "institution_id": principal.institution_id}

