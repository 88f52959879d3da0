"""Interception's edge to the store: entries with their life cycle, appeals, list versions.

The pure core (:mod:`.blocklist`, :mod:`.prefixes`) knows nothing of tables; this
module is where an entry is listed, seen again, expired, revoked or allowlisted, and
where each such change becomes a new *list version*.

Life cycle of an entry (``intercept_entries``):

* listed with its source (case, detector, feed, analyst), reason, score, first/last
  seen and valid-until; ``state`` active;
* listed again (a *sighting*) — the same value on the same list: ``valid_until`` is
  pushed out to at least the sighting plus its time to live, ``last_seen`` and the
  score move up, ``sightings`` counts. An expired entry seen again is active again; a
  revoked one stays revoked (re-listing after an appeal is a person's decision);
* expired by :func:`sweep_expired` once ``valid_until`` has passed (checks compare the
  time exactly in between, so a late sweep never keeps an entry blocking);
* revoked by an analyst, or by an upheld appeal (which also allowlists the value).

Every step is written to ``intercept_events`` (the entry's history). The API writes
the audit record beside it.

Versions: every change bumps the one-row ``intercept_list_head`` (taking it first also
serialises writers, as the audit head does). When a URL block entry starts or stops
being active and no other active entry has its 4-byte hash prefix, the prefix's
arrival or departure is logged in ``intercept_prefix_changes`` under that version.
The local-check list of version *v* is therefore the prefixes of the block URL entries
whose state is active right after *v*, and the diff from any older version is read
off the log (:func:`prefixes_at`). The log keeps the last :data:`PREFIX_LOG_VERSIONS`
versions (:func:`trim_prefix_log`); a client older than that gets the full list, as
Safe Browsing clients do.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from fanzha.errors import InputError
from fanzha.intercept.blocklist import Blocklist, BlocklistBuilder
from fanzha.intercept.entries import from_epoch_us, require_aware
from fanzha.intercept.listfile import classify
from fanzha.intercept.phones import (
    looks_like_range,
    parse_phone,
    parse_phone_range,
    value_to_key,
)
from fanzha.intercept.prefixes import PrefixList
from fanzha.intercept.urls import canonical_parts, host_report
from fanzha.store.models import (
    InterceptAppeal,
    InterceptEntry,
    InterceptEvent,
    InterceptListHead,
    InterceptPrefixChange,
)
from fanzha.store.types import utcnow

__all__ = [
    "KINDS", "LISTINGS", "SOURCE_KINDS", "DEFAULT_TTL", "ALLOW_TTL", "Normalised", "normalise",
    "list_entry", "revoke_entry", "sweep_expired", "file_appeal", "decide_appeal", "effective_state",
    "current_version", "load_snapshot", "prefixes_at", "trim_prefix_log", "PREFIX_LOG_VERSIONS", "Snapshot",
]

KINDS = ("url", "phone", "phone_range")
LISTINGS = ("block", "allow")
SOURCE_KINDS = ("case", "detector", "feed", "analyst")
#: How long a block entry holds when the source does not say.
DEFAULT_TTL = timedelta(days=30)
#: How long an allowlist entry holds when nobody says (official numbers change rarely).
ALLOW_TTL = timedelta(days=365)
#: Longest reason or appeal statement kept.
MAX_TEXT = 4000
#: Versions the prefix change log reaches back: a client further behind gets the full list.
PREFIX_LOG_VERSIONS = 10_000


def value_hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def expression_prefix(expression: str) -> int:
    """The 4-byte big-endian SHA-256 prefix of a URL expression (see :mod:`.prefixes`)."""
    return int.from_bytes(hashlib.sha256(expression.encode("utf-8")).digest()[:4], "big")


@dataclass(frozen=True)
class Normalised:
    kind: str
    value: str
    prefix: int | None = None
    warning: str | None = None  # e.g. an IDN host mixing scripts


def normalise(value: str, kind: str | None = None) -> Normalised:
    """The canonical value of a URL, number or number range; the kind is guessed if absent.

    Raises :class:`~fanzha.errors.InputError` (``InvalidUrl``, ``InvalidPhone``) for
    anything that is not one.
    """
    if not isinstance(value, str) or not value.strip():
        raise InputError("value is empty", field="value")
    if kind is None:
        if looks_like_range(value):
            kind = "phone_range"
        else:
            kind = classify(value.strip()).value
    if kind == "url":
        parts = canonical_parts(value)
        expr = parts.expression
        rep = host_report(str(parts))
        warning = None
        if rep.suspicious:
            warning = (f"host {rep.unicode_host!r} " + ("mixes scripts" if rep.mixed_script else
                       "is written in look-alike letters") + f" (reads as {rep.skeleton!r})")
        return Normalised("url", expr, expression_prefix(expr), warning)
    if kind == "phone":
        return Normalised("phone", parse_phone(value).value)
    if kind == "phone_range":
        return Normalised("phone_range", parse_phone_range(value).value)
    raise InputError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}", field="kind")


def effective_state(entry: InterceptEntry, at: datetime | None = None) -> str:
    """The state as of ``at``: an active entry past its valid-until is expired, swept or not."""
    at = at or utcnow()
    if entry.state == "active" and entry.valid_until <= at:
        return "expired"
    return entry.state


# --------------------------------------------------------------------------- versions

def current_version(session: Session) -> int:
    return int(session.execute(select(InterceptListHead.version).where(InterceptListHead.id == 1))
               .scalar_one_or_none() or 0)


def _bump(session: Session, at: datetime) -> int:
    """The version this transaction's changes belong to (bumped once per transaction)."""
    v = session.info.get("intercept_version")
    if v is not None:
        return v
    head = session.get(InterceptListHead, 1)
    if head is None:  # a database made before the row existed (never by the migrations)
        session.add(InterceptListHead(id=1, version=0))
        session.flush()
    session.execute(update(InterceptListHead).where(InterceptListHead.id == 1)
                    .values(version=InterceptListHead.version + 1, changed_at=at))
    v = current_version(session)
    session.info["intercept_version"] = v
    _drop_log_through(session, v - PREFIX_LOG_VERSIONS)  # the log keeps the last versions only
    return v


