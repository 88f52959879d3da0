"""Interception's API: "is this number / URL fraud?", the lists' life cycle, appeals, exports.

Who calls what:

* carriers, DNS resolvers, browsers and apps (API keys, role ``carrier``) and the
  centre's own staff check single values and batches, fetch the RPZ zone, and keep a
  local hash-prefix list up to date by asking for the diff since their version;
* analysts list, extend, search and revoke entries and decide appeals;
* a blocked person or business appeals through a station officer, a dissuasion
  officer, an analyst, or their carrier (which forwards its customers' appeals).

Checks are answered from the in-memory lists (:mod:`fanzha.intercept.live`), never
from the database; every change here commits and marks those lists stale. Each worker
starts building its lists when it starts; until the first build is done, checks answer
503 with ``Retry-After`` (see :mod:`fanzha.intercept.live` for why a carrier prefers
that to waiting). Changes are audited; checks are counted (the figures), not audited
one by one.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated, Literal

import orjson
from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    HTTPException,
    Query,
    Request,
    Response,
    status,
)
from fastapi.responses import PlainTextResponse
from pydantic import AwareDatetime, Field
from sqlalchemy import func, select

from fanzha.api.deps import Principal, SessionDep, require, write_audit
from fanzha.api.schemas import Strict
from fanzha.errors import InputError
from fanzha.intercept import store as istore
from fanzha.intercept.blocklist import Verdict
from fanzha.intercept.entries import EntryKind
from fanzha.intercept.listfile import classify
from fanzha.intercept.live import ListsLoading, LiveLists
from fanzha.intercept.phones import looks_like_range
from fanzha.intercept.rpz import render_rpz
from fanzha.intercept.urls import MAX_URL_BYTES, host_report
from fanzha.roles import Permission
from fanzha.store.models import (
    InterceptAppeal,
    InterceptEntry,
    InterceptEvent,
    InterceptHitCount,
)
from fanzha.store.types import utcnow


def _lists_of(app) -> LiveLists:
    lists = getattr(app.state, "intercept_lists", None)
    if lists is None:
        lists = app.state.intercept_lists = LiveLists(app.state.sessions)
    return lists


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start building the lists as the worker starts, in the background (it serves meanwhile)."""
    lists = _lists_of(app)
    lists.start()
    yield
    lists.close()


router = APIRouter(prefix="/intercept", tags=["intercept"], lifespan=_lifespan)

Checker = Annotated[Principal, Depends(require(Permission.intercept_check))]
Manager = Annotated[Principal, Depends(require(Permission.intercept_manage))]
Appealer = Annotated[Principal, Depends(require(Permission.intercept_appeal))]
FigureReader = Annotated[Principal, Depends(require(Permission.stats_read))]

#: Most values one batch may carry (URLs and numbers together).
MAX_BATCH = 10_000
#: Longest value accepted anywhere here: a little over the longest URL, so the
#: canonicaliser (not the schema) says why a long URL is refused.
MAX_VALUE = MAX_URL_BYTES + 64


def live_lists(request: Request) -> LiveLists:
    """The process's in-memory lists (made at start-up, or on first use without a lifespan)."""
    return _lists_of(request.app)


def _snapshot(lists: LiveLists) -> istore.Snapshot:
    """The lists to answer from; 503 with ``Retry-After`` while the first build runs."""
    try:
        return lists.snapshot()
    except ListsLoading as err:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(err),
                            headers={"Retry-After": str(err.retry_after)}) from None


Lists = Annotated[LiveLists, Depends(live_lists)]


# --------------------------------------------------------------------------- bodies

class CheckIn(Strict):
    value: str = Field(min_length=1, max_length=MAX_VALUE)
    kind: Literal["url", "phone"] | None = Field(default=None, description="guessed when absent")


class EntryIn(Strict):
    value: str = Field(min_length=1, max_length=MAX_VALUE)
    kind: Literal["url", "phone", "phone_range"] | None = None
    listing: Literal["block", "allow"] = "block"
    source_kind: Literal["case", "detector", "feed", "analyst"] = "analyst"
    source: str | None = Field(default=None, min_length=1, max_length=128,
                               description="case number, detector, feed; default: the caller")
    reason: str = Field(default="", max_length=istore.MAX_TEXT)
    score: float = Field(default=1.0, ge=0.0, le=1.0)
    seen_at: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None
    ttl_days: int | None = Field(default=None, ge=1, le=3650)


