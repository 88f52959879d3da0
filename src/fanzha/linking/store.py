"""Linking over the store: a case's group, computed on demand from the identifier index.

Nothing pairwise is kept (DESIGN.md: "index identifiers and link on demand"). A case's
group is found by walking the ``(kind, value)`` index outwards from the case: its
identifiers, the other cases naming those that may link (not on the warning list, not
too common *across the whole store*), their identifiers, and so on, plus analysts'
confirmed links. The cases reached are then linked by :func:`fanzha.linking.batch.link`
with the analysts' decisions, so rejections split the group exactly as in the batch
core, and the values held back during the walk stay held back.

The unit of linking here is the *case*: a case's reports are already one fraud, so the
case carries the union of its reports' identifiers. Reports not yet in a case are not
linked. A group is named ``G-<case number of its earliest case>``.

Links are views: nothing here writes to a case or a report. The only writes are the
analysts' decisions (:func:`decide`, append-only) and indicators shared by other
platforms (:func:`keep_shared`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.orm import Session, selectinload

from fanzha.linking.batch import ReportTable, link
from fanzha.linking.common import CommonPolicy
from fanzha.linking.decisions import Decisions, LinkDecision, Verdict
from fanzha.linking.gangs import Holder
from fanzha.linking.identifiers import IdentifierError, normalise_identifier
from fanzha.linking.reports import SCAM_INDEX, Report
from fanzha.linking.stix import SharedIdentifier
from fanzha.money import parse_yuan
from fanzha.store.models import Case, CaseLinkDecision, Identifier, Order, SharedIndicator
from fanzha.store.models import Report as ReportRow
from fanzha.store.types import utcnow

#: A walk that reaches more cases than this stops, and the group says it is truncated.
MAX_GROUP_CASES = 5000
_CHUNK = 400  # values or ids per IN (...) list
_NEW = "\x00new"  # the pseudo-case of a report being checked before it is filed


@dataclass
class StoreGroup:
    """A case's (or a new report's) group as the store shows it now."""

    group_id: str
    cases: list[Case]                                   # in time order
    units: list[Report]                                 # the same, as linking sees them
    shared: list[dict]                                  # {kind, value, cases}
    held_back: list[dict]                               # {kind, value, reports, scam_types, reason}
    confirmed: list[tuple[str, str]] = field(default_factory=list)
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    truncated: bool = False

    @property
    def case_nos(self) -> list[str]:
        return [c.case_no for c in self.cases]

    @property
    def loss_fen(self) -> int:
        return sum(c.loss_fen for c in self.cases)

    def held_map(self) -> dict[tuple[str, str], str]:
        return {(h["kind"], h["value"]): h["reason"] for h in self.held_back}


def _chunks(items: Sequence, n: int = _CHUNK):
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _norm(kind: str, value: str) -> tuple[str, str] | None:
    try:
        return normalise_identifier(kind, value)
    except IdentifierError:
        return None


def _identifiers_of(session: Session, case_ids: Iterable[int]) -> dict[int, set[tuple[str, str]]]:
    """Stored ``(kind, value)`` pairs per case."""
    out: dict[int, set[tuple[str, str]]] = {}
    ids = sorted(set(case_ids))
    for chunk in _chunks(ids):
        q = (select(ReportRow.case_id, Identifier.kind, Identifier.value)
             .join(Identifier, Identifier.report_id == ReportRow.id).where(ReportRow.case_id.in_(chunk)))
        for cid, kind, value in session.execute(q):
            out.setdefault(cid, set()).add((kind, value))
    return out


def _value_stats(session: Session, values: Sequence[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int]]:
    """``(kind, value) -> (reports, scam types)`` over the whole store."""
    out = {}
    for chunk in _chunks(list(values)):
        q = (select(Identifier.kind, Identifier.value, func.count(func.distinct(ReportRow.id)),
                    func.count(func.distinct(ReportRow.scam_type)))
             .join(ReportRow, Identifier.report_id == ReportRow.id)
             .where(tuple_(Identifier.kind, Identifier.value).in_(chunk))
             .group_by(Identifier.kind, Identifier.value))
        for kind, value, n, t in session.execute(q):
            out[(kind, value)] = (int(n), int(t))
    return out


def _cases_naming(session: Session, values: Sequence[tuple[str, str]]) -> set[int]:
    out: set[int] = set()
    for chunk in _chunks(list(values)):
        q = (select(ReportRow.case_id).join(Identifier, Identifier.report_id == ReportRow.id)
             .where(tuple_(Identifier.kind, Identifier.value).in_(chunk), ReportRow.case_id.is_not(None))
             .distinct())
        out |= set(session.execute(q).scalars())
    return out


def _decision_rows(session: Session, case_ids: Iterable[int]) -> list[CaseLinkDecision]:
    ids = sorted(set(case_ids))
    rows: dict[int, CaseLinkDecision] = {}
    for chunk in _chunks(ids):
        q = select(CaseLinkDecision).where(or_(CaseLinkDecision.case_a_id.in_(chunk),
                                               CaseLinkDecision.case_b_id.in_(chunk)))
        for d in session.execute(q).scalars():
            rows[d.id] = d
    return [rows[k] for k in sorted(rows)]


def _decisions(rows: Iterable[CaseLinkDecision]) -> Decisions:
    return Decisions(LinkDecision(d.case_a.case_no, d.case_b.case_no, Verdict(d.verdict), d.decided_by,
                                  d.decided_at, d.note) for d in rows)


def _unit(case: Case, identifiers: set[tuple[str, str]]) -> Report:
    """A case as linking sees it: its reports' identifiers, earliest time, scam type, loss."""
    keys = {k for k in (_norm(kind, value) for kind, value in identifiers) if k is not None}
    times = [r.received_at for r in case.reports if r.received_at is not None]
    district = next((r.district for r in case.reports if r.district), None)
    scam = case.scam_type if case.scam_type in SCAM_INDEX else None
    return Report(case.case_no, tuple(sorted(keys)), min(times) if times else case.opened_at, scam,
                  case.loss_fen, district)