def _counts_for_prefixes(entry: InterceptEntry) -> bool:
    return entry.listing == "block" and entry.kind == "url" and entry.prefix is not None


def _prefix_transition(session: Session, entry: InterceptEntry, version: int, now_active: bool) -> None:
    """Log the entry's prefix joining or leaving the list, unless another active entry holds it."""
    if not _counts_for_prefixes(entry):
        return
    others = session.execute(
        select(func.count(InterceptEntry.id)).where(
            InterceptEntry.prefix == entry.prefix, InterceptEntry.id != entry.id,
            InterceptEntry.listing == "block", InterceptEntry.kind == "url",
            InterceptEntry.state == "active")).scalar_one()
    if others == 0:
        session.add(InterceptPrefixChange(version=version, prefix=entry.prefix, added=now_active))


def _set_state(session: Session, entry: InterceptEntry, state: str, at: datetime, actor: str,
               event: str, **detail) -> None:
    was_active = entry.state == "active"
    version = _bump(session, at)
    entry.state = state
    entry.updated_at = at
    session.add(InterceptEvent(entry=entry, at=at, kind=event, actor=actor, detail=detail))
    session.flush()
    if was_active != (state == "active"):
        _prefix_transition(session, entry, version, state == "active")


# --------------------------------------------------------------------------- entries

@dataclass
class Listed:
    entry: InterceptEntry
    outcome: str  # created | extended | reinstated | sighted_revoked
    warning: str | None = None


