"""Money as integer fen.

Every amount inside fanzha is an ``int`` of fen (分, 1/100 yuan). Files and JSON carry
decimal strings with two places (``"990000.00"``). Floats never hold money: a float
cannot say 0.1 yuan exactly, and a trace must balance to the fen.
"""

from __future__ import annotations

import re

_DECIMAL = re.compile(r"^(?P<int>\d+)(?:\.(?P<frac>\d{1,2}))?$")

#: The largest amount fanzha accepts in one figure: 10^13 yuan. Anything above is a
#: typing error, not a transfer.
MAX_FEN = 10**15


class AmountError(ValueError):
    """An amount that is not a valid sum of yuan."""


def parse_yuan(text: str, *, allow_zero: bool = False) -> int:
    """Parse a decimal yuan string (``"12800"``, ``"12800.5"``, ``"990000.00"``) to fen.

    Strict on purpose: at most two decimal places, no sign, no exponent, no thousands
    separators (files use them for nothing else, so a comma means a broken column).
    """
    if not isinstance(text, str):
        raise AmountError(f"amount must be a decimal string, got {type(text).__name__}")
    s = text.strip()
    m = _DECIMAL.match(s)
    if not m:
        if s.startswith("-"):
            raise AmountError(f"amount must be positive: {text!r}")
        raise AmountError(f"not a yuan amount with at most two decimal places: {text!r}")
    frac = (m.group("frac") or "").ljust(2, "0")
    fen = int(m.group("int")) * 100 + int(frac)
    if fen == 0 and not allow_zero:
        raise AmountError(f"amount must be positive: {text!r}")
    if fen > MAX_FEN:
        raise AmountError(f"amount is implausibly large: {text!r}")
    return fen


def format_fen(fen: int) -> str:
    """Format fen as a yuan decimal string with two places: ``99000000 -> "990000.00"``."""
    if not isinstance(fen, int):
        raise TypeError(f"fen must be int, got {type(fen).__name__}")
    sign = "-" if fen < 0 else ""
    q, r = divmod(abs(fen), 100)
    return f"{sign}{q}.{r:02d}"


def format_fen_cn(fen: int) -> str:
    """Format fen for people: thousands separators and the yuan sign, ``¥990,000.00``."""
    sign = "-" if fen < 0 else ""
    q, r = divmod(abs(fen), 100)
    return f"{sign}¥{q:,}.{r:02d}"
