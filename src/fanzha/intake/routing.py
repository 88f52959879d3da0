"""Where a report goes, and how urgently: pure rules over the units' zones.

A report is routed to the centre and to the unit that owns its place: the station
whose zone (a street or community) appears in the address, within the report's
district; failing that, the district's branch; failing that, the city bureau.
Large cases go one level up (上抓一级). A payment within the last hours makes the case
an emergency, handed to the stop-payment loop at once.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

#: The kinds of unit, from the most local up.
LEVELS = ("station", "district", "city")


@dataclass(frozen=True)
class Zone:
    unit_code: str
    unit_kind: str  # station | district | city
    district: str
    zone: str = ""  # a street, community or area name; "" means the whole district


@dataclass(frozen=True)
class Route:
    unit_code: str | None
    reason: str


def route(district: str, address: str, zones: list[Zone]) -> Route:
    """The unit that owns a place. Longest matching zone name wins; ties go by unit code."""
    district = (district or "").strip()
    address = address or ""
    if not district:
        # The district is often only in the address ("厦门市思明区中华街道…").
        for z in zones:
            if z.district and z.district in address:
                district = z.district
                break
    in_district = [z for z in zones if z.district == district]
    named = [z for z in in_district if z.zone and z.zone in address]
    if named:
        best = max(named, key=lambda z: (len(z.zone), LEVELS.index(z.unit_kind) == 0, _neg(z.unit_code)))
        return Route(best.unit_code, f"address names {best.zone} ({district})")
    whole = sorted((z for z in in_district if not z.zone), key=lambda z: (LEVELS.index(z.unit_kind), z.unit_code))
    if whole:
        return Route(whole[0].unit_code, f"district {district}")
    cities = sorted(z.unit_code for z in zones if z.unit_kind == "city")
    if cities:
        return Route(cities[0], "place unknown: the city bureau")
    return Route(None, "no unit owns this place")


def _neg(code: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in code)


@dataclass(frozen=True)
class EscalationRule:
    """Cases at or over these go one level up (上抓一级)."""

    loss_fen: int = 100_000_000   # 1,000,000 yuan
    victims: int = 10


def escalate(loss_fen: int, victims: int, rule: EscalationRule = EscalationRule()) -> str | None:
    """Why a case goes one level up, or ``None``."""
    if loss_fen >= rule.loss_fen:
        return f"loss {loss_fen // 100:,} yuan ≥ {rule.loss_fen // 100:,}"
    if victims >= rule.victims:
        return f"{victims} victims ≥ {rule.victims}"
    return None


def is_emergency(paid_at: datetime | None, received_at: datetime, window: timedelta = timedelta(hours=24)) -> bool:
    """Money that left within ``window`` of the report may still be stopped: chase it now."""
    if paid_at is None:
        return False
    return received_at - paid_at <= window  # a payment after the report is still going on


_SPACE = re.compile(r"\s+")


def fingerprint(caller: str, received_at: datetime, text: str) -> str:
    """The same call arriving twice: same caller, same minute, same words (spacing and width aside)."""
    text = text or ""
    # (nearly every report is already in NFKC form: the quick check spares normalising it)
    norm = _SPACE.sub("", text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text))
    minute = received_at.astimezone(timezone.utc).replace(second=0, microsecond=0).isoformat()
    return hashlib.sha256("\x1f".join([caller or "", minute, norm]).encode()).hexdigest()[:32]
