"""A slow, obvious tracer for the tests: plain lists of lots, Fraction shares, every
row replayed, nothing merged, nothing skipped. The engine must agree with it."""

from __future__ import annotations

from fractions import Fraction
from math import floor

CLEAN = ""


def whole_fen(amount: int, weights: dict[str, int]) -> dict[str, int]:
    total = sum(weights.values())
    exact = {k: Fraction(amount * w, total) for k, w in weights.items()}
    out = {k: floor(x) for k, x in exact.items()}
    left = amount - sum(out.values())
    for k in sorted(exact, key=lambda k: (-(exact[k] - out[k]), k))[:left]:
        out[k] += 1
    return out


def draw(lots: list[list], amount: int, rule: str) -> list[tuple[str, int]]:
    """Take ``amount`` from ``lots`` (oldest first) by ``rule``; returns what was taken."""
    if rule in ("fifo", "lifo"):
        order = range(len(lots)) if rule == "fifo" else range(len(lots) - 1, -1, -1)
        taken, need = [], amount
        for i in order:
            if not need:
                break
            t = min(need, lots[i][1])
            if t:
                lots[i][1] -= t
                taken.append((lots[i][0], t))
                need -= t
        assert need == 0
    else:
        per: dict[str, int] = {}
        for o, a in lots:
            if a:
                per[o] = per.get(o, 0) + a
        if rule == "pro-rata":
            shares = whole_fen(amount, per)
        else:
            c = min(per.get(CLEAN, 0), amount)
            shares = {CLEAN: c}
            victims = {o: a for o, a in per.items() if o != CLEAN}
            if amount - c:
                shares.update(whole_fen(amount - c, victims))
        taken = []
        for o, s in shares.items():
            left = s
            for lot in lots:          # take an owner's share from its lots, oldest first
                if lot[0] == o and left:
                    t = min(left, lot[1])
                    lot[1] -= t
                    left -= t
            assert left == 0
            if s:
                taken.append((o, s))
    lots[:] = [l for l in lots if l[1]]
    return taken


def reference_trace(rows, victims: dict[str, str], opening: dict[str, int], rule: str, end: int | None = None):
    """``rows``: (txn_id, from, to, fen) in replay order; ``victims``: txn_id -> victim.
    Returns (holdings, cash_outs, to_victims, stolen, raised accounts)."""
    victim_acct = {r[1] for r in rows if r[0] in victims}
    bal, low = {}, {}
    for tid, src, dst, fen in rows:
        if src == dst:
            continue
        if src:
            bal[src] = bal.get(src, opening.get(src, 0)) - fen
            low[src] = min(low.get(src, 0), bal[src])
        if dst:
            bal[dst] = bal.get(dst, opening.get(dst, 0)) + fen
    start = {a: opening.get(a, 0) - min(low.get(a, 0), 0) for a in set(bal) | set(opening)}
    raised = {a for a in start if start[a] > opening.get(a, 0)}
    lots = {a: ([[CLEAN, x]] if x else []) for a, x in start.items()}
    stolen: dict[str, int] = {}
    cash, back = [], []
    for tid, src, dst, fen in rows[:end]:
        if tid in victims:
            v = victims[tid]
            stolen[v] = stolen.get(v, 0) + fen
            moved = [(v, fen)]
        elif src == dst:
            continue
        elif not src or src in victim_acct:
            moved = [(CLEAN, fen)]
        else:
            moved = draw(lots[src], fen, rule)
        vict = {}
        for o, a in moved:
            if o:
                vict[o] = vict.get(o, 0) + a
        if not dst:
            if vict:
                cash.append((tid, src, vict))
        elif dst in victim_acct:
            if vict and (tid in victims or (src and src not in victim_acct)):
                back.append((tid, src, dst, vict))
        else:
            lots[dst].extend([o, a] for o, a in moved)
    holdings = {}
    for a, ls in lots.items():
        h = {}
        for o, x in ls:
            if o and x:
                h[o] = h.get(o, 0) + x
        if h:
            holdings[a] = h
    return holdings, cash, back, stolen, raised
