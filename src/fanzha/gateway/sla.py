"""SLA clocks: how fast the centre moved on a case, and how fast each institution answers.

The targets are the ones the field set (以快制快): the first request out within 30 s
of the report, the first round of stop-payments confirmed within 5 minutes. The clocks
are read off the orders' own event history, so they cannot disagree with it:

* report received → first request **sent** (the first ``→ sent`` event),
* → **acknowledged** (the institution has it: ``→ acknowledged``, or an answer at once),
* → **hold confirmed** (a stop-payment or freeze ``→ done``),

per case and per institution. Everything here is pure — plain records in, figures out —
so it is tested without a database; :func:`load_case` and friends read the records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable, Sequence

HOLD_KINDS = frozenset({"stop_payment", "freeze"})
ANSWERED = frozenset({"acknowledged", "done", "rejected"})
FINAL = frozenset({"done", "rejected", "cancelled"})
#: Attempt outcomes that count as the institution failing (not the request being wrong).
ERROR_OUTCOMES = frozenset({"server_error", "timeout", "connect_error", "malformed", "bad_signature",
                            "unauthorised"})


@dataclass(frozen=True)
class Targets:
    first_request_s: float = 30.0
    first_round_s: float = 300.0


@dataclass(frozen=True)
class EventRec:
    at: datetime
    to_state: str
    from_state: str | None = None


@dataclass(frozen=True)
class OrderRec:
    order_id: int
    institution: str
    kind: str
    created_at: datetime
    events: tuple[EventRec, ...]
    round_no: int = 0
    state: str = "pending"


@dataclass(frozen=True)
class AttemptRec:
    institution: str
    started_at: datetime
    outcome: str
    latency_ms: int | None = None


@dataclass
class Milestones:
    """The first time each step happened (None: not yet)."""

    sent: datetime | None = None
    acknowledged: datetime | None = None
    hold_confirmed: datetime | None = None
    orders: int = 0
    final: int = 0


@dataclass
class Alarm:
    target: str
    due_at: datetime
    met_at: datetime | None
    state: str            # met | missed | running
    late_by_s: float | None = None

    def as_dict(self) -> dict:
        return {"target": self.target, "due_at": self.due_at.isoformat(),
                "met_at": self.met_at.isoformat() if self.met_at else None, "state": self.state,
                "late_by_s": self.late_by_s}


@dataclass
class CaseClock:
    received_at: datetime
    case: Milestones
    first_round_done_at: datetime | None
    first_round_orders: int
    by_institution: dict[str, Milestones] = field(default_factory=dict)
    alarms: list[Alarm] = field(default_factory=list)

    def as_dict(self) -> dict:
        def ms(m: Milestones) -> dict:
            return {"sent": _iso(m.sent), "acknowledged": _iso(m.acknowledged),
                    "hold_confirmed": _iso(m.hold_confirmed), "orders": m.orders, "final": m.final,
                    "seconds": {k: _secs(self.received_at, getattr(m, k))
                                for k in ("sent", "acknowledged", "hold_confirmed")}}

        return {"received_at": self.received_at.isoformat(), **ms(self.case),
                "first_round": {"orders": self.first_round_orders, "done_at": _iso(self.first_round_done_at),
                                "seconds": _secs(self.received_at, self.first_round_done_at)},
                "by_institution": {k: ms(v) for k, v in sorted(self.by_institution.items())},
                "alarms": [a.as_dict() for a in self.alarms]}


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def _secs(start: datetime, t: datetime | None) -> float | None:
    return round((t - start).total_seconds(), 3) if t else None


def _first(times: Iterable[datetime | None]) -> datetime | None:
    found = [t for t in times if t is not None]
    return min(found) if found else None


def order_milestones(o: OrderRec) -> tuple[datetime | None, datetime | None, datetime | None, datetime | None]:
    """(sent, acknowledged, hold confirmed, final) times of one order."""
    sent = _first(e.at for e in o.events if e.to_state == "sent")
    ack = _first(e.at for e in o.events if e.to_state in ANSWERED)
    hold = _first(e.at for e in o.events if e.to_state == "done") if o.kind in HOLD_KINDS else None
    final = _first(e.at for e in o.events if e.to_state in FINAL)
    return sent, ack, hold, final


def _alarm(target: str, due: datetime, met: datetime | None, now: datetime) -> Alarm:
    if met is not None:
        late = (met - due).total_seconds()
        return Alarm(target, due, met, "met" if late <= 0 else "missed", round(late, 3) if late > 0 else None)
    if now > due:
        return Alarm(target, due, None, "missed", round((now - due).total_seconds(), 3))
    return Alarm(target, due, None, "running")


def case_clock(received_at: datetime, orders: Sequence[OrderRec], now: datetime,
               targets: Targets = Targets()) -> CaseClock:
    """The case's clocks at ``now``, with an alarm per target (met, missed or running)."""
    case = Milestones()
    by: dict[str, Milestones] = {}
    round_finals: list[datetime | None] = []
    for o in orders:
        sent, ack, hold, final = order_milestones(o)
        for m in (case, by.setdefault(o.institution, Milestones())):
            m.sent = _first([m.sent, sent])
            m.acknowledged = _first([m.acknowledged, ack])
            m.hold_confirmed = _first([m.hold_confirmed, hold])
            m.orders += 1
            m.final += final is not None
        if o.kind in HOLD_KINDS and o.round_no == 0:
            round_finals.append(final)
    round_done = max(round_finals) if round_finals and all(round_finals) else None  # type: ignore[type-var]
    alarms = [_alarm("first_request", received_at + timedelta(seconds=targets.first_request_s), case.sent, now)]
    if round_finals:
        alarms.append(_alarm("first_round_stop_payments", received_at + timedelta(seconds=targets.first_round_s),
                             round_done, now))
    return CaseClock(received_at, case, round_done, len(round_finals), by, alarms)


