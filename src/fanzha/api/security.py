"""Login tokens (JWT, HS256) and the secret that signs them.

The secret comes from ``FANZHA_SECRET_KEY``; unset, one is made at random the first
time and kept in the data directory with mode 0600 — never in the repository.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import jwt

from fanzha.settings import Settings
from fanzha.store.types import utcnow

ALGORITHM = "HS256"


def secret_key(settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / "secret"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def issue_token(key: str, username: str, role: str, minutes: int) -> str:
    now = utcnow()
    claims = {"sub": username, "role": role, "iat": now, "exp": now + timedelta(minutes=minutes)}
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def read_token(key: str, token: str) -> dict | None:
    try:
        return jwt.decode(token, key, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]})
    except jwt.PyJWTError:
        return None
