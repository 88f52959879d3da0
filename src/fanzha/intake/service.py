"""Filing a report: read it, open (or find) its case, route it, and start the chase.

This is the store edge of intake; the decisions are the pure functions of
``extract``, ``classify`` and ``routing``. Everything happens in the caller's
transaction, so a report is filed whole or not at all, with every step on the case's
timeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fanzha.errors import InputError
from fanzha.intake import routing
from fanzha.linking.identifiers import normalise_identifier
from fanzha.store import services
from fanzha.store.models import Case, CaseEvent, Identifier, Institution, Report, Unit, UnitZone, Victim

#: Legal basis written on the orders the intake itself starts.
EMERGENCY_BASIS = "《中华人民共和国反电信网络诈骗法》第十八条、第二十条；紧急止付"

#: A second call from the same caller within this time about an open case joins it.
FOLLOW_UP_WINDOW = timedelta(days=7)


@dataclass
class Incoming:
    """A report as it arrives from any source, before it is read."""

    received_at: datetime
    text: str
    source: str
    external_id: str | None = None
    district: str = ""
    address: str = ""
    caller: str = ""
    name: str = ""
    loss_fen: int | None = None        # None: read it from the text
    scam_type: str | None = None       # None: classify the text
    paid_at: datetime | None = None
    identifiers: list[tuple[str, str]] = field(default_factory=list)
    victim_account: str = ""
    unit_code: str | None = None       # a station officer filing for their own unit


@dataclass
class Filed:
    case: Case
    report: Report | None
    outcome: str  # opened | duplicate | follow_up
    orders: int = 0


def _loss_from_amounts(amounts: list[str]) -> int:
    """The loss a text states: the sum of the payments, unless one figure is already their total."""
    from fanzha.money import parse_yuan

    fen = [parse_yuan(a) for a in amounts]
    if not fen:
        return 0
    biggest = max(fen)
    if len(fen) > 2 and biggest * 2 == sum(fen):  # "转了3万、2万，共计5万" names the total too
        return biggest
    return sum(fen)


def read_text(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Identifiers (kind, value) and amounts read out of the free text."""
    from fanzha.intake.extract import extract

    ex = extract(text)
    pairs = [("phone", v) for v in ex.phones] + [("bank_card", v) for v in ex.bank_cards]
    pairs += [("url", v) for v in ex.urls] + [("qq", v) for v in ex.qq] + [("wechat", v) for v in ex.wechat]
    pairs += [("ip", v) for v in ex.ips] + [("email", v) for v in ex.emails] + [("alipay", v) for v in ex.alipay]
    return pairs, list(ex.amounts)


def _zones(session: Session) -> list[routing.Zone]:
    """The units' zones, read once per session (a bulk import files thousands of reports in one)."""
    zones = session.info.get("intake.zones")
    if zones is None:
        rows = session.execute(select(Unit.code, Unit.kind, UnitZone.district, UnitZone.zone)
                               .join(UnitZone, isouter=True)).all()
        zones = [routing.Zone(code, kind, district or "", zone or "") for code, kind, district, zone in rows]
        session.info["intake.zones"] = zones
    return zones


def _institution(session: Session, code: str) -> Institution | None:
    """An institution by code, remembered for the session (a bulk import asks often)."""
    known = session.info.setdefault("intake.institutions", {})
    if code not in known:
        known[code] = session.execute(select(Institution).where(Institution.code == code)).scalar_one_or_none()
    return known[code]


def _event(case: Case, kind: str, actor: str, **detail) -> None:
    case.events.append(CaseEvent(kind=kind, actor=actor, detail=detail))


def file_report(session: Session, inc: Incoming, *, actor: str,
                escalation: routing.EscalationRule = routing.EscalationRule(),
                emergency_window: timedelta = timedelta(hours=24)) -> Filed:
    """File one report. The same report twice is one case; a follow-up call joins its case."""
    if inc.received_at.tzinfo is None:
        raise InputError("received_at needs a UTC offset", field="received_at")
    if not inc.text or not inc.text.strip():
        raise InputError("a report needs its text", field="text")
    # Identifiers in the one spelling linking compares (a card with spaces is the same card).
    given = [normalise_identifier(kind, value, field=f"identifiers[{i}]")
             for i, (kind, value) in enumerate(inc.identifiers)]
    # Each report ends with a flush, so the queries below never need one first: without
    # autoflush a bulk import does not write its pending rows before every lookup.
    with session.no_autoflush:
        filed = _open_or_join(session, inc, given, actor=actor, escalation=escalation,
                              emergency_window=emergency_window)
    session.flush()
    return filed


