"""People and other systems: password and API-key credentials."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from fanzha.errors import InputError
from fanzha.roles import PEOPLE, SYSTEMS, Role
from fanzha.store.models import ApiClient, Institution, Unit, User

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def _role(value: str, allowed: frozenset[Role], what: str) -> Role:
    try:
        role = Role(value)
    except ValueError:
        raise InputError(f"unknown role {value!r}; one of: {', '.join(sorted(r.value for r in allowed))}",
                         field="role") from None
    if role not in allowed:
        raise InputError(f"role {value!r} is not a role for {what}", field="role")
    return role


def _scope(session: Session, role: Role, unit_code: str | None, institution_code: str | None):
    unit = inst = None
    if unit_code:
        unit = session.execute(select(Unit).where(Unit.code == unit_code)).scalar_one_or_none()
        if unit is None:
            raise InputError(f"unknown unit {unit_code!r}", field="unit")
    if institution_code:
        inst = session.execute(select(Institution).where(Institution.code == institution_code)).scalar_one_or_none()
        if inst is None:
            raise InputError(f"unknown institution {institution_code!r}", field="institution")
    if role == Role.station_officer and unit is None:
        raise InputError("a station officer needs a unit", field="unit")
    if role in (Role.liaison, Role.institution) and inst is None:
        raise InputError(f"a {role.value} needs an institution", field="institution")
    return unit, inst


def create_user(session: Session, *, username: str, password: str, role: str, display_name: str = "",
                unit_code: str | None = None, institution_code: str | None = None) -> User:
    role_ = _role(role, PEOPLE, "people")
    if not username or len(username) > 64:
        raise InputError("username must be 1–64 characters", field="username")
    if len(password) < 8:
        raise InputError("password must be at least 8 characters", field="password")
    if session.execute(select(User).where(User.username == username)).scalar_one_or_none():
        raise InputError(f"user {username!r} exists", field="username")
    unit, inst = _scope(session, role_, unit_code, institution_code)
    user = User(username=username, display_name=display_name or username, password_hash=hash_password(password),
                role=role_.value, unit=unit, institution=inst)
    session.add(user)
    session.flush()
    return user


def authenticate_user(session: Session, username: str, password: str) -> User | None:
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not user.active or not verify_password(user.password_hash, password):
        return None
    return user


def _key_hash(secret: str) -> str:
    # API keys are long random strings, so a fast keyed hash is enough (no brute force).
    return hashlib.sha256(secret.encode()).hexdigest()


def create_client(session: Session, *, name: str, role: str,
                  institution_code: str | None = None) -> tuple[ApiClient, str]:
    """Make an API client; returns it and its key, which is shown only this once."""
    role_ = _role(role, SYSTEMS, "other systems")
    if session.execute(select(ApiClient).where(ApiClient.name == name)).scalar_one_or_none():
        raise InputError(f"client {name!r} exists", field="name")
    _, inst = _scope(session, role_, None, institution_code)
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    client = ApiClient(name=name, key_id=key_id, key_hash=_key_hash(secret), role=role_.value, institution=inst)
    session.add(client)
    session.flush()
    return client, f"fz_{key_id}_{secret}"


def authenticate_client(session: Session, key: str) -> ApiClient | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "fz":
        return None
    client = session.execute(select(ApiClient).where(ApiClient.key_id == parts[1])).scalar_one_or_none()
    if client is None or not client.active:
        return None
    if not hmac.compare_digest(client.key_hash, _key_hash(parts[2])):
        return None
    return client
