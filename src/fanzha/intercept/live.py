"""The lists a running server answers from: a snapshot of the store, kept fresh, and hit counters.

Checks never touch the database: they run against an immutable
:class:`~fanzha.intercept.blocklist.Blocklist` built from the store. Snapshots are
built by one background thread per process, never by a request: a build of millions
of entries takes seconds of CPU, and a request thread doing it would hold up that
worker's other requests and its answers to the server's health checks (uvicorn kills a
worker that does not answer within five seconds). The thread starts with the
application (:meth:`LiveLists.start`, from the API's lifespan) or at the first check.

Freshness: a change made through this process marks the snapshot stale
(:meth:`LiveLists.invalidate`); changes made by another process (a second server
worker, the CLI import) are noticed by reading the one-row list version at most every
``refresh_interval`` seconds. Either wakes the thread, which builds the new snapshot
while checks keep answering from the old one. A check waits for the new one only when
the last build took less than ``fresh_wait`` seconds (small lists read their own
writes at once); with large lists it answers from the previous version, which every
answer names.

Before the first snapshot exists a check waits at most ``first_wait`` seconds and then
gets :class:`ListsLoading` (HTTP 503 with ``Retry-After``). That is what a carrier
wants: its switch or SMS gateway has a deadline of its own and must decide at once —
typically letting the call through and asking another server — rather than hold a
call for the seconds a large list takes to load.

Hits are counted in memory — per day, kind and verdict reason, and per entry that
decided a block or allow — and added to the store at most every ``flush_interval``
seconds (and whenever figures are read). Several workers each add their own counts, so
the totals are sums, never overwritten.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from fanzha.intercept.blocklist import Verdict
from fanzha.intercept.prefixes import PrefixDiff, diff
from fanzha.intercept.store import (
    Snapshot,
    current_version,
    load_snapshot,
    prefixes_at,
    sweep_expired,
)
from fanzha.store.db import transaction
from fanzha.store.models import InterceptEntry, InterceptHitCount

__all__ = ["LiveLists", "ListsLoading"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
log = logging.getLogger(__name__)


class ListsLoading(RuntimeError):
    """No snapshot is built yet; ask again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the interception lists are still loading; retry after {retry_after} s")
        self.retry_after = retry_after


