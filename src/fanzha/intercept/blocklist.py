"""The compact in-memory blocklist and allowlist, and the checks against them.

Shape (after Safe Browsing's local database):

* A URL entry is stored as the SHA-256 of its lookup expression (the canonical URL
  without scheme, e.g. ``evil.com/`` for a whole site, ``evil.com/pay/`` for a
  directory, ``evil.com/pay/login?id=1`` for one page). The index keeps the 4-byte
  prefixes in a sorted ``uint32`` array, searched with ``numpy.searchsorted``, and
  the full 32-byte hashes beside them to confirm a prefix hit.
* A phone entry is stored as its ``int64`` key (E.164 digits; negated for domestic
  service numbers, see :mod:`.phones`) in a sorted ``int64`` array. A number range
  (``+86170*``, ``A..B``) is stored as the digit prefixes that cover it, keyed by
  :func:`~fanzha.intercept.phones.range_prefix_key` in the same array (those keys sort
  after every number); a check looks up each prefix length present in the list.
* Each entry's life cycle (source, score, valid-until, revoked, id) sits in parallel
  columns, so millions of entries cost tens of bytes each instead of a Python object.
* A host filter — the sorted CRC-32 of every host that appears in a URL entry — lets
  a check skip hashing a URL's expressions when none of its host suffixes is listed,
  which is nearly always. A CRC collision only costs the full check; it never hides
  a match.

The allowlist is a second index of the same shape; a URL or number that matches an
active allowlist entry is never blocked (the appeal path for wrongly blocked sites
and numbers). Indexes are immutable; a new list version is a new build.

Checks are evaluated at a given instant (default: now, UTC), so expiry is exact and
testable at its boundary.
"""

from __future__ import annotations

import hashlib
import zlib
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import NamedTuple

import numpy as np

from fanzha.intercept.entries import Entry, EntryKind, require_aware, to_epoch_us
from fanzha.intercept.errors import InvalidPhone, InvalidUrl
from fanzha.intercept.phones import _LEN_SHIFT, _RANGE_FLAG, parse_phone, parse_phone_range
from fanzha.intercept.urls import (
    CanonicalUrl,
    canonical_host_and_url,
    canonical_parts,
    expressions_of,
    host_suffixes,
)

__all__ = ["Verdict", "Blocklist", "BlocklistBuilder", "expression_hash", "REASONS"]

#: Why a verdict came out as it did.
REASONS = {
    "listed": "an active blocklist entry matches",
    "allowlisted": "a blocklist entry matches, but an active allowlist entry wins",
    "expired": "only blocklist entries past their valid-until match",
    "revoked": "only revoked blocklist entries match",
    "not_listed": "no blocklist entry matches",
    "invalid": "the input is not a URL or phone number",
}

_NO_ID = -1


def expression_hash(expression: str) -> bytes:
    """SHA-256 of a lookup expression (UTF-8; canonical expressions are ASCII)."""
    return hashlib.sha256(expression.encode("utf-8")).digest()


def _host_crc(host: str) -> int:
    return zlib.crc32(host.encode("utf-8"))


class Verdict(NamedTuple):
    """The answer to "is this URL / number fraud?".

    ``value`` is the canonical URL or normalised number (the input itself when
    invalid); ``matched_expression`` is the expression (or number) whose entry decided
    the verdict; ``entry_id`` that entry's store id; ``reason`` one of :data:`REASONS`.
    (A named tuple: checks make one per identifier, hundreds of thousands a second.)
    """

    kind: str
    value: str
    blocked: bool
    reason: str
    matched_expression: str | None = None
    entry_id: int | None = None
    source: str | None = None
    score: float | None = None
    detail: str | None = None

    def as_dict(self) -> dict:
        d = self._asdict()
        if d["score"] is not None:
            d["score"] = round(float(d["score"]), 4)
        return d


# --------------------------------------------------------------------------- columns

