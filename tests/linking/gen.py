"""A small world of reports with known gangs, for tests of linking quality.

Gangs each run one scam script with their own pools of phones, collection cards,
sites, chat accounts and a den's IP block; every report carries a few of its gang's
identifiers. To make linking hard the world also has what real data has: bank and
platform hotlines and big apps in many reports, a payment platform's collection account
and a public NAT address seen across scam types, "middlemen" (a card dealer's account
used by two or three gangs), and lone reports that link to nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from fanzha.linking.reports import SCAM_TYPES, Report

_TYPES = [t for t in SCAM_TYPES if t not in ("other_fraud", "not_fraud")]
_COMMON = [("phone", "95588;phone-context=+86"), ("app", "支付宝"), ("app", "微信"),
           ("phone", "96110;phone-context=+86")]


@dataclass
class World:
    reports: list[Report]
    gang_of: dict[str, int | None]      # report ID -> gang (None: a lone report)
    middlemen: list[tuple[str, str]]


def make_world(seed: int = 0, gangs: int = 20, lone: int = 30, middlemen: int = 3) -> World:
    rng = random.Random(seed)
    t0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
    reports: list[Report] = []
    gang_of: dict[str, int | None] = {}
    platform = ("alipay", "2088000000000001")     # a payment platform's collection account
    nat_ip = ("ip", "120.0.0.1")                  # a carrier NAT address
    pools = []
    for g in range(gangs):
        den = f"103.{rng.randint(1, 250)}.{rng.randint(0, 255)}"
        pools.append({
            "type": rng.choice(_TYPES),
            "phone": [f"+8617{rng.randint(0, 10**9 - 1):09d}" for _ in range(rng.randint(1, 3))],
            "bank_card": [f"62{rng.randint(0, 10**17 - 1):017d}" for _ in range(rng.randint(1, 4))],
            "url": [f"http://{g}x{rng.randint(0, 9999)}.top/" for _ in range(rng.randint(0, 2))],
            "wechat": [f"wxid_{g}_{rng.randint(0, 99999)}" for _ in range(rng.randint(0, 2))],
            "ip": [f"{den}.{rng.randint(1, 254)}" for _ in range(rng.randint(1, 3))],
        })
    dealers = [("bank_card", f"621{rng.randint(0, 10**16 - 1):016d}") for _ in range(middlemen)]
    dealer_gangs = {d: rng.sample(range(gangs), min(gangs, rng.randint(2, 3))) for d in dealers}
    n = 0
    for g, pool in enumerate(pools):
        for _ in range(rng.randint(3, 15)):
            ids: list[tuple[str, str]] = []
            kinds = [k for k in ("phone", "bank_card", "url", "wechat", "ip") if pool[k]]
            for k in rng.sample(kinds, min(len(kinds), rng.randint(2, 3))):
                ids.append((k, rng.choice(pool[k])))
            if rng.random() < 0.4:
                ids.append(rng.choice(_COMMON))
            if rng.random() < 0.1:
                ids.append(platform)
            if rng.random() < 0.1:
                ids.append(nat_ip)
            scam = pool["type"] if rng.random() < 0.9 else rng.choice(_TYPES)
            rid = f"R{n:05d}"
            n += 1
            reports.append(Report(rid, tuple(dict.fromkeys(ids)), t0 + timedelta(minutes=rng.randint(0, 10**5)),
                                  scam, rng.randint(1, 10**7)))
            gang_of[rid] = g
    # each dealer's account turns up in one report of each gang it serves
    by_gang: dict[int, list[int]] = {}
    for i, r in enumerate(reports):
        by_gang.setdefault(gang_of[r.report_id], []).append(i)
    for d, gs in dealer_gangs.items():
        for g in gs:
            i = rng.choice(by_gang[g])
            r = reports[i]
            reports[i] = Report(r.report_id, r.identifiers + (d,), r.received_at, r.scam_type, r.loss_fen)
    for _ in range(lone):
        ids = [("phone", f"+8613{rng.randint(0, 10**9 - 1):09d}")]
        if rng.random() < 0.5:
            ids.append(rng.choice(_COMMON))
        if rng.random() < 0.3:
            ids.append(platform)
        if rng.random() < 0.3:
            ids.append(nat_ip)
        rid = f"R{n:05d}"
        n += 1
        reports.append(Report(rid, tuple(dict.fromkeys(ids)), t0 + timedelta(minutes=rng.randint(0, 10**5)),
                              rng.choice(_TYPES), rng.randint(1, 10**6)))
        gang_of[rid] = None
    rng.shuffle(reports)
    return World(reports, gang_of, dealers)


def pairwise(groups: list[list[str]], truth: dict[str, int | None]) -> tuple[float, float]:
    """Pairwise precision and recall of "same gang" (lone reports are their own gang)."""
    pred_pairs = sum(len(g) * (len(g) - 1) // 2 for g in groups)
    true_pairs = 0
    sizes: dict[int, int] = {}
    for gang in truth.values():
        if gang is not None:
            sizes[gang] = sizes.get(gang, 0) + 1
    true_pairs = sum(s * (s - 1) // 2 for s in sizes.values())
    both = 0
    for g in groups:
        counts: dict[int, int] = {}
        for r in g:
            if truth[r] is not None:
                counts[truth[r]] = counts.get(truth[r], 0) + 1
        both += sum(c * (c - 1) // 2 for c in counts.values())
    return (both / pred_pairs if pred_pairs else 1.0), (both / true_pairs if true_pairs else 1.0)
