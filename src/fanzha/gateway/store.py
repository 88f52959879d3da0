"""The gateway's storage edge: moving orders on institutions' answers, recording callbacks.

The dispatcher (answers to its requests) and the API (callbacks) both land here, so an
answer moves an order the same way whichever road it took, and the second copy of an
answer — a resend's, a duplicate callback's, a late one's — is recorded and changes
nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import Session, object_session

from fanzha.gateway import loop  # an answer's consequences: the automatic loop's next step
from fanzha.gateway.orders import OrderState, check_transition
from fanzha.gateway.protocol import Answer, Callback
from fanzha.store.db import insert_rows
from fanzha.store.models import GatewayCallback, Institution, Order, OrderEvent
from fanzha.store.types import utcnow

#: ``session.info`` key: with a list there, :func:`transition` puts each event's row in
#: it instead of an ORM object, for the caller to write in one multi-row insert
#: (:func:`write_event_rows`) — a dispatcher recording a batch of answers.
EVENT_ROWS = "gateway_event_rows"

FINAL = frozenset({OrderState.done.value, OrderState.rejected.value, OrderState.cancelled.value})


def write_lock(session: Session) -> None:
    """Take the database's write lock first thing in a transaction that reads then writes.

    On SQLite a transaction that has read and then wants to write fails outright if
    another writer committed in between; taking the lock first makes it wait instead.
    PostgreSQL needs nothing here (rows are locked with FOR UPDATE).
    """
    if session.get_bind().dialect.name == "sqlite":
        session.connection().execute(_SQLITE_WRITE_LOCK)


_SQLITE_WRITE_LOCK = text("UPDATE orders SET id = id WHERE 0")


class RecordedOrder:
    """One order's columns, read with Core to record answers on it: moved by
    :func:`transition` and :func:`apply_answer` as an ORM :class:`Order` is (the same
    attribute names), and written back by :func:`write_recorded_orders` — one UPDATE per
    set of changed columns for the whole batch, without the ORM's load, change tracking
    and flush of an object per order.

    Attributes are replaced, never changed in place (``answer`` is given a new dict), so
    comparing them with the values read tells what changed. It has no relationships:
    :func:`apply_answer` is given the institution's code.
    """

    def __init__(self, session: Session, row: Any):
        self.__dict__.update(row._mapping)
        self.loaded: dict[str, Any] = dict(row._mapping)
        self.session = session

    def changes(self) -> dict[str, Any]:
        """The columns whose value differs from the one read, with their new values."""
        return {c: v for c, v in self.__dict__.items() if c in self.loaded and v != self.loaded[c]}


_ORDERS = Order.__table__
#: The orders a batch of answers is recorded on, locked (FOR UPDATE on PostgreSQL; the
#: caller holds SQLite's write lock). Built once: the statement and its cache key are
#: not made again for every batch.
_LOAD_ORDERS = (select(*_ORDERS.c).where(_ORDERS.c.id.in_(bindparam("ids", expanding=True)))
                .order_by(_ORDERS.c.id).with_for_update())
#: changed columns (sorted) → the UPDATE writing them, by order id, one executemany a batch
_UPDATES: dict[tuple[str, ...], Any] = {}


def load_recorded_orders(session: Session, ids: Iterable[int]) -> dict[int, RecordedOrder]:
    """The orders ``ids`` as :class:`RecordedOrder`, by id (missing ids left out)."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    return {r.id: RecordedOrder(session, r) for r in session.execute(_LOAD_ORDERS, {"ids": ids})}


