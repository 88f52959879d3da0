"""Phone numbers to one spelling, and to a 64-bit key for the compact index.

Why: a fraud number arrives as ``139-1234-5678``, ``+86 139 1234 5678``,
``008613912345678`` or ``13912345678``; carriers ask about it in whichever form their
switch uses. Everything is reduced to E.164 (``+8613912345678``) with the
``phonenumbers`` metadata, default region CN.

Domestic service numbers (95xxx bank and insurer lines such as 95588, 96xxx, the
1xx/1xxxx public lines such as 110, 12345, 10086, and the 400/800 enterprise
numbers) are not reachable from abroad, so E.164 is the wrong name for them. They are
kept in national form, keyed the way RFC 3966 writes a local number:
``95588;phone-context=+86``. Fraudsters spoof exactly these numbers, so they must be
listable (and allowlistable) like any other.

Keys for the index (:func:`phone_key`) are ``int64``: the E.164 digits for ordinary
numbers (``8613912345678``) and the negated country-code-plus-national digits for
service numbers (``-8695588``). Neither kind starts with a zero digit, so distinct
numbers never share a key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import compress
from operator import not_
from typing import NamedTuple

import numpy as np
import phonenumbers
from phonenumbers import shortnumberinfo

from fanzha.intercept.errors import InvalidPhone

__all__ = [
    "DEFAULT_REGION",
    "PhoneNumber",
    "normalize_phone",
    "parse_phone",
    "phone_key",
    "phone_batch",
    "key_to_phone",
    "value_to_key",
    "looks_like_phone",
    "PhoneRange",
    "parse_phone_range",
    "looks_like_range",
    "range_prefix_key",
    "MIN_RANGE_NATIONAL_DIGITS",
]

DEFAULT_REGION = "CN"
_SERVICE_SUFFIX = ";phone-context=+86"

# Domestic service ranges kept in national form (see the module docstring): 95xxx and
# 96xxx (5 or 8 digits), 400/800; the short public lines (110, 12345, 10086, …) are
# those the phonenumbers short-number metadata knows for CN.
_CN_SERVICE = re.compile(r"9[56]\d{3}(?:\d{3})?|[48]00\d{7}")

_CN_MOBILE = re.compile(
    phonenumbers.PhoneMetadata.metadata_for_region("CN").mobile.national_number_pattern
)
# Fast path for the common case: a mainland mobile, optionally with +86 / 0086 / 86,
# spaces or dashes. Validity is then checked against the library's own mobile pattern,
# so the fast and slow paths agree.
_FAST_CN_MOBILE = re.compile(r"(?:\+86|0086|86)?[ \-]?(1\d{2})[ \-]?(\d{4})[ \-]?(\d{4})")
_DIGIT = re.compile(r"\d")
_PHONE_CHARS = re.compile(r"\+?[\d\s\-()]{3,40}")


class PhoneNumber(NamedTuple):
    """A normalised number: ``value`` is E.164, or the service key for service numbers."""

    value: str
    key: int
    country_code: int
    national: str
    service: bool


def looks_like_phone(text: str) -> bool:
    """Whether ``text`` is written like a phone number (digits, ``+``, spaces, dashes)."""
    t = text.strip()
    return bool(_PHONE_CHARS.fullmatch(t)) and _DIGIT.search(t) is not None


def _service(national: str) -> PhoneNumber:
    return PhoneNumber(value=national + _SERVICE_SUFFIX, key=-int("86" + national),
                       country_code=86, national=national, service=True)


def _mainland_mobile(text: str) -> str | None:
    """The national digits of a mainland mobile in a common spelling, else ``None``."""
    if _BARE_CN_MOBILE.fullmatch(text):  # the commonest spelling, bare national digits
        return text
    m = _FAST_CN_MOBILE.fullmatch(text)
    if m is not None:
        national = "".join(m.groups())
        if _CN_MOBILE.fullmatch(national):
            return national
    return None


#: A bare mainland mobile: 11 ASCII digits starting with 1 that the library's mobile
#: pattern takes (what the spelled-out pattern of :func:`_mainland_mobile` would find).
_BARE_CN_MOBILE = re.compile(r"(?=1[0-9]{10}\Z)(?:" + _CN_MOBILE.pattern + ")", re.ASCII)
_CN_KEY_BASE = 86 * 10**11


def _bare_mobiles(texts: Sequence[object]) -> list[bool]:
    """Which of ``texts`` are bare mainland mobiles (one pattern match each, run by ``map``)."""
    try:
        return list(map(bool, map(_BARE_CN_MOBILE.fullmatch, texts)))  # type: ignore[arg-type]
    except TypeError:  # something other than text among them
        return [type(t) is str and _BARE_CN_MOBILE.fullmatch(t) is not None for t in texts]  # type: ignore[arg-type]


def phone_batch(texts: Sequence[object], values: bool = False
                ) -> tuple[np.ndarray, list[str | None] | None, dict[int, InvalidPhone]]:
    """Index keys (and, with ``values``, normalised spellings) of many numbers at once.

    Returns ``(keys, values or None, errors by position)``: the same answers as
    :func:`parse_phone` one by one (a bad number's key is 0, its value ``None`` and its
    error in ``errors``). The bare mainland mobiles that make up nearly every list and
    query batch are picked out by one pattern match each and keyed by ``numpy``; only
    the other spellings are parsed one by one.
    """
    n = len(texts)
    bare = _bare_mobiles(texts)
    keys = np.zeros(n, dtype=np.int64)
    where = np.flatnonzero(np.array(bare, dtype=bool)) if n else np.zeros(0, np.intp)
    fast = list(compress(texts, bare))
    if fast:
        keys[where] = np.array(list(map(int, fast)), dtype=np.int64) + _CN_KEY_BASE  # type: ignore[arg-type]
    out: list[str | None] | None = None
    if values:
        out = [None] * n
        if len(fast) == n:
            out = list(map("+86".__add__, fast))  # type: ignore[arg-type]
        else:
            for i, v in zip(where.tolist(), map("+86".__add__, fast)):  # type: ignore[arg-type]
                out[i] = v
    errors: dict[int, InvalidPhone] = {}
    if len(fast) < n:
        for i in compress(range(n), map(not_, bare)):
            text = texts[i]
            try:
                p = parse_phone(text)  # type: ignore[arg-type]
            except InvalidPhone as err:
                errors[i] = err
                continue
            keys[i] = p.key
            if out is not None:
                out[i] = p.value
    return keys, out, errors


def parse_phone(text: str, region: str = DEFAULT_REGION) -> PhoneNumber:
    """Parse and validate a number; raise :class:`InvalidPhone` with the reason if bad."""
    if not isinstance(text, str):
        raise InvalidPhone(f"phone number must be text, not {type(text).__name__}", field="phone")
    t = text.strip()
    national = _mainland_mobile(t)
    if national is not None:
        return PhoneNumber("+86" + national, int("86" + national), 86, national, False)
    if t.endswith(_SERVICE_SUFFIX):
        t = t[: -len(_SERVICE_SUFFIX)]
    if not t or len(t) > 40:
        raise InvalidPhone(f"not a phone number: {text!r}", field="phone")
    try:
        num = phonenumbers.parse(t, region)
    except phonenumbers.NumberParseException as err:
        raise InvalidPhone(f"not a phone number: {text!r} ({err})", field="phone") from None
    national = str(num.national_number)
    if num.italian_leading_zero:
        national = "0" * (num.number_of_leading_zeros or 1) + national
    if num.country_code == 86 and (
        _CN_SERVICE.fullmatch(national)
        or shortnumberinfo.is_valid_short_number_for_region(num, "CN")
    ):
        return _service(national)
    if not phonenumbers.is_valid_number(num):
        raise InvalidPhone(f"not a valid phone number: {text!r}", field="phone")
    e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    return PhoneNumber(e164, int(e164[1:]), num.country_code, national, False)


def normalize_phone(text: str, region: str = DEFAULT_REGION) -> str:
    """E.164 (``+8613912345678``), or ``95588;phone-context=+86`` for service numbers."""
    return parse_phone(text, region).value


def phone_key(text: str, region: str = DEFAULT_REGION) -> int:
    """The ``int64`` index key of a number (see the module docstring)."""
    return parse_phone(text, region).key


def value_to_key(value: str) -> int:
    """The index key of an already normalised spelling (inverse of :func:`key_to_phone`).

    Raises ``ValueError`` if ``value`` is not such a spelling.
    """
    if value.endswith(_SERVICE_SUFFIX):
        national = value[: -len(_SERVICE_SUFFIX)]
        if national.isdigit():
            return -int("86" + national)
    elif value[:1] == "+" and value[1:].isdigit() and value[1:2] != "0":
        return int(value[1:])
    raise ValueError(f"not a normalised phone number: {value!r}")


def key_to_phone(key: int) -> str:
    """The normalised spelling of an index key (inverse of :func:`phone_key`)."""
    if key < 0:
        digits = str(-key)
        return digits[2:] + _SERVICE_SUFFIX
    return "+" + str(key)


# --------------------------------------------------------------------------- ranges

#: A range must fix at least this many digits after the country code: ``+86 1*``
#: would block a whole country's mobiles, which no detector means.
MIN_RANGE_NATIONAL_DIGITS = 3
_RANGE_SEP = re.compile(r"\s*(?:\.\.|~|～)\s*")
_RANGE_DIGITS = re.compile(r"\+?[\d\s\-()]{1,40}")


class PhoneRange(NamedTuple):
    """A block of numbers: ``value`` is its canonical spelling, ``prefixes`` the E.164
    digit prefixes (without ``+``) that cover it exactly.

    Canonical spellings: ``+86170*`` for everything starting with those digits, and
    ``+8617012340000..+8617012349999`` for an inclusive range of equally long numbers
    that is not a single prefix.
    """

    value: str
    prefixes: tuple[str, ...]


def looks_like_range(text: str) -> bool:
    """Whether ``text`` is written as a range (``…*`` or ``A..B``) rather than one number."""
    t = text.strip() if isinstance(text, str) else ""
    if t.endswith("*"):
        return _RANGE_DIGITS.fullmatch(t[:-1].strip()) is not None
    parts = _RANGE_SEP.split(t)
    return len(parts) == 2 and all(_RANGE_DIGITS.fullmatch(x) for x in parts)


def _international_digits(text: str, what: str) -> tuple[int, str]:
    """``(country code, digits with country code)`` of a range endpoint or prefix.

    ``+…`` and ``00…`` are international; anything else is national (CN, trunk ``0``
    dropped).
    """
    t = text.strip()
    if not _RANGE_DIGITS.fullmatch(t):
        raise InvalidPhone(f"{what} must be digits (with an optional +): {text!r}", field="phone")
    digits = re.sub(r"\D", "", t)
    if t.startswith("+") or digits.startswith("00"):
        digits = digits[2:] if not t.startswith("+") else digits
        for n in (1, 2, 3):
            cc = int(digits[:n]) if len(digits) >= n and digits[:1] != "0" else None
            if cc is not None and cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
                return cc, digits
        raise InvalidPhone(f"{what} has no known country code: {text!r}", field="phone")
    national = digits[1:] if digits.startswith("0") else digits
    return 86, "86" + national


def _check_length(cc: int, digits: str, text: str) -> None:
    national = len(digits) - len(str(cc))
    if national < MIN_RANGE_NATIONAL_DIGITS:
        raise InvalidPhone(f"range is too broad: fix at least {MIN_RANGE_NATIONAL_DIGITS} digits after "
                           f"the country code: {text!r}", field="phone")
    if len(digits) > 15:
        raise InvalidPhone(f"longer than an E.164 number (15 digits): {text!r}", field="phone")


def _cover(lo: int, hi: int, width: int) -> list[str]:
    """The fewest digit prefixes whose numbers of ``width`` digits are exactly ``lo..hi``."""
    out = []
    while lo <= hi:
        k = 0
        while k < width and lo % 10 ** (k + 1) == 0 and lo + 10 ** (k + 1) - 1 <= hi:
            k += 1
        out.append(str(lo).zfill(width)[: width - k])
        lo += 10 ** k
    return out


def parse_phone_range(text: str) -> PhoneRange:
    """Parse ``+86170*`` / ``170*`` (a prefix) or ``A..B`` (also ``A~B``; inclusive).

    Raises :class:`InvalidPhone` naming what is wrong: unknown country code, a range
    wider than a country's whole mobile plan, unequal lengths, ends the wrong way round.
    """
    if not isinstance(text, str):
        raise InvalidPhone(f"phone range must be text, not {type(text).__name__}", field="phone")
    t = text.strip()
    if len(t) > 80:
        raise InvalidPhone("phone range is longer than 80 characters", field="phone")
    if t.endswith("*"):
        cc, digits = _international_digits(t[:-1], "prefix")
        _check_length(cc, digits, text)
        return PhoneRange(f"+{digits}*", (digits,))
    parts = _RANGE_SEP.split(t)
    if len(parts) != 2:
        raise InvalidPhone(f"not a number range (write +86170* or A..B): {text!r}", field="phone")
    (cc_a, a), (cc_b, b) = (_international_digits(x, "range end") for x in parts)
    if cc_a != cc_b or len(a) != len(b):
        raise InvalidPhone(f"range ends must be numbers of the same country and length: {text!r}",
                           field="phone")
    _check_length(cc_a, a, text)
    if int(a) > int(b):
        raise InvalidPhone(f"range starts after it ends: {text!r}", field="phone")
    prefixes = _cover(int(a), int(b), len(a))
    if any(len(p) - len(str(cc_a)) < MIN_RANGE_NATIONAL_DIGITS for p in prefixes):
        raise InvalidPhone(f"range is too broad: {text!r}", field="phone")
    value = f"+{prefixes[0]}*" if len(prefixes) == 1 and len(prefixes[0]) < len(a) else f"+{a}..+{b}"
    return PhoneRange(value, tuple(prefixes))


#: Range keys sort after every number key: bit 62 set, the prefix length at bit 52.
_RANGE_FLAG = 1 << 62
_LEN_SHIFT = 52


def range_prefix_key(prefix_digits: str) -> int:
    """The ``int64`` index key of a digit prefix (never equal to a number's key)."""
    return _RANGE_FLAG | (len(prefix_digits) << _LEN_SHIFT) | int(prefix_digits)
