"""Filing reports: read them, open (or find) their cases, route them, and start the chase.

Filing is three steps, the first two pure:

1. :func:`read_report` — everything one report's own content decides: the checks, the
   identifiers (given and read from the text, in linking's spelling), the loss, the
   scam type and its evidence, the fingerprint. It needs nothing but the report, so a
   bulk import reads many at once (:func:`read_batch`: their texts classified together;
   :func:`read_many`: batch after batch, in worker processes when asked).
2. :func:`plan` — what filing writes for one read report, given a :class:`Book` of
   what is already known: the reports and open cases of the store that the batch
   touches, and those filed earlier in the same batch. Duplicates, follow-ups,
   routing, escalation and the emergency chase are decided here.
3. :func:`file_read` — the store edge: loads the batch's :class:`Book` in a few
   queries, plans every report in order, and writes all the plans' rows with
   multi-row inserts (:func:`fanzha.store.db.insert_rows`: ``COPY`` on PostgreSQL for a
   big batch); emergency orders go through the outbox's checks
   (:func:`fanzha.store.services.order_rows`).

A single report is a batch of one (:func:`file_report`), so the API's form, the
platform feed and a day's sheet file reports through the same code. Everything
happens in the caller's transaction: a report is filed whole or not at all, with every
step on its case's timeline.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from fanzha.collector import Freeze
from fanzha.errors import InputError, nul_refusal
from fanzha.intake import routing
from fanzha.linking.identifiers import normalise_identifier
from fanzha.store import services
from fanzha.store.db import insert_rows, one_of
from fanzha.store.models import (
    Case,
    CaseEvent,
    Identifier,
    Institution,
    Report,
    ReportAlias,
    Unit,
    UnitZone,
    Victim,
)
from fanzha.store.types import utcnow

#: Legal basis written on the orders the intake itself starts.
EMERGENCY_BASIS = "《中华人民共和国反电信网络诈骗法》第十八条、第二十条；紧急止付"

#: A second call from the same caller within this time about an open case joins it.
FOLLOW_UP_WINDOW = timedelta(days=7)


T = TypeVar("T")


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


@dataclass(frozen=True)
class Filing:
    """What filing one report did: ``opened`` a case, joined one as a ``follow_up``, or
    found it a ``duplicate`` of a report on file (``report_id`` is then that report's)."""

    outcome: str  # opened | duplicate | follow_up
    case_id: int
    case_no: str
    report_id: int
    orders: int = 0


@dataclass
class Filed:
    """A filing with its case loaded, for the edges that show the case."""

    case: Case
    report_id: int
    outcome: str  # opened | duplicate | follow_up
    orders: int = 0


# -- 1. reading: one report's own content --------------------------------------------


@dataclass(frozen=True)
class ReadReport:
    """A report once read: everything its own content decides."""

    inc: Incoming
    fingerprint: str
    identifiers: tuple[tuple[str, str], ...]  # given, then read from the text; each once
    loss_fen: int
    scam_type: str | None
    evidence: tuple[str, ...]  # why the classifier chose the scam type ("" when it was given)


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


#: Fields stored in columns of bounded width: field → the most characters its column keeps.
_WIDTHS = {**{f: Report.__table__.c[f].type.length for f in ("source", "external_id", "district", "address",
                                                              "caller", "scam_type")},
           "name": Victim.__table__.c.name.type.length, "victim_account": Victim.__table__.c.account.type.length}
_IDENTIFIER_WIDTH = Identifier.__table__.c.value.type.length


def _check(inc: Incoming) -> None:
    if inc.received_at is None or inc.received_at.tzinfo is None:
        raise InputError("received_at needs a UTC offset", field="received_at")
    if inc.paid_at is not None and inc.paid_at.tzinfo is None:
        raise InputError("paid_at needs a UTC offset", field="paid_at")
    if not inc.text or not inc.text.strip():
        raise InputError("a report needs its text", field="text")
    for name, width in _WIDTHS.items():
        value = getattr(inc, name) or ""
        if len(value) > width:
            raise InputError(f"{name} is {len(value):,} characters; at most {width} are kept", field=name)
    for name in ("text", *_WIDTHS):
        why = nul_refusal(getattr(inc, name) or "")
        if why:
            raise InputError(f"{name} {why}", field=name)


def _read_own(inc: Incoming) -> ReadReport:
    """Everything but the classification (which :func:`read_batch` does for a batch at once)."""
    _check(inc)
    # Identifiers in the one spelling linking compares (a card with spaces is the same card).
    given = []
    for i, (kind, value) in enumerate(inc.identifiers):
        pair = normalise_identifier(kind, value, field=f"identifiers[{i}]")
        if len(pair[1]) > _IDENTIFIER_WIDTH:
            raise InputError(f"{kind} value is longer than {_IDENTIFIER_WIDTH} characters",
                             field=f"identifiers[{i}].value")
        given.append(pair)
    found, amounts = read_text(inc.text)
    read = []
    for kind, value in found:
        try:
            pair = normalise_identifier(kind, value)
        except InputError:  # the reader's guess, not the caller's word: a value linking refuses is dropped
            continue
        if len(pair[1]) <= _IDENTIFIER_WIDTH:
            read.append(pair)
    return ReadReport(inc, routing.fingerprint(inc.caller, inc.received_at, inc.text),
                      tuple(dict.fromkeys([*given, *read])),
                      inc.loss_fen if inc.loss_fen is not None else _loss_from_amounts(amounts),
                      inc.scam_type, ())


def read_batch(incs: Sequence[Incoming]) -> list[ReadReport | InputError]:
    """Read reports (pure), each one's :class:`ReadReport` or its :class:`InputError`, in
    order. The texts without a given scam type are classified together
    (:func:`~fanzha.intake.classify.classify_many`: one product for the batch's scores)."""
    out: list[ReadReport | InputError] = []
    for inc in incs:
        try:
            out.append(_read_own(inc))
        except InputError as err:
            out.append(err)
    todo = [i for i, r in enumerate(out) if isinstance(r, ReadReport) and r.scam_type is None]
    if todo:
        from fanzha.intake.classify import classify_many

        # every text here passed extraction's check, the same one the classifier makes
        for i, c in zip(todo, classify_many([incs[i].text for i in todo])):
            out[i] = replace(out[i], scam_type=c.scam_type, evidence=tuple(c.evidence))
    return out


def read_report(inc: Incoming) -> ReadReport:
    """Check and read one report (pure). Bad input raises :class:`InputError` naming the field."""
    [r] = read_batch([inc])
    if isinstance(r, InputError):
        raise r
    return r


#: The batches of each :func:`read_many` call with worker processes, by call: the workers
#: are forked with them in memory, so only a batch's number crosses the pipe.
_INHERITED: dict[int, list[list[Incoming]]] = {}
_CALLS = itertools.count()

#: How much lower the reading workers run than the process filing what they read. The
#: filer (and, on PostgreSQL, the server it waits on) is the import's one serial chain:
#: at equal priority the workers took two thirds of the cores from it while they read,
#: and the last chunks were then filed with a core idle. Niced, the workers use what the
#: chain leaves, and the chain never waits for them longer than for a batch it needs.
READER_NICENESS = 10


def _read_inherited(call: int, i: int) -> list[tuple | InputError]:
    """:func:`read_batch` in a worker process, of batch ``i`` of :func:`read_many` call
    ``call`` (inherited at the fork): what was read, without the reports themselves (the
    caller has them; sending them back would double what crosses the pipe)."""
    return [r if isinstance(r, InputError) else (r.fingerprint, r.identifiers, r.loss_fen, r.scam_type, r.evidence)
            for r in read_batch(_INHERITED[call][i])]


def read_many(incs: Iterable[Incoming], *, processes: int = 1,
              chunksize: int = 64) -> Iterator[ReadReport | InputError]:
    """Read reports in order, each one's :class:`ReadReport` or its :class:`InputError`,
    ``chunksize`` at a time (:func:`read_batch`).

    With ``processes`` > 1 the reading (extraction and classification, nearly all of a
    bulk import's work) runs in that many worker processes. They are forked here, at
    the call, after the classifier is loaded (so none loads it again) and before the
    caller starts any thread, with the reports already in memory: each batch is sent as
    its number, not pickled. Everything the parent holds is frozen for the garbage
    collector while they are forked (:func:`gc.freeze`), so a worker's collections never
    walk the parent's objects — the modules, the classifier's tables, the reports, and
    whatever else the calling process has built up — nor copy their pages by touching
    them (a caller that froze objects of its own is left to manage them). They run
    :data:`READER_NICENESS` below the caller, which files what they read. The results
    are then taken lazily, so the caller can file the first ones while the workers read
    the rest; closing the iterator before the end stops the workers.
    """
    if processes <= 1:
        return (r for chunk in chunks(incs, chunksize) for r in read_batch(chunk))
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from fanzha.intake.classify import default_classifier

    default_classifier().prepare()
    call = next(_CALLS)
    batches = _INHERITED[call] = list(chunks(incs, chunksize))
    frozen = Freeze()  # (a caller that froze its own objects keeps them so)
    frozen.freeze()
    try:
        pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork"),
                                   initializer=os.nice, initargs=(READER_NICENESS,))
        # With the fork start method every worker is forked at the first submit, here.
        results = pool.map(_read_inherited, itertools.repeat(call), range(len(batches)))
    except BaseException:
        del _INHERITED[call]
        raise
    finally:
        frozen.release()

    def taken() -> Iterator[ReadReport | InputError]:
        try:
            yield None  # (taken at once, below: from here on, closing the iterator ends the call)
            for chunk, slim in zip(batches, results):
                for inc, r in zip(chunk, slim):
                    yield r if isinstance(r, InputError) else ReadReport(inc, *r)
        finally:
            pool.shutdown(cancel_futures=True)
            del _INHERITED[call]

    reading = taken()
    next(reading)
    return reading


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last shorter), taken lazily."""
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


# -- 2. planning: what filing writes, given what is known -----------------------------


@dataclass(eq=False)
class CaseRef:
    """A case as filing sees it; ``id`` is ``None`` until a case opened in this batch is written."""

    id: int | None
    case_no: str
    loss_fen: int
    emergency: bool
    accounts: set[str]  # the victims' own accounts (never chased)
    row: dict[str, Any] | None = None  # the row to insert, for a case opened in this batch
    changed: bool = False


@dataclass(eq=False)
class ReportRef:
    id: int | None
    case: CaseRef


@dataclass(frozen=True)
class UnitRef:
    id: int
    code: str
    parent: UnitRef | None


@dataclass(frozen=True)
class Chase:
    """One emergency order to queue: the event ``order_queued`` follows if it is new."""

    kind: str
    institution: str
    target: str
    amount_fen: int | None


@dataclass
class Plan:
    """What filing one report writes. ``steps`` is the case's timeline in order: events
    (``kind``, ``actor``, ``detail``) and :class:`Chase` orders."""

    read: ReadReport
    outcome: str
    case: CaseRef
    report: ReportRef
    victim: dict[str, Any] | None = None
    steps: list[tuple[str, str, dict] | Chase] = field(default_factory=list)
    #: (source, platform id) a duplicate came under that is not yet on file: kept as the report's alias
    alias: tuple[str, str] | None = None


@dataclass
class Book:
    """What planning a batch needs to know, from the store and from the batch so far."""

    router: routing.Router
    units: dict[str, UnitRef]
    institutions: set[str]
    by_external: dict[tuple[str, str], ReportRef] = field(default_factory=dict)
    by_fingerprint: dict[str, ReportRef] = field(default_factory=dict)
    #: caller → reports on open cases: (received_at, order, report); later in the batch sorts later
    by_caller: dict[str, list[tuple[datetime, tuple[int, int], ReportRef]]] = field(default_factory=dict)
    next_case_no: dict[date, str] = field(default_factory=dict)  # Shanghai day → the next free number
    _seq: Iterator[int] = field(default_factory=itertools.count)

    def remember(self, inc: Incoming, fingerprint: str, report: ReportRef, order: tuple[int, int]) -> None:
        if inc.external_id:
            self.by_external.setdefault((inc.source, inc.external_id), report)
        self.by_fingerprint.setdefault(fingerprint, report)
        if inc.caller:
            self.by_caller.setdefault(inc.caller, []).append((inc.received_at, order, report))

    def open_case_of(self, caller: str, since: datetime) -> CaseRef | None:
        """The open case of the caller's latest report received since ``since``."""
        found = [(at, order, r) for at, order, r in self.by_caller.get(caller, ()) if at >= since]
        return max(found, key=lambda f: (f[0], f[1]))[2].case if found else None

    def take_case_no(self, at: datetime) -> str:
        day = at.astimezone(services.SHANGHAI).date()
        no = self.next_case_no[day]
        self.next_case_no[day] = f"{no[:-6]}{int(no[-6:]) + 1:06d}"
        return no


