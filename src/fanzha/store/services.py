"""Thin storage operations the API and CLI share: cases, reports, orders.

The rules live in the pure cores (``fanzha.gateway.orders``, ``fanzha.roles``);
these functions only read and write rows, inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from fanzha.errors import InputError
from fanzha.gateway.orders import MONEY_ORDERS, OrderKind, OrderState, idempotency_key
from fanzha.store.db import insert_rows, one_of
from fanzha.store.models import Case, Institution, Order, OrderEvent
from fanzha.store.types import utcnow

SHANGHAI = ZoneInfo("Asia/Shanghai")


def next_case_no(session: Session, at: datetime) -> str:
    """``FZ`` + the local date + a six-digit sequence of the day: ``FZ20240501000012``."""
    local = at.astimezone(SHANGHAI).date()
    prefix = f"FZ{local:%Y%m%d}"
    # The day's numbers as a range of the unique index (a LIKE prefix is no range on SQLite,
    # nor on PostgreSQL under a non-C collation: each read the whole index).
    after = f"FZ{local + timedelta(days=1):%Y%m%d}"
    last = session.execute(select(Case.case_no).where(Case.case_no >= prefix, Case.case_no < after)
                           .order_by(Case.case_no.desc()).limit(1)).scalar()
    seq = int(last[len(prefix):]) + 1 if last else 1
    return f"{prefix}{seq:06d}"


def get_case(session: Session, case_no: str) -> Case:
    case = session.execute(select(Case).where(Case.case_no == case_no)).scalar_one_or_none()
    if case is None:
        raise LookupError(f"no case {case_no!r}")
    return case


def get_institution(session: Session, code: str) -> Institution:
    inst = session.execute(select(Institution).where(Institution.code == code)).scalar_one_or_none()
    if inst is None:
        raise InputError(f"unknown institution {code!r}", field="institution")
    return inst


@dataclass(frozen=True)
class OrderSpec:
    """One order to put in the outbox: what :func:`create_orders` checks and writes.

    ``key`` defaults to :func:`fanzha.gateway.orders.idempotency_key` of the order's
    case, kind, institution, target, amount and ``round_no``. ``extra`` is merged into
    the stored request (the automatic loop notes there why it decided the order);
    ``not_before`` keeps the dispatcher from sending it earlier.
    """

    case: Case
    kind: str
    institution: Institution
    target: str
    legal_basis: str
    amount_fen: int | None = None
    key: str | None = None
    expires_at: datetime | None = None
    round_no: int = 0
    extra: dict[str, Any] | None = None
    not_before: datetime | None = None


def _checked_kind(spec: OrderSpec, where: str) -> OrderKind:
    """The spec's kind, once its fields are known to make an order (else InputError)."""
    try:
        kind = OrderKind(spec.kind)
    except ValueError:
        raise InputError(f"{where}unknown order kind {spec.kind!r}; one of: "
                         f"{', '.join(k.value for k in OrderKind)}", field="kind") from None
    if not spec.target:
        raise InputError(f"{where}an order needs a target (account, number or URL)", field="target")
    if not (spec.legal_basis or "").strip():
        raise InputError(f"{where}an order needs a legal basis", field="legal_basis")
    if kind in MONEY_ORDERS and not spec.amount_fen:
        raise InputError(f"{where}a {kind.value} order needs an amount", field="amount")
    if kind not in MONEY_ORDERS and spec.amount_fen is not None:
        raise InputError(f"{where}a {kind.value} order takes no amount", field="amount")
    return kind


@dataclass
class OrderRow:
    """A new order as :func:`order_rows` gives it: the ``orders`` row's values, and its
    first event's, for a caller that writes many at once with multi-row inserts."""

    case: Any  # anything with the case's ``id`` and ``case_no``
    institution: Any  # anything with the institution's ``id`` and ``code``
    values: dict[str, Any]
    event: dict[str, Any]

    def __getattr__(self, name: str) -> Any:  # kind, target, amount_fen, …: as on an Order
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def case_id(self) -> int:
        return self.case.id

    @property
    def institution_id(self) -> int:
        return self.institution.id


def order_rows(session: Session, specs: Sequence[OrderSpec], *,
               created_by: str) -> list[tuple[Order | OrderRow, bool]]:
    """:func:`create_orders`, the same checks and answers, with each new order as an
    :class:`OrderRow` that nothing has added to the session: the caller inserts the rows."""
    return _orders(session, specs, created_by=created_by, as_rows=True)


def insert_order_rows(session: Session, rows: Sequence[OrderRow]) -> None:
    """Write new orders from :func:`order_rows` (their values may be added to, e.g. a
    lease) and their first events with multi-row inserts; each row's ``values["id"]``
    is set to its order's id."""

    if not rows:
        return
    for row in rows:
        row.values["case_id"], row.values["institution_id"] = row.case.id, row.institution.id
    # ids come back keyed by the idempotency key (unique), not in the rows' order
    ids = dict(insert_rows(session, Order.__table__, [r.values for r in rows], returning=("idempotency_key", "id")))
    for row in rows:
        row.values["id"] = ids[row.values["idempotency_key"]]
    insert_rows(session, OrderEvent.__table__, [{**r.event, "order_id": r.values["id"]} for r in rows])


def create_orders(session: Session, specs: Sequence[OrderSpec], *,
                  created_by: str) -> list[tuple[Order, bool]]:
    """Put orders in the outbox, in the caller's transaction: ``(order, created)`` per
    spec, in the specs' order.

    Every spec is checked before anything is added (a bad one raises
    :class:`~fanzha.errors.InputError` naming the spec's position and field, and
    nothing is written). The keys already used are read in one query: a key already
    used by the same order is that order again (``created`` false), by a different
    order an error; a key twice among ``specs`` is one order. The new rows and their
    first events are added, not flushed: the caller's flush writes them together.
    """
    return _orders(session, specs, created_by=created_by, as_rows=False)