class _Columns:
    """Accumulates one index's rows compactly while building."""

    def __init__(self) -> None:
        self.valid_until = array("q")
        self.entry_id = array("q")
        self.score = array("f")
        self.source = array("H")
        self.revoked = bytearray()

    def append(self, valid_until_us: int, entry_id: int, score: float, source: int,
               revoked: bool) -> None:
        self.valid_until.append(valid_until_us)
        self.entry_id.append(entry_id)
        self.score.append(score)
        self.source.append(source)
        self.revoked.append(1 if revoked else 0)

    def extend(self, n: int, valid_until_us: int, entry_ids: Sequence[int] | None, score: float,
               source: int, revoked: bool) -> None:
        """Append ``n`` rows sharing their life cycle (one import, one source)."""
        self.valid_until.extend(array("q", [valid_until_us]) * n)
        if entry_ids is None:
            self.entry_id.extend(array("q", [_NO_ID]) * n)
        else:
            self.entry_id.extend(array("q", entry_ids))
        self.score.extend(array("f", [score]) * n)
        self.source.extend(array("H", [source]) * n)
        self.revoked.extend(bytes([1 if revoked else 0]) * n)

    def __len__(self) -> int:
        return len(self.entry_id)

    def frozen(self, order: np.ndarray) -> _FrozenColumns:
        def take(a, dtype):
            arr = np.frombuffer(a, dtype=dtype) if len(a) else np.zeros(0, dtype)
            return arr[order]
        return _FrozenColumns(
            valid_until=take(self.valid_until, np.int64),
            entry_id=take(self.entry_id, np.int64),
            score=take(self.score, np.float32),
            source=take(self.source, np.uint16),
            revoked=take(self.revoked, np.bool_),
        )


@dataclass(frozen=True)
class _FrozenColumns:
    valid_until: np.ndarray
    entry_id: np.ndarray
    score: np.ndarray
    source: np.ndarray
    revoked: np.ndarray

    def active(self, row: int, at_us: int) -> bool:
        return not self.revoked[row] and at_us < self.valid_until[row]

    def active_mask(self, at_us: int) -> np.ndarray:
        return (~self.revoked) & (at_us < self.valid_until)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.valid_until, self.entry_id, self.score,
                                      self.source, self.revoked))


class _Match:
    """The deciding row for one identifier: the first active one, else the first seen."""

    __slots__ = ("row", "expression", "active")

    def __init__(self) -> None:
        self.row = -1
        self.expression: str | None = None
        self.active = False

    def offer(self, row: int, expression: str, active: bool) -> None:
        if self.active:
            return
        if active or self.row < 0:
            self.row, self.expression, self.active = row, expression, active


# --------------------------------------------------------------------------- URL index

def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values (``np.unique`` is several times slower on millions of ints)."""
    if len(a) == 0:
        return a.copy()
    s = np.sort(a)
    return s[np.concatenate(([True], s[1:] != s[:-1]))]


class _UrlIndex:
    """Sorted 4-byte hash prefixes, full hashes beside them, and the host filter."""

    def __init__(self, digests: bytes | bytearray, host_crcs: array, cols: _Columns) -> None:
        n = len(cols)
        full = np.frombuffer(digests, dtype=np.uint8).reshape(n, 32)
        prefixes = np.frombuffer(digests, dtype=">u4")[::8].astype(np.uint32)
        order = np.argsort(prefixes, kind="stable")
        self.prefixes: np.ndarray = prefixes[order]
        self.full: np.ndarray = full[order]
        self.cols = cols.frozen(order)
        crcs = np.frombuffer(host_crcs, dtype=np.uint32) if len(host_crcs) else np.zeros(0, np.uint32)
        self.hosts: np.ndarray = _sorted_unique(crcs)

    def __len__(self) -> int:
        return len(self.prefixes)

    @property
    def nbytes(self) -> int:
        return self.prefixes.nbytes + self.full.nbytes + self.hosts.nbytes + self.cols.nbytes

    def hosts_listed(self, crcs: np.ndarray) -> np.ndarray:
        """Mask of which host CRCs appear in some entry."""
        if len(self.hosts) == 0:
            return np.zeros(len(crcs), dtype=bool)
        idx = np.searchsorted(self.hosts, crcs)
        idx[idx == len(self.hosts)] = 0
        return self.hosts[idx] == crcs

    def match(self, exprs: Sequence[str], at_us: int) -> _Match:
        """Rows whose full hash equals one of ``exprs``' hashes, in expression order."""
        m = _Match()
        if not len(self.prefixes):
            return m
        digests = [expression_hash(e) for e in exprs]
        q = np.frombuffer(b"".join(digests), dtype=">u4").reshape(len(digests), 8)[:, 0]
        lo = np.searchsorted(self.prefixes, q, "left")
        hi = np.searchsorted(self.prefixes, q, "right")
        for k in np.flatnonzero(hi > lo):
            d = digests[k]
            for row in range(lo[k], hi[k]):
                if self.full[row].tobytes() == d:
                    m.offer(int(row), exprs[k], self.cols.active(row, at_us))
                    if m.active:
                        return m
        return m


