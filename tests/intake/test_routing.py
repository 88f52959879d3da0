"""Routing rules: place → unit, escalation, emergencies, duplicate calls."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, strategies as st

from fanzha.intake.routing import LEVELS, EscalationRule, Router, Zone, escalate, fingerprint, is_emergency, route

ZONES = [
    Zone("350200", "city", "", ""),
    Zone("350203", "district", "思明区"),
    Zone("350203-01", "station", "思明区", "中华街道"),
    Zone("350203-02", "station", "思明区", "鹭江街道"),
    Zone("350206", "district", "湖里区"),
]
AT = datetime(2024, 5, 1, 2, 0, tzinfo=timezone.utc)


def test_station_named_in_the_address_wins():
    assert route("思明区", "厦门市思明区中华街道大同路1号", ZONES).unit_code == "350203-01"
    assert route("思明区", "鹭江街道某小区", ZONES).unit_code == "350203-02"


def test_district_when_no_station_zone_matches():
    assert route("思明区", "某无名路", ZONES).unit_code == "350203"
    assert route("湖里区", "", ZONES).unit_code == "350206"


def test_district_read_from_the_address():
    r = route("", "厦门市思明区中华街道大同路1号", ZONES)
    assert r.unit_code == "350203-01"


def test_unknown_place_goes_to_the_city():
    r = route("外星区", "", ZONES)
    assert r.unit_code == "350200" and "city" in r.reason


def test_escalation_thresholds():
    rule = EscalationRule(loss_fen=100_000_000, victims=10)
    assert escalate(99_999_999, 9, rule) is None
    assert "loss" in escalate(100_000_000, 1, rule)
    assert "victims" in escalate(0, 10, rule)


def test_emergency_window():
    assert is_emergency(AT - timedelta(hours=2), AT)
    assert not is_emergency(AT - timedelta(days=3), AT)
    assert not is_emergency(None, AT)
    assert is_emergency(AT + timedelta(minutes=5), AT)  # still paying while calling


@given(st.text(alphabet=st.characters(categories=["Lo", "Nd", "Ll", "Lu"]), max_size=200))
def test_fingerprint_ignores_spacing_and_seconds(text):
    spaced = " ".join(text)
    assert fingerprint("+8613900000000", AT, text) == fingerprint("+8613900000000", AT + timedelta(seconds=20),
                                                                  spaced)


def test_fingerprint_differs_by_caller_and_minute():
    a = fingerprint("+8613900000000", AT, "被骗了")
    assert a != fingerprint("+8613900000001", AT, "被骗了")
    assert a != fingerprint("+8613900000000", AT + timedelta(minutes=1), "被骗了")
    assert a == fingerprint("+8613900000000", AT, "被 骗 了")


def _route_by_definition(district: str, address: str, zones: list[Zone]) -> tuple[str | None, str]:
    """Routing as its rule reads, zone by zone: the district (else the first named in the
    address), the longest zone name in the address (a station before others, then the
    lowest code), else the district's most local unit owning all of it, else the city."""
    district = (district or "").strip()
    if not district:
        district = next((z.district for z in zones if z.district and z.district in address), "")
    inside = [z for z in zones if z.district == district]
    named = [z for z in inside if z.zone and z.zone in address]
    if named:
        best = max(named, key=lambda z: (len(z.zone), z.unit_kind == "station", [-ord(c) for c in z.unit_code]))
        return best.unit_code, f"address names {best.zone} ({district})"
    whole = sorted((z for z in inside if not z.zone), key=lambda z: (LEVELS.index(z.unit_kind), z.unit_code))
    if whole:
        return whole[0].unit_code, f"district {district}"
    cities = sorted(z.unit_code for z in zones if z.unit_kind == "city")
    return (cities[0], "place unknown: the city bureau") if cities else (None, "no unit owns this place")


_NAMES = st.sampled_from(["", "思明区", "湖里区", "中华街道", "中华", "鹭江街道", "街道", "区"])
_ZONE = st.builds(Zone, st.sampled_from(["350200", "350203", "350203-01", "350203-02", "350206", "3502"]),
                  st.sampled_from(LEVELS), _NAMES, _NAMES)


@given(zones=st.lists(_ZONE, max_size=8), district=_NAMES,
       address=st.lists(_NAMES, max_size=4).map("".join))
def test_router_routes_as_the_rule_reads(zones, district, address):
    router = Router(zones)  # the zones sorted once, for many reports
    assert (router(district, address).unit_code, router(district, address).reason) == \
        _route_by_definition(district, address, zones)
    assert route(district, address, zones) == router(district, address)
