"""The lists a running server answers from: a snapshot of the store, kept fresh, and hit counters.

Checks never touch the database: they run against an immutable
:class:`~fanzha.intercept.blocklist.Blocklist` built from the store. A change made
through this process marks the snapshot stale, so the next check rebuilds it; changes
made by another process (a second server worker, the CLI import) are noticed by
reading the one-row list version at most every ``refresh_interval`` seconds. While one
thread rebuilds, the others keep answering from the old snapshot.

Hits are counted in memory — per day, kind and verdict reason, and per entry that
decided a block or allow — and added to the store at most every ``flush_interval``
seconds (and whenever figures are read). Several workers each add their own counts, so
the totals are sums, never overwritten.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from fanzha.intercept.blocklist import Verdict
from fanzha.intercept.prefixes import PrefixDiff, diff
from fanzha.intercept.store import Snapshot, current_version, load_snapshot, prefixes_at, sweep_expired
from fanzha.store.db import transaction
from fanzha.store.models import InterceptEntry, InterceptHitCount

__all__ = ["LiveLists"]

SHANGHAI = ZoneInfo("Asia/Shanghai")


class LiveLists:
    def __init__(self, sessions: sessionmaker[Session], *, refresh_interval: float = 1.0,
                 flush_interval: float = 2.0) -> None:
        self._sessions = sessions
        self.refresh_interval = refresh_interval
        self.flush_interval = flush_interval
        self._snapshot: Snapshot | None = None
        self._stale = True
        self._checked_at = 0.0
        self._build_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._outcomes: Counter = Counter()
        self._entry_hits: Counter = Counter()
        self._flushed_at = time.monotonic()
        self._diffs: dict[tuple[int, int], PrefixDiff] = {}

    # ---- the snapshot

    def invalidate(self) -> None:
        """Something changed in the store (committed): rebuild before the next answer."""
        self._stale = True

    def _rebuild(self) -> Snapshot:
        with self._sessions() as session:
            snap = load_snapshot(session)
        self._snapshot = snap
        self._diffs.clear()
        return snap

    def snapshot(self) -> Snapshot:
        snap = self._snapshot
        due = self._stale or time.monotonic() - self._checked_at >= self.refresh_interval
        if snap is not None and not due:
            return snap
        if snap is None:
            with self._build_lock:  # the first caller builds; the others wait for it
                if self._snapshot is None:
                    self._stale = False
                    self._checked_at = time.monotonic()
                    return self._rebuild()
                return self._snapshot
        if not self._build_lock.acquire(blocking=self._stale):
            return snap  # another thread is looking; answer from what we have
        try:
            stale, self._stale = self._stale, False
            self._checked_at = time.monotonic()
            with self._sessions() as session:
                version = current_version(session)
            if stale or version != snap.version:
                return self._rebuild()
            return snap
        finally:
            self._build_lock.release()

    # ---- local-check lists

    def sweep(self) -> int:
        """Expire what is due (a new version if anything was), so the prefix list is exact."""
        with transaction(self._sessions) as session:
            n = sweep_expired(session)
        if n:
            self.invalidate()
        return n

    def prefix_diff(self, since: int) -> PrefixDiff | None:
        """The diff from ``since`` to the current version; ``None`` if a full list is needed."""
        snap = self.snapshot()
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