def plan(r: ReadReport, book: Book, *, actor: str, escalation: routing.EscalationRule = routing.EscalationRule(),
         emergency_window: timedelta = timedelta(hours=24)) -> Plan:
    """Decide how one read report is filed, and record it in ``book`` for the reports after it.

    The same report again (the platform's own id, or the same caller, minute and words)
    is a duplicate of the first; a follow-up call by the same victim joins the open
    case; anything else opens a case routed to the unit that owns the place. A duplicate
    known by its words that carries a platform id not yet on file leaves that id as an
    alias of the report it repeats, so a later report under the id is that call too.
    """
    inc = r.inc
    # 1. The same report again.
    key = (inc.source, inc.external_id) if inc.external_id else None
    dup = book.by_external.get(key) if key else None
    dup = dup or book.by_fingerprint.get(r.fingerprint)
    if dup is not None:
        p = Plan(r, "duplicate", dup.case, dup)
        if key and key not in book.by_external:
            book.by_external[key] = dup
            p.alias = key
        return p

    # 2. A follow-up call by the same victim joins the open case.
    prior = book.open_case_of(inc.caller, inc.received_at - FOLLOW_UP_WINDOW) if inc.caller else None
    if prior is not None:
        case = prior
        p = Plan(r, "follow_up", case, ReportRef(None, case))
        if r.loss_fen > case.loss_fen:
            case.loss_fen, case.changed = r.loss_fen, True
        p.steps.append(("follow_up", actor, {"source": inc.source, "loss": r.loss_fen}))
    else:
        # 3. A new case, routed to the unit that owns the place.
        if inc.unit_code:
            unit = book.units.get(inc.unit_code)
            why = "filed by the unit's own officer"
        else:
            route = book.router(inc.district, inc.address)
            unit = book.units.get(route.unit_code) if route.unit_code else None
            why = route.reason
        reason = routing.escalate(r.loss_fen, 1, escalation)
        up = unit.parent if reason and unit is not None else None
        case = CaseRef(None, book.take_case_no(inc.received_at), r.loss_fen, False, set())
        case.row = {"case_no": case.case_no, "status": "open", "scam_type": r.scam_type,
                    "unit_id": unit.id if unit else None, "summary": inc.text[:200],
                    "escalated_to_id": up.id if up else None}
        p = Plan(r, "opened", case, ReportRef(None, case))
        if inc.name or inc.victim_account or inc.caller:
            p.victim = {"name": inc.name, "phone": inc.caller, "id_number": "", "account": inc.victim_account,
                        "loss_fen": r.loss_fen}
            case.accounts.add(inc.victim_account)
        p.steps.append(("filed", actor, {"source": inc.source, "external_id": inc.external_id}))
        if r.evidence:
            p.steps.append(("classified", "intake", {"scam_type": r.scam_type, "evidence": list(r.evidence)}))
        p.steps.append(("routed", "intake", {"unit": unit.code if unit else None, "reason": why}))
        if up is not None:
            p.steps.append(("escalated", "intake", {"to": up.code, "reason": reason}))
    _chase(p, book, emergency_window)
    book.remember(inc, r.fingerprint, p.report, (1, next(book._seq)))
    return p