def _walk(session: Session, seed_cases: set[int], seed_values: set[tuple[str, str]], policy: CommonPolicy,
          max_cases: int) -> tuple[set[int], dict[tuple[str, str], dict], dict[int, set[tuple[str, str]]], bool]:
    """Cases reachable from the seeds through values that may link and confirmed links."""
    cases: set[int] = set(seed_cases)
    seen: set[tuple[str, str]] = set()
    held: dict[tuple[str, str], dict] = {}
    idents: dict[int, set[tuple[str, str]]] = {}
    frontier_cases, frontier_values = set(seed_cases), set(seed_values)
    truncated = False
    while frontier_cases or frontier_values:
        got = _identifiers_of(session, frontier_cases)
        idents.update(got)
        for vals in got.values():
            frontier_values |= vals
        new_values = sorted(frontier_values - seen)
        seen |= frontier_values
        stats = _value_stats(session, new_values)
        linking = []
        for kind, value in new_values:
            n, t = stats.get((kind, value), (0, 0))
            key = _norm(kind, value) or (kind, value)
            why = policy.reason(key[0], key[1], n, t)
            if why is not None:
                held[(kind, value)] = {"kind": key[0], "value": key[1], "reports": n, "scam_types": t, "reason": why}
            else:
                linking.append((kind, value))
        reached = _cases_naming(session, linking)
        latest: dict[tuple[int, int], str] = {}
        for d in _decision_rows(session, frontier_cases):
            latest[(min(d.case_a_id, d.case_b_id), max(d.case_a_id, d.case_b_id))] = d.verdict
        for pair, verdict in latest.items():  # a confirmed link joins; rejections are settled by link()
            if verdict == Verdict.confirmed.value:
                reached |= set(pair)
        new_cases = reached - cases
        if len(cases) + len(new_cases) > max_cases:
            new_cases = set(sorted(new_cases)[:max(0, max_cases - len(cases))])
            truncated = True
        cases |= new_cases
        frontier_cases, frontier_values = new_cases, set()
        if truncated:
            idents.update(_identifiers_of(session, new_cases))
            break
    return cases, held, idents, truncated


