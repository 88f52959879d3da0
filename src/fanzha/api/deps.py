"""What every endpoint depends on: a database session, the caller, permission, audit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Iterator

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from fanzha.roles import Permission, Role, allowed
from fanzha.store import audit
from fanzha.store.models import Case, Order, Unit, User
from fanzha.store.users import authenticate_client

bearer = HTTPBearer(auto_error=False, description="A login token from POST /auth/login")
api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="A client key for other systems")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a person (token) or another system (API key)."""

    name: str
    kind: str  # user | client
    role: Role
    unit_id: int | None = None
    institution_id: int | None = None


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed if the endpoint returns, rolled back if it raises."""
    session: Session = request.app.state.sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


def get_principal(request: Request, session: SessionDep,
                  creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
                  key: Annotated[str | None, Depends(api_key)]) -> Principal:
    from fanzha.api.security import read_token

    if key:
        client = authenticate_client(session, key)
        if client is None:
            raise _unauthorised("invalid API key")
        return Principal(client.name, "client", Role(client.role), institution_id=client.institution_id)
    if creds is None:
        raise _unauthorised("log in (POST /auth/login) or send an API key")
    claims = read_token(request.app.state.secret, creds.credentials)
    if claims is None:
        raise _unauthorised("invalid or expired token")
    user = session.execute(select(User).where(User.username == claims["sub"])).scalar_one_or_none()
    if user is None or not user.active:
        raise _unauthorised("unknown or inactive user")
    return Principal(user.username, "user", Role(user.role), user.unit_id, user.institution_id)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(permission: Permission):
    """A dependency that lets the call through only for roles holding ``permission``."""

    def check(principal: PrincipalDep) -> Principal:
        if not allowed(principal.role, permission):
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"role {principal.role.value} may not {permission.value}")
        return principal

    check.permission = permission  # type: ignore[attr-defined]  # read by the role-matrix test
    return check


def write_audit(session: Session, principal: Principal, action: str, resource: str,
                case_no: str | None = None, **detail: Any) -> None:
    audit.record(session, actor=principal.name, actor_kind=principal.kind, role=principal.role.value,
                 action=action, resource=resource, case_no=case_no, detail=detail)


def unit_scope(session: Session, principal: Principal) -> set[int] | None:
    """Unit ids whose cases the caller may see; ``None`` means all.

    A station officer sees its own unit's cases (and those of units below it).
    """
    if principal.role != Role.station_officer:
        return None
    ids, frontier = set(), {principal.unit_id}
    while frontier:
        ids |= frontier
        frontier = set(session.execute(select(Unit.id).where(Unit.parent_id.in_(frontier))).scalars()) - ids
    return ids


def check_case_access(session: Session, principal: Principal, case: Case) -> None:
    scope = unit_scope(session, principal)
    if scope is not None and case.unit_id not in scope:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"case {case.case_no} belongs to another unit")


def check_order_access(session: Session, principal: Principal, order: Order) -> None:
    if principal.role in (Role.liaison, Role.institution):
        if order.institution_id != principal.institution_id:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "this order is for another institution")
    else:
        check_case_access(session, principal, order.case)
