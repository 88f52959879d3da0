"""Pairwise precision and recall of "same gang" on generated worlds (target ≥ 0.95).

The worlds have hotlines and big apps in many reports, a platform account and a NAT
address across scam types, card dealers serving two or three gangs, and lone reports.
"""

from gen import make_world, pairwise

from fanzha.linking.batch import ReportTable, link
from fanzha.linking.common import CommonPolicy
from fanzha.linking.gangs import split_gangs


def gangs_of(world, policy):
    lk = link(ReportTable.from_reports(world.reports), policy)
    by_id = {r.report_id: r for r in world.reports}
    out = []
    for group, shared in zip(lk.partition(), lk.shared_by_group()):
        linking = {(s.kind, s.value) for s in shared}
        out += [g.reports for g in split_gangs([by_id[r] for r in group], linking)]
    return lk, out


def test_same_gang_precision_and_recall():
    both = pred = true = 0
    for seed in range(6):
        world = make_world(seed, gangs=60, lone=100, middlemen=5)
        _, gangs = gangs_of(world, CommonPolicy(max_reports=50))
        p, r = pairwise(gangs, world.gang_of)
        # pool the pairs over worlds so small worlds do not dominate
        pairs = sum(len(g) * (len(g) - 1) // 2 for g in gangs)
        pred += pairs
        both += p * pairs
        sizes = {}
        for gng in world.gang_of.values():
            if gng is not None:
                sizes[gng] = sizes.get(gng, 0) + 1
        true += sum(s * (s - 1) // 2 for s in sizes.values())
    precision, recall = both / pred, both / true
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)


def test_common_values_are_found_from_data():
    world = make_world(1, gangs=60, lone=100, middlemen=5)
    lk, _ = gangs_of(world, CommonPolicy(max_reports=50))
    held = {(c.kind, c.value): c.reason for c in lk.common}
    assert held[("alipay", "2088000000000001")] in ("degree", "scam_types")
    assert held[("ip", "120.0.0.1")] in ("degree", "scam_types")
    assert held[("app", "支付宝")] == "listed"
