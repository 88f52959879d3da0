"""The reference data: units, institutions, card numbers."""

from __future__ import annotations

from collections import Counter

from fanzha.sim import catalog


def test_units_are_a_tree_in_parent_first_order():
    seen = set()
    for u in catalog.UNITS:
        assert u.kind in catalog.UNIT_KINDS
        assert u.parent_code is None or u.parent_code in seen
        seen.add(u.code)
    assert len(seen) == len(catalog.UNITS)
    city = [u for u in catalog.UNITS if u.kind == "city"]
    assert [u.name for u in city] == ["厦门市公安局"]


def test_every_district_has_a_branch_and_three_to_eight_stations():
    for district, code in catalog.DISTRICTS.items():
        branch = catalog.UNITS_BY_CODE[code]
        assert branch.kind == "district" and branch.districts == (district,)
        stations = catalog.stations(district)
        assert 3 <= len(stations) <= 8
        assert all(s.parent_code == code and s.name.endswith("派出所") and s.zones for s in stations)


def test_zones_are_unambiguous_within_a_district():
    for district in catalog.DISTRICTS:
        zones = [z for s in catalog.stations(district) for z in s.zones]
        assert len(zones) == len(set(zones))
        for a in zones:
            assert not any(a != b and a in b for b in zones), a


def test_unit_zones():
    station = catalog.stations("思明区")[0]
    assert catalog.unit_zones(station) == [("思明区", z) for z in station.zones]
    assert catalog.unit_zones(catalog.UNITS_BY_CODE["350203"]) == [("思明区", "")]
    assert len(catalog.unit_zones(catalog.UNITS_BY_CODE[catalog.CITY_UNIT_CODE])) == 6
    assert catalog.station_for("思明区", "厦门市思明区莲前街道文化路1号").name.endswith("莲前派出所")
    assert catalog.station_for("思明区", "厦门市思明区某路1号") is None


def test_institutions():
    codes = [i.code for i in catalog.INSTITUTIONS]
    assert 90 <= len(codes) <= 120 and len(codes) == len(set(codes))
    kinds = Counter(i.kind for i in catalog.INSTITUTIONS)
    assert set(kinds) == set(catalog.INSTITUTION_KINDS)
    assert kinds["basic_operator"] == 4 and kinds["virtual_operator"] == 12
    for code in ("ICBC", "ABC", "BOC", "CCB", "BOCOM", "PSBC", "CMB", "CITIC", "CEB", "HXB", "CMBC", "GDB",
                 "PAB", "SPDB", "CIB", "CZB", "CBHB", "HFB", "XMBANK", "XIB", "ALIPAY", "TENPAY", "UNIONPAY",
                 "CMCC", "CUCC", "CTCC", "CBN"):
        assert code in catalog.INSTITUTIONS_BY_CODE
    assert catalog.INSTITUTIONS_BY_CODE["ICBC"].name == "中国工商银行"


def test_bins_are_six_digits_and_unique():
    bins = [b for i in catalog.BANKS for b in i.bins]
    assert all(len(b) == 6 and b.isdigit() for b in bins)
    assert len(bins) == len(set(bins))
    assert all(i.bins and i.card_length in (16, 19) for i in catalog.BANKS)


def test_bin_lookup():
    assert catalog.bin_lookup("6222021234567890123") == "ICBC"
    assert catalog.bin_lookup("6217001234567890123") == "CCB"
    assert catalog.bin_lookup("4367421234567890123") == "CCB"
    assert catalog.bin_lookup("6228481234567890123") == "ABC"
    assert catalog.bin_lookup("6216611234567890123") == "BOC"
    assert catalog.bin_lookup("6225881234567890") == "CMB"
    assert catalog.bin_lookup("1234567890123456") is None


def test_luhn():
    assert catalog.luhn_ok("79927398713")
    assert not catalog.luhn_ok("79927398710")
    assert catalog.luhn_ok("4539578763621486")
    assert not catalog.luhn_ok("")
    assert not catalog.luhn_ok("12a4")
    assert catalog.luhn_check_digit("7992739871") == "3"


def test_make_card():
    for bank in catalog.BANKS:
        card = catalog.make_card(bank.code, 12345)
        assert len(card) == bank.card_length and catalog.luhn_ok(card)
        assert catalog.bin_lookup(card) == bank.code
    assert len(catalog.make_card("CMB", 1, length=19)) == 19


def test_operator_lookup():
    assert catalog.operator_lookup("+8613912345678") == "CMCC"
    assert catalog.operator_lookup("+8618612345678") == "CUCC"
    assert catalog.operator_lookup("+8618912345678") == "CTCC"
    assert catalog.operator_lookup("+8617001234567") == "SNAIL"
    assert catalog.operator_lookup("+85265432109") is None


def test_account_institution():
    assert catalog.account_institution("2088123456789012") == "ALIPAY"
    assert catalog.account_institution(catalog.make_card("XMBANK", 7)) == "XMBANK"
