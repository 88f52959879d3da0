"""The outbox dispatcher: every queued order delivered, at most once in effect, never lost.

Orders sit in the ``orders`` table (the outbox), written in the transaction of the
decision that made them. A dispatcher *claims* a batch by setting a lease on them in
one statement (``UPDATE … WHERE state = 'pending' AND lease expired``, with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so two dispatchers never send the same order
at the same time, and a dispatcher killed mid-flight simply lets its leases lapse: the
next one resends. A resend is harmless because the request carries the order's
idempotency key, and an institution acts once per key. An idle dispatcher looks at the
outbox every ``idle_s``, and at once when another connection commits new orders
(:mod:`fanzha.gateway.wake`): a case intake hands over is claimed in milliseconds.

Delivery is asynchronous (aiohttp, one pool of kept-alive connections per institution) with,
per institution, a cap on
requests in flight, a rate limit, a timeout, retries with exponential backoff and
jitter, and a circuit breaker. An institution that is down keeps its orders *queued*,
clocks running, with the reason on each order — never dropped, never failed in silence.
Every attempt is a row in ``order_attempts`` saying how it went.

Orders for institutions without an API go to the liaison's inbox (the ``/orders`` API):
they are marked ``sent`` with that note and answered there.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import enum
import os
import random
import secrets
import socket
import ssl
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Mapping
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from fanzha.collector import Freeze
from fanzha.gateway import loop as loop_mod
from fanzha.gateway import protocol as p
from fanzha.gateway import wake
from fanzha.gateway.orders import OrderState
from fanzha.gateway.signing import Keyring, SignatureError, signed_headers, verify
from fanzha.gateway.store import (
    EVENT_ROWS,
    FINAL,
    RecordedOrder,
    apply_answer,
    load_recorded_orders,
    lock_order,
    transition,
    write_event_rows,
    write_lock,
    write_recorded_orders,
)
from fanzha.money import format_fen, parse_yuan
from fanzha.store.db import insert_rows, transaction
from fanzha.store.models import Case, Institution, Order, OrderAttempt
from fanzha.store.types import utcnow

ANSWER_METHOD = "ANSWER"

class Outcome(str, enum.Enum):
    answered = "answered"            # a valid, signed answer (accepted, done or rejected)
    inbox = "inbox"                  # no API: put in the liaison's inbox
    server_error = "server_error"    # 5xx, 429: retried
    unauthorised = "unauthorised"    # 401/403 from the institution (keys, clocks): retried, loudly
    refused = "refused"              # other 4xx: the request itself is wrong; the order fails
    timeout = "timeout"              # no answer in time: retried (the same key makes it safe)
    connect_error = "connect_error"  # could not reach the institution: retried
    malformed = "malformed"          # an answer that is not the protocol: retried
    bad_signature = "bad_signature"  # an answer not signed by the institution's key: retried
    expired = "expired"              # the order's validity ended before delivery: failed
    circuit_open = "circuit_open"    # not sent: the institution's circuit is open; stays queued
    lease_lost = "lease_lost"        # another dispatcher took the order over: nothing changed


RETRIED = frozenset({Outcome.server_error, Outcome.unauthorised, Outcome.timeout, Outcome.connect_error,
                     Outcome.malformed, Outcome.bad_signature, Outcome.circuit_open})


# --- pure parts: backoff, breaker, rate ----------------------------------------------

def backoff_s(attempt: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter": half the step fixed, half random, so
    retries spread out but never come back at once."""
    step = min(cap_s, base_s * 2 ** max(attempt - 1, 0))
    return step / 2 + rng.uniform(0, step / 2)