def list_entry(session: Session, *, value: str, kind: str | None = None, listing: str = "block",
               source_kind: str = "analyst", source: str, reason: str = "", score: float = 1.0,
               valid_until: datetime | None = None, ttl: timedelta | None = None,
               seen_at: datetime | None = None, actor: str) -> Listed:
    """List a value, or record another sighting of it (see the module docstring)."""
    if listing not in LISTINGS:
        raise InputError(f"unknown list {listing!r}; one of {', '.join(LISTINGS)}", field="listing")
    if source_kind not in SOURCE_KINDS:
        raise InputError(f"unknown source kind {source_kind!r}; one of {', '.join(SOURCE_KINDS)}",
                         field="source_kind")
    if not source or len(source) > 128:
        raise InputError("source must be 1–128 characters", field="source")
    if len(reason) > MAX_TEXT:
        raise InputError(f"reason is longer than {MAX_TEXT} characters", field="reason")
    try:
        score = float(score)
    except (TypeError, ValueError):
        raise InputError("score must be a number", field="score") from None
    if not 0.0 <= score <= 1.0:
        raise InputError("score must be within [0, 1]", field="score")
    now = utcnow()
    at = require_aware(seen_at, "seen_at") if seen_at is not None else now
    norm = normalise(value, kind)
    if valid_until is None:
        valid_until = at + (ttl or (DEFAULT_TTL if listing == "block" else ALLOW_TTL))
    require_aware(valid_until, "valid_until")
    if valid_until <= at:
        raise InputError("valid_until must be after the time it was seen", field="valid_until")

    sweep_expired(session, now)
    h = value_hash(norm.value)
    entry = session.execute(select(InterceptEntry).where(
        InterceptEntry.listing == listing, InterceptEntry.kind == norm.kind,
        InterceptEntry.value_hash == h)).scalar_one_or_none()
    version = _bump(session, now)
    if entry is None:
        entry = InterceptEntry(listing=listing, kind=norm.kind, value=norm.value, value_hash=h,
                               prefix=norm.prefix, source_kind=source_kind, source=source, reason=reason,
                               score=score, first_seen=at, last_seen=at, valid_until=valid_until,
                               state="active", sightings=1, hits=0, created_by=actor, updated_at=now)
        session.add(entry)
        session.flush()
        session.add(InterceptEvent(entry=entry, at=now, kind="listed", actor=actor,
                                   detail={"source_kind": source_kind, "source": source, "reason": reason,
                                           "score": score, "valid_until": valid_until.isoformat(),
                                           "version": version}))
        _prefix_transition(session, entry, version, True)
        return Listed(entry, "created", norm.warning)

    # a sighting: never shortens, never lowers
    entry.sightings += 1
    entry.last_seen = max(entry.last_seen, at)
    entry.valid_until = max(entry.valid_until, valid_until)
    entry.score = max(entry.score, score)
    entry.updated_at = now
    detail = {"source_kind": source_kind, "source": source, "reason": reason, "score": score,
              "valid_until": entry.valid_until.isoformat(), "version": version}
    if entry.state == "revoked":
        session.add(InterceptEvent(entry=entry, at=now, kind="sighted_revoked", actor=actor, detail=detail))
        return Listed(entry, "sighted_revoked", norm.warning)
    if entry.state == "expired" and entry.valid_until > now:  # swept to expired; seen again
        _set_state(session, entry, "active", now, actor, "reinstated", **detail)
        return Listed(entry, "reinstated", norm.warning)
    session.add(InterceptEvent(entry=entry, at=now, kind="sighted", actor=actor, detail=detail))
    return Listed(entry, "extended", norm.warning)


def get_entry(session: Session, entry_id: int) -> InterceptEntry:
    entry = session.get(InterceptEntry, entry_id)
    if entry is None:
        raise LookupError(f"no interception entry {entry_id}")
    return entry


def revoke_entry(session: Session, entry_id: int, *, actor: str, reason: str) -> InterceptEntry:
    """Take an entry off its list for good (reversible only by listing it again by hand)."""
    if not reason or len(reason) > MAX_TEXT:
        raise InputError(f"a revocation needs a reason (1–{MAX_TEXT} characters)", field="reason")
    entry = get_entry(session, entry_id)
    if entry.state == "revoked":
        raise InputError(f"entry {entry_id} is already revoked", field="entry_id")
    _set_state(session, entry, "revoked", utcnow(), actor, "revoked", reason=reason)
    return entry


def relist_entry(session: Session, entry: InterceptEntry, *, actor: str, reason: str,
                 valid_until: datetime) -> None:
    """An analyst puts a revoked entry back (the only way out of ``revoked``)."""
    entry.valid_until = valid_until
    entry.last_seen = utcnow()
    _set_state(session, entry, "active", utcnow(), actor, "relisted", reason=reason,
               valid_until=valid_until.isoformat())


def sweep_expired(session: Session, at: datetime | None = None, actor: str = "system") -> int:
    """Mark active entries past their valid-until as expired; returns how many."""
    at = at or utcnow()
    due = select(InterceptEntry.id).where(InterceptEntry.state == "active", InterceptEntry.valid_until <= at)
    if session.execute(due.limit(1)).first() is None:
        return 0
    _bump(session, at)  # take the head first: another sweeper waits, then finds nothing
    entries = session.execute(
        select(InterceptEntry).where(InterceptEntry.state == "active", InterceptEntry.valid_until <= at)
        .order_by(InterceptEntry.id)).scalars().all()
    for e in entries:
        _set_state(session, e, "expired", at, actor, "expired", valid_until=e.valid_until.isoformat())
    return len(entries)


# --------------------------------------------------------------------------- appeals

