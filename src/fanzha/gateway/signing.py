"""Signing and checking messages between the centre and an institution.

Both directions (the centre's requests, the institution's answers and callbacks) are
signed with HMAC-SHA256 under a key shared with that one institution. What is signed
is a canonical string — protocol, method, path, timestamp and the SHA-256 of the body —
so a signature cannot be moved to another endpoint, another body or another time. A
timestamp outside the window is refused, which bounds how long a captured message can
be replayed; within the window a replay is harmless because every order carries an
idempotency key.

Keys never live in the repository: they come from ``FANZHA_GATEWAY_KEY_<CODE>``
environment variables or from a JSON keys file (``FANZHA_GATEWAY_KEYS``, default
``~/.config/fanzha/gateway-keys.json``) of ``{"ICBC": "<hex>", …}``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

PROTOCOL = "fanzha-institution/1"

#: Header names. The institution header names whose key signed the message.
H_PROTOCOL = "X-Fanzha-Protocol"
H_INSTITUTION = "X-Fanzha-Institution"
H_TIMESTAMP = "X-Fanzha-Timestamp"
H_SIGNATURE = "X-Fanzha-Signature"

#: How far a message's timestamp may be from the receiver's clock, in seconds.
WINDOW_S = 300

DEFAULT_KEYS_FILE = Path("~/.config/fanzha/gateway-keys.json")


class SignatureError(ValueError):
    """Why a message was refused: missing headers, unknown key, stale time or bad signature."""


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def canonical(method: str, path: str, timestamp: int | str, body: bytes) -> bytes:
    """The string that is signed: one field a line, the body by its hash."""
    return "\n".join([PROTOCOL, method.upper(), path, str(timestamp), body_hash(body)]).encode()


def sign(key: bytes, method: str, path: str, timestamp: int, body: bytes) -> str:
    return "v1=" + hmac.new(key, canonical(method, path, timestamp, body), hashlib.sha256).hexdigest()


def signed_headers(key: bytes, institution: str, method: str, path: str, body: bytes,
                   now: float | None = None) -> dict[str, str]:
    """The headers that make a message verifiable by the other side."""
    ts = int(now if now is not None else time.time())
    return {H_PROTOCOL: PROTOCOL, H_INSTITUTION: institution, H_TIMESTAMP: str(ts),
            H_SIGNATURE: sign(key, method, path, ts, body), "Content-Type": "application/json"}


def verify(keys: "Keyring", headers: Mapping[str, str], method: str, path: str, body: bytes,
           now: float | None = None, expect_institution: str | None = None) -> str:
    """Check a message's signature; return the institution code that signed it.

    Raises :class:`SignatureError` naming what was wrong, so the refusal can be recorded.
    """
    low = {k.lower(): v for k, v in headers.items()}
    missing = [h for h in (H_INSTITUTION, H_TIMESTAMP, H_SIGNATURE) if h.lower() not in low]
    if missing:
        raise SignatureError(f"missing header(s): {', '.join(missing)}")
    proto = low.get(H_PROTOCOL.lower(), PROTOCOL)
    if proto != PROTOCOL:
        raise SignatureError(f"unsupported protocol {proto!r}; this side speaks {PROTOCOL}")
    inst = low[H_INSTITUTION.lower()]
    if expect_institution is not None and inst != expect_institution:
        raise SignatureError(f"signed as {inst!r}, expected {expect_institution!r}")
    try:
        ts = int(low[H_TIMESTAMP.lower()])
    except ValueError:
        raise SignatureError("timestamp is not whole seconds since the epoch") from None
    now = time.time() if now is None else now
    if abs(now - ts) > WINDOW_S:
        raise SignatureError(f"timestamp {ts} is {int(now - ts)} s from now; the window is ±{WINDOW_S} s")
    key = keys.get(inst)
    if key is None:
        raise SignatureError(f"no key for institution {inst!r}")
    expected = sign(key, method, path, ts, body)
    if not hmac.compare_digest(expected, low[H_SIGNATURE.lower()]):
        raise SignatureError("signature does not match (wrong key, or the message was altered)")
    return inst


@dataclass
class Keyring:
    """Per-institution keys, looked up by institution code."""

    keys: dict[str, bytes] = field(default_factory=dict)

    def get(self, code: str) -> bytes | None:
        return self.keys.get(code)

    def __contains__(self, code: str) -> bool:
        return code in self.keys

    @classmethod
    def generate(cls, codes: list[str] | tuple[str, ...]) -> "Keyring":
        """Fresh random keys (tests, simulators, first set-up)."""
        return cls({c: secrets.token_bytes(32) for c in codes})

    def to_json(self) -> dict[str, str]:
        return {c: k.hex() for c, k in sorted(self.keys.items())}

    def save(self, path: str | Path) -> Path:
        """Write the keys file readable by its owner only."""
        path = Path(path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(self.to_json(), fh, indent=1)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | Path | None = None, env: Mapping[str, str] | None = None) -> "Keyring":
        """Keys from the keys file, then ``FANZHA_GATEWAY_KEY_<CODE>`` variables over it."""
        env = os.environ if env is None else env
        path = Path(path or env.get("FANZHA_GATEWAY_KEYS") or DEFAULT_KEYS_FILE).expanduser()
        keys: dict[str, bytes] = {}
        if path.is_file():
            keys.update({c: bytes.fromhex(h) for c, h in json.loads(path.read_text()).items()})
        prefix = "FANZHA_GATEWAY_KEY_"
        for name, value in env.items():
            if name.startswith(prefix) and value:
                keys[name[len(prefix):]] = bytes.fromhex(value)
        return cls(keys)