# --- institutions -----------------------------------------------------------------------

def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0–100): always one of the values, no interpolation."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, -(-len(s) * q // 100) - 1))
    return s[int(k)]


@dataclass
class InstitutionStats:
    institution: str
    attempts: int = 0
    errors: int = 0
    answered: int = 0
    latency_ms_median: float | None = None
    latency_ms_p95: float | None = None
    answer_s_median: float | None = None   # sent → final, callbacks included
    answer_s_p95: float | None = None
    orders: int = 0

    @property
    def error_rate(self) -> float:
        return self.errors / self.attempts if self.attempts else 0.0

    def as_dict(self) -> dict:
        return {**{k: v for k, v in vars(self).items()}, "error_rate": round(self.error_rate, 4)}


def institution_stats(attempts: Iterable[AttemptRec], orders: Iterable[OrderRec] = ()) -> dict[str, InstitutionStats]:
    """Per institution: attempts, error rate, request latency and time to a final answer."""
    out: dict[str, InstitutionStats] = {}
    lat: dict[str, list[float]] = {}
    for a in attempts:
        st = out.setdefault(a.institution, InstitutionStats(a.institution))
        if a.outcome in ("circuit_open", "lease_lost", "inbox", "expired"):
            continue  # nothing was asked of the institution
        st.attempts += 1
        if a.outcome in ERROR_OUTCOMES:
            st.errors += 1
        elif a.outcome == "answered":
            st.answered += 1
            if a.latency_ms is not None:
                lat.setdefault(a.institution, []).append(a.latency_ms)
    ans: dict[str, list[float]] = {}
    for o in orders:
        st = out.setdefault(o.institution, InstitutionStats(o.institution))
        st.orders += 1
        sent, _, _, final = order_milestones(o)
        if sent and final:
            ans.setdefault(o.institution, []).append((final - sent).total_seconds())
    for code, st in out.items():
        st.latency_ms_median = percentile(lat.get(code, []), 50)
        st.latency_ms_p95 = percentile(lat.get(code, []), 95)
        st.answer_s_median = percentile(ans.get(code, []), 50)
        st.answer_s_p95 = percentile(ans.get(code, []), 95)
    return out


# --- reading the records ---------------------------------------------------------------------

def _order_recs(session, where) -> list[OrderRec]:
    from sqlalchemy import select

    from fanzha.store.models import Institution, Order, OrderEvent

    rows = session.execute(select(Order.id, Institution.code, Order.kind, Order.created_at, Order.round_no,
                                  Order.state).join(Institution).where(*where).order_by(Order.id)).all()
    if not rows:
        return []
    ids = [r[0] for r in rows]
    evs: dict[int, list[EventRec]] = {}
    for oid, at, frm, to in session.execute(select(OrderEvent.order_id, OrderEvent.at, OrderEvent.from_state,
                                                   OrderEvent.to_state).where(OrderEvent.order_id.in_(ids))
                                            .order_by(OrderEvent.id)):
        evs.setdefault(oid, []).append(EventRec(at, to, frm))
    return [OrderRec(r[0], r[1], r[2], r[3], tuple(evs.get(r[0], ())), r[4] or 0, r[5]) for r in rows]


def load_case(session, case_no: str, now: datetime, targets: Targets = Targets()) -> CaseClock:
    """The clocks of one case: received = its first report (or its opening)."""
    from sqlalchemy import func, select

    from fanzha.store.models import Case, Order, Report
    from fanzha.store.services import get_case

    case: Case = get_case(session, case_no)
    received = session.execute(select(func.min(Report.received_at)).where(Report.case_id == case.id)).scalar()
    return case_clock(received or case.opened_at, _order_recs(session, [Order.case_id == case.id]), now, targets)


def load_institution_stats(session, since: datetime | None = None) -> dict[str, InstitutionStats]:
    from sqlalchemy import select

    from fanzha.store.models import Institution, Order, OrderAttempt

    q = select(Institution.code, OrderAttempt.started_at, OrderAttempt.outcome, OrderAttempt.latency_ms
               ).join(Institution, OrderAttempt.institution_id == Institution.id)
    if since is not None:
        q = q.where(OrderAttempt.started_at >= since)
    attempts = [AttemptRec(c, t, o, ms) for c, t, o, ms in session.execute(q)]
    orders = _order_recs(session, [Order.created_at >= since] if since is not None else [])
    return institution_stats(attempts, orders)


def load_alarms(session, now: datetime, since: datetime, targets: Targets = Targets()) -> list[dict]:
    """Missed and running targets of the cases with orders since ``since``."""
    from sqlalchemy import select

    from fanzha.store.models import Case, Order

    out = []
    for case_no in session.execute(select(Case.case_no).where(Case.id.in_(
            select(Order.case_id).where(Order.created_at >= since))).order_by(Case.case_no)).scalars():
        clock = load_case(session, case_no, now, targets)
        for a in clock.alarms:
            if a.state != "met":
                out.append({"case_no": case_no, **a.as_dict()})
    return out