def file_appeal(session: Session, *, value: str, kind: str | None, entry_id: int | None, appellant: str,
                contact: str, statement: str, filed_by: str) -> InterceptAppeal:
    """Record an appeal against the block of ``value``.

    ``entry_id`` is the block entry that decided the block (a host-wide or range entry
    may block a value it does not spell out); the caller finds it with a check.
    """
    if not appellant or len(appellant) > 128:
        raise InputError("appellant must be 1–128 characters", field="appellant")
    if len(contact) > 128:
        raise InputError("contact is longer than 128 characters", field="contact")
    if not statement or len(statement) > MAX_TEXT:
        raise InputError(f"statement must be 1–{MAX_TEXT} characters", field="statement")
    norm = normalise(value, kind)
    now = utcnow()
    appeal = InterceptAppeal(entry_id=entry_id, kind=norm.kind, value=norm.value, appellant=appellant,
                             contact=contact, statement=statement, filed_by=filed_by, filed_at=now,
                             state="pending", decision_note="")
    session.add(appeal)
    session.flush()
    if entry_id is not None:
        session.add(InterceptEvent(entry_id=entry_id, at=now, kind="appealed", actor=filed_by,
                                   detail={"appeal_id": appeal.id, "value": norm.value}))
    return appeal


def decide_appeal(session: Session, appeal_id: int, *, upheld: bool, note: str, actor: str,
                  allow_ttl: timedelta = ALLOW_TTL) -> InterceptAppeal:
    """An analyst's decision. Upheld: the value is allowlisted (and its own block entry revoked)."""
    appeal = session.get(InterceptAppeal, appeal_id)
    if appeal is None:
        raise LookupError(f"no appeal {appeal_id}")
    if appeal.state != "pending":
        raise InputError(f"appeal {appeal_id} was already decided ({appeal.state})", field="appeal_id")
    if not note or len(note) > MAX_TEXT:
        raise InputError(f"a decision needs a note (1–{MAX_TEXT} characters)", field="note")
    now = utcnow()
    appeal.state = "upheld" if upheld else "rejected"
    appeal.decided_by, appeal.decided_at, appeal.decision_note = actor, now, note
    if upheld:
        # The block entry goes only if it names exactly what was appealed; a range or a
        # whole-site entry that merely covers it stays, and the allowlist carves it out.
        if appeal.entry_id is not None:
            entry = get_entry(session, appeal.entry_id)
            if entry.state != "revoked" and (entry.kind, entry.value) == (appeal.kind, appeal.value):
                _set_state(session, entry, "revoked", now, actor, "revoked", reason=f"appeal {appeal.id} upheld",
                           appeal_id=appeal.id)
        kind = "phone_range" if appeal.kind == "phone_range" else appeal.kind
        list_entry(session, value=appeal.value if kind != "url" else "http://" + appeal.value, kind=kind,
                   listing="allow", source_kind="analyst", source=actor,
                   reason=f"appeal {appeal.id} upheld: {note}"[:MAX_TEXT], ttl=allow_ttl, actor=actor)
    elif appeal.entry_id is not None:
        session.add(InterceptEvent(entry_id=appeal.entry_id, at=now, kind="appeal_rejected", actor=actor,
                                   detail={"appeal_id": appeal.id, "note": note}))
    session.flush()
    return appeal


# --------------------------------------------------------------------------- snapshots

@dataclass(frozen=True)
class Snapshot:
    """The lists as of one version: the check index and the local-check prefix list."""

    version: int
    blocklist: Blocklist
    prefixes: PrefixList
    loaded_at: datetime


#: Rows read from the store at a time while a snapshot is built.
_FETCH = 50_000

#: Only what the index needs, as the database driver returns it: no ORM objects, no
#: per-value type conversion (that cost a worker minutes and gigabytes on millions of
#: entries). ``value_hash`` is the SHA-256 of ``value`` — for a URL, of its lookup
#: expression — so nothing is canonicalised or hashed again.
_SNAPSHOT_SQL = ("SELECT id, listing, kind, value, value_hash, source_kind || ':' || source, score, "
                 "valid_until, state, prefix FROM intercept_entries")


def _epoch_us(values: list) -> list[int]:
    """Microseconds since the epoch of naive UTC times as the driver returns them.

    SQLite returns text (``2026-01-31 12:00:00.000000``), PostgreSQL ``datetime``
    objects; numpy reads both in one pass.
    """
    if not values:
        return []
    return np.array(values, dtype="datetime64[us]").astype(np.int64).tolist()