def write_recorded_orders(session: Session, orders: Iterable[RecordedOrder]) -> None:
    """Write what changed on ``orders``: for each set of changed columns one UPDATE, run
    for all the orders that changed those; the values read are then the ones written."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for order in orders:
        changed = order.changes()
        if changed:
            cols = tuple(sorted(changed))
            groups.setdefault(cols, []).append({"order_id": order.id, **{f"new_{c}": changed[c] for c in cols}})
            order.loaded.update(changed)
    for cols, params in groups.items():
        stmt = _UPDATES.get(cols)
        if stmt is None:
            stmt = _UPDATES[cols] = (
                update(_ORDERS).where(_ORDERS.c.id == bindparam("order_id", type_=_ORDERS.c.id.type))
                .values({c: bindparam(f"new_{c}", type_=_ORDERS.c[c].type) for c in cols}))
        session.connection().execute(stmt, params)


def _session_of(order: Order | RecordedOrder) -> Session | None:
    return order.session if isinstance(order, RecordedOrder) else object_session(order)


def lock_order(session: Session, order_id: int) -> Order | None:
    return session.execute(select(Order).where(Order.id == order_id).with_for_update()
                           .execution_options(populate_existing=True)).scalar_one_or_none()


def transition(order: Order | RecordedOrder, new: OrderState | str, *, actor: str, note: str = "",
               at: datetime | None = None) -> None:
    """Move ``order`` along an allowed transition with the event's time given (when the
    request actually left, not when its answer was written down)."""
    nxt = check_transition(order.state, new)
    at = at or utcnow()
    session = _session_of(order)
    event = dict(at=at, from_state=order.state, to_state=nxt.value, actor=actor, note=note)
    if session is not None and order.id is not None and "events" not in order.__dict__:
        # don't load the whole history just to add a line to it
        rows = session.info.get(EVENT_ROWS)
        if rows is not None:
            rows.append({"order_id": order.id, **event})
        else:
            session.add(OrderEvent(order_id=order.id, **event))
    else:
        order.events.append(OrderEvent(**event))
    order.state = nxt.value
    order.updated_at = max(at, order.updated_at) if order.updated_at else at


def write_event_rows(session: Session) -> None:
    """Write the events :func:`transition` kept under ``EVENT_ROWS`` and stop keeping them."""
    rows = session.info.pop(EVENT_ROWS, None)
    if rows:
        insert_rows(session, OrderEvent.__table__, rows)


def apply_answer(order: Order | RecordedOrder, answer: Answer, *, actor: str, sent_at: datetime | None = None,
                 received_at: datetime | None = None, via: str = "answer", institution: str | None = None) -> str:
    """Bring ``order`` to what ``answer`` says; returns ``applied``, ``duplicate`` or ``late``.

    Event times are when the request left (``sent_at``) and when the answer reached the
    centre (``received_at``). ``accepted`` means the institution has it (sent → acknowledged); ``done`` and
    ``rejected`` are final. An order already final keeps its state: the answer is a
    duplicate. An order the centre had given up on (failed) takes a late final answer —
    the institution did act, and that must not be lost.
    """
    # The centre's clock, not the institution's: its ``answered_at`` is kept in the answer.
    now = received_at or utcnow()
    now = max(now, sent_at) if sent_at else now
    if order.state in FINAL:
        return "duplicate"
    late = order.state == OrderState.failed.value
    if order.state == OrderState.pending.value:
        transition(order, OrderState.sent, actor=actor, at=sent_at or now,
                   note=f"delivered to {institution or order.institution.code}" + (" (proved by a callback)" if via == "callback" else ""))
    if answer.status == "accepted":
        if order.state == OrderState.sent.value:
            transition(order, OrderState.acknowledged, actor=actor, at=now, note="accepted; answer to follow")
            return "applied"
        return "duplicate"
    if late and answer.status == "done":
        note = f"late {via}: the institution acted after the order was given up"
    else:
        note = f"{answer.status} by {via}" + (f": {answer.reason}" if answer.reason else "")
    transition(order, answer.status, actor=actor, at=now, note=note)
    order.answer = {"status": answer.status, "reason": answer.reason, "result": answer.result,
                    "answered_at": answer.answered_at.isoformat(), "via": via}
    order.last_error = None
    order.lease_until = order.leased_by = order.next_attempt_at = None
    session = _session_of(order)
    if session is not None and loop.moves_on(order):
        deferred = session.info.get(loop.DEFER)
        if deferred is not None:  # the recorder takes the loop's step for its whole batch at once
            deferred.append(order)
        else:
            loop.on_answer(session, order)
    return "late" if late else "applied"


def record_callback(session: Session, institution: str, cb: Callback | None, *, outcome: str | None = None,
                    detail: str = "", request_id: str | None = None) -> GatewayCallback:
    """Apply (if it applies) and record one callback. ``outcome`` given: record a refusal."""
    order = None
    if cb is not None and outcome is None:
        write_lock(session)
        seen = session.execute(select(GatewayCallback.id).where(
            GatewayCallback.institution == institution, GatewayCallback.callback_id == cb.callback_id,
            GatewayCallback.outcome.in_(("applied", "late", "duplicate"))).limit(1)).scalar_one_or_none()
        order_id = session.execute(select(Order.id).join(Institution).where(
            Order.idempotency_key == cb.request_id, Institution.code == institution)).scalar_one_or_none()
        order = lock_order(session, order_id) if order_id is not None else None
        if order is None:
            outcome, detail = "unknown_order", f"no order {cb.request_id} for {institution}"
        elif seen is not None:
            outcome, detail = "duplicate", f"callback {cb.callback_id} already received; order is {order.state}"
        else:
            before = order.state
            outcome = apply_answer(order, cb, actor=f"institution:{institution}", via="callback")
            detail = f"{before} → {order.state}" if outcome != "duplicate" else f"order already {order.state}"
    rec = GatewayCallback(institution=institution, callback_id=cb.callback_id if cb else None,
                          request_id=cb.request_id if cb else request_id, order_id=order.id if order else None,
                          status=cb.status if cb else None, outcome=outcome or "malformed", detail=detail[:2000])
    session.add(rec)
    session.flush()
    return rec