def group(session: Session, *, case: Case | None = None, identifiers: Sequence[tuple[str, str]] = (),
          policy: CommonPolicy | None = None, max_cases: int = MAX_GROUP_CASES) -> StoreGroup:
    """The group of a stored ``case``, or of a new report with these ``identifiers``.

    A new report is linked as if filed now, without filing it: its group holds the cases
    it would join (and not the report itself)."""
    policy = policy or CommonPolicy()
    seed_values: set[tuple[str, str]] = set()
    new_keys: set[tuple[str, str]] = set()
    for i, (kind, value) in enumerate(identifiers):
        key = normalise_identifier(kind, value, field=f"identifiers[{i}]")
        new_keys.add(key)
        seed_values |= {key, (kind, value)}
    case_ids, held, idents, truncated = _walk(session, {case.id} if case else set(), seed_values, policy, max_cases)
    rows = {c.id: c for chunk in _chunks(sorted(case_ids))
            for c in session.execute(select(Case).options(selectinload(Case.reports))
                                     .where(Case.id.in_(chunk))).scalars()}
    units = [_unit(rows[cid], idents.get(cid, set())) for cid in sorted(rows)]
    if case is None:
        units.append(Report(_NEW, tuple(sorted(new_keys)), utcnow(), None, 0, None))
    held_keys = {(h["kind"], h["value"]): h["reason"] for h in held.values()}
    sub_policy = CommonPolicy(policy.max_reports, policy.max_scam_types, {**policy.listed, **held_keys},
                              policy.trusted, policy.hold_private_ips)
    decided = _decisions(_decision_rows(session, case_ids))
    lk = link(ReportTable.from_reports(units), sub_policy, decided)
    me = case.case_no if case else _NEW
    parts = lk.partition()
    g = next(i for i, p in enumerate(parts) if me in p)
    members = [rid for rid in parts[g] if rid != _NEW]
    by_no = {c.case_no: c for c in rows.values()}
    unit_by_no = {u.report_id: u for u in units}
    shared = [{"kind": s.kind, "value": s.value, "cases": [r for r in s.report_ids if r != _NEW]}
              for s in lk.shared_by_group()[g]]
    inside = set(parts[g])
    confirmed = [p for p in lk.confirmed if p[0] in inside]
    conflicts = [p for p in lk.conflicts if p[0] in inside or p[1] in inside]
    group_keys = {k for rid in parts[g] for k in unit_by_no[rid].identifiers}
    held_list = sorted((h for h in held.values() if (h["kind"], h["value"]) in group_keys),
                       key=lambda h: (-h["reports"], h["kind"], h["value"]))
    gid = f"G-{members[0]}" if members else "G-new"
    return StoreGroup(gid, [by_no[n] for n in members], [unit_by_no[n] for n in members], shared, held_list,
                      confirmed, conflicts, truncated)


# ------------------------------------------------------------------------ decisions

def decide(session: Session, a: Case, b: Case, verdict: Verdict, *, by: str, note: str = "",
           at: datetime | None = None) -> CaseLinkDecision:
    """Record an analyst's decision on two cases (a new row; the latest one is in force)."""
    if a.id == b.id:
        raise ValueError("a link decision needs two different cases")
    row = CaseLinkDecision(case_a=a, case_b=b, verdict=verdict.value, decided_by=by, note=note,
                           decided_at=at or utcnow())
    session.add(row)
    session.flush()
    return row


def decisions_of(session: Session, case: Case) -> list[dict]:
    """Every decision naming ``case``, oldest first, with whether it is still in force."""
    rows = _decision_rows(session, [case.id])
    latest: dict[tuple[int, int], int] = {}
    for d in rows:
        latest[tuple(sorted((d.case_a_id, d.case_b_id)))] = d.id
    return [{"id": d.id, "a": d.case_a.case_no, "b": d.case_b.case_no, "verdict": d.verdict, "by": d.decided_by,
             "at": d.decided_at.isoformat(), "note": d.note,
             "in_force": latest[tuple(sorted((d.case_a_id, d.case_b_id)))] == d.id} for d in rows]


# ------------------------------------------------------------------ shared indicators

def keep_shared(session: Session, items: Iterable[SharedIdentifier], *, imported_by: str) -> dict:
    """Keep indicators another platform shared; the same kind, value and source again
    refreshes its row. Returns ``{"added": n, "refreshed": m}``."""
    added = refreshed = 0
    now = utcnow()
    for it in items:
        row = session.execute(select(SharedIndicator).where(
            SharedIndicator.kind == it.kind, SharedIndicator.value == it.value,
            SharedIndicator.source == it.source)).scalar_one_or_none()
        if row is None:
            row = SharedIndicator(kind=it.kind, value=it.value, source=it.source)
            session.add(row)
            added += 1
        else:
            refreshed += 1
        row.stix_id, row.name, row.description = it.stix_id, it.name, it.description
        row.labels, row.confidence = list(it.labels), it.confidence
        row.valid_from, row.valid_until = it.valid_from, it.valid_until
        row.imported_at, row.imported_by = now, imported_by
        session.flush()
    return {"added": added, "refreshed": refreshed}