def _open_or_join(session: Session, inc: Incoming, given: list[tuple[str, str]], *, actor: str,
                  escalation: routing.EscalationRule, emergency_window: timedelta) -> Filed:
    # 1. The same report again: the platform's own id, or the same caller, minute and words.
    if inc.external_id:
        dup = session.execute(select(Report).where(Report.source == inc.source,
                                                   Report.external_id == inc.external_id)).scalar_one_or_none()
        if dup is not None and dup.case is not None:
            return Filed(dup.case, dup, "duplicate")
    fp = routing.fingerprint(inc.caller, inc.received_at, inc.text)
    dup = session.execute(select(Report).where(Report.fingerprint == fp)).scalars().first()
    if dup is not None and dup.case is not None:
        return Filed(dup.case, dup, "duplicate")

    # 2. Read the text.
    found, amounts = read_text(inc.text)
    read = []
    for kind, value in found:
        try:
            read.append(normalise_identifier(kind, value))
        except InputError:  # the reader's guess, not the caller's word: a value linking refuses is dropped
            continue
    identifiers = list(dict.fromkeys([*given, *read]))
    loss = inc.loss_fen if inc.loss_fen is not None else _loss_from_amounts(amounts)
    scam_type = inc.scam_type
    evidence: list[str] = []
    if scam_type is None:
        from fanzha.intake.classify import classify

        c = classify(inc.text)
        scam_type, evidence = c.scam_type, c.evidence

    report = Report(source=inc.source, external_id=inc.external_id, received_at=inc.received_at,
                    district=inc.district, address=inc.address, scam_type=scam_type, loss_fen=loss,
                    text=inc.text, caller=inc.caller, paid_at=inc.paid_at, fingerprint=fp, created_by=actor,
                    identifiers=[Identifier(kind=k, value=v) for k, v in identifiers])

    # 3. A follow-up call by the same victim joins the open case.
    if inc.caller:
        prior = session.execute(
            select(Report).join(Case).where(Report.caller == inc.caller, Case.status == "open",
                                            Report.received_at >= inc.received_at - FOLLOW_UP_WINDOW)
            .order_by(Report.received_at.desc())).scalars().first()
        if prior is not None:
            case = prior.case
            report.case = case
            session.add(report)
            case.loss_fen = max(case.loss_fen, loss)
            _event(case, "follow_up", actor, source=inc.source, loss=loss)
            filed = Filed(case, report, "follow_up")
            filed.orders = _maybe_emergency(session, case, report, identifiers, actor, emergency_window)
            session.flush()
            return filed

    # 4. A new case, routed to the unit that owns the place.
    if inc.unit_code:
        unit = session.execute(select(Unit).where(Unit.code == inc.unit_code)).scalar_one_or_none()
        why = "filed by the unit's own officer"
    else:
        r = routing.route(inc.district, inc.address, _zones(session))
        unit = session.execute(select(Unit).where(Unit.code == r.unit_code)).scalar_one_or_none() \
            if r.unit_code else None
        why = r.reason
    case = Case(case_no=services.next_case_no(session, inc.received_at), scam_type=scam_type, unit=unit,
                loss_fen=loss, summary=inc.text[:200])
    session.add(case)
    report.case = case
    session.add(report)
    if inc.name or inc.victim_account or inc.caller:
        session.add(Victim(case=case, name=inc.name, phone=inc.caller, account=inc.victim_account,
                           loss_fen=loss))
    _event(case, "filed", actor, source=inc.source, external_id=inc.external_id)
    if evidence:
        _event(case, "classified", "intake", scam_type=scam_type, evidence=evidence)
    _event(case, "routed", "intake", unit=unit.code if unit else None, reason=why)
    reason = routing.escalate(loss, 1, escalation)
    if reason and unit is not None and unit.parent is not None:
        case.escalated_to = unit.parent
        _event(case, "escalated", "intake", to=unit.parent.code, reason=reason)
    filed = Filed(case, report, "opened")
    filed.orders = _maybe_emergency(session, case, report, identifiers, actor, emergency_window)
    session.flush()
    return filed


def _maybe_emergency(session: Session, case: Case, report: Report, identifiers: list[tuple[str, str]],
                     actor: str, window: timedelta) -> int:
    """Money that left in the last hours: query and stop the receiving accounts now.

    For every card named in the report (other than the victim's own), the issuing bank
    gets a transaction-details query and a stop-payment for the reported loss. The
    orders go to the outbox in this same transaction; repeating the report repeats
    nothing (idempotency keys).
    """
    if not routing.is_emergency(report.paid_at, report.received_at, window):
        return 0
    if not case.emergency:
        case.emergency = True
        _event(case, "emergency", "intake", paid_at=report.paid_at.isoformat() if report.paid_at else None)
    from fanzha.intake.bins import issuer

    own = {v.account for v in case.victims}
    n = 0
    for kind, value in identifiers:
        if kind != "bank_card" or value in own:
            continue
        bank = issuer(value)
        inst = _institution(session, bank.bank_code) if bank else None
        if inst is None:
            _event(case, "no_institution", "intake", account=value)
            continue
        for kind_, amount in (("transaction_details", None), ("stop_payment", case.loss_fen or None)):
            if kind_ == "stop_payment" and not amount:
                continue
            order, created = services.create_order(session, case=case, kind=kind_, institution=inst, target=value,
                                                   legal_basis=EMERGENCY_BASIS, created_by=actor,
                                                   amount_fen=amount, flush=False)
            if created:
                n += 1
                _event(case, "order_queued", "intake", order_kind=kind_, institution=inst.code, target=value)
    return n