class RevokeIn(Strict):
    reason: str = Field(min_length=1, max_length=istore.MAX_TEXT)


class AppealIn(Strict):
    value: str = Field(min_length=1, max_length=MAX_VALUE)
    kind: Literal["url", "phone"] | None = None
    appellant: str = Field(min_length=1, max_length=128, description="the blocked person or business")
    contact: str = Field(default="", max_length=128)
    statement: str = Field(min_length=1, max_length=istore.MAX_TEXT)


class DecisionIn(Strict):
    upheld: bool
    note: str = Field(min_length=1, max_length=istore.MAX_TEXT)


class HashesIn(Strict):
    prefixes: list[int] = Field(min_length=1, max_length=1000, description="4-byte prefixes as integers")


# --------------------------------------------------------------------------- helpers

def _verdict_json(v: Verdict) -> dict:
    return {k: x for k, x in v.as_dict().items() if x is not None}


def _kind_of(value: str, kind: str | None) -> str:
    if kind is not None:
        return kind
    if looks_like_range(value):
        raise InputError("a check takes one number, not a range", field="value")
    return classify(value.strip()).value


def _check_one(snap: istore.Snapshot, value: str, kind: str | None) -> Verdict:
    bl = snap.blocklist
    kind = _kind_of(value, kind)
    return bl.check_phone(value) if kind == EntryKind.phone.value else bl.check_url(value)


def _count(lists: LiveLists, verdicts: list[Verdict]) -> None:
    lists.count(verdicts)
    if lists.flush_due():
        lists.flush()


def _entry_out(e: InterceptEntry) -> dict:
    return {"id": e.id, "listing": e.listing, "kind": e.kind, "value": e.value,
            "source_kind": e.source_kind, "source": e.source, "reason": e.reason, "score": e.score,
            "first_seen": e.first_seen.isoformat(), "last_seen": e.last_seen.isoformat(),
            "valid_until": e.valid_until.isoformat(), "state": istore.effective_state(e),
            "sightings": e.sightings, "hits": e.hits,
            "last_hit_at": e.last_hit_at.isoformat() if e.last_hit_at else None,
            "created_by": e.created_by}


def _appeal_out(a: InterceptAppeal) -> dict:
    return {"id": a.id, "entry_id": a.entry_id, "kind": a.kind, "value": a.value, "appellant": a.appellant,
            "contact": a.contact, "statement": a.statement, "filed_by": a.filed_by,
            "filed_at": a.filed_at.isoformat(), "state": a.state, "decided_by": a.decided_by,
            "decided_at": a.decided_at.isoformat() if a.decided_at else None,
            "decision_note": a.decision_note}


def _committed(session, lists: LiveLists) -> None:
    """Make the change visible: commit, then let the next check rebuild the lists."""
    session.commit()
    lists.invalidate()


# --------------------------------------------------------------------------- checks

@router.post("/check")
def check(body: CheckIn, principal: Checker, lists: Lists) -> dict:
    """Is this URL or number fraud? (The kind is guessed from the spelling when absent.)"""
    snap = _snapshot(lists)
    v = _check_one(snap, body.value, body.kind)
    _count(lists, [v])
    out = {**_verdict_json(v), "version": snap.version}
    if v.kind == "url":
        rep = host_report(v.value)
        if rep.suspicious:
            out["warning"] = {"unicode_host": rep.unicode_host, "mixed_script": rep.mixed_script,
                              "lookalike": rep.lookalike, "skeleton": rep.skeleton}
    return out


def _string_list(doc: dict, key: str) -> list:
    items = doc.get(key, [])
    if not isinstance(items, list):
        raise InputError(f"{key} must be a list of strings", field=key)
    return items


@router.post("/check/batch", openapi_extra={"requestBody": {"content": {"application/json": {"schema": {
    "type": "object", "properties": {"urls": {"type": "array", "items": {"type": "string"}},
                                     "phones": {"type": "array", "items": {"type": "string"}}},
    "additionalProperties": False}}}, "required": True}})