def _chase(p: Plan, book: Book, window: timedelta) -> None:
    """Money that left in the last hours: query and stop the receiving accounts now.

    For every card named in the report (other than the victim's own), the issuing bank
    gets a transaction-details query and a stop-payment for the case's loss. The orders
    go to the outbox in the same transaction; repeating the report repeats nothing
    (idempotency keys).
    """
    inc, case = p.read.inc, p.case
    if not routing.is_emergency(inc.paid_at, inc.received_at, window):
        return
    if not case.emergency:
        case.emergency = case.changed = True
        p.steps.append(("emergency", "intake", {"paid_at": inc.paid_at.isoformat() if inc.paid_at else None}))
    from fanzha.intake.bins import issuer

    for kind, value in p.read.identifiers:
        if kind != "bank_card" or value in case.accounts:
            continue
        bank = issuer(value)
        if bank is None or bank.bank_code not in book.institutions:
            p.steps.append(("no_institution", "intake", {"account": value}))
            continue
        p.steps.append(Chase("transaction_details", bank.bank_code, value, None))
        if case.loss_fen:
            p.steps.append(Chase("stop_payment", bank.bank_code, value, case.loss_fen))


# -- 3. the store edge ------------------------------------------------------------------


def _lookups(session: Session) -> tuple[routing.Router, dict[str, UnitRef], set[str]]:
    """The units' zones (as a router), units and institution codes, read once per session
    (they change rarely)."""
    cached = session.info.get("intake.lookups")
    if cached is None:
        zones = [routing.Zone(code, kind, district or "", zone or "") for code, kind, district, zone in session.execute(
            select(Unit.code, Unit.kind, UnitZone.district, UnitZone.zone).join(UnitZone, isouter=True))]
        rows = {uid: (code, parent) for uid, code, parent in session.execute(
            select(Unit.id, Unit.code, Unit.parent_id))}
        by_id: dict[int, UnitRef] = {}

        def ref(uid: int) -> UnitRef:
            if uid not in by_id:
                code, parent = rows[uid]
                by_id[uid] = UnitRef(uid, code, ref(parent) if parent is not None else None)
            return by_id[uid]

        units = {code: ref(uid) for uid, (code, _) in rows.items()}
        institutions = set(session.execute(select(Institution.code)).scalars())
        cached = session.info["intake.lookups"] = (routing.Router(zones), units, institutions)
    return cached