_POW10 = np.array([10 ** i for i in range(19)], dtype=np.int64)


class _PhoneIndex:
    def __init__(self, keys: array, cols: _Columns) -> None:
        arr = np.frombuffer(keys, dtype=np.int64) if len(keys) else np.zeros(0, np.int64)
        order = np.argsort(arr, kind="stable")
        self.keys: np.ndarray = arr[order]
        self.cols = cols.frozen(order)
        ranges = self.keys[self.keys >= _RANGE_FLAG]
        #: Prefix lengths present among range rows, longest first (the most specific wins).
        self.prefix_lengths: list[int] = sorted(
            {int(k) & 0xF for k in np.unique(ranges >> _LEN_SHIFT)}, reverse=True)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self.cols.nbytes

    def ranges(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (np.searchsorted(self.keys, keys, "left"),
                np.searchsorted(self.keys, keys, "right"))

    def range_rows(self, keys: np.ndarray) -> dict[int, list[tuple[int, int, str]]]:
        """For each query (by position) the ``(lo, hi, expression)`` row spans of the
        listed ranges containing it, longest prefix first. Empty when no ranges are listed."""
        out: dict[int, list[tuple[int, int, str]]] = {}
        if not self.prefix_lengths or len(keys) == 0:
            return out
        q = np.asarray(keys, dtype=np.int64)
        ok = q > 0  # service numbers (negative keys) are never in a range
        ndigits = np.searchsorted(_POW10, np.where(ok, q, 1), "right")
        for length in self.prefix_lengths:
            usable = ok & (ndigits >= length)
            if not usable.any():
                continue
            shift = np.where(usable, ndigits - length, 0)
            prefix = q // _POW10[shift]
            pk = np.where(usable, _RANGE_FLAG | (length << _LEN_SHIFT) | prefix, -1)
            lo = np.searchsorted(self.keys, pk, "left")
            hi = np.searchsorted(self.keys, pk, "right")
            for i in np.flatnonzero((hi > lo) & usable):
                out.setdefault(int(i), []).append((int(lo[i]), int(hi[i]), f"+{int(prefix[i])}*"))
        return out


# --------------------------------------------------------------------------- builder

class BlocklistBuilder:
    """Collects entries (block and allow) and builds an immutable :class:`Blocklist`.

    Values are canonicalised as they are added, so a bad one raises there
    (:class:`InvalidUrl`, :class:`InvalidPhone`) and the caller can say which line
    of which file it was.
    """

    def __init__(self) -> None:
        self._sources: dict[str, int] = {}
        self._url = {False: (bytearray(), array("I"), _Columns()),
                     True: (bytearray(), array("I"), _Columns())}
        self._phone = {False: (array("q"), _Columns()), True: (array("q"), _Columns())}

    def _source_code(self, source: str) -> int:
        code = self._sources.get(source)
        if code is None:
            code = len(self._sources)
            if code > 0xFFFF:
                raise ValueError("more than 65536 distinct sources")
            self._sources[source] = code
        return code

    def add_url(self, url: str, *, valid_until: datetime, source: str = "", score: float = 1.0,
                revoked: bool = False, entry_id: int | None = None, allow: bool = False) -> str:
        """List ``url``; returns the stored expression (canonical URL without scheme)."""
        parts = canonical_parts(url)
        expr = parts.expression
        digests, crcs, cols = self._url[allow]
        digests += expression_hash(expr)
        crcs.append(_host_crc(parts.host))
        cols.append(to_epoch_us(valid_until), _NO_ID if entry_id is None else entry_id,
                    score, self._source_code(source), revoked)
        return expr

    def add_phone(self, number: str, *, valid_until: datetime, source: str = "",
                  score: float = 1.0, revoked: bool = False, entry_id: int | None = None,
                  allow: bool = False) -> str:
        """List ``number``; returns its normalised form."""
        phone = parse_phone(number)
        keys, cols = self._phone[allow]
        keys.append(phone.key)
        cols.append(to_epoch_us(valid_until), _NO_ID if entry_id is None else entry_id,
                    score, self._source_code(source), revoked)
        return phone.value

    def add_phone_range(self, text: str, *, valid_until: datetime, source: str = "",
                        score: float = 1.0, revoked: bool = False, entry_id: int | None = None,
                        allow: bool = False) -> str:
        """List a number range (``+86170*`` or ``A..B``); returns its canonical spelling."""
        rng = parse_phone_range(text)
        keys, cols = self._phone[allow]
        code = self._source_code(source)
        for p in rng.prefixes:
            keys.append(_RANGE_FLAG | (len(p) << _LEN_SHIFT) | int(p))
            cols.append(to_epoch_us(valid_until), _NO_ID if entry_id is None else entry_id,
                        score, code, revoked)
        return rng.value

    def add_urls(self, urls: Iterable[str], *, valid_until: datetime, source: str = "",
                 score: float = 1.0, revoked: bool = False,
                 entry_ids: Sequence[int] | None = None, allow: bool = False) -> int:
        """List many URLs sharing one life cycle (a bulk import); returns how many.

        All-or-nothing: a bad URL raises :class:`InvalidUrl` before anything is added,
        with ``line`` set to its 1-based position in ``urls``.
        """
        until_us = to_epoch_us(valid_until)
        code = self._source_code(source)
        digest_parts: list[bytes] = []
        crc_list = array("I")
        sha256 = hashlib.sha256
        crc32 = zlib.crc32
        for i, u in enumerate(urls):
            try:
                host, canon = canonical_host_and_url(u)
            except InvalidUrl as err:
                err.line = i + 1
                raise
            expr = canon[canon.index("://") + 3:]
            digest_parts.append(sha256(expr.encode()).digest())
            crc_list.append(crc32(host.encode()))
        n = len(digest_parts)
        if entry_ids is not None and len(entry_ids) != n:
            raise ValueError("entry_ids must have one id per URL")
        digests, crcs, cols = self._url[allow]
        digests += b"".join(digest_parts)
        crcs.extend(crc_list)
        cols.extend(n, until_us, entry_ids, score, code, revoked)
        return n

    def add_phones(self, numbers: Iterable[str], *, valid_until: datetime, source: str = "",
                   score: float = 1.0, revoked: bool = False,
                   entry_ids: Sequence[int] | None = None, allow: bool = False) -> int:
        """List many numbers sharing one life cycle; all-or-nothing like :meth:`add_urls`."""
        until_us = to_epoch_us(valid_until)
        code = self._source_code(source)
        new_keys = array("q")
        for i, text in enumerate(numbers):
            try:
                new_keys.append(parse_phone(text).key)
            except InvalidPhone as err:
                err.line = i + 1
                raise
        n = len(new_keys)
        if entry_ids is not None and len(entry_ids) != n:
            raise ValueError("entry_ids must have one id per number")
        keys, cols = self._phone[allow]
        keys.extend(new_keys)
        cols.extend(n, until_us, entry_ids, score, code, revoked)
        return n

    def add_entry(self, entry: Entry, *, allow: bool = False) -> str:
        add = self.add_url if entry.kind is EntryKind.url else self.add_phone
        return add(entry.value, valid_until=entry.valid_until, source=entry.source,
                   score=entry.score, revoked=entry.revoked, entry_id=entry.entry_id,
                   allow=allow)

    def build(self, version: int = 0) -> Blocklist:
        sources = [""] * len(self._sources)
        for name, code in self._sources.items():
            sources[code] = name
        return Blocklist(
            url_block=_UrlIndex(*self._url[False]),
            url_allow=_UrlIndex(*self._url[True]),
            phone_block=_PhoneIndex(*self._phone[False]),
            phone_allow=_PhoneIndex(*self._phone[True]),
            sources=sources,
            version=version,
        )


# --------------------------------------------------------------------------- blocklist

def _now_us(at: datetime | None) -> int:
    return to_epoch_us(datetime.now(timezone.utc) if at is None else require_aware(at, "at"))


class Blocklist:
    """An immutable snapshot of the block and allow lists, with the checks."""

    def __init__(self, *, url_block: _UrlIndex, url_allow: _UrlIndex, phone_block: _PhoneIndex,
                 phone_allow: _PhoneIndex, sources: list[str], version: int = 0) -> None:
        self._url_block = url_block
        self._url_allow = url_allow
        self._phone_block = phone_block
        self._phone_allow = phone_allow
        self._sources = sources
        self.version = version

    @classmethod
    def from_entries(cls, block: Iterable[Entry], allow: Iterable[Entry] = (),
                     version: int = 0) -> Blocklist:
        b = BlocklistBuilder()
        for e in block:
            b.add_entry(e)
        for e in allow:
            b.add_entry(e, allow=True)
        return b.build(version)

    # ---- sizes

    def counts(self) -> dict[str, int]:
        return {"url_block": len(self._url_block), "url_allow": len(self._url_allow),
                "phone_block": len(self._phone_block), "phone_allow": len(self._phone_allow)}

    @property
    def nbytes(self) -> int:
        """Bytes held in the index arrays (what the lists cost in memory)."""
        return sum(i.nbytes for i in (self._url_block, self._url_allow,
                                      self._phone_block, self._phone_allow))

    # ---- URL checks

    def _url_verdict(self, parts: CanonicalUrl, at_us: int) -> Verdict:
        exprs = expressions_of(parts)
        m = self._url_block.match(exprs, at_us)
        return self._decide("url", str(parts), m, self._url_block.cols,
                            lambda: self._url_allow.match(exprs, at_us), self._url_allow.cols)

    def _decide(self, kind, value, m: _Match, cols: _FrozenColumns, allow_match, allow_cols):
        if m.row < 0:
            return Verdict(kind, value, False, "not_listed")
        eid = int(cols.entry_id[m.row])
        info = dict(matched_expression=m.expression,
                    entry_id=None if eid == _NO_ID else eid,
                    source=self._sources[int(cols.source[m.row])] or None,
                    score=float(cols.score[m.row]))
        if not m.active:
            reason = "revoked" if cols.revoked[m.row] else "expired"
            return Verdict(kind, value, False, reason, **info)
        a = allow_match()
        if a.active:
            aid = int(allow_cols.entry_id[a.row])
            return Verdict(kind, value, False, "allowlisted", matched_expression=a.expression,
                           entry_id=None if aid == _NO_ID else aid,
                           source=self._sources[int(allow_cols.source[a.row])] or None,
                           score=float(allow_cols.score[a.row]),
                           detail=f"allowlist overrides block entry on {m.expression}")
        return Verdict(kind, value, True, "listed", **info)

    def check_url(self, url: str | bytes, at: datetime | None = None) -> Verdict:
        """Check one URL. Raises :class:`InvalidUrl` if it cannot be read as a URL."""
        host, canon = canonical_host_and_url(url)
        at_us = _now_us(at)
        crcs = np.array([zlib.crc32(h.encode()) for h in host_suffixes(host)], dtype=np.uint32)
        if not self._url_block.hosts_listed(crcs).any():
            return Verdict("url", canon, False, "not_listed")
        return self._url_verdict(canonical_parts(canon), at_us)

    def check_urls(self, urls: Sequence[str | bytes], at: datetime | None = None) -> list[Verdict]:
        """Check many URLs at once; an unreadable one gets an ``invalid`` verdict.

        Two vectorised stages: the host filter over every host suffix of the batch,
        then — only for URLs that pass it — one prefix search over all their
        expression hashes. Python only touches the few prefix hits.
        """
        at_us = _now_us(at)
        n = len(urls)
        canon: list[str | None] = [None] * n
        out: list[Verdict | None] = [None] * n
        crcs = array("I")
        owners = array("q")
        crc32 = zlib.crc32
        for i, u in enumerate(urls):
            try:
                host, canon[i] = canonical_host_and_url(u)
            except InvalidUrl as err:
                text = u if isinstance(u, str) else repr(u)
                out[i] = Verdict("url", text, False, "invalid", detail=str(err))
                continue
            for h in host_suffixes(host):
                crcs.append(crc32(h.encode()))
                owners.append(i)
        candidates: list[int] = []
        if len(crcs):
            hit = self._url_block.hosts_listed(np.frombuffer(crcs, dtype=np.uint32))
            if hit.any():
                candidates = _sorted_unique(np.frombuffer(owners, dtype=np.int64)[hit]).tolist()
        if candidates:
            parts = [canonical_parts(canon[i]) for i in candidates]  # canonical: a fixed point
            for i, v in zip(candidates, self._url_verdicts(parts, at_us)):
                out[i] = v
        new = tuple.__new__
        for i in range(n):
            if out[i] is None:
                out[i] = new(Verdict, ("url", canon[i], False, "not_listed",
                                       None, None, None, None, None))
        return out  # type: ignore[return-value]

    def _url_verdicts(self, parts: list[CanonicalUrl], at_us: int) -> list[Verdict]:
        """Full check of URLs whose hosts passed the filter, one prefix search for all."""
        idx = self._url_block
        exprs = [expressions_of(p) for p in parts]
        flat = [e for es in exprs for e in es]
        digests = [hashlib.sha256(e.encode()).digest() for e in flat]
        q = np.frombuffer(b"".join(digests), dtype=">u4").reshape(len(digests), 8)[:, 0]
        lo = np.searchsorted(idx.prefixes, q, "left")
        hi = np.searchsorted(idx.prefixes, q, "right")
        hits = set(np.flatnonzero(hi > lo).tolist())
        out = []
        start = 0
        for p, es in zip(parts, exprs):
            stop = start + len(es)
            if not any(k in hits for k in range(start, stop)):
                out.append(Verdict("url", str(p), False, "not_listed"))
            else:
                m = _Match()
                for k in range(start, stop):
                    if k not in hits:
                        continue
                    for row in range(lo[k], hi[k]):
                        if idx.full[row].tobytes() == digests[k]:
                            m.offer(int(row), flat[k], idx.cols.active(row, at_us))
                    if m.active:
                        break
                out.append(self._decide("url", str(p), m, idx.cols,
                                        lambda es=es: self._url_allow.match(es, at_us),
                                        self._url_allow.cols))
            start = stop
        return out

    # ---- phone checks

    def check_phone(self, number: str, at: datetime | None = None) -> Verdict:
        """Check one number. Raises :class:`InvalidPhone` if it is not a valid number."""
        phone = parse_phone(number)
        return self._phone_verdicts([phone.key], [phone.value], _now_us(at))[0]

    def check_phones(self, numbers: Sequence[str], at: datetime | None = None) -> list[Verdict]:
        """Check many numbers at once; an invalid one gets an ``invalid`` verdict."""
        at_us = _now_us(at)
        keys = array("q")
        values: list[str] = []
        where: list[int] = []
        out: list[Verdict | None] = [None] * len(numbers)
        for i, text in enumerate(numbers):
            try:
                p = parse_phone(text)
            except InvalidPhone as err:
                out[i] = Verdict("phone", str(text), False, "invalid", detail=str(err))
                continue
            keys.append(p.key)
            values.append(p.value)
            where.append(i)
        for i, v in zip(where, self._phone_verdicts(keys, values, at_us)):
            out[i] = v
        return out  # type: ignore[return-value]

    def _phone_verdicts(self, keys, values: list[str], at_us: int) -> list[Verdict]:
        q = np.frombuffer(keys, dtype=np.int64) if isinstance(keys, array) else np.asarray(keys, np.int64)
        lo, hi = self._phone_block.ranges(q)
        in_ranges = self._phone_block.range_rows(q)
        cols = self._phone_block.cols
        out = []
        for k in range(len(q)):
            spans = in_ranges.get(k) if in_ranges else None
            if hi[k] == lo[k] and spans is None:
                out.append(Verdict("phone", values[k], False, "not_listed"))
                continue
            m = _Match()
            for row in range(lo[k], hi[k]):
                m.offer(int(row), values[k], cols.active(row, at_us))
            for a, b, expr in spans or ():
                for row in range(a, b):
                    m.offer(row, expr, cols.active(row, at_us))
            out.append(self._decide("phone", values[k], m, cols,
                                    lambda k=k: self._phone_allow_match(int(q[k]), values[k], at_us),
                                    self._phone_allow.cols))
        return out

    def _phone_allow_match(self, key: int, value: str, at_us: int) -> _Match:
        m = _Match()
        idx = self._phone_allow
        q = np.array([key], dtype=np.int64)
        lo, hi = idx.ranges(q)
        for row in range(lo[0], hi[0]):
            m.offer(int(row), value, idx.cols.active(row, at_us))
        for a, b, expr in idx.range_rows(q).get(0, ()):
            for row in range(a, b):
                m.offer(row, expr, idx.cols.active(row, at_us))
        return m

    # ---- for clients that check locally (see .prefixes)

    def active_prefixes(self, at: datetime | None = None) -> np.ndarray:
        """Sorted unique 4-byte prefixes of the active URL block entries."""
        idx = self._url_block
        mask = idx.cols.active_mask(_now_us(at))
        return _sorted_unique(idx.prefixes[mask])

    def full_hashes(self, prefix: int, at: datetime | None = None) -> list[bytes]:
        """Full hashes of active block entries under one 4-byte prefix (a client's confirm step)."""
        idx = self._url_block
        at_us = _now_us(at)
        lo = int(np.searchsorted(idx.prefixes, prefix, "left"))
        hi = int(np.searchsorted(idx.prefixes, prefix, "right"))
        return sorted({idx.full[r].tobytes() for r in range(lo, hi) if idx.cols.active(r, at_us)})
