"""What every endpoint depends on: a database session, the caller, permission, audit."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated, Any, Iterator
from urllib.parse import urlsplit

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

#: The console keeps the login token in this cookie (HttpOnly, SameSite=Strict), so
#: page scripts never hold it.
SESSION_COOKIE = "fanzha_session"
#: A cookie-authenticated request that changes something must show the CSRF token in
#: this header or in this form field: a cookie alone proves only that the browser sent it.
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def csrf_token(secret: str, session_token: str) -> str:
    """The CSRF token bound to one login: a keyed hash of the session token.

    Nothing is stored: the server recomputes it, and a page from another site can
    neither read the HttpOnly cookie nor compute the hash without the secret.
    """
    return hmac.new(secret.encode(), b"csrf\x1f" + session_token.encode(), hashlib.sha256).hexdigest()


async def presented_csrf(request: Request) -> str | None:
    """The CSRF token a request carries: the header, else the form field.

    Async so that it can read a form body; FastAPI has already parsed the form of a
    form-taking endpoint by now, and Starlette caches it, so the body is read once.
    """
    token = request.headers.get(CSRF_HEADER)
    if token:
        return token
    if (request.method not in SAFE_METHODS and SESSION_COOKIE in request.cookies
            and request.headers.get("content-type", "").startswith(_FORM_TYPES)):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from a page of another site."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a person (token) or another system (API key)."""

    name: str
    kind: str  # user | client
    role: Role
    unit_id: int | None = None
    institution_id: int | None = None
    via_cookie: bool = False  # logged in through the console's session cookie


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed if the endpoint returns, rolled back if it raises.

    Used with ``scope="function"``: the commit runs before the response is sent, so a
    caller is never told of a write the database has not kept, and the page a 303
    redirects to always sees it."""
    session: Session = request.app.state.sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


def get_principal(request: Request, session: SessionDep,
                  creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
                  key: Annotated[str | None, Depends(api_key)],
                  csrf: Annotated[str | None, Depends(presented_csrf)] = None) -> Principal:
    """The caller, from an API key, a Bearer token, or the console's session cookie.

    The cookie is tried last, so a request with its own credentials is never judged by
    a cookie the browser happened to attach. A cookie request that changes state must
    come from our own origin and carry the CSRF token of its login (403 otherwise).
    """
    from fanzha.api.security import read_token

    if key:
        client = authenticate_client(session, key)
        if client is None:
            raise _unauthorised("invalid API key")
        return Principal(client.name, "client", Role(client.role), institution_id=client.institution_id)
    token, via_cookie = (creds.credentials, False) if creds is not None else (request.cookies.get(SESSION_COOKIE), True)
    if not token:
        raise _unauthorised("log in (POST /auth/login) or send an API key")
    claims = read_token(request.app.state.secret, token)
    if claims is None:
        raise _unauthorised("invalid or expired token")
    user = session.execute(select(User).where(User.username == claims["sub"])).scalar_one_or_none()
    if user is None or not user.active:
        raise _unauthorised("unknown or inactive user")
    if via_cookie and request.method not in SAFE_METHODS:
        expected = csrf_token(request.app.state.secret, token)
        if not same_origin(request) or not csrf or not hmac.compare_digest(csrf, expected):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token (reload the page)")
    return Principal(user.username, "user", Role(user.role), user.unit_id, user.institution_id, via_cookie)


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


def case_for(session: Session, principal: Principal, case_no: str) -> Case:
    """The case by number for this caller: 404 if there is none, 403 if it is another unit's."""
    from fanzha.store.services import get_case

    try:
        case = get_case(session, case_no)
    except LookupError as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from None
    check_case_access(session, principal, case)
    return case


def check_order_access(session: Session, principal: Principal, order: Order) -> None:
    if principal.role in (Role.liaison, Role.institution):
        if order.institution_id != principal.institution_id:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "this order is for another institution")
    else:
        check_case_access(session, principal, order.case)
