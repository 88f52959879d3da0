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
    return Router(zones)(district, address)


class Router:
    """:func:`route` over one list of zones, with the zones sorted once: for a batch of
    reports, each is routed by scanning its district's zones in the order they win."""

    def __init__(self, zones: list[Zone]):
        # Districts in the zones' order, each once: the first named in an address is its district.
        self._districts = list(dict.fromkeys(z.district for z in zones if z.district))
        self._named: dict[str, list[Zone]] = {}  # district → its zones with a name, the winner first
        self._whole: dict[str, Zone] = {}  # district → the unit owning the whole district
        for z in zones:
            if z.zone:
                self._named.setdefault(z.district, []).append(z)
        for named in self._named.values():
            # (a stable sort: among equal keys the first listed wins, as max() picks it)
            named.sort(key=lambda z: (len(z.zone), LEVELS.index(z.unit_kind) == 0, _neg(z.unit_code)), reverse=True)
        for z in sorted((z for z in zones if not z.zone), key=lambda z: (LEVELS.index(z.unit_kind), z.unit_code)):
            self._whole.setdefault(z.district, z)
        cities = sorted(z.unit_code for z in zones if z.unit_kind == "city")
        self._city = cities[0] if cities else None

    def __call__(self, district: str, address: str) -> Route:
        district = (district or "").strip()
        address = address or ""
        if not district:
            # The district is often only in the address ("厦门市思明区中华街道…").
            district = next((d for d in self._districts if d in address), district)
        for z in self._named.get(district, ()):
            if z.zone in address:
                return Route(z.unit_code, f"address names {z.zone} ({district})")
        whole = self._whole.get(district)
        if whole is not None:
            return Route(whole.unit_code, f"district {district}")
        if self._city is not None:
            return Route(self._city, "place unknown: the city bureau")
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