def load_book(session: Session, reads: Sequence[ReadReport]) -> Book:
    """The :class:`Book` for a batch: only the store's rows the batch can touch, in a few queries."""
    book = Book(*_lookups(session))
    if not reads:
        return book
    cases: dict[int, CaseRef] = {}

    def case_ref(cid: int, no: str, loss: int, emergency: bool) -> CaseRef:
        if cid not in cases:
            cases[cid] = CaseRef(cid, no, loss, emergency, set())
        return cases[cid]

    case_cols = (Case.id, Case.case_no, Case.loss_fen, Case.emergency)
    externals = sorted({r.inc.external_id for r in reads if r.inc.external_id})
    sources = sorted({r.inc.source for r in reads if r.inc.external_id})
    prints = sorted({r.fingerprint for r in reads})
    # (source, platform id) is the store's unique index: both named, a lookup can use it
    same = [one_of(session, Report.fingerprint, prints)] + (
        [and_(Report.source.in_(sources), one_of(session, Report.external_id, externals))] if externals else [])
    for rid, source, ext, fp, *c in session.execute(
            select(Report.id, Report.source, Report.external_id, Report.fingerprint, *case_cols)
            .join(Case, Report.case_id == Case.id).where(or_(*same)).order_by(Report.id)):
        ref = ReportRef(rid, case_ref(*c))
        if ext:
            book.by_external.setdefault((source, ext), ref)
        if fp in prints:
            book.by_fingerprint.setdefault(fp, ref)
    if externals:  # platform ids kept from duplicates
        for source, ext, rid, *c in session.execute(
                select(ReportAlias.source, ReportAlias.external_id, Report.id, *case_cols)
                .join(Report, ReportAlias.report_id == Report.id).join(Case, Report.case_id == Case.id)
                .where(ReportAlias.source.in_(sources), one_of(session, ReportAlias.external_id, externals))):
            book.by_external.setdefault((source, ext), ReportRef(rid, case_ref(*c)))
    callers = sorted({r.inc.caller for r in reads if r.inc.caller})
    if callers:
        since = min(r.inc.received_at for r in reads if r.inc.caller) - FOLLOW_UP_WINDOW
        joined: set[int] = set()
        for rid, caller, at, *c in session.execute(
                select(Report.id, Report.caller, Report.received_at, *case_cols).join(Case, Report.case_id == Case.id)
                .where(one_of(session, Report.caller, callers), Case.status == "open", Report.received_at >= since)):
            book.by_caller.setdefault(caller, []).append((at, (0, rid), ReportRef(rid, case_ref(*c))))
            joined.add(c[0])
        if joined:
            for cid, account in session.execute(select(Victim.case_id, Victim.account)
                                                .where(Victim.case_id.in_(sorted(joined)))):
                cases[cid].accounts.add(account)
    for r in reads:
        day = r.inc.received_at.astimezone(services.SHANGHAI).date()
        if day not in book.next_case_no:
            book.next_case_no[day] = services.next_case_no(session, r.inc.received_at)
    return book