class CircuitBreaker:
    """Stop sending to an institution after ``failures`` failures in a row; after
    ``reset_s`` let one trial request through (half-open) and close on its success."""

    def __init__(self, failures: int = 5, reset_s: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.failures, self.reset_s, self.clock = failures, reset_s, clock
        self.state = "closed"
        self.count = 0
        self.opened_at = 0.0
        self.trial = False

    def allow(self) -> bool:
        if self.state == "closed":
            return True
        if self.state == "open" and self.clock() >= self.opened_at + self.reset_s:
            self.state, self.trial = "half_open", False
        if self.state == "half_open" and not self.trial:
            self.trial = True
            return True
        return False

    def blocked(self) -> bool:
        """Whether new orders should wait (without taking the half-open trial)."""
        if self.state == "closed":
            return False
        if self.state == "open":
            return self.clock() < self.opened_at + self.reset_s
        return self.trial

    def reopens_in(self) -> float:
        return max(self.opened_at + self.reset_s - self.clock(), 0.0)

    def success(self) -> None:
        self.state, self.count, self.trial = "closed", 0, False

    def failure(self) -> bool:
        """Count a failure; True when this one opened the circuit."""
        self.count += 1
        if self.state == "half_open" or (self.state == "closed" and self.count >= self.failures):
            opened = self.state != "open"
            self.state, self.opened_at, self.trial = "open", self.clock(), False
            return opened
        return False


class RateLimiter:
    """A token bucket: ``per_minute`` requests a minute, bursts of up to ``burst``."""

    def __init__(self, per_minute: int | None, burst: int = 1):
        self.rate = (per_minute or 0) / 60.0
        self.burst = max(burst, 1)
        self.tokens = float(self.burst)
        self.t = time.monotonic()

    async def take(self) -> None:
        if self.rate <= 0:
            return
        while True:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.t) * self.rate)
            self.t = now
            if self.tokens >= 1:
                self.tokens -= 1
                return
            await asyncio.sleep((1 - self.tokens) / self.rate)


_SWITCH = {"running": 0, "saved": None}


def _switch_interval(delta: int, wanted: float | None) -> None:
    """Lower the GIL switch interval while any dispatcher of this process runs; put the
    process's own back when the last one stops."""
    if not wanted:
        return
    if delta > 0:
        if _SWITCH["running"] == 0:
            _SWITCH["saved"] = sys.getswitchinterval()
        _SWITCH["running"] += 1
        sys.setswitchinterval(min(_SWITCH["saved"], wanted))
    else:
        _SWITCH["running"] = max(_SWITCH["running"] - 1, 0)
        if _SWITCH["running"] == 0 and _SWITCH["saved"] is not None:
            sys.setswitchinterval(_SWITCH["saved"])


def _moves_loop(r: Result) -> bool:
    """Whether an answer may move the automatic loop on (see :func:`fanzha.gateway.loop.moves_on`)."""
    if r.outcome != Outcome.answered or r.answer is None:
        return False
    done_hold = r.answer.status == "done" and r.job.kind in loop_mod.HOLD_KINDS
    held = (r.answer.result or {}).get("held") if done_hold else None
    try:
        held_fen = None if held is None else parse_yuan(str(held), allow_zero=True)
    except ValueError:
        return False
    return loop_mod.calls_next_step(r.job.kind, r.answer.status, held_fen, r.job.amount_fen)


# --- configuration and the unit of work ----------------------------------------------

@dataclass
class DispatchConfig:
    callback_url: str | None = None   # the centre's /gateway/callbacks, as institutions reach it
    max_in_flight: int = 8            # per institution, unless the institution row says otherwise
    rate_per_minute: int | None = None
    timeout_s: float = 10.0
    lease_s: float | None = None      # default: long enough for a queued wait plus a timeout
    batch: int = 200
    idle_s: float = 0.05              # pause between claims when there is nothing to do
    #: Cut the idle pause short when another connection commits new orders (PostgreSQL's
    #: notification, SQLite's data version read every ``wake_poll_s``): see :mod:`fanzha.gateway.wake`.
    wake: bool = True
    wake_poll_s: float = 0.01
    record_chunk: int = 32            # answers written per transaction (each commits, then its orders go)
    claim_gap_s: float = 1.0          # while answers wait to be written, claim at most this often
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 60.0
    breaker_failures: int = 5
    breaker_reset_s: float = 30.0
    answer_poll_s: float = 60.0       # ask again about an accepted order whose callback is overdue
    #: How long an idle connection to an institution is kept for the next request. The
    #: loop's layers come seconds apart: with a 5 s keep-alive (uvicorn's default) most
    #: connections were closed just before they were wanted again — a new TCP connection
    #: per request, and now and then a request sent on one the server was closing.
    keepalive_s: float = 60.0
    seed: int | None = None
    loop_policy: loop_mod.LoopPolicy | None = None   # the loop's policy (None: the deployment's FANZHA_LOOP_OFFICER_ROUND)
    # How long one thread may hold the GIL while another waits for it. The database
    # thread and the event loop each give up the GIL on every system call (a statement,
    # a send, a poll) and with Python's default 5 ms, getting it back costs up to that
    # much each time: both threads crawl. While a dispatcher runs it uses this instead.
    switch_interval_s: float | None = 0.0005

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.lease_s if self.lease_s is not None else 3 * self.timeout_s + 30)


