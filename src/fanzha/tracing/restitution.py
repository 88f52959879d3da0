"""Restitution (原路返还): frozen money back to the victims, by a stated rule.

Input: what institutions actually froze, per account (fen), and the trace that says
whose money sits where. Output: return orders — from a frozen account to a victim's
own account — plus what stays unallocated and why, and a sentence per victim a
court or the victim can follow. Every fen frozen is either in an order or
unallocated; no victim gets more than their loss.

Two modes:

* ``traced`` — each account's frozen money goes to the victims whose money is there,
  in proportion to their holdings there (whole fen: floors, then largest remainders,
  ties by victim id). Frozen money beyond the victims' money there is the holder's
  own and stays unallocated.
* ``pooled`` — all frozen money is one pool shared in proportion to each victim's loss
  (the same whole-fen rule); the orders are then funded from the frozen accounts in
  account order, filling victims in victim order.

Loss. A victim's loss is what they paid (``stolen``) less what the fraudsters paid back
into their own accounts (rebates, the ``to_victims`` money that reached them) — the
net loss; a victim is never returned more than that. What a cap holds back stays
unallocated ("over the victim's loss").

Several own accounts. A victim who paid from several accounts is returned to each in
proportion to what was paid from it (whole fen, ties by account id): the money goes
back the way it came.
"""

from __future__ import annotations

from dataclasses import dataclass

from fanzha.money import format_fen
from fanzha.tracing.engine import Trace, split_fen

MODES = ("traced", "pooled")


@dataclass(frozen=True)
class ReturnOrder:
    victim: str
    from_account: str
    to_account: str
    amount: int


@dataclass(frozen=True)
class Unallocated:
    account: str
    amount: int
    reason: str


@dataclass
class Restitution:
    mode: str
    frozen: dict[str, int]
    loss: dict[str, int]
    returned: dict[str, int]
    orders: list[ReturnOrder]
    unallocated: list[Unallocated]
    explanations: dict[str, str]


def net_loss(trace: Trace) -> dict[str, int]:
    return {v: max(0, s - trace.rebated.get(v, 0)) for v, s in trace.stolen.items()}


def _capped(alloc: dict[str, dict[str, int]], loss: dict[str, int]) -> tuple[dict[str, dict[str, int]],
                                                                              list[tuple[str, int]]]:
    """Cap each victim's allocation (account -> fen) at their loss, taking the excess
    back from their largest sources last-first (account order), and report it."""
    over: list[tuple[str, int]] = []
    by_victim: dict[str, dict[str, int]] = {}
    for acct in sorted(alloc):
        for v, x in alloc[acct].items():
            by_victim.setdefault(v, {})[acct] = x
    for v in sorted(by_victim):
        got = by_victim[v]
        excess = sum(got.values()) - loss.get(v, 0)
        for acct in sorted(got, reverse=True):
            if excess <= 0:
                break
            cut = min(excess, got[acct])
            got[acct] -= cut
            alloc[acct][v] -= cut
            over.append((acct, cut))
            excess -= cut
    return alloc, over