class LiveLists:
    def __init__(self, sessions: sessionmaker[Session], *, refresh_interval: float = 1.0,
                 flush_interval: float = 2.0, first_wait: float = 1.0, fresh_wait: float = 0.5) -> None:
        self._sessions = sessions
        self.refresh_interval = refresh_interval
        self.flush_interval = flush_interval
        self.first_wait = first_wait
        self.fresh_wait = fresh_wait
        self._snapshot: Snapshot | None = None
        self._wanted = 0          # bumped by each change made through this process
        self._built = -1          # the last ``_wanted`` a finished build covers
        self._started = 0         # cycles started and finished (a cycle may find nothing new)
        self._finished = 0
        self._checked_at = 0.0
        self._build_s: float | None = None  # how long the last build took
        self._error: str | None = None
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._count_lock = threading.Lock()
        self._outcomes: Counter = Counter()
        self._entry_hits: Counter = Counter()
        self._flushed_at = time.monotonic()
        self._diffs: dict[tuple[int, int], PrefixDiff] = {}

    # ---- the builder thread

    def start(self) -> None:
        """Start building in the background (idempotent)."""
        if self._thread is not None:
            return
        with self._cond:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=_builder, args=(weakref.ref(self), self._wake),
                                                name="intercept-lists", daemon=True)
                self._thread.start()

    def close(self) -> None:
        self._closed = True
        self._wake.set()

    def _cycle(self) -> None:
        """Read the version; build a new snapshot if it moved or this process changed something."""
        with self._cond:
            self._started += 1
            wanted = self._wanted
        started = time.monotonic()
        try:
            snap = self._snapshot
            if snap is not None and self._built >= wanted:
                with self._sessions() as session:
                    if current_version(session) == snap.version:
                        return
            with self._sessions() as session:
                snap = load_snapshot(session)
            with self._cond:
                self._snapshot, self._diffs, self._built = snap, {}, wanted
                self._build_s = time.monotonic() - started
                self._error = None
        except Exception as err:  # the store is away: keep answering from what we have
            error = f"{type(err).__name__}: {err}"
            if error != self._error:  # once, not every second
                log.exception("building the interception lists failed")
            self._error = error
        finally:
            with self._cond:
                self._checked_at = time.monotonic()
                self._finished += 1
                self._cond.notify_all()

    # ---- the snapshot

    def invalidate(self) -> None:
        """Something changed in the store (committed): build a new snapshot now."""
        with self._cond:
            self._wanted += 1
        self.start()
        self._wake.set()

    @property
    def ready(self) -> bool:
        return self._snapshot is not None

    def _retry_after(self) -> int:
        return max(1, min(60, round(self._build_s or 5)))

    def snapshot(self) -> Snapshot:
        """The newest snapshot (see the module docstring for when this waits, and how long)."""
        self.start()
        snap = self._snapshot
        due = self._built < self._wanted or time.monotonic() - self._checked_at >= self.refresh_interval
        if snap is not None and not due:
            return snap
        with self._cond:
            if snap is None:
                wait = self.first_wait
            elif self._build_s is not None and self._build_s < self.fresh_wait:
                wait = self.fresh_wait
            else:
                self._wake.set()
                return snap
            # wait for a cycle that begins after this call and covers every change made so far
            started, wanted = self._started, self._wanted
            self._wake.set()
            self._cond.wait_for(lambda: self._finished > started and self._built >= wanted, timeout=wait)
            if self._snapshot is None:
                raise ListsLoading(self._retry_after())
            return self._snapshot

    # ---- local-check lists

    def sweep(self) -> int:
        """Expire what is due (a new version if anything was), so the prefix list is exact."""
        with transaction(self._sessions) as session:
            n = sweep_expired(session)
        if n:
            self.invalidate()
        return n

    def prefix_diff(self, snap: Snapshot, since: int) -> PrefixDiff | None:
        """The diff from ``since`` to ``snap``'s version; ``None`` if a full list is needed."""
        key = (since, snap.version)
        cached = self._diffs.get(key)
        if cached is not None:
            return cached
        with self._sessions() as session:
            old = prefixes_at(session, snap.prefixes, since)
        if old is None or since >= snap.version:
            return None
        d = diff(old, snap.prefixes)
        if len(self._diffs) > 256:
            self._diffs.clear()
        self._diffs[key] = d
        return d

    # ---- hit counters

    def count(self, verdicts: Iterable[Verdict]) -> None:
        outcomes: Counter = Counter()
        entries: Counter = Counter()
        for v in verdicts:
            outcomes[(v.kind, v.reason)] += 1
            if v.entry_id is not None and v.reason in ("listed", "allowlisted"):
                entries[v.entry_id] += 1
        with self._count_lock:
            self._outcomes.update(outcomes)
            self._entry_hits.update(entries)

    def flush_due(self) -> bool:
        return time.monotonic() - self._flushed_at >= self.flush_interval

    def flush(self) -> None:
        """Add the counts gathered since the last flush to the store (kept if that fails)."""
        with self._count_lock:
            outcomes, self._outcomes = self._outcomes, Counter()
            entries, self._entry_hits = self._entry_hits, Counter()
            self._flushed_at = time.monotonic()
        if not outcomes and not entries:
            return
        now = datetime.now(timezone.utc)
        day = now.astimezone(SHANGHAI).date().isoformat()
        try:
            with transaction(self._sessions) as session:
                _add_counts(session, day, outcomes, entries, now)
        except SQLAlchemyError:
            with self._count_lock:  # try again at the next flush
                self._outcomes.update(outcomes)
                self._entry_hits.update(entries)


def _builder(ref: weakref.ref, wake: threading.Event) -> None:
    """The builder thread's loop. It holds its lists only while working on them, so
    lists nobody uses any more (an application that went away) end their thread."""
    while True:
        lists = ref()
        if lists is None or lists._closed:
            return
        lists._cycle()
        interval = max(lists.refresh_interval, 0.05)
        del lists
        wake.wait(interval)
        wake.clear()


def _add_counts(session: Session, day: str, outcomes: Counter, entries: Counter, now: datetime) -> None:
    for (kind, outcome), n in sorted(outcomes.items()):
        done = session.execute(
            update(InterceptHitCount)
            .where(InterceptHitCount.day == day, InterceptHitCount.kind == kind,
                   InterceptHitCount.outcome == outcome)
            .values(count=InterceptHitCount.count + n)).rowcount
        if not done:
            with session.begin_nested():  # another worker may insert the same row first
                session.add(InterceptHitCount(day=day, kind=kind, outcome=outcome, count=n))
    if entries:
        existing = set(session.execute(select(InterceptEntry.id).where(
            InterceptEntry.id.in_(list(entries)))).scalars())
        rows = [{"eid": eid, "n": n} for eid, n in sorted(entries.items()) if eid in existing]
        if rows:
            session.connection().execute(
                update(InterceptEntry.__table__)
                .where(InterceptEntry.__table__.c.id == bindparam("eid"))
                .values(hits=InterceptEntry.__table__.c.hits + bindparam("n"), last_hit_at=now),
                rows)
