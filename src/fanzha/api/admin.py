"""Users and API clients (admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlalchemy import select

from fanzha.api.deps import Principal, SessionDep, require, write_audit
from fanzha.api.schemas import ClientIn, UserIn
from fanzha.roles import Permission
from fanzha.store.models import ApiClient, User
from fanzha.store.users import create_client, create_user

router = APIRouter(tags=["admin"])

Admin = Annotated[Principal, Depends(require(Permission.users_admin))]


def _user_out(u: User) -> dict:
    return {"username": u.username, "display_name": u.display_name, "role": u.role,
            "unit": u.unit.code if u.unit else None,
            "institution": u.institution.code if u.institution else None, "active": u.active}


@router.get("/users")
def list_users(principal: Admin, session: SessionDep) -> list[dict]:
    users = session.execute(select(User).order_by(User.username)).scalars().all()
    write_audit(session, principal, "users_listed", "/users")
    return [_user_out(u) for u in users]


@router.post("/users", status_code=status.HTTP_201_CREATED)
def add_user(body: UserIn, principal: Admin, session: SessionDep) -> dict:
    user = create_user(session, username=body.username, password=body.password, role=body.role,
                       display_name=body.display_name, unit_code=body.unit, institution_code=body.institution)
    write_audit(session, principal, "user_added", "/users", target=user.username, role_given=user.role)
    return _user_out(user)


@router.get("/clients")
def list_clients(principal: Admin, session: SessionDep) -> list[dict]:
    clients = session.execute(select(ApiClient).order_by(ApiClient.name)).scalars().all()
    return [{"name": c.name, "role": c.role, "key_id": c.key_id, "active": c.active,
             "institution": c.institution.code if c.institution else None} for c in clients]


@router.post("/clients", status_code=status.HTTP_201_CREATED)
def add_client(body: ClientIn, principal: Admin, session: SessionDep) -> dict:
    """Make an API key for another system. The key is in this answer only."""
    client, key = create_client(session, name=body.name, role=body.role, institution_code=body.institution)
    write_audit(session, principal, "client_added", "/clients", target=client.name, role_given=client.role)
    return {"name": client.name, "role": client.role, "key_id": client.key_id, "api_key": key}