@dataclass
class Job:
    """What a claimed order needs to go out, detached from any session."""

    order_id: int
    key: str
    kind: str
    case_no: str
    legal_basis: str
    target: str
    amount_fen: int | None
    expires_at: datetime | None
    state: str
    attempts: int
    institution_id: int
    institution: str
    api_url: str
    timeout_s: float


@dataclass
class Result:
    job: Job
    outcome: Outcome
    started_at: datetime
    latency_ms: int | None = None
    http_status: int | None = None
    detail: str = ""
    answer: p.Answer | None = None
    retry_after_s: float | None = None
    received_at: datetime | None = None


@dataclass
class InstitutionLane:
    """Per-institution limits and health, kept by one dispatcher."""

    cap: int
    sem: asyncio.Semaphore
    rate: RateLimiter
    breaker: CircuitBreaker
    queued: int = 0
    session: aiohttp.ClientSession | None = None   # its connections, kept alive between orders


@dataclass
class Counters:
    claimed: int = 0
    inbox: int = 0
    attempts: int = 0
    answered: int = 0
    retried: int = 0
    failed: int = 0
    expired: int = 0
    lease_lost: int = 0
    handed_over: int = 0     # the loop's orders sent straight from the transaction that decided them
    db_cpu_s: float = 0.0    # CPU time of the database thread (recording, deciding, claiming)
    record_cpu_s: float = 0.0   # of which recording answers and the loop's steps on them
    by_outcome: dict[str, int] = field(default_factory=dict)


@dataclass
class Reply:
    """An institution's HTTP answer, read whole."""

    status: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class Undelivered(Exception):
    """No HTTP answer came back: ``outcome`` (timeout or connect error) and why."""

    def __init__(self, outcome: "Outcome", detail: str):
        super().__init__(detail)
        self.outcome, self.detail = outcome, detail


def institution_session(cap: int, keepalive_s: float, tls: ssl.SSLContext | bool = True) -> aiohttp.ClientSession:
    """A pool of at most ``cap`` connections to one institution, idle ones kept for
    ``keepalive_s``; no cookies kept, nothing decompressed behind the signature's back.
    Made inside the running event loop."""
    connector = aiohttp.TCPConnector(limit=cap, limit_per_host=cap, keepalive_timeout=keepalive_s, ssl=tls)
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False)


async def exchange(session: aiohttp.ClientSession, url: str, body: bytes, headers: Mapping[str, str],
                   timeout_s: float) -> Reply:
    """POST ``body`` and read the whole answer within ``timeout_s``, or raise
    :class:`Undelivered` saying what happened (a resend is safe: the request carries its
    idempotency key)."""
    try:
        async with session.post(url, data=body, headers=headers, allow_redirects=False,
                                timeout=aiohttp.ClientTimeout(total=timeout_s)) as r:
            return Reply(r.status, r.headers, await r.read())
    except asyncio.TimeoutError as err:   # aiohttp's timeouts are asyncio's too
        raise Undelivered(Outcome.timeout, f"no answer within {timeout_s:g} s ({type(err).__name__})") from None
    except aiohttp.ClientConnectorError as err:
        raise Undelivered(Outcome.connect_error, f"cannot connect: {err}"[:500]) from None
    except aiohttp.ClientError as err:    # dropped, cut short, not HTTP
        raise Undelivered(Outcome.connect_error, f"{type(err).__name__}: {err}"[:500]) from None


#: What a leased order needs to go out (:meth:`Dispatcher._jobs`), built once: it runs
#: for every claim and every batch of answers that makes orders.
_JOB_ROWS = (select(Order.id, Order.idempotency_key, Order.kind, Case.case_no, Order.legal_basis, Order.target,
                    Order.amount_fen, Order.expires_at, Order.state, Order.attempts, Institution.id, Institution.code,
                    Institution.api_url, Institution.timeout_ms, Institution.max_in_flight,
                    Institution.rate_per_minute)
             .join(Institution, Order.institution_id == Institution.id)
             .join(Case, Order.case_id == Case.id)
             .where(Order.id.in_(bindparam("ids", expanding=True))).order_by(Order.id))