async def check_batch(request: Request, principal: Checker, lists: Lists) -> Response:
    """Check up to 10,000 URLs and numbers at once: ``{"urls": […], "phones": […]}``.

    Verdicts come back in the same order. A value that cannot be read gets the verdict
    ``invalid`` with the reason; the rest of the batch is still answered. (The body is
    read directly rather than through a schema: at carrier rates the validation layer
    would cost more than the checks.)
    """
    raw = await request.body()
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InputError("body is not JSON", field="body") from None
    if not isinstance(doc, dict):
        raise InputError('body must be {"urls": [...], "phones": [...]}', field="body")
    extra = set(doc) - {"urls", "phones"}
    if extra:
        raise InputError(f"unknown field {sorted(extra)[0]!r}", field=sorted(extra)[0])
    urls, phones = _string_list(doc, "urls"), _string_list(doc, "phones")
    if len(urls) + len(phones) > MAX_BATCH:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"at most {MAX_BATCH} values a batch")
    from starlette.concurrency import run_in_threadpool

    def work() -> bytes:
        snap = _snapshot(lists)
        bl = snap.blocklist
        # anything that is not a string (a number, null, an object) gets an ``invalid`` verdict
        uv = bl.check_urls(urls) if urls else []
        pv = bl.check_phones(phones) if phones else []
        _count(lists, uv)
        _count(lists, pv)
        out = {"version": snap.version, "urls": [_verdict_json(v) for v in uv],
               "phones": [_verdict_json(v) for v in pv]}
        return orjson.dumps(out)

    return Response(await run_in_threadpool(work), media_type="application/json")


# --------------------------------------------------------------------------- entries

@router.post("/entries", status_code=status.HTTP_201_CREATED)
def add_entry(body: EntryIn, principal: Manager, session: SessionDep, lists: Lists, response: Response) -> dict:
    """List a URL, number or range — or, if it is listed already, record a sighting (200)."""
    ttl = timedelta(days=body.ttl_days) if body.ttl_days else None
    listed = istore.list_entry(session, value=body.value, kind=body.kind, listing=body.listing,
                               source_kind=body.source_kind, source=body.source or principal.name,
                               reason=body.reason, score=body.score, valid_until=body.valid_until, ttl=ttl,
                               seen_at=body.seen_at, actor=principal.name)
    e = listed.entry
    write_audit(session, principal, f"intercept_entry_{listed.outcome}", f"/intercept/entries/{e.id}",
                e.source if e.source_kind == "case" else None,
                listing=e.listing, kind=e.kind, value=e.value, source_kind=body.source_kind, reason=body.reason)
    _committed(session, lists)
    if listed.outcome != "created":
        response.status_code = status.HTTP_200_OK
    out = {**_entry_out(e), "outcome": listed.outcome}
    if listed.warning:
        out["warning"] = listed.warning
    return out


@router.get("/entries")
def search_entries(principal: Manager, session: SessionDep,
                   value: Annotated[str | None, Query(max_length=MAX_VALUE, description="exact, normalised")] = None,
                   contains: Annotated[str | None, Query(min_length=3, max_length=256)] = None,
                   kind: Literal["url", "phone", "phone_range"] | None = None,
                   listing: Literal["block", "allow"] | None = None,
                   state: Literal["active", "expired", "revoked"] | None = None,
                   source_kind: Literal["case", "detector", "feed", "analyst"] | None = None,
                   source: Annotated[str | None, Query(max_length=128)] = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict]:
    q = select(InterceptEntry).order_by(InterceptEntry.id.desc()).limit(limit)
    if value is not None:
        norm = istore.normalise(value, kind)
        q = q.where(InterceptEntry.kind == norm.kind, InterceptEntry.value_hash == istore.value_hash(norm.value))
    elif kind is not None:
        q = q.where(InterceptEntry.kind == kind)
    if contains:
        q = q.where(InterceptEntry.value.contains(contains, autoescape=True))
    if listing:
        q = q.where(InterceptEntry.listing == listing)
    now = utcnow()
    if state == "active":
        q = q.where(InterceptEntry.state == "active", InterceptEntry.valid_until > now)
    elif state == "expired":
        q = q.where((InterceptEntry.state == "expired")
                    | ((InterceptEntry.state == "active") & (InterceptEntry.valid_until <= now)))
    elif state == "revoked":
        q = q.where(InterceptEntry.state == "revoked")
    if source_kind:
        q = q.where(InterceptEntry.source_kind == source_kind)
    if source:
        q = q.where(InterceptEntry.source == source)
    return [_entry_out(e) for e in session.execute(q).scalars()]


