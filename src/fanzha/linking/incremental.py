"""Linking one new report against everything seen so far, in memory, in milliseconds.

Every new report must be checked against all others at once (the centre's question is
"does this belong to a gang we know?", asked while the victim is still on the line).
:class:`Linker` keeps an index ``(kind, value) -> reports`` and a union-find over reports;
adding a report touches only its own identifiers, so the cost does not grow with the
number of reports held.

It gives exactly the groups :func:`fanzha.linking.batch.link` gives for the same reports,
decisions and policy, whatever the order of arrival:

* a value that becomes too common (its degree or scam-type count crosses the policy's
  limit) stops linking; the one component it had joined is rebuilt from the index,
  because union-find cannot undo a union;
* analysts' decisions are views: a confirmed pair is one more edge, a rejected pair
  makes its component be split by :func:`fanzha.linking.decisions.constrained_partition`
  when the component is read, never by changing what is stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from fanzha.errors import InputError
from fanzha.linking.common import CommonPolicy, CommonValue
from fanzha.linking.decisions import Decisions, LinkDecision, Verdict, constrained_partition
from fanzha.linking.reports import Report, parse_report


@dataclass(slots=True)
class _Value:
    rows: list[int] = field(default_factory=list)
    types: dict[str, int] = field(default_factory=dict)
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a newly added report landed: "links to group G (n reports, total loss,
    through which identifiers)". ``group_id`` is the ID of the group's earliest report,
    which stays the group's name until an earlier report joins it."""

    report_id: str
    group_id: str
    size: int
    loss_fen: int
    through: tuple[tuple[str, str, int], ...]   # (kind, value, reports sharing it)
    held_back: tuple[tuple[str, str, str], ...]  # (kind, value, reason) not used to link


