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
from typing import NamedTuple

import phonenumbers
from phonenumbers import shortnumberinfo

from fanzha.intercept.errors import InvalidPhone

__all__ = [
    "DEFAULT_REGION",
    "PhoneNumber",
    "normalize_phone",
    "parse_phone",
    "phone_key",
    "key_to_phone",
    "looks_like_phone",
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


def parse_phone(text: str, region: str = DEFAULT_REGION) -> PhoneNumber:
    """Parse and validate a number; raise :class:`InvalidPhone` with the reason if bad."""
    if not isinstance(text, str):
        raise InvalidPhone(f"phone number must be text, not {type(text).__name__}", field="phone")
    t = text.strip()
    m = _FAST_CN_MOBILE.fullmatch(t)
    if m is not None:
        national = "".join(m.groups())
        if _CN_MOBILE.fullmatch(national):
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


def key_to_phone(key: int) -> str:
    """The normalised spelling of an index key (inverse of :func:`phone_key`)."""
    if key < 0:
        digits = str(-key)
        return digits[2:] + _SERVICE_SUFFIX
    return "+" + str(key)
