"""Gangs inside a group: middlemen, key members, dens, mules and the people behind them."""

from datetime import datetime, timedelta, timezone

from fanzha.linking.gangs import Holder, analyse, dens, key_members, mules, split_gangs
from fanzha.linking.geo import GeoTable
from fanzha.linking.reports import Report

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
DEALER = ("bank_card", "6210000000000000001")


def gang(prefix, n, ids, hour0=0, extra=None):
    out = []
    for i in range(n):
        own = (ids[i % len(ids)], ids[(i + 1) % len(ids)])
        if extra and i == 0:
            own += (extra,)
        out.append(Report(f"{prefix}{i}", own, T0 + timedelta(hours=hour0 + i), "investment", 1000 * (i + 1)))
    return out


def all_values(reports):
    return {v for r in reports for v in r.identifiers}


def test_a_single_middleman_separates_two_gangs():
    a = gang("A", 5, [("phone", "+8617000000001"), ("bank_card", "6222000000000001")], extra=DEALER)
    b = gang("B", 4, [("phone", "+8617000000002"), ("url", "http://b.top/")], hour0=10, extra=DEALER)
    gangs = split_gangs(a + b, all_values(a + b))
    assert [g.reports for g in gangs] == [[r.report_id for r in a], [r.report_id for r in b]]
    assert gangs[0].middlemen == [DEALER] and gangs[1].middlemen == [DEALER]


def test_a_dense_gang_is_not_cut():
    a = gang("A", 12, [("phone", "+8617000000001"), ("bank_card", "6222000000000001"), ("qq", "123456"),
                       ("url", "http://a.top/")])
    assert len(split_gangs(a, all_values(a))) == 1


def test_two_shared_values_keep_gangs_together():
    second = ("wechat", "wxid_dealer")
    a = gang("A", 5, [("phone", "+8617000000001")], extra=DEALER)
    b = gang("B", 5, [("phone", "+8617000000002")], hour0=10, extra=DEALER)
    a[1] = Report(a[1].report_id, a[1].identifiers + (second,), a[1].received_at)
    b[1] = Report(b[1].report_id, b[1].identifiers + (second,), b[1].received_at)
    assert len(split_gangs(a + b, all_values(a + b))) == 1


def test_key_members_rank_by_victims_then_money():
    a = gang("A", 6, [("phone", "+8617000000001"), ("bank_card", "6222000000000001"), ("qq", "123456")])
    top = key_members(a, all_values(a))
    assert top[0]["reports"] >= top[1]["reports"] >= top[-1]["reports"]
    assert set(top[0]) == {"kind", "value", "reports", "loss", "betweenness"}


def test_dens_by_block_and_by_offline_table():
    reports = [Report("R1", (("ip", "103.215.44.12"), ("ip", "103.215.44.99"))),
               Report("R2", (("ip", "103.215.44.12"), ("ip", "36.110.1.1")))]
    rows = dens(reports)
    assert rows[0] == {"prefix": "103.215.44.0/24", "ips": ["103.215.44.12", "103.215.44.99"], "reports": 2}
    geo = GeoTable([("103.215.0.0/16", "KH", None), ("103.215.44.0/24", "KH", "Sihanoukville"),
                    ("36.110.0.0/16", "cn", "Beijing")])
    located = {r["prefix"]: (r["country"], r["city"], r["overseas"]) for r in dens(reports, geo)}
    assert located == {"103.215.44.0/24": ("KH", "Sihanoukville", True), "36.110.1.0/24": ("CN", "Beijing", False)}
    assert geo.locate("8.8.8.8").city is None            # outside the centre's table: the shipped country only
    assert GeoTable(geo_rows := [("36.110.0.0/16", "CN", "Beijing")], shipped=False).locate("8.8.8.8") is None
    assert GeoTable(geo_rows).locate("10.1.2.3") is None    # private addresses are nowhere


def test_shipped_country_database_tells_overseas_from_domestic():
    geo = GeoTable.default()
    home, abroad = geo.locate("114.114.114.114"), geo.locate("8.8.8.8")
    assert home is not None and home.country == "CN"
    assert abroad is not None and abroad.country not in ("CN", "") and abroad.city is None
    located = {r["prefix"]: r["overseas"] for r in dens([Report("R1", (("ip", "114.114.114.114"),
                                                                        ("ip", "8.8.8.8")))], geo)}
    assert located == {"114.114.114.0/24": False, "8.8.8.0/24": True}


def test_geo_csv(tmp_path):
    f = tmp_path / "geo.csv"
    f.write_text("network,country,city\n103.215.44.0/24,MM,Myawaddy\n2001:db8::/32,PH,\n", encoding="utf-8")
    geo = GeoTable.from_csv(f)
    assert geo.locate("103.215.44.1").city == "Myawaddy" and geo.locate("2001:db8::5").country == "PH"


def test_mules_and_the_people_behind_them():
    reports = [Report("R1", (("bank_card", "6222000000000001"), ("phone", "+8613900000001")), loss_fen=500),
               Report("R2", (("bank_card", "6222000000000001"), ("alipay", "2088000000000009")), loss_fen=300),
               Report("R3", (("bank_card", "6222000000000002"),), loss_fen=100)]
    holders = {"6222000000000001": Holder("6222000000000001", "张三", "350203198807151234", "+8613900000007"),
               "2088000000000009": Holder("2088000000000009", "张三", "350203198807151234", None),
               "6222000000000002": Holder("6222000000000002", "李四", None, "+8613900000001")}
    rows, people = mules(reports, holders)
    assert rows[0]["account"] == "6222000000000001" and rows[0]["loss"] == "8.00"
    assert people[0]["accounts"] == ["2088000000000009", "6222000000000001"] and people[0]["cash_out_suspect"]
    assert people[1]["phone_in_reports"] is True


def test_analyse_bundles_everything():
    a = gang("A", 3, [("phone", "+8617000000001"), ("ip", "103.1.1.1")])
    doc = analyse(a, all_values(a)).as_dict()
    assert set(doc) == {"gangs", "key_members", "dens", "mules", "people"}