class Linker:
    """Incremental linking (see the module docstring)."""

    def __init__(self, policy: CommonPolicy | None = None, decisions: Iterable[LinkDecision] = ()) -> None:
        self.policy = policy if policy is not None else CommonPolicy()
        self.decisions = Decisions()
        self._reports: list[Report] = []
        self._row: dict[str, int] = {}
        self._values: dict[tuple[str, str], _Value] = {}
        self._parent: list[int] = []
        self._members: dict[int, list[int]] = {}
        self._loss: dict[int, int] = {}
        self._anchor: dict[int, int] = {}
        self._confirmed: dict[int, set[int]] = {}
        self._rejected: dict[int, set[int]] = {}
        self._split_cache: dict[int, list[list[int]]] = {}
        self._waiting: dict[str, list[LinkDecision]] = {}
        for d in decisions:
            self.decide(d)

    # ------------------------------------------------------------------ reading

    def __len__(self) -> int:
        return len(self._reports)

    def __contains__(self, report_id: str) -> bool:
        return report_id in self._row

    def report(self, report_id: str) -> Report:
        return self._reports[self._row[report_id]]

    def group_of(self, report_id: str) -> list[str]:
        """The report IDs of ``report_id``'s group, earliest first."""
        row = self._row[report_id]
        for g in self._subgroups(self._find(row)):
            if row in g:
                return [self._reports[r].report_id for r in g]
        raise AssertionError("unreachable")

    def partition(self) -> list[list[str]]:
        """Every group, each earliest report first, groups ordered by their earliest
        report — the same lists :meth:`fanzha.linking.batch.Linking.partition` gives."""
        groups = [g for root in list(self._members) for g in self._subgroups(root)]
        groups.sort(key=lambda g: self._key(g[0]))
        return [[self._reports[r].report_id for r in g] for g in groups]

    def common_values(self) -> list[CommonValue]:
        """The values held back from linking, most reports first."""
        out = [CommonValue(k, v, len(e.rows), len(e.types), e.reason)
               for (k, v), e in self._values.items() if e.reason is not None and len(e.rows) >= 2]
        return sorted(out, key=lambda c: (-c.reports, c.kind, c.value))

    # ------------------------------------------------------------------ writing

    def add(self, report: Report | Mapping) -> Placement:
        """Link one new report; return where it landed.

        ``report`` may be a decoded ``reports.jsonl`` object; it is then checked as the
        file reader checks it (:class:`InputError` naming the field)."""
        if not isinstance(report, Report):
            report = parse_report(report)
        if report.report_id in self._row:
            raise InputError(f"duplicate report_id {report.report_id!r}", field="report_id")
        row = len(self._reports)
        self._reports.append(report)
        self._row[report.report_id] = row
        self._parent.append(row)
        self._members[row] = [row]
        self._loss[row] = report.loss_fen
        self._anchor[row] = row
        crossed: list[int] = []
        linking: list[_Value] = []
        for kind, value in report.identifiers:
            e = self._values.get((kind, value))
            if e is None:
                e = self._values[(kind, value)] = _Value()
            was = e.reason
            e.rows.append(row)
            if report.scam_type:
                e.types[report.scam_type] = e.types.get(report.scam_type, 0) + 1
            e.reason = self.policy.reason(kind, value, len(e.rows), len(e.types))
            if e.reason is None:
                linking.append(e)
            elif was is None and len(e.rows) > 2:
                crossed.append(e.rows[0])      # it had joined the earlier reports
        self._attach_decisions(row)
        for e in linking:
            if len(e.rows) >= 2:
                self._union(row, e.rows[0])
        for other in self._confirmed.get(row, ()):
            self._union(row, other)
        if crossed:
            self._rebuild({self._find(r) for r in crossed} | {self._find(row)})
        return self._placement(row)

    def decide(self, decision: LinkDecision) -> None:
        """Record an analyst's decision; the groups it touches change from the next read."""
        self.decisions.add(decision)
        self._waiting.setdefault(decision.a, []).append(decision)
        self._waiting.setdefault(decision.b, []).append(decision)
        a, b = self._row.get(decision.a), self._row.get(decision.b)
        if a is None or b is None:
            return                                  # applied when both reports are here
        self._confirmed.get(a, set()).discard(b)
        self._confirmed.get(b, set()).discard(a)
        self._rejected.get(a, set()).discard(b)
        self._rejected.get(b, set()).discard(a)
        if decision.verdict is Verdict.confirmed:
            self._confirmed.setdefault(a, set()).add(b)
            self._confirmed.setdefault(b, set()).add(a)
        else:
            self._rejected.setdefault(a, set()).add(b)
            self._rejected.setdefault(b, set()).add(a)
        # a withdrawn confirmation may have been the only tie: rebuild, which also re-unions
        self._rebuild({self._find(a), self._find(b)})

    def hold(self, kind: str, value: str, why: str = "held by an analyst") -> None:
        """Put a value on the warning list from now on (it stops linking at once)."""
        listed = dict(self.policy.listed)
        listed[(kind, value)] = why
        self.policy = CommonPolicy(self.policy.max_reports, self.policy.max_scam_types, listed,
                                   self.policy.trusted, self.policy.hold_private_ips)
        e = self._values.get((kind, value))
        if e is not None and e.reason is None:
            e.reason = self.policy.static_reason(kind, value)
            if e.rows:
                self._rebuild({self._find(r) for r in e.rows})

    # ------------------------------------------------------------------ internals

    def _key(self, row: int) -> tuple[int, str]:
        return self._reports[row].sort_key

    def _attach_decisions(self, row: int) -> None:
        rid = self._reports[row].report_id
        for d in self._waiting.pop(rid, ()):
            if self.decisions.verdict(d.a, d.b) is d.verdict:
                other = self._row.get(d.b if d.a == rid else d.a)
                if other is None:
                    self._waiting.setdefault(rid, []).append(d)   # kept for a re-add after a reload
                    continue
                adj = self._confirmed if d.verdict is Verdict.confirmed else self._rejected
                adj.setdefault(row, set()).add(other)
                adj.setdefault(other, set()).add(row)

    def _find(self, x: int) -> int:
        parent = self._parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def _union(self, a: int, b: int) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra == rb:
            return
        if len(self._members[ra]) < len(self._members[rb]):
            ra, rb = rb, ra
        self._parent[rb] = ra
        self._members[ra].extend(self._members.pop(rb))
        self._loss[ra] += self._loss.pop(rb)
        anchor_b = self._anchor.pop(rb)
        if self._key(anchor_b) < self._key(self._anchor[ra]):
            self._anchor[ra] = anchor_b
        self._split_cache.pop(ra, None)
        self._split_cache.pop(rb, None)

    def _rebuild(self, roots: set[int]) -> None:
        """Recompute the components ``roots`` from the index and confirmed pairs."""
        rows = [r for root in roots for r in self._members.pop(root)]
        for root in roots:
            self._loss.pop(root, None)
            self._anchor.pop(root, None)
            self._split_cache.pop(root, None)
        for r in rows:
            self._parent[r] = r
            self._members[r] = [r]
            self._loss[r] = self._reports[r].loss_fen
            self._anchor[r] = r
        for r in rows:
            for key in self._reports[r].identifiers:
                e = self._values[key]
                if e.reason is None and len(e.rows) >= 2:
                    self._union(r, e.rows[0])
            for other in self._confirmed.get(r, ()):
                self._union(r, other)

    def _has_rejection(self, root: int) -> bool:
        """Whether a rejected pair lies inside the component (cost: the number of
        rejections, not the size of the component)."""
        if len(self._members[root]) < 2:
            return False
        return any(self._find(a) == root and any(self._find(b) == root for b in others)
                   for a, others in self._rejected.items() if others)

    def _subgroups(self, root: int) -> list[list[int]]:
        """The groups of one component: itself, or its split where rejections apply."""
        members = self._members[root]
        if not self._has_rejection(root):
            return [sorted(members, key=self._key)]
        cached = self._split_cache.get(root)
        if cached is not None:
            return cached
        inside = set(members)
        values: dict[tuple[str, str], list[int]] = {}
        for m in members:
            for key in self._reports[m].identifiers:
                e = self._values[key]
                if e.reason is None and len(e.rows) >= 2:
                    values[key] = e.rows
        vals = [((len(rows), k, v), rows) for (k, v), rows in values.items()]
        conf = [(a, b) for a in members for b in self._confirmed.get(a, ()) if a < b]
        rej = [(a, b) for a in members for b in self._rejected.get(a, ()) if a < b and b in inside]
        groups, _ = constrained_partition(members, {m: self._key(m) for m in members}, vals, conf, rej)
        groups.sort(key=lambda g: self._key(g[0]))
        self._split_cache[root] = groups
        return groups

    def _placement(self, row: int) -> Placement:
        root = self._find(row)
        rep = self._reports[row]
        through, held = [], []
        for kind, value in rep.identifiers:
            e = self._values[(kind, value)]
            if e.reason is not None:
                if len(e.rows) >= 2:
                    held.append((kind, value, e.reason))
            elif len(e.rows) >= 2:
                through.append((kind, value, len(e.rows)))
        if not self._has_rejection(root):
            return Placement(rep.report_id, self._reports[self._anchor[root]].report_id,
                             len(self._members[root]), self._loss[root], tuple(through), tuple(held))
        g = next(g for g in self._subgroups(root) if row in g)
        return Placement(rep.report_id, self._reports[g[0]].report_id, len(g),
                         sum(self._reports[r].loss_fen for r in g), tuple(through), tuple(held))