class Dispatcher:
    """Claims orders from the outbox and delivers them; see the module docstring."""

    def __init__(self, sessions: sessionmaker[Session], keys: Keyring, config: DispatchConfig | None = None,
                 *, name: str | None = None):
        self.sessions = sessions
        self.keys = keys
        self.config = config or DispatchConfig()
        self.name = (name or f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(3)}")[:64]
        self.rng = random.Random(self.config.seed)
        self.lanes: dict[int, InstitutionLane] = {}
        self.counters = Counters()
        self._results: asyncio.Queue[Result] | None = None
        self._tasks: set[asyncio.Task] = set()
        self._opened: list[tuple[int, str]] = []  # circuits opened since the last write: (institution, why)
        self._recorded: asyncio.Event | None = None  # set when answers queued orders not handed over
        self._nudged: asyncio.Event | None = None    # set when the outbox may hold new orders (or on stop)
        self._gc: Freeze | None = None  # the run's freeze of the process's objects for the collector (see run)
        # One thread does all of this dispatcher's database work, one transaction after
        # the other: claiming and recording never wait on each other's SQLite write lock
        # (whose busy handler sleeps), and the event loop thread never touches the database.
        self._db: concurrent.futures.ThreadPoolExecutor | None = None
        self._closing = False
        self._backlog = 0  # answers received and not yet written (see _claim_now)
        self._unsent: list[int] = []  # orders leased to this dispatcher but not sent (shutting down)

    # claiming ------------------------------------------------------------------------
    def _lane(self, inst_id: int, max_in_flight: int | None, rate: int | None) -> InstitutionLane:
        lane = self.lanes.get(inst_id)
        if lane is None:
            n = max_in_flight or self.config.max_in_flight
            lane = self.lanes[inst_id] = InstitutionLane(
                n, asyncio.Semaphore(n), RateLimiter(rate or self.config.rate_per_minute, burst=n),
                CircuitBreaker(self.config.breaker_failures, self.config.breaker_reset_s))
        return lane

    def _busy(self) -> list[int]:
        """Institutions not to claim for now: circuit open, or enough already queued here."""
        return [inst_id for inst_id, lane in self.lanes.items()
                if lane.breaker.blocked() or lane.queued >= 2 * lane.cap]

    def claim(self, busy: list[int], limit: int) -> list[Job]:
        """Lease up to ``limit`` due orders to this dispatcher (one transaction).

        Also, in passing: orders for institutions without an API go to the liaison's
        inbox, and orders whose validity has ended are failed with that reason.
        """
        now = utcnow()
        until = now + self.config.lease
        lease_free = or_(Order.lease_until.is_(None), Order.lease_until < now)
        due = or_(Order.next_attempt_at.is_(None), Order.next_attempt_at <= now)
        with transaction(self.sessions) as s:
            self._to_inbox(s, now)
            wanted = (select(Order.id).join(Institution, Order.institution_id == Institution.id)
                      .where(Institution.api_url.is_not(None), lease_free, due,
                             or_(Order.state == OrderState.pending.value,
                                 and_(Order.state == OrderState.acknowledged.value,
                                      Order.next_attempt_at.is_not(None)))))
            if busy:
                wanted = wanted.where(Order.institution_id.not_in(busy))
            # a plain read first: when nothing is due (most of the time) no write lock is taken
            if s.execute(wanted.limit(1)).first() is None:
                return []
            candidates = wanted.order_by(Order.id).limit(limit).with_for_update(skip_locked=True, of=Order)
            ids = s.execute(update(Order).where(Order.id.in_(candidates.scalar_subquery()), lease_free)
                            .values(lease_until=until, leased_by=self.name).returning(Order.id)
                            .execution_options(synchronize_session=False)).scalars().all()
            return self._jobs(s, ids, now)

    def _jobs(self, s: Session, ids: list[int], now: datetime) -> list[Job]:
        """The jobs for orders just leased to this dispatcher (orders already expired are
        failed with that reason instead)."""
        if not ids:
            return []
        rows = s.execute(_JOB_ROWS, {"ids": ids}).all()
        jobs = []
        for r in rows:
            if r.state == OrderState.pending.value and r.expires_at and r.expires_at <= now:
                order = s.get(Order, r.id)
                transition(order, OrderState.failed, actor=self.name, at=now,
                           note="expired before it could be delivered")
                order.lease_until = order.leased_by = None
                order.last_error = "expired before delivery"
                self.counters.expired += 1
                continue
            self._lane(r[10], r.max_in_flight, r.rate_per_minute)
            jobs.append(Job(r.id, r.idempotency_key, r.kind, r.case_no, r.legal_basis, r.target, r.amount_fen,
                            r.expires_at, r.state, r.attempts, r[10], r.code, r.api_url or "",
                            (r.timeout_ms / 1000) if r.timeout_ms else self.config.timeout_s))
        self.counters.claimed += len(jobs)
        return jobs

    def _to_inbox(self, s: Session, now: datetime) -> None:
        """Pending orders for institutions that answer by hand: into the liaison's inbox."""
        ids = s.execute(select(Order.id).join(Institution, Order.institution_id == Institution.id)
                        .where(Institution.api_url.is_(None), Order.state == OrderState.pending.value,
                               or_(Order.lease_until.is_(None), Order.lease_until < now))
                        .limit(self.config.batch).with_for_update(skip_locked=True, of=Order)).scalars().all()
        if ids:
            write_lock(s)
        for oid in ids:
            order = lock_order(s, oid)
            if order is None or order.state != OrderState.pending.value or (
                    order.lease_until is not None and order.lease_until >= now):
                continue
            transition(order, OrderState.sent, actor=self.name, at=now,
                       note=f"to the liaison inbox of {order.institution.code} (no API)")
            self.counters.inbox += 1

    # sending ---------------------------------------------------------------------------
    def _session(self, lane: "InstitutionLane") -> aiohttp.ClientSession:
        """The institution's connection pool, made when first wanted: at most its cap of
        connections, kept alive between orders, never scanning another institution's."""
        if lane.session is None:
            # TLS as aiohttp verifies it by default: with the CA bundle it loaded at import,
            # not loaded again (some 40 ms) in the event loop as the first requests leave
            lane.session = institution_session(lane.cap, self.config.keepalive_s)
        return lane.session

    async def _send(self, job: Job) -> None:
        lane = self.lanes[job.institution_id]
        try:
            async with lane.sem:
                if not lane.breaker.allow():
                    await self._results.put(Result(job, Outcome.circuit_open, utcnow(), detail=(
                        f"circuit open for {job.institution}: held in the queue, retried in "
                        f"{lane.breaker.reopens_in():.1f} s"), retry_after_s=lane.breaker.reopens_in()))
                    return
                await lane.rate.take()
                res = await self._deliver(self._session(lane), job)
                if res.outcome in RETRIED:
                    if lane.breaker.failure():
                        self._opened.append((job.institution_id, (
                            f"circuit open for {job.institution} after {lane.breaker.count} failures in a row "
                            f"(last: {res.outcome.value} {res.detail[:200]}); queued, clocks running")))
                else:
                    lane.breaker.success()
                await self._results.put(res)
        finally:
            lane.queued -= 1

    async def _deliver(self, session: aiohttp.ClientSession, job: Job) -> Result:
        started = utcnow()
        url = job.api_url.rstrip("/") + p.path_for(job.kind)
        path = urlsplit(url).path
        key = self.keys.get(job.institution)
        if key is None:
            return Result(job, Outcome.unauthorised, started, detail=f"no key for {job.institution} in the keyring")
        body = p.request_body(kind=job.kind, request_id=job.key, case_no=job.case_no, legal_basis=job.legal_basis,
                              target=job.target, amount=format_fen(job.amount_fen) if job.amount_fen else None,
                              sent_at=started, callback_url=self.config.callback_url, expires_at=job.expires_at)
        headers = signed_headers(key, job.institution, "POST", path, body)
        t0 = time.monotonic()
        try:
            r = await exchange(session, url, body, headers, job.timeout_s)
        except Undelivered as err:
            return Result(job, err.outcome, started, int((time.monotonic() - t0) * 1000), detail=err.detail)
        ms = int((time.monotonic() - t0) * 1000)
        res = Result(job, Outcome.answered, started, ms, r.status, received_at=utcnow())
        if r.status in (429, 503) or r.status >= 500:
            res.outcome, res.detail = Outcome.server_error, f"HTTP {r.status}: {r.text[:300]}"
            ra = r.headers.get("Retry-After")
            res.retry_after_s = float(ra) if ra and ra.replace(".", "", 1).isdigit() else None
            return res
        if r.status in (401, 403):
            res.outcome, res.detail = Outcome.unauthorised, f"HTTP {r.status}: {r.text[:300]}"
            return res
        if r.status >= 400:
            res.outcome, res.detail = Outcome.refused, f"HTTP {r.status}: {r.text[:500]}"
            return res
        try:
            answer = p.parse_answer(r.content, kind=job.kind, request_id=job.key)
        except p.MalformedAnswer as err:
            res.outcome, res.detail = Outcome.malformed, f"HTTP {r.status}: {err}"[:500]
            return res
        try:
            verify(self.keys, r.headers, ANSWER_METHOD, path, r.content, expect_institution=job.institution)
        except SignatureError as err:
            res.outcome, res.detail = Outcome.bad_signature, f"answer refused: {err}"
            return res
        res.answer = answer
        res.detail = res.answer.status + (f": {res.answer.reason}" if res.answer.reason else "")
        return res

    # recording -------------------------------------------------------------------------
    def record(self, results: list[Result], busy: list[int] | tuple[int, ...] = ()) -> tuple[list[Job], int]:
        """Write a batch of attempts and their consequences in one transaction.

        Orders the automatic loop decides on these answers are written in the same
        transaction already leased to this dispatcher (for institutions with an API and
        not ``busy``); returned are their jobs, to send as soon as the transaction has
        committed — a crash before that lets the leases lapse and the orders are sent by
        whoever claims them next — and how many new orders were left to the outbox.
        """
        t0 = time.thread_time()
        try:
            return self._record(results, busy)
        finally:
            self.counters.record_cpu_s += time.thread_time() - t0

    def _record(self, results: list[Result], busy: list[int] | tuple[int, ...]) -> tuple[list[Job], int]:
        now = utcnow()
        with transaction(self.sessions) as s:
            write_lock(s)
            s.info[loop_mod.LEASE_TO] = (self.name, now + self.config.lease, frozenset(busy))
            s.info[loop_mod.DEFER] = deferred = []
            s.info[EVENT_ROWS] = []
            opened, self._opened = self._opened, []
            # the orders as plain rows, their changes written in one UPDATE per set of
            # changed columns (not an ORM object loaded, tracked and flushed each)
            loaded = load_recorded_orders(s, (r.job.order_id for r in results))
            attempts: list[dict] = []
            for res in results:
                order = loaded.get(res.job.order_id)
                if order is not None:
                    self._record_one(s, order, res, now, attempts)
            del s.info[loop_mod.DEFER]
            write_recorded_orders(s, loaded.values())
            if attempts:   # one multi-row insert, not an ORM object each
                insert_rows(s, OrderAttempt.__table__, attempts)
            # after the attempts' own notes, so the reason they wait stays on every queued order
            for inst_id, why in opened:
                s.execute(update(Order).where(Order.institution_id == inst_id,
                                              Order.state == OrderState.pending.value)
                          .values(last_error=why).execution_options(synchronize_session=False))
            loop_mod.on_answers(s, deferred, policy=self.config.loop_policy)   # the loop's next step, for every answer of the batch
            new = s.info.pop(loop_mod.NEW_ORDERS, [])
            s.flush()
            ids = [o.id for o in new if o.leased_by == self.name]
            jobs = self._jobs(s, ids, now)
            write_event_rows(s)
            self.counters.handed_over += len(jobs)
            return jobs, len(new) - len(ids)

    def _attempt(self, order: RecordedOrder, res: Result, outcome: Outcome, attempts: list[dict]) -> None:
        """The attempt's row, put in ``attempts``, and counted."""
        attempts.append({"order_id": order.id, "institution_id": res.job.institution_id, "dispatcher": self.name,
                         "started_at": res.started_at, "latency_ms": res.latency_ms, "outcome": outcome.value,
                         "http_status": res.http_status, "detail": res.detail[:2000]})
        self.counters.attempts += 1
        self.counters.by_outcome[outcome.value] = self.counters.by_outcome.get(outcome.value, 0) + 1

    def _record_one(self, s: Session, order: RecordedOrder, res: Result, now: datetime, attempts: list[dict]) -> None:
        """Move ``order`` on ``res``; its attempt's row is put in ``attempts``."""
        job = res.job
        outcome = res.outcome
        ours = order.leased_by == self.name
        if order.state in FINAL:  # answered meanwhile (a callback): the attempt is history
            if ours:
                order.lease_until = order.leased_by = None
            res.detail = f"{res.detail} (order already {order.state})"
            outcome = Outcome.answered if outcome == Outcome.answered else outcome
            ours = True
            order.attempts += 1
            self._attempt(order, res, outcome, attempts)
            return
        if not ours:
            outcome = Outcome.lease_lost
            res.detail = f"lease lost (now {order.leased_by or 'none'}); was: {res.outcome.value} {res.detail}"
        self._attempt(order, res, outcome, attempts)
        if outcome == Outcome.lease_lost:
            self.counters.lease_lost += 1
            return
        order.attempts += 1
        order.lease_until = order.leased_by = None
        if outcome == Outcome.answered and res.answer is not None:
            self.counters.answered += 1
            polled = order.state == OrderState.acknowledged.value
            apply_answer(order, res.answer, actor=self.name, sent_at=res.started_at, received_at=res.received_at,
                         via="poll" if polled else "answer", institution=job.institution)
            if order.state == OrderState.acknowledged.value:
                # the answer will come by callback; ask again if it is overdue
                wait = self.config.answer_poll_s * (2 ** min(order.attempts - 1, 4) if polled else 1)
                order.next_attempt_at = now + timedelta(seconds=wait)
            return
        if outcome in RETRIED:
            self.counters.retried += 1
            delay = backoff_s(order.attempts, self.config.backoff_base_s, self.config.backoff_cap_s, self.rng)
            if res.retry_after_s:
                delay = max(delay, res.retry_after_s)
            order.next_attempt_at = now + timedelta(seconds=delay)
            order.last_error = (f"{outcome.value}: {res.detail}"[:1000] +
                                f" — attempt {order.attempts}, next in {delay:.1f} s")
            return
        # refused: the request itself is wrong; resending cannot help
        self.counters.failed += 1
        order.last_error = f"{outcome.value}: {res.detail}"[:1000]
        if order.state == OrderState.pending.value:
            transition(order, OrderState.failed, actor=self.name, at=now,
                       note=f"refused by {job.institution}: {res.detail[:500]}")
        else:
            order.next_attempt_at = None  # an acknowledged order: stop asking, it stays acknowledged

    async def _in_db(self, fn, *args):
        """Run ``fn(*args)`` on this dispatcher's database thread (its CPU time counted)."""
        return await asyncio.get_running_loop().run_in_executor(self._db, self._timed, fn, args)

    def _timed(self, fn, args):
        t0 = time.thread_time()
        try:
            return fn(*args)
        finally:
            self.counters.db_cpu_s += time.thread_time() - t0

    def _spawn(self, jobs: list[Job]) -> None:
        for job in jobs:
            self.lanes[job.institution_id].queued += 1
            t = asyncio.create_task(self._send(job))
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)

    async def _writer(self) -> None:
        """Write results as they come, a few at a time: each transaction small, so the
        orders an answer makes leave as soon as it is written, not after a long batch.

        Answers that move the automatic loop on (transaction details; a hold refused
        or short of what it asked) go first: the loop's next orders wait on them.
        Everything else — a hold confirmed, a retry to schedule — is written when
        there is none, more at a time: its times were taken when it happened, and
        nothing waits on it being written down.
        """
        assert self._results is not None
        first: collections.deque[Result] = collections.deque()
        rest: collections.deque[Result] = collections.deque()

        def take(r: Result) -> None:
            (first if _moves_loop(r) else rest).append(r)

        while True:
            if not first and not rest:
                take(await self._results.get())
            while not self._results.empty():
                take(self._results.get_nowait())
            src, n = (first, self.config.record_chunk) if first else (rest, 4 * self.config.record_chunk)
            batch = [src.popleft() for _ in range(min(n, len(src)))]
            self._backlog = len(first) + len(rest) + len(batch)
            try:
                jobs, left = await self._in_db(self.record, batch, self._busy())
                if self._closing:
                    self._unsent.extend(j.order_id for j in jobs)
                else:
                    self._spawn(jobs)
                if left and self._recorded is not None:
                    self._recorded.set()   # new orders not handed over: claim them now
            except Exception as err:  # the database blinked: leases lapse, orders are resent
                self.counters.by_outcome["record_error"] = self.counters.by_outcome.get("record_error", 0) + 1
                self._last_error = repr(err)
            finally:
                self._backlog = len(first) + len(rest)
                for _ in batch:
                    self._results.task_done()

    def _release(self, ids: list[int]) -> None:
        """Give back the leases of orders handed over but never sent (shutting down)."""
        with transaction(self.sessions) as s:
            s.execute(update(Order).where(Order.id.in_(ids), Order.leased_by == self.name,
                                          Order.state == OrderState.pending.value)
                      .values(lease_until=None, leased_by=None).execution_options(synchronize_session=False))

    # the loop --------------------------------------------------------------------------
    def unsettled(self) -> int:
        """Orders the dispatcher still has to deliver or hear back about."""
        with self.sessions() as s:
            return s.execute(select(func.count()).select_from(Order).join(Institution).where(or_(
                Order.state == OrderState.pending.value,
                and_(Order.state == OrderState.acknowledged.value, Institution.api_url.is_not(None),
                     Order.next_attempt_at.is_not(None))))).scalar_one()

    async def run(self, stop: asyncio.Event | None = None, *, until_settled: bool = False,
                  deadline_s: float | None = None) -> Counters:
        """Claim and deliver until ``stop`` is set (or, with ``until_settled``, until no
        order is left to deliver or hear back about)."""
        stop = stop or asyncio.Event()
        self._results = asyncio.Queue()
        self._recorded = asyncio.Event()
        self._nudged = asyncio.Event()
        self._closing, self._unsent = False, []
        self._backlog, last_claim = 0, 0.0
        self._db = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="dispatcher-db")
        _switch_interval(+1, self.config.switch_interval_s)
        # What is alive now (modules, settings, the process's start-up) outlives the run:
        # frozen, the collector's full passes do not walk it again at every burst of
        # requests and answers (pyarrow alone brings in pandas). A process that froze
        # objects of its own keeps them so.
        self._gc = Freeze()
        self._gc.freeze()
        end = time.monotonic() + deadline_s if deadline_s else None
        warm = None
        watchers = [asyncio.create_task(self._nudge_on(stop))]
        engine = self.sessions.kw.get("bind")
        if self.config.wake and engine is not None:
            watchers.append(asyncio.create_task(wake.watch(engine.url, self._nudged.set, poll_s=self.config.wake_poll_s,
                                                           failed=self._watch_failed)))
        try:
            writer = asyncio.create_task(self._writer())
            try:
                while not stop.is_set() and (end is None or time.monotonic() < end):
                    room = self.config.batch - sum(l.queued for l in self.lanes.values())
                    jobs = []
                    if room > 0 and self._claim_now(last_claim):
                        last_claim = time.monotonic()
                        jobs = await self._in_db(self.claim, self._busy(), room)
                    self._spawn(jobs)
                    if warm is None:  # the tracer's first run is slow: have it while the first requests are out
                        warm = asyncio.ensure_future(self._in_db(self._warm_up))
                    if jobs:
                        await asyncio.sleep(0)
                        continue
                    if until_settled and not self._tasks and self._results.empty():
                        await self._results.join()
                        if await self._in_db(self.unsettled) == 0:
                            break
                    await self._wait()
            finally:
                self._closing = True
                for t in list(self._tasks):
                    t.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
                await self._results.join()
                writer.cancel()
                await asyncio.gather(writer, return_exceptions=True)
                if self._unsent:
                    try:
                        await self._in_db(self._release, self._unsent)
                    except Exception as err:  # the leases lapse by themselves
                        self._last_error = repr(err)
        finally:
            for t in watchers:
                t.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
            for lane in self.lanes.values():
                session, lane.session = lane.session, None
                if session is not None:
                    await session.close()
            if warm is not None:
                await asyncio.gather(warm, return_exceptions=True)
            self._db.shutdown(wait=True)
            _switch_interval(-1, self.config.switch_interval_s)
            self._gc.release()
        return self.counters

    def _warm_up(self) -> None:
        """The loop's first decision, made before real answers need one; what it loads
        (the tracer's modules) is frozen with the rest of the start-up."""
        loop_mod.warm_up()
        self._gc.freeze()

    @property
    def _frozen(self) -> bool:
        """Whether the last run froze the process's objects (nothing else had)."""
        return self._gc is not None and self._gc.owned

    def _claim_now(self, last_claim: float) -> bool:
        """Whether to claim from the outbox now. Not while answers wait to be written
        (the orders they make are handed over without a claim, and a claim in the
        database thread would hold them up), unless answers left orders to the outbox
        or ``claim_gap_s`` has passed since the last claim (retries and polls come due)."""
        waiting = self._backlog + (self._results.qsize() if self._results is not None else 0)
        return not waiting or (self._recorded is not None and self._recorded.is_set()) or \
            time.monotonic() - last_claim >= self.config.claim_gap_s

    async def _wait(self) -> None:
        """Sleep until something may be due: a short idle pause, cut short by stop or by
        new orders committed elsewhere; none when answers were just written (they may
        have queued the loop's next orders)."""
        if self._recorded is not None and self._recorded.is_set():
            self._recorded.clear()
            return
        assert self._nudged is not None
        try:
            await asyncio.wait_for(self._nudged.wait(), timeout=self.config.idle_s)
        except asyncio.TimeoutError:
            pass
        self._nudged.clear()   # before the claim: orders committed after it nudge again

    async def _nudge_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        assert self._nudged is not None
        self._nudged.set()

    def _watch_failed(self, err: BaseException) -> None:
        """The outbox watch failed (it tries again; the idle looks go on meanwhile)."""
        self.counters.by_outcome["watch_error"] = self.counters.by_outcome.get("watch_error", 0) + 1
        self._last_error = f"outbox watch: {err!r}"