def file_read(session: Session, reads: Sequence[ReadReport | InputError], *, actor: str,
              escalation: routing.EscalationRule = routing.EscalationRule(),
              emergency_window: timedelta = timedelta(hours=24)) -> list[Filing | InputError]:
    """File a batch of read reports, in order, in the caller's transaction.

    Returns each report's :class:`Filing`, or the :class:`InputError` it was read with
    (such a report writes nothing; the others still go in). Reports of the batch see
    each other exactly as if filed one after another.
    """
    session.flush()
    good = [r for r in reads if isinstance(r, ReadReport)]
    book = load_book(session, good)
    plans = {id(r): plan(r, book, actor=actor, escalation=escalation, emergency_window=emergency_window)
             for r in good}
    order_counts = _write(session, list(plans.values()), actor)
    out: list[Filing | InputError] = []
    for r in reads:
        if isinstance(r, InputError):
            out.append(r)
            continue
        p = plans[id(r)]
        out.append(Filing(p.outcome, p.case.id, p.case.case_no, p.report.id, order_counts.get(id(p), 0)))
    return out


def _write(session: Session, plans: list[Plan], actor: str) -> dict[int, int]:
    """Write the plans' rows; the number of new orders per plan (by ``id``)."""
    now = utcnow()
    filed = [p for p in plans if p.outcome != "duplicate"]
    counts = _write_filed(session, filed, actor, now) if filed else {}
    # Platform ids the duplicates came under, once the reports they name have their ids.
    insert_rows(session, ReportAlias.__table__, [{"report_id": p.report.id, "source": p.alias[0],
                                                   "external_id": p.alias[1]} for p in plans if p.alias])
    return counts


