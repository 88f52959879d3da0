"""Analysts' decisions on links, and how groups respect them.

Links are views, not merges: no report is rewritten because it was linked, and a group
is recomputed from the reports, their identifiers and these decisions whenever it is
asked for. An analyst can *confirm* a link between two reports (they are then always in
one group, even with no identifier in common — a link found by a phone call, say) or
*reject* it (they are then never in one group, whatever they share). The latest
decision on a pair wins, so a rejection can be withdrawn by a later confirmation.

Where rejections apply, the grouping inside one connected component is built greedily
in an order that depends only on the data — confirmed pairs first, then linking values
from the most specific (fewest reports) to the least, each joining its reports in time
order — and a join that would put a rejected pair together is skipped. Batch and
incremental linking call the same :func:`constrained_partition`, so they agree.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime


class Verdict(str, enum.Enum):
    confirmed = "confirmed"
    rejected = "rejected"


@dataclass(frozen=True, slots=True)
class LinkDecision:
    """An analyst's word on whether two reports belong together."""

    a: str
    b: str
    verdict: Verdict
    by: str | None = None
    at: datetime | None = None
    note: str | None = None

    @property
    def pair(self) -> tuple[str, str]:
        return (self.a, self.b) if self.a <= self.b else (self.b, self.a)

    def as_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "verdict": self.verdict.value, "by": self.by,
                "at": self.at.isoformat() if self.at else None, "note": self.note}


class Decisions:
    """The decisions in force: the latest per unordered pair of report IDs."""

    def __init__(self, decisions: Iterable[LinkDecision] = ()) -> None:
        self._latest: dict[tuple[str, str], LinkDecision] = {}
        for d in decisions:
            self.add(d)

    def add(self, d: LinkDecision) -> LinkDecision | None:
        """Record ``d``; return the decision it replaces, if any."""
        if d.a == d.b:
            raise ValueError("a link decision needs two different reports")
        old = self._latest.get(d.pair)
        self._latest[d.pair] = d
        return old

    def __iter__(self):
        return iter(self._latest.values())

    def __len__(self) -> int:
        return len(self._latest)

    def pairs(self, verdict: Verdict) -> list[tuple[str, str]]:
        return sorted(p for p, d in self._latest.items() if d.verdict is verdict)

    def verdict(self, a: str, b: str) -> Verdict | None:
        d = self._latest.get((a, b) if a <= b else (b, a))
        return d.verdict if d else None


def constrained_partition(
    members: Sequence[int],
    sort_key: dict[int, tuple],
    values: Iterable[tuple[tuple, Sequence[int]]],
    confirmed: Iterable[tuple[int, int]],
    rejected: Iterable[tuple[int, int]],
) -> tuple[list[list[int]], list[tuple[int, int]]]:
    """Split one connected component so that no rejected pair shares a group.

    ``members``: the component's reports (any integer labels); ``values``: each linking
    value as ``(order_key, reports)`` where ``order_key`` is ``(n_reports, kind, value)``;
    ``confirmed``/``rejected``: pairs of members. Returns the groups and the confirmed
    pairs that could not be honoured because a rejection forbade them (conflicts)."""
    parent = {m: m for m in members}
    group: dict[int, set[int]] = {m: {m} for m in members}
    against: dict[int, set[int]] = {}
    for a, b in rejected:
        against.setdefault(a, set()).add(b)
        against.setdefault(b, set()).add(a)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def join(a: int, b: int) -> bool:
        ra, rb = find(a), find(b)
        if ra == rb:
            return True
        small, big = (ra, rb) if len(group[ra]) <= len(group[rb]) else (rb, ra)
        if any(against.get(x, ()) and not against[x].isdisjoint(group[big]) for x in group[small]):
            return False
        parent[small] = big
        group[big] |= group.pop(small)
        return True

    conflicts = []
    for a, b in sorted(confirmed, key=lambda p: sorted((sort_key[p[0]], sort_key[p[1]]))):
        if not join(a, b):
            conflicts.append((a, b))
    for _, reps in sorted(values, key=lambda v: v[0]):
        ordered = sorted(reps, key=sort_key.__getitem__)
        for i in range(1, len(ordered)):
            # the earliest report it may join; a report the rejections keep from the
            # first still joins the others that share this value with it
            any(join(q, ordered[i]) for q in ordered[:i])
    return [sorted(g, key=sort_key.__getitem__) for g in group.values()], conflicts