def _add_rows(b: BlocklistBuilder, rows: list[tuple], prefixes: list[int]) -> None:
    """Add one batch of store rows to the builder: URLs and numbers in bulk, ranges one by one."""
    groups: dict[tuple[str, bool], list[tuple]] = {}
    for row in rows:
        groups.setdefault((row[2], row[1] == "allow"), []).append(row)
    for (kind, allow), group in groups.items():
        ids, _, _, values, hashes, sources, scores, untils, states, rprefixes = zip(*group)
        if kind == "url" and not allow:
            prefixes.extend(p for p, st in zip(rprefixes, states) if st == "active")
        life = dict(valid_until_us=_epoch_us(list(untils)), entry_ids=ids, scores=scores, sources=sources,
                    revoked=[st == "revoked" for st in states], allow=allow)
        if kind == "url":
            b.add_url_expressions(values, bytes.fromhex("".join(hashes)), **life)
        elif kind == "phone":
            try:
                keys = [value_to_key(v) for v in values]
            except ValueError as err:
                raise RuntimeError(f"intercept_entries holds a phone number not in normal form: {err}") from None
            b.add_phone_keys(keys, **life)
        else:
            for eid, value, until, score, source, revoked in zip(ids, values, life["valid_until_us"], scores,
                                                                 sources, life["revoked"]):
                b.add_phone_range(value, valid_until=from_epoch_us(until), source=source, score=float(score),
                                  revoked=revoked, entry_id=eid, allow=allow)


def _build(cursor, version: int) -> tuple[Blocklist, PrefixList]:
    b = BlocklistBuilder()
    prefixes: list[int] = []
    while rows := cursor.fetchmany(_FETCH):
        _add_rows(b, rows, prefixes)
    return b.build(version), PrefixList.of(version, np.array(prefixes, dtype=np.uint32))


def load_snapshot(session: Session, attempts: int = 5) -> Snapshot:
    """Read every entry and build the index, consistent with one version.

    The version is read before and after the entries; if a writer committed in between,
    the read is repeated (writers bump the version in the transaction that changes
    entries). Rows are read in batches straight from the driver's cursor, so memory
    stays within a batch of rows beyond the index being built.
    """
    for _ in range(attempts):
        v0 = current_version(session)
        cursor = session.connection().connection.cursor()
        try:
            cursor.execute(_SNAPSHOT_SQL)
            bl, pl = _build(cursor, v0)
        finally:
            cursor.close()
        if current_version(session) == v0:
            return Snapshot(v0, bl, pl, datetime.now(timezone.utc))
        session.rollback()  # a fresh snapshot on databases that keep one per transaction
    raise RuntimeError("the lists kept changing while they were read; try again")


def trim_prefix_log(session: Session, keep: int = PREFIX_LOG_VERSIONS) -> int:
    """Drop the log of versions more than ``keep`` behind the head; returns rows dropped.
    (Every new version drops what falls out of the default ``keep``.)"""
    return _drop_log_through(session, current_version(session) - keep)


def _drop_log_through(session: Session, floor: int) -> int:
    if floor <= 0:
        return 0
    return session.execute(delete(InterceptPrefixChange).where(InterceptPrefixChange.version <= floor)).rowcount


def prefixes_at(session: Session, current: PrefixList, version: int,
                keep: int = PREFIX_LOG_VERSIONS) -> PrefixList | None:
    """The local-check list as it was at ``version``, rebuilt from ``current`` and the log.

    For each prefix changed after ``version``, its state then is the opposite of what
    its first later change did. ``None`` if ``version`` is not one this store made, or
    is more than ``keep`` versions behind the head (its part of the log may be trimmed).
    """
    if version < 0 or version > current.version or version <= current_version(session) - keep:
        return None
    if version == current.version:
        return current
    rows = session.execute(
        select(InterceptPrefixChange.prefix, InterceptPrefixChange.added)
        .where(InterceptPrefixChange.version > version, InterceptPrefixChange.version <= current.version)
        .order_by(InterceptPrefixChange.id)).all()
    first: dict[int, bool] = {}
    for prefix, added in rows:
        first.setdefault(int(prefix), bool(added))
    old = set(current.prefixes.tolist())
    for prefix, added in first.items():
        if added:
            old.discard(prefix)
        else:
            old.add(prefix)
    return PrefixList.of(version, np.array(sorted(old), dtype=np.uint32))