def shared_hits(session: Session, keys: Iterable[tuple[str, str]]) -> list[dict]:
    """Which of these identifiers other platforms have shared, and who shared them."""
    out = []
    for chunk in _chunks(sorted(set(keys))):
        q = (select(SharedIndicator).where(tuple_(SharedIndicator.kind, SharedIndicator.value).in_(chunk))
             .order_by(SharedIndicator.kind, SharedIndicator.value, SharedIndicator.source))
        for s in session.execute(q).scalars():
            out.append({"kind": s.kind, "value": s.value, "source": s.source, "stix_id": s.stix_id,
                        "name": s.name, "labels": s.labels,
                        "valid_until": s.valid_until.isoformat() if s.valid_until else None})
    return out


# ------------------------------------------------------------- money held, holders

HOLD_KINDS = ("stop_payment", "freeze")


def _fen(v: object) -> int | None:
    if v is None:
        return None
    try:
        return parse_yuan(str(v), allow_zero=True)
    except Exception:  # an institution's malformed figure is not counted
        return None


def _result(answer: dict | None) -> dict:
    """The result part of a stored answer: the gateway keeps ``{status, result, …}``, a
    liaison may have entered the result itself."""
    if not isinstance(answer, dict):
        return {}
    inner = answer.get("result")
    return inner if isinstance(inner, dict) else answer


def money_held(session: Session, cases: Sequence[Case], now: datetime | None = None) -> dict:
    """Money still held for these cases: done stop-payments and freezes not expired.

    Per case and account the largest live hold counts (a freeze that follows a
    stop-payment holds the same money, it does not add to it), less what done
    unfreezes released there. A hold's amount is what the institution says it held,
    else the amount ordered."""
    now = now or utcnow()
    ids = [c.id for c in cases]
    holds: dict[tuple[int, str], int] = {}
    released: dict[tuple[int, str], int] = {}
    inst: dict[tuple[int, str], str] = {}
    for chunk in _chunks(ids):
        q = select(Order).where(Order.case_id.in_(chunk), Order.state == "done",
                                Order.kind.in_((*HOLD_KINDS, "unfreeze")))
        for o in session.execute(q).scalars():
            key = (o.case_id, o.target)
            res = _result(o.answer)
            if o.kind == "unfreeze":
                released[key] = released.get(key, 0) + (_fen(res.get("released")) or o.amount_fen or 0)
                continue
            if o.expires_at is not None and o.expires_at <= now:
                continue
            amount = _fen(res.get("held"))
            amount = (o.amount_fen or 0) if amount is None else amount
            holds[key] = max(holds.get(key, 0), amount)
            inst[key] = o.institution.code
    case_no = {c.id: c.case_no for c in cases}
    rows = []
    for key, amount in sorted(holds.items(), key=lambda kv: (case_no[kv[0][0]], kv[0][1])):
        net = max(0, amount - released.get(key, 0))
        if net:
            rows.append({"case_no": case_no[key[0]], "account": key[1], "institution": inst[key], "held_fen": net})
    return {"total_fen": sum(r["held_fen"] for r in rows), "accounts": rows}


_NAME_KEYS = ("holder", "name", "holder_name")
_ID_KEYS = ("id_number", "holder_id_number", "id_no")
_PHONE_KEYS = ("phone", "holder_phone", "mobile")


def holder_answers(session: Session, accounts: Iterable[str]) -> tuple[dict[str, Holder], list[dict]]:
    """The gateway's holder answers (done ``account_holder`` orders) for these accounts.

    Returns ``account -> Holder`` (the newest answer per account) and the answers used,
    with their case numbers (every case whose data is read, for the audit)."""
    out: dict[str, Holder] = {}
    used: list[dict] = []
    for chunk in _chunks(sorted(set(accounts))):
        q = (select(Order).where(Order.kind == "account_holder", Order.state == "done", Order.target.in_(chunk))
             .order_by(Order.updated_at, Order.id))
        for o in session.execute(q).scalars():
            res = _result(o.answer)

            def first(keys: tuple[str, ...]) -> str | None:
                return next((str(res[k]).strip() for k in keys if res.get(k) not in (None, "")), None)

            phone = first(_PHONE_KEYS)
            if phone:
                phone = (_norm("phone", phone) or ("", phone))[1]
            h = Holder(o.target, first(_NAME_KEYS), first(_ID_KEYS), phone)
            out[o.target] = h
            used.append({"order_id": o.id, "case_no": o.case.case_no, "account": o.target,
                         "institution": o.institution.code})
    return out, used