def _entry_or_404(session, entry_id: int) -> InterceptEntry:
    try:
        return istore.get_entry(session, entry_id)
    except LookupError as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from None


@router.get("/entries/{entry_id}")
def read_entry(entry_id: int, principal: Manager, session: SessionDep) -> dict:
    """One entry with its whole history and the appeals against it."""
    e = _entry_or_404(session, entry_id)
    events = session.execute(select(InterceptEvent).where(InterceptEvent.entry_id == e.id)
                             .order_by(InterceptEvent.id)).scalars()
    appeals = session.execute(select(InterceptAppeal).where(InterceptAppeal.entry_id == e.id)
                              .order_by(InterceptAppeal.id)).scalars()
    return {**_entry_out(e),
            "history": [{"at": ev.at.isoformat(), "kind": ev.kind, "actor": ev.actor, "detail": ev.detail}
                        for ev in events],
            "appeals": [_appeal_out(a) for a in appeals]}


@router.post("/entries/{entry_id}/revoke")
def revoke(entry_id: int, body: RevokeIn, principal: Manager, session: SessionDep, lists: Lists) -> dict:
    _entry_or_404(session, entry_id)
    e = istore.revoke_entry(session, entry_id, actor=principal.name, reason=body.reason)
    write_audit(session, principal, "intercept_entry_revoked", f"/intercept/entries/{entry_id}", None,
                listing=e.listing, kind=e.kind, value=e.value, reason=body.reason)
    _committed(session, lists)
    return _entry_out(e)


# --------------------------------------------------------------------------- appeals

@router.post("/appeals", status_code=status.HTTP_201_CREATED)
def file_appeal(body: AppealIn, principal: Appealer, session: SessionDep, lists: Lists) -> dict:
    """A blocked person or business appeals; 409 if the centre's lists do not block the value."""
    v = _check_one(_snapshot(lists), body.value, body.kind)
    if not v.blocked:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"{v.value} is not blocked by the centre's lists ({v.reason}); nothing to appeal")
    appeal = istore.file_appeal(session, value=v.value, kind=v.kind, entry_id=v.entry_id,
                                appellant=body.appellant, contact=body.contact, statement=body.statement,
                                filed_by=principal.name)
    write_audit(session, principal, "intercept_appeal_filed", f"/intercept/appeals/{appeal.id}", None,
                value=appeal.value, entry_id=v.entry_id, appellant=body.appellant)
    return {**_appeal_out(appeal), "blocked_by": v.matched_expression}


@router.get("/appeals")
def list_appeals(principal: Manager, session: SessionDep,
                 state: Literal["pending", "upheld", "rejected"] | None = "pending",
                 limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict]:
    q = select(InterceptAppeal).order_by(InterceptAppeal.id).limit(limit)
    if state:
        q = q.where(InterceptAppeal.state == state)
    return [_appeal_out(a) for a in session.execute(q).scalars()]


@router.post("/appeals/{appeal_id}/decision")
def decide(appeal_id: int, body: DecisionIn, principal: Manager, session: SessionDep, lists: Lists) -> dict:
    """Uphold (revoke the block, allowlist the value) or reject an appeal."""
    try:
        appeal = istore.decide_appeal(session, appeal_id, upheld=body.upheld, note=body.note,
                                      actor=principal.name)
    except LookupError as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(err)) from None
    write_audit(session, principal, f"intercept_appeal_{appeal.state}", f"/intercept/appeals/{appeal_id}", None,
                value=appeal.value, entry_id=appeal.entry_id, note=body.note)
    _committed(session, lists)
    return _appeal_out(appeal)


# --------------------------------------------------------------------------- exports

