"""Which bank issued a card, from its first digits (the BIN / IIN).

The centre's first question about a card in a report is "which bank do we send the
stop-payment to?". The answer is in the card's leading digits. The table lives in
``data/bins.tsv`` so that a centre can extend it without touching code; the longest
matching prefix wins because issuers sub-allocate ranges.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True)
class Issuer:
    bin: str
    bank_code: str
    bank_name: str


@lru_cache(maxsize=1)
def _table() -> tuple[dict[str, Issuer], tuple[int, ...]]:
    text = resources.files("fanzha.intake").joinpath("data/bins.tsv").read_text("utf-8")
    table: dict[str, Issuer] = {}
    for raw in text.splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        prefix, code, name = raw.split("\t")
        table[prefix] = Issuer(prefix, code, name)
    lengths = tuple(sorted({len(p) for p in table}, reverse=True))
    return table, lengths


def issuer(card: str) -> Issuer | None:
    """The issuing bank of a card number (digits only), or ``None`` when unknown."""
    table, lengths = _table()
    for n in lengths:
        hit = table.get(card[:n])
        if hit is not None:
            return hit
    return None


def scheme(card: str) -> str | None:
    """The card network from the leading digits: UnionPay, Visa, Mastercard, JCB, Amex."""
    if card.startswith("62") or card.startswith("9"):
        return "unionpay"
    if card.startswith("4"):
        return "visa"
    if card[:2] in {"51", "52", "53", "54", "55"} or "2221" <= card[:4] <= "2720":
        return "mastercard"
    if card.startswith("35"):
        return "jcb"
    if card[:2] in {"34", "37"}:
        return "amex"
    return None


# What a digit (as an ASCII byte) adds to the Luhn sum when it is doubled.
_DOUBLED = bytes(range(256)).translate(
    bytes.maketrans(b"0123456789", bytes(2 * d - 9 * (d > 4) for d in range(10))))


def luhn_ok(digits: str) -> bool:
    """The Luhn check digit every payment card carries; a mistyped card fails it. Only
    ASCII digits make a card number (anything else fails); the sum is taken byte by byte."""
    if not (digits.isascii() and digits.isdigit()):
        return False
    raw = digits.encode("ascii")
    kept, doubled = raw[-1::-2], raw[-2::-2]
    return (sum(kept) - 48 * len(kept) + sum(doubled.translate(_DOUBLED))) % 10 == 0