def plan_restitution(trace: Trace, frozen: dict[str, int], *, mode: str = "traced") -> Restitution:
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}: one of {', '.join(MODES)}")
    for acct, fen in frozen.items():
        if fen < 0:
            raise ValueError(f"frozen amount of {acct} is negative")
    loss = net_loss(trace)
    unalloc: list[Unallocated] = []
    alloc: dict[str, dict[str, int]] = {}   # frozen account -> victim -> fen
    if mode == "traced":
        for acct in sorted(frozen):
            f = frozen[acct]
            held = {v: x for v, x in trace.holdings.get(acct, {}).items() if x > 0}
            total = sum(held.values())
            if not f:
                continue
            if not total:
                unalloc.append(Unallocated(acct, f, "no victims' money traced to this account"))
                continue
            share = min(f, total)
            alloc[acct] = split_fen(share, dict(sorted(held.items())))
            if f > total:
                unalloc.append(Unallocated(acct, f - total, "frozen beyond the victims' money there"))
    else:
        pool = sum(frozen.values())
        owed = {v: x for v, x in sorted(loss.items()) if x > 0}
        give = split_fen(min(pool, sum(owed.values())), owed) if owed and pool else {}
        # Fund each victim's share from the frozen accounts in account order.
        need = [(v, x) for v, x in give.items() if x > 0]
        vi = 0
        for acct in sorted(frozen):
            left = frozen[acct]
            while left and vi < len(need):
                v, x = need[vi]
                take = min(left, x)
                alloc.setdefault(acct, {})[v] = alloc.get(acct, {}).get(v, 0) + take
                left -= take
                x -= take
                need[vi] = (v, x)
                if not x:
                    vi += 1
            if left:
                unalloc.append(Unallocated(acct, left, "pool larger than the victims' losses"
                                           if owed else "no victim with a loss"))
    alloc, over = _capped(alloc, loss)
    for acct, cut in over:
        unalloc.append(Unallocated(acct, cut, "over the victim's loss"))
    orders: list[ReturnOrder] = []
    returned: dict[str, int] = {v: 0 for v in trace.stolen}
    for acct in sorted(alloc):
        for v in sorted(alloc[acct]):
            x = alloc[acct][v]
            if x <= 0:
                continue
            returned[v] = returned.get(v, 0) + x
            own = trace.victim_accounts.get(v) or {}
            parts = split_fen(x, dict(sorted(own.items()))) if own else {"": x}
            for to_acct, part in parts.items():
                if part:
                    orders.append(ReturnOrder(v, acct, to_acct, part))
    explanations = {v: _explain(trace, v, loss[v], returned.get(v, 0), alloc, mode) for v in sorted(trace.stolen)}
    return Restitution(mode=mode, frozen=dict(sorted(frozen.items())), loss=loss, returned=returned,
                       orders=orders, unallocated=_merge(unalloc), explanations=explanations)


def _merge(items: list[Unallocated]) -> list[Unallocated]:
    out: dict[tuple[str, str], int] = {}
    for u in items:
        out[(u.account, u.reason)] = out.get((u.account, u.reason), 0) + u.amount
    return [Unallocated(a, x, r) for (a, r), x in sorted(out.items()) if x]


def _explain(trace: Trace, v: str, loss: int, got: int, alloc: dict[str, dict[str, int]], mode: str) -> str:
    f = format_fen
    stolen, rebated = trace.stolen[v], trace.rebated.get(v, 0)
    text = f"{v} paid {f(stolen)}"
    if rebated:
        text += f" and got {f(rebated)} back from the fraudsters, a net loss of {f(loss)}"
    text += ". "
    sources = [(a, alloc[a][v]) for a in sorted(alloc) if alloc[a].get(v, 0) > 0]
    if mode == "traced":
        held = {a: h[v] for a, h in trace.holdings.items() if h.get(v)}
        text += (f"The trace ({trace.rule}) finds {f(sum(held.values()))} of {v}'s money in "
                 f"{len(held)} account(s). ")
        if sources:
            text += "From the frozen money, " + "; ".join(
                f"{a} returns {f(x)} ({v}'s share of the victims' money there)" for a, x in sources) + ". "
    else:
        text += (f"All frozen money is shared in proportion to the victims' net losses; {v}'s share "
                 f"is {f(got)}. ")
    own = trace.victim_accounts.get(v, {})
    text += f"Returned {f(got)} of {f(loss)}"
    if got and own:
        text += " to " + ", ".join(own)
    return text + "."


def restitution_json(r: Restitution) -> dict:
    f = format_fen
    return {
        "mode": r.mode,
        "frozen": {a: f(x) for a, x in r.frozen.items()},
        "total_frozen": f(sum(r.frozen.values())),
        "total_returned": f(sum(o.amount for o in r.orders)),
        "total_unallocated": f(sum(u.amount for u in r.unallocated)),
        "victims": {v: {"loss": f(r.loss[v]), "returned": f(r.returned.get(v, 0)),
                        "explanation": r.explanations[v]} for v in sorted(r.loss)},
        "orders": [{"victim": o.victim, "from_account": o.from_account, "to_account": o.to_account,
                    "amount": f(o.amount)} for o in r.orders],
        "unallocated": [{"account": u.account, "amount": f(u.amount), "reason": u.reason} for u in r.unallocated],
    }