def _write_filed(session: Session, filed: list[Plan], actor: str, now: datetime) -> dict[int, int]:
    opened = [p for p in filed if p.outcome == "opened"]
    if opened:
        rows = [{**p.case.row, "opened_at": now, "loss_fen": p.case.loss_fen, "emergency": p.case.emergency}
                for p in opened]
        # Rows come back keyed by a value unique in the batch, not in order.
        ids = dict(insert_rows(session, Case.__table__, rows, returning=("case_no", "id")))
        for p in opened:
            p.case.id = ids[p.case.case_no]
    changed = {id(p.case): p.case for p in filed if p.outcome == "follow_up" and p.case.changed}
    if changed:
        t = Case.__table__
        session.execute(update(t).where(t.c.id == bindparam("b_id"))
                        .values(loss_fen=bindparam("b_loss"), emergency=bindparam("b_emergency")),
                        [{"b_id": c.id, "b_loss": c.loss_fen, "b_emergency": c.emergency} for c in changed.values()])
    rows = [{"source": r.inc.source, "external_id": r.inc.external_id, "received_at": r.inc.received_at,
             "district": r.inc.district, "address": r.inc.address, "scam_type": r.scam_type, "loss_fen": r.loss_fen,
             "text": r.inc.text, "caller": r.inc.caller, "paid_at": r.inc.paid_at, "fingerprint": r.fingerprint,
             "case_id": p.case.id, "created_by": actor} for p in filed for r in [p.read]]
    # A fingerprint is filed once per batch (the second is a duplicate): it names the row.
    ids = dict(insert_rows(session, Report.__table__, rows, returning=("fingerprint", "id")))
    for p in filed:
        p.report.id = ids[p.read.fingerprint]
    identifiers = [{"report_id": p.report.id, "kind": k, "value": v} for p in filed for k, v in p.read.identifiers]
    insert_rows(session, Identifier.__table__, identifiers)
    victims = [{**p.victim, "case_id": p.case.id} for p in filed if p.victim]
    insert_rows(session, Victim.__table__, victims)

    # Emergency orders, through the outbox's checks (one query for the keys in use).
    chases = [(p, s) for p in filed for s in p.steps if isinstance(s, Chase)]
    created = _queue_orders(session, chases, actor) if chases else {}
    counts: dict[int, int] = {}
    events = []
    for p in filed:
        for s in p.steps:
            if isinstance(s, Chase):
                if not created[id(s)]:
                    continue
                counts[id(p)] = counts.get(id(p), 0) + 1
                s = ("order_queued", "intake", {"order_kind": s.kind, "institution": s.institution,
                                                "target": s.target})
            kind, who, detail = s
            events.append({"case_id": p.case.id, "at": now, "kind": kind, "actor": who, "detail": detail})
    insert_rows(session, CaseEvent.__table__, events)
    # Cases this session holds were changed underneath it: read them afresh when next used.
    for cid in {p.case.id for p in filed}:
        obj = session.identity_map.get(session.identity_key(Case, cid))
        if obj is not None:
            session.expire(obj)
    return counts