def _orders(session: Session, specs: Sequence[OrderSpec], *, created_by: str,
            as_rows: bool) -> list[tuple[Any, bool]]:
    checked: list[tuple[OrderSpec, OrderKind, str]] = []
    for n, spec in enumerate(specs):
        kind = _checked_kind(spec, f"order {n + 1}: " if len(specs) > 1 else "")
        key = spec.key or idempotency_key(spec.case.case_no, kind, spec.institution.code, spec.target,
                                          spec.amount_fen, spec.round_no)
        checked.append((spec, kind, key))
    if not checked:
        return []
    keys = sorted({k for _, _, k in checked})
    existing = {o.idempotency_key: o for o in session.execute(
        select(Order).where(one_of(session, Order.idempotency_key, keys))).scalars()}
    now = utcnow()
    out: list[tuple[Order, bool]] = []
    made: dict[str, Order] = {}
    for n, (spec, kind, key) in enumerate(checked):
        old = existing.get(key) or made.get(key)
        if old is not None:
            same = ((old.case_id == spec.case.id or old.case is spec.case) and old.kind == kind.value
                    and old.target == spec.target and old.amount_fen == spec.amount_fen
                    and (old.institution_id == spec.institution.id or old.institution is spec.institution))
            if not same:
                where = f"order {n + 1}: " if len(specs) > 1 else ""
                raise InputError(f"{where}idempotency key already used for a different order",
                                 field="idempotency_key")
            out.append((old, False))
            continue
        request = {"case_no": spec.case.case_no, "kind": kind.value, "institution": spec.institution.code,
                   "target": spec.target, "amount_fen": spec.amount_fen, "legal_basis": spec.legal_basis,
                   **(spec.extra or {})}
        values = dict(kind=kind.value, target=spec.target, amount_fen=spec.amount_fen, legal_basis=spec.legal_basis,
                      idempotency_key=key, state=OrderState.pending.value, created_by=created_by, created_at=now,
                      updated_at=now, expires_at=spec.expires_at, round_no=spec.round_no, attempts=0,
                      request=request, next_attempt_at=spec.not_before)
        event = dict(at=now, from_state=None, to_state=OrderState.pending.value, actor=created_by,
                     note="queued in the outbox" + (
                         f", not before {spec.not_before.isoformat()}" if spec.not_before else ""))
        if as_rows:
            order = OrderRow(spec.case, spec.institution, values, event)
        else:
            order = Order(case=spec.case, institution=spec.institution, **values)
            order.events.append(OrderEvent(**event))
        made[key] = order
        out.append((order, True))
    if not as_rows:
        session.add_all(made.values())
    return out


def create_order(session: Session, *, case: Case, kind: str, institution: Institution, target: str,
                 legal_basis: str, created_by: str, amount_fen: int | None = None,
                 key: str | None = None, expires_at: datetime | None = None,
                 round_no: int = 0, flush: bool = True) -> tuple[Order, bool]:
    """Put one order in the outbox (:func:`create_orders` of one spec). The same
    idempotency key twice is the same order.

    Returns ``(order, created)``.
    """
    [(order, created)] = create_orders(session, [OrderSpec(
        case, kind, institution, target, legal_basis, amount_fen, key, expires_at, round_no)],
        created_by=created_by)
    if created and flush:  # the caller needs the order's id now (not so a report filing many at once)
        session.flush()
    return order, created


def move_order(session: Session, order: Order, new_state: str, *, actor: str, note: str = "",
               answer: dict | None = None) -> Order:
    """Move an order along an allowed transition, recording the move (as the gateway
    records an institution's answers)."""
    from fanzha.gateway import loop
    from fanzha.gateway.store import transition

    transition(order, new_state, actor=actor, note=note)
    if answer is not None:
        order.answer = answer
    session.flush()
    if loop.moves_on(order):
        # a liaison's answer through the inbox feeds the automatic loop like an institution's
        # API: a statement, and a hold refused or done short of what it asked
        loop.on_answer(session, order)
    return order


def queue_holds(session: Session, *, case: Case, holds: list[dict], kind: str, legal_basis: str, created_by: str,
                key_prefix: str, expires_at: datetime | None = None) -> tuple[list[dict], list[dict]]:
    """Queue a freeze plan's holds (``plan_json`` rows) as orders, in the plan's order.

    Each hold's idempotency key is ``key_prefix``, the kind and the account, so queuing
    the same plan again queues nothing twice. A hold whose institution is unknown is
    skipped with the reason (the holder must be queried first). Returns (queued, skipped).
    """
    from fanzha.money import parse_yuan

    queued: list[dict] = []
    skipped: list[dict] = []
    for hold in holds:
        code = hold.get("institution") or ""
        inst = session.execute(select(Institution).where(Institution.code == code)).scalar_one_or_none()
        if inst is None:
            skipped.append({"account": hold["account"], "reason": "institution unknown: query the holder first"})
            continue
        expires = expires_at or (datetime.fromisoformat(hold["expires_at"]) if hold.get("expires_at") else None)
        order, created = create_order(
            session, case=case, kind=kind, institution=inst, target=hold["account"], legal_basis=legal_basis,
            created_by=created_by, amount_fen=parse_yuan(hold["amount"]), expires_at=expires,
            key=f"{key_prefix}-{kind}-{hold['account']}"[:64])
        queued.append({"order_id": order.id, "account": hold["account"], "amount": hold["amount"], "new": created})
    return queued, skipped