@router.get("/rpz", response_class=PlainTextResponse)
def rpz(principal: Checker, session: SessionDep, lists: Lists,
        format: Literal["zone", "json"] = "zone", ttl: Annotated[int, Query(ge=0, le=86400)] = 300) -> Response:
    """The DNS response policy zone of the active whole-host entries (serial = list version)."""
    lists.sweep()
    now = utcnow()
    rows = session.execute(select(InterceptEntry.listing, InterceptEntry.value).where(
        InterceptEntry.kind == "url", InterceptEntry.state == "active", InterceptEntry.valid_until > now)).all()
    block = ["http://" + v for listing, v in rows if listing == "block"]
    allow = ["http://" + v for listing, v in rows if listing == "allow"]
    version = istore.current_version(session)
    zone = render_rpz(block, allow, serial=version % (1 << 32), ttl=ttl)
    if format == "json":
        return Response(json.dumps(zone.as_dict(), ensure_ascii=False), media_type="application/json")
    return PlainTextResponse(zone.text, headers={"X-Fanzha-List-Version": str(version)})


@router.get("/prefixes")
def prefixes(principal: Checker, lists: Lists,
             since: Annotated[int | None, Query(ge=0, description="the client's version")] = None) -> dict:
    """The hash-prefix list for local checks: the diff since ``since``, or the full list.

    ``type`` says which: ``diff`` (apply ``removals`` as indices into your sorted list,
    merge ``additions``, compare ``checksum``) or ``full`` (replace your list). A client
    whose version is unknown here, or whose checksum does not match, fetches the full
    list (omit ``since``).
    """
    lists.sweep()
    snap = _snapshot(lists)
    if since is not None:
        if since == snap.version:
            return {"type": "diff", "from_version": since, "to_version": since, "prefix_size": 4,
                    "removals": [], "additions": "", "checksum": snap.prefixes.checksum}
        d = lists.prefix_diff(snap, since)
        if d is not None:
            return {"type": "diff", **d.to_json()}
    return {"type": "full", **snap.prefixes.to_json()}


@router.post("/prefixes/hashes")
def full_hashes(body: HashesIn, principal: Checker, lists: Lists) -> dict:
    """Full SHA-256 hashes of active block entries under the given prefixes (a local hit's confirm step)."""
    snap = _snapshot(lists)
    bl = snap.blocklist
    out = {}
    for p in body.prefixes:
        if not 0 <= p < 1 << 32:
            raise InputError(f"prefix {p} is not a 4-byte value", field="prefixes")
        out[str(p)] = [base64.b64encode(h).decode() for h in bl.full_hashes(p)]
    return {"version": snap.version, "hashes": out}


# --------------------------------------------------------------------------- figures

@router.get("/stats")
def figures(principal: FigureReader, session: SessionDep, lists: Lists,
            days: Annotated[int, Query(ge=1, le=366)] = 30) -> dict:
    """Checks answered and hits per day and verdict; the lists' sizes; the most-hit entries."""
    lists.flush()
    since = (utcnow() - timedelta(days=days)).date().isoformat()
    counts = session.execute(select(InterceptHitCount).where(InterceptHitCount.day >= since)
                             .order_by(InterceptHitCount.day, InterceptHitCount.kind,
                                       InterceptHitCount.outcome)).scalars()
    per_day: dict[str, dict] = {}
    totals: dict[str, int] = {}
    for c in counts:
        per_day.setdefault(c.day, {}).setdefault(c.kind, {})[c.outcome] = c.count
        key = f"{c.kind}_{c.outcome}"
        totals[key] = totals.get(key, 0) + c.count
    sizes = {f"{listing}_{kind}_{state}": n for listing, kind, state, n in session.execute(
        select(InterceptEntry.listing, InterceptEntry.kind, InterceptEntry.state, func.count(InterceptEntry.id))
        .group_by(InterceptEntry.listing, InterceptEntry.kind, InterceptEntry.state)).all()}
    top = session.execute(select(InterceptEntry).where(InterceptEntry.hits > 0)
                          .order_by(InterceptEntry.hits.desc(), InterceptEntry.id).limit(20)).scalars()
    pending = session.execute(select(func.count(InterceptAppeal.id))
                              .where(InterceptAppeal.state == "pending")).scalar_one()
    return {"version": istore.current_version(session), "days": per_day, "totals": totals, "entries": sizes,
            "pending_appeals": pending,
            "top_entries": [{"id": e.id, "kind": e.kind, "value": e.value, "hits": e.hits} for e in top]}

