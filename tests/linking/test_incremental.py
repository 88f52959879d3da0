"""Incremental linking gives the batch groups, whatever the order of arrival."""

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.errors import InputError
from fanzha.linking.batch import ReportTable, link
from fanzha.linking.common import CommonPolicy
from fanzha.linking.decisions import Decisions, LinkDecision, Verdict
from fanzha.linking.incremental import Linker
from fanzha.linking.reports import Report

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
POOL = ([("phone", f"+8613900000{i:03d}") for i in range(6)] + [("bank_card", f"62220000000{i}") for i in range(4)]
        + [("ip", "10.0.0.1"), ("ip", "103.1.1.1"), ("phone", "95588;phone-context=+86")])
TYPES = [None, "loan", "romance", "investment", "shopping"]


@st.composite
def worlds(draw):
    n = draw(st.integers(1, 18))
    reports = []
    for i in range(n):
        ids = draw(st.lists(st.sampled_from(POOL), max_size=3, unique=True))
        hour = draw(st.one_of(st.none(), st.integers(0, 6)))
        reports.append(Report(f"R{i}", tuple(ids), None if hour is None else T0 + timedelta(hours=hour),
                              draw(st.sampled_from(TYPES)), draw(st.integers(0, 1000))))
    ids = [f"R{i}" for i in range(n + 1)]
    decisions = draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(ids), st.sampled_from(list(Verdict)))
                              .filter(lambda d: d[0] != d[1]), max_size=4))
    policy = CommonPolicy(max_reports=draw(st.integers(2, 6)), max_scam_types=draw(st.integers(1, 3)))
    order = draw(st.permutations(range(n)))
    split = draw(st.integers(0, len(decisions)))
    return reports, [LinkDecision(a, b, v) for a, b, v in decisions], policy, order, split


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_incremental_equals_batch_in_any_order(world):
    reports, decisions, policy, order, split = world
    batch = link(ReportTable.from_reports(reports), policy, Decisions(decisions)).partition()
    linker = Linker(policy, decisions[:split])
    for k, i in enumerate(order):
        linker.add(reports[i])
        if k == len(order) // 2:
            for d in decisions[split:]:
                linker.decide(d)
    assert linker.partition() == batch
    assert {(c.kind, c.value) for c in linker.common_values()} == \
        {(c.kind, c.value) for c in link(ReportTable.from_reports(reports), policy, Decisions(decisions)).common}


def test_placement_says_group_size_loss_and_identifiers():
    linker = Linker()
    linker.add({"report_id": "R1", "received_at": "2024-05-01T10:00:00+08:00", "loss": "100.00",
                "identifiers": [{"kind": "bank_card", "value": "6222025260181590832"}]})
    p = linker.add({"report_id": "R2", "received_at": "2024-05-01T11:00:00+08:00", "loss": "50.00",
                    "identifiers": [{"kind": "bank_card", "value": "6222 0252 6018 1590 832"},
                                    {"kind": "phone", "value": "95588"}, {"kind": "phone", "value": "95588"}]})
    assert (p.group_id, p.size, p.loss_fen) == ("R1", 2, 15_000)
    assert p.through == (("bank_card", "6222025260181590832", 2),)
    assert linker.group_of("R2") == ["R1", "R2"]
    p3 = linker.add(Report("R3", (("phone", "95588;phone-context=+86"),)))
    assert p3.size == 1 and p3.held_back == (("phone", "95588;phone-context=+86", "listed"),)


def test_a_value_crossing_the_limit_unlinks_what_it_had_joined():
    linker = Linker(CommonPolicy(max_reports=2))
    for i in range(2):
        linker.add(Report(f"R{i}", (("alipay", "2088000000000001"),), T0 + timedelta(hours=i)))
    assert linker.partition() == [["R0", "R1"]]
    linker.add(Report("R2", (("alipay", "2088000000000001"),), T0 + timedelta(hours=2)))
    assert linker.partition() == [["R0"], ["R1"], ["R2"]]


def test_hold_and_decide_change_the_view_not_the_reports():
    linker = Linker()
    r1 = Report("R1", (("qq", "2890145567"),), T0)
    linker.add(r1)
    linker.add(Report("R2", (("qq", "2890145567"),), T0 + timedelta(hours=1)))
    linker.decide(LinkDecision("R1", "R2", Verdict.rejected))
    assert linker.partition() == [["R1"], ["R2"]]
    linker.decide(LinkDecision("R1", "R2", Verdict.confirmed))
    assert linker.partition() == [["R1", "R2"]]
    linker.hold("qq", "2890145567")
    assert linker.partition() == [["R1", "R2"]]        # still confirmed
    assert linker.report("R1") is r1


def test_duplicate_report_is_refused():
    linker = Linker()
    linker.add(Report("R1"))
    with pytest.raises(InputError, match="duplicate"):
        linker.add(Report("R1"))
    with pytest.raises(InputError, match="unknown identifier kind"):
        linker.add({"report_id": "R2", "identifiers": [{"kind": "fax", "value": "1"}]})
    assert len(linker) == 1


def test_many_reports_held_and_more_arriving_give_the_batch_groups():
    """20,000 reports held, 200 more arriving one by one: the groups are the batch's
    (the time an addition takes is measured by ``benchmarks/bench_linking.py``)."""
    held = [Report(f"R{i}", (("phone", f"+86139{i % 5000:08d}"), ("bank_card", f"6222{i % 3000:012d}")))
            for i in range(20_000)]
    arriving = [Report(f"N{i}", (("phone", f"+86139{i:08d}"), ("ip", f"103.1.{i % 250}.1"))) for i in range(200)]
    linker = Linker()
    for r in held + arriving:
        linker.add(r)
    groups = linker.partition()
    assert groups == link(ReportTable.from_reports(held + arriving), CommonPolicy(), Decisions([])).partition()
    assert sum(map(len, groups)) <= len(held) + len(arriving) and any("N0" in g for g in groups)
