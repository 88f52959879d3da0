"""Identifier kinds and their one spelling, so that equal things link and only they do.

Linking is equality of ``(kind, value)``; a phone written ``139 1234 5678`` in one report
and ``+8613912345678`` in another must be the same key, and ``95588`` must be the same
key as the stoplist's ``95588``. Values in ``reports.jsonl`` should already be normalised
at the edge (DESIGN.md), so the common case is a cheap shape check; anything else goes
through the full normaliser of its kind, and a value that cannot be read raises
:class:`IdentifierError` naming the field.

Phones and URLs use :mod:`fanzha.intercept.phones` and :mod:`fanzha.intercept.urls` when
they are importable (the interception lists and linking must agree on spelling); a small
local fallback keeps linking usable without them. :func:`normalise_identifier` is the one
function to swap if the project's canonical normalisers move.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from fanzha.errors import InputError

#: The kinds FORMATS.md allows, in its order.
KINDS: tuple[str, ...] = ("phone", "bank_card", "url", "domain", "qq", "wechat", "ip",
                          "email", "device", "app", "alipay")
KIND_CODE: dict[str, int] = {k: i for i, k in enumerate(KINDS)}

#: Longest value accepted for any kind: longer is a pasted text, not an identifier.
MAX_VALUE_CHARS = 2048


class IdentifierError(InputError, ValueError):
    """A value that cannot be read as an identifier of its kind."""


try:  # the project's canonical phone and URL spellings, when present
    from fanzha.intercept.phones import normalize_phone as _project_phone
except ImportError:  # pragma: no cover - depends on what is installed
    _project_phone = None
try:
    from fanzha.intercept.urls import canonicalize as _project_url
except ImportError:  # pragma: no cover
    _project_url = None

_E164 = re.compile(r"\+[1-9]\d{6,14}")
_SERVICE = re.compile(r"\d{3,12};phone-context=\+86")
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")
_DIGITS = re.compile(r"\d+")
_CARD_SEPARATORS = re.compile(r"[\s\-]")
_QQ = re.compile(r"[1-9]\d{4,11}")
_WECHAT = re.compile(r"[A-Za-z0-9_\-]{2,64}")
_EMAIL = re.compile(r"[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,24}")
_LABEL = re.compile(r"(?!-)[a-z0-9\-]{1,63}(?<!-)")
_HEX_ID = re.compile(r"[0-9A-Fa-f\-:]+")


def _fallback_phone(text: str) -> str:
    """E.164 for mainland numbers and numbers written with ``+``/``00``; national service
    numbers as ``95588;phone-context=+86`` (the spelling :mod:`fanzha.intercept.phones` uses)."""
    t = _PHONE_SEPARATORS.sub("", text)
    if t.startswith("00"):
        t = "+" + t[2:]
    if t.startswith("+86"):
        national = t[3:]
    elif t.startswith("+"):
        if _E164.fullmatch(t):
            return t
        raise ValueError("not a phone number")
    elif len(t) == 13 and t.startswith("86"):
        national = t[2:]
    else:
        national = t
    if not _DIGITS.fullmatch(national):
        raise ValueError("not a phone number")
    if len(national) == 11 and national.startswith("1"):
        return "+86" + national
    if national.startswith("0") and 10 <= len(national) <= 12:
        return "+86" + national[1:]
    if 3 <= len(national) <= 10 and national[0] in "1456789":
        return national + ";phone-context=+86"
    raise ValueError("not a phone number")


def _phone(v: str) -> str:
    if _E164.fullmatch(v) or _SERVICE.fullmatch(v):
        return v
    if _project_phone is not None:
        try:
            return _project_phone(v)
        except (ValueError, InputError):
            raise ValueError("not a phone number") from None
    return _fallback_phone(v)


def _bank_card(v: str) -> str:
    t = _CARD_SEPARATORS.sub("", v)
    if not _DIGITS.fullmatch(t) or not 8 <= len(t) <= 30:
        raise ValueError("a bank account is 8 to 30 digits")
    return t


def _domain(v: str) -> str:
    t = v.strip().rstrip(".").lower()
    if "://" in t or "/" in t:
        raise ValueError("a domain has no scheme or path (use kind 'url')")
    try:
        t = t.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError("not a host name") from None
    labels = t.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(x) for x in labels):
        raise ValueError("not a host name")
    return t


def _url(v: str) -> str:
    if _project_url is not None:
        try:
            return _project_url(v)
        except (ValueError, InputError):
            raise ValueError("not a URL") from None
    t = v.strip()
    if "://" not in t:
        t = "http://" + t
    scheme, rest = t.split("://", 1)
    host, sep, path = rest.partition("/")
    host = _domain(host.split("@")[-1].split(":")[0]) if not host.startswith("[") else host.lower()
    return f"{scheme.lower()}://{host}/{path.split('#')[0]}"


def _qq(v: str) -> str:
    if not _QQ.fullmatch(v):
        raise ValueError("a QQ number is 5 to 12 digits")
    return v


def _wechat(v: str) -> str:
    if not _WECHAT.fullmatch(v):
        raise ValueError("a WeChat ID is letters, digits, '_' and '-'")
    return v


def _ip(v: str) -> str:
    try:
        return str(ipaddress.ip_address(v.strip()))
    except ValueError:
        raise ValueError("not an IP address") from None


def _email(v: str) -> str:
    t = v.strip().lower()
    if not _EMAIL.fullmatch(t):
        raise ValueError("not an e-mail address")
    return t


def _device(v: str) -> str:
    """IMEI, Android ID, IDFA: hex-like IDs compare without case; others as given."""
    t = v.strip()
    return t.upper() if _HEX_ID.fullmatch(t) else t


def _app(v: str) -> str:
    """App names as given (Chinese names have no case); package names without case."""
    t = v.strip()
    return t.lower() if t.isascii() else t


def _alipay(v: str) -> str:
    """Alipay logins are a phone, an e-mail or a 2088… user ID: each to its own spelling."""
    t = v.strip()
    if "@" in t:
        return _email(t)
    if _DIGITS.fullmatch(t) and t.startswith("2088") and len(t) == 16:
        return t
    try:
        return _phone(t)
    except ValueError:
        return t


_NORMALISERS: dict[str, Callable[[str], str]] = {
    "phone": _phone, "bank_card": _bank_card, "url": _url, "domain": _domain, "qq": _qq,
    "wechat": _wechat, "ip": _ip, "email": _email, "device": _device, "app": _app,
    "alipay": _alipay,
}


def normalise_identifier(kind: object, value: object, *, field: str = "identifiers") -> tuple[str, str]:
    """``(kind, value)`` in the one spelling linking compares; :class:`IdentifierError` if not.

    ``field`` names where the pair came from (``identifiers[2].value``) for the error.
    """
    if not isinstance(kind, str) or kind not in KIND_CODE:
        raise IdentifierError(f"unknown identifier kind {kind!r} (one of {', '.join(KINDS)})",
                              field=f"{field}.kind")
    if not isinstance(value, str):
        raise IdentifierError(f"{kind} value must be text, not {type(value).__name__}", field=f"{field}.value")
    v = value.strip()
    if not v or len(v) > MAX_VALUE_CHARS:
        raise IdentifierError(f"{kind} value is empty or longer than {MAX_VALUE_CHARS} characters",
                              field=f"{field}.value")
    try:
        return kind, _NORMALISERS[kind](v)
    except ValueError as err:
        raise IdentifierError(f"malformed {kind} {value!r}: {err}", field=f"{field}.value") from None
