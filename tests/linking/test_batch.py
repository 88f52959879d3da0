"""Batch linking: hand examples, the FORMATS.md shape, the warning list, decisions."""

from datetime import datetime, timedelta, timezone

from fanzha.linking.batch import ReportTable, link
from fanzha.linking.common import CommonPolicy, read_common_file
from fanzha.linking.decisions import Decisions, LinkDecision, Verdict
from fanzha.linking.output import linking_document
from fanzha.linking.reports import Report

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
CARD = ("bank_card", "6222025260181590832")
PHONE = ("phone", "+85265432109")


def rep(rid, *ids, hour=0, scam=None, loss=0):
    return Report(rid, tuple(ids), T0 + timedelta(hours=hour), scam, loss)


def run(reports, policy=None, decisions=()):
    return link(ReportTable.from_reports(reports), policy, Decisions(decisions))


def test_chain_through_different_identifiers():
    lk = run([rep("R1", PHONE, hour=1), rep("R2", PHONE, CARD, hour=2), rep("R3", CARD, hour=3),
              rep("R4", ("qq", "2890145567"), hour=0)])
    assert lk.partition() == [["R4"], ["R1", "R2", "R3"]]
    shared = lk.shared_by_group()[1]
    assert {(s.kind, s.value): s.report_ids for s in shared} == {PHONE: ["R1", "R2"], CARD: ["R2", "R3"]}


def test_formats_document_shape():
    doc = linking_document(run([rep("R1", CARD, loss=99_000_000), rep("R7", CARD, hour=1), rep("R9", hour=2)]))
    assert doc["groups"][0]["group_id"] == "G1"
    assert doc["groups"][0]["reports"] == ["R1", "R7"]
    assert [{"kind": s["kind"], "value": s["value"]} for s in doc["groups"][0]["shared"]] == \
        [{"kind": "bank_card", "value": "6222025260181590832"}]
    assert doc["groups"][0]["loss"] == "990000.00"
    assert doc["groups"][1] | {} == {**doc["groups"][1], "group_id": "G2", "reports": ["R9"], "shared": []}
    every = [r for g in doc["groups"] for r in g["reports"]]
    assert sorted(every) == ["R1", "R7", "R9"] and len(every) == len(set(every))


def test_group_ids_follow_the_earliest_report_not_the_file_order():
    a = [rep("B1", CARD, hour=5), rep("A1", PHONE, hour=1), rep("B2", CARD, hour=6), rep("A2", PHONE, hour=2)]
    for reports in (a, a[::-1]):
        assert run(reports).partition() == [["A1", "A2"], ["B1", "B2"]]


def test_reports_without_time_sort_last_then_by_id():
    lk = run([Report("Z", (CARD,)), Report("Y", (CARD,)), rep("X", CARD, hour=9)])
    assert lk.partition() == [["X", "Y", "Z"]]


def test_empty_and_identifierless():
    assert run([]).partition() == []
    assert run([rep("R1"), rep("R2", hour=1)]).partition() == [["R1"], ["R2"]]


def test_listed_values_never_link_and_are_reported():
    lk = run([rep("R1", ("phone", "95588;phone-context=+86"), ("app", "支付宝")),
              rep("R2", ("phone", "95588;phone-context=+86"), ("app", "支付宝"), hour=1)])
    assert lk.partition() == [["R1"], ["R2"]]
    assert {(c.kind, c.value, c.reason) for c in lk.common} == {
        ("phone", "95588;phone-context=+86", "listed"), ("app", "支付宝", "listed")}


def test_private_ips_do_not_link_public_ones_do():
    lk = run([rep("R1", ("ip", "192.168.1.1"), ("ip", "103.215.44.12")),
              rep("R2", ("ip", "192.168.1.1"), hour=1), rep("R3", ("ip", "103.215.44.12"), hour=2)])
    assert lk.partition() == [["R1", "R3"], ["R2"]]
    assert [c.reason for c in lk.common] == ["private_ip"]


def test_degree_cut_off():
    many = [rep(f"R{i}", ("alipay", "2088000000000001"), hour=i) for i in range(4)]
    assert len(run(many, CommonPolicy(max_reports=4)).partition()) == 1
    lk = run(many, CommonPolicy(max_reports=3))
    assert len(lk.partition()) == 4
    assert lk.common[0].reason == "degree" and lk.common[0].reports == 4


def test_scam_type_cut_off_and_trusted():
    types = ["loan", "romance", "investment", "shopping"]
    reports = [rep(f"R{i}", ("ip", "120.0.0.1"), hour=i, scam=t) for i, t in enumerate(types)]
    lk = run(reports, CommonPolicy(max_scam_types=3))
    assert len(lk.partition()) == 4 and lk.common[0].reason == "scam_types" and lk.common[0].scam_types == 4
    trusted = CommonPolicy(max_scam_types=3, trusted=frozenset({("ip", "120.0.0.1")}))
    assert len(run(reports, trusted).partition()) == 1


def test_editable_list(tmp_path):
    f = tmp_path / "more.tsv"
    f.write_text("# ours\nphone\t+86 139 1234 5678\tour own switchboard\n", encoding="utf-8")
    assert read_common_file(f) == {("phone", "+8613912345678"): "our own switchboard"}
    policy = CommonPolicy().with_files([f])
    lk = run([rep("R1", ("phone", "+8613912345678")), rep("R2", ("phone", "+8613912345678"), hour=1)], policy)
    assert len(lk.partition()) == 2


def test_confirmed_links_join_without_identifiers():
    lk = run([rep("R1"), rep("R2", hour=1)], decisions=[LinkDecision("R2", "R1", Verdict.confirmed, by="lin")])
    assert lk.partition() == [["R1", "R2"]] and lk.confirmed == [("R1", "R2")]
    doc = linking_document(lk)
    assert doc["groups"][0]["confirmed"] == [["R1", "R2"]]


def test_rejected_link_splits_and_keeps_the_rest():
    reports = [rep("R1", CARD), rep("R2", CARD, PHONE, hour=1), rep("R3", PHONE, hour=2)]
    lk = run(reports, decisions=[LinkDecision("R1", "R2", Verdict.rejected)])
    assert lk.partition() == [["R1"], ["R2", "R3"]]
    # a rejected pair with a path through a third report: the third goes with the earlier one
    lk = run(reports, decisions=[LinkDecision("R1", "R3", Verdict.rejected)])
    groups = lk.partition()
    assert ["R1", "R3"] not in groups and sorted(r for g in groups for r in g) == ["R1", "R2", "R3"]
    assert not any({"R1", "R3"} <= set(g) for g in groups)


def test_latest_decision_wins_and_conflicts_are_reported():
    d = [LinkDecision("R1", "R2", Verdict.rejected), LinkDecision("R1", "R2", Verdict.confirmed)]
    assert run([rep("R1"), rep("R2", hour=1)], decisions=d).partition() == [["R1", "R2"]]
    d = [LinkDecision("R1", "R2", Verdict.confirmed), LinkDecision("R2", "R3", Verdict.confirmed),
         LinkDecision("R1", "R3", Verdict.rejected)]
    lk = run([rep("R1"), rep("R2", hour=1), rep("R3", hour=2)], decisions=d)
    assert not any({"R1", "R3"} <= set(g) for g in lk.partition())
    assert lk.conflicts == [("R2", "R3")]


def test_decisions_about_unknown_reports_are_ignored():
    lk = run([rep("R1"), rep("R2", hour=1)], decisions=[LinkDecision("R1", "R99", Verdict.confirmed)])
    assert lk.partition() == [["R1"], ["R2"]]