@dataclass(frozen=True)
class _InstitutionRef:
    id: int
    code: str


def _queue_orders(session: Session, chases: list[tuple[Plan, Chase]], actor: str) -> dict[int, bool]:
    """Queue the chases' orders; whether each (by ``id``) is a new order.

    :func:`fanzha.store.services.order_rows` checks them as every order is checked (one
    query for the keys in use) and gives the new ones as rows, written here in two
    multi-row inserts.
    """
    insts = {code: _InstitutionRef(iid, code) for iid, code in session.execute(
        select(Institution.id, Institution.code).where(Institution.code.in_(sorted({s.institution for _, s in chases}))))}
    made = services.order_rows(session, [
        services.OrderSpec(p.case, s.kind, insts[s.institution], s.target, EMERGENCY_BASIS, s.amount_fen)
        for p, s in chases], created_by=actor)
    services.insert_order_rows(session, list({id(o): o for o, is_new in made if is_new}.values()))
    return {id(s): is_new for (_, s), (_, is_new) in zip(chases, made)}


def file_reports(session: Session, incs: Sequence[Incoming], *, actor: str,
                 escalation: routing.EscalationRule = routing.EscalationRule(),
                 emergency_window: timedelta = timedelta(hours=24)) -> list[Filing | InputError]:
    """Read and file a batch of reports in the caller's transaction (see :func:`file_read`)."""
    return file_read(session, list(read_many(incs)), actor=actor, escalation=escalation,
                     emergency_window=emergency_window)


def file_report(session: Session, inc: Incoming, *, actor: str,
                escalation: routing.EscalationRule = routing.EscalationRule(),
                emergency_window: timedelta = timedelta(hours=24)) -> Filed:
    """File one report. The same report twice is one case; a follow-up call joins its case."""
    [done] = file_reports(session, [inc], actor=actor, escalation=escalation, emergency_window=emergency_window)
    if isinstance(done, InputError):
        raise done
    return Filed(session.get(Case, done.case_id), done.report_id, done.outcome, done.orders)
