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
* A host filter lets a check skip hashing a URL's expressions when no listed host can
  be one of its host suffixes, which is nearly always. Every listed host suffix of a
  URL's host ends in the same last two labels (``evil.com`` for ``a.b.evil.com``), so
  the filter keeps one key per listed host: the hash of its last two labels — or of
  its last three, under a two-label ending shared by many listed hosts (``com.cn``,
  a free hosting domain), so that such an ending does not send every URL under it to
  the full check. A URL is looked up under both its two- and three-label endings.
  Keys are Python's ``hash`` of the text (computed once per string, no encoding):
  valid only within the process that built the index and processes forked from it
  (they share its hash secret; a large list file's rows are reduced in such a helper,
  see :func:`url_rows`), which is why an index is never pickled. A key collision only
  costs the full check; it never hides a match.

The allowlist is a second index of the same shape; a URL or number that matches an
active allowlist entry is never blocked (the appeal path for wrongly blocked sites
and numbers). Indexes are immutable; a new list version is a new build.

Checks are evaluated at a given instant (default: now, UTC), so expiry is exact and
testable at its boundary.
"""

from __future__ import annotations

import gc
import hashlib
from array import array
from collections.abc import Container, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from itertools import chain, compress, repeat
from operator import gt
from typing import NamedTuple

import numpy as np

from fanzha.intercept.entries import Entry, EntryKind, require_aware, to_epoch_us
from fanzha.intercept.phones import (
    _LEN_SHIFT,
    _RANGE_FLAG,
    parse_phone,
    parse_phone_range,
    phone_batch,
)
from fanzha.intercept.urls import (
    CanonicalUrl,
    canonical_host_and_url,
    canonical_hosts_and_expressions,
    canonical_hosts_and_urls,
    canonical_parts,
    expressions_of,
)

__all__ = ["Verdict", "Blocklist", "BlocklistBuilder", "expression_hash", "url_rows", "REASONS"]

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


_sha256 = hashlib.sha256
_digest = type(_sha256()).digest


def expression_hashes(expressions: Iterable[str]) -> list[bytes]:
    """:func:`expression_hash` of many expressions (encoded, hashed and digested by ``map``:
    no Python code runs per expression)."""
    return list(map(_digest, map(_sha256, map(str.encode, expressions))))


#: A two-label ending shared by at least this many listed hosts is keyed by three labels.
_CROWDED_ENDING = 8


def _host_keys(hosts: Sequence[str]) -> tuple[list[int], list[int]]:
    """Host-filter keys of each host: the hash of its last two labels and of its last three.

    (Fewer labels: the whole host for both.) The one function for the index and the
    checks, so the two always agree. Most hosts have two labels, whose keys are both
    the hash of the whole host: those are made by ``map``, and only hosts with more
    dots are cut in Python.
    """
    two = list(map(hash, hosts))
    three = two.copy()
    for i in compress(range(len(two)), map(gt, map(str.count, hosts, repeat(".")), repeat(1))):
        h = hosts[i]
        j = h.rfind(".", 0, h.rfind("."))  # the second dot from the right
        two[i] = hash(h[j + 1:])
        # no third dot from the right: rfind gives -1, and the slice is the whole host
        three[i] = hash(h[h.rfind(".", 0, j) + 1:])
    return two, three


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


_new_verdict = partial(tuple.__new__, Verdict)


def _not_listed(kind: str, values: Iterable[str]) -> list[Verdict]:
    """A "not listed" verdict for each value, made in C (zip builds the fields, map the tuples)."""
    none = repeat(None)
    return list(map(_new_verdict, zip(repeat(kind), values, repeat(False), repeat("not_listed"),
                                      none, none, none, none, none)))


@contextmanager
def _collector_paused():
    """Pause the cyclic garbage collector over a batch check.

    A batch makes one verdict tuple per identifier and nothing that can form a cycle;
    yet every few hundred new tuples start a collection, and every few thousand one that
    walks every object of the process: a fifth to a third of a large batch's time went
    to finding no garbage. Collection resumes (if it was on) when the batch ends; a
    concurrent batch may resume it a little early, which costs only that time again.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


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

    def extend_columns(self, valid_until_us: Sequence[int], entry_ids: Sequence[int],
                       scores: Sequence[float], sources: Sequence[int], revoked: Sequence[bool]) -> None:
        """Append rows given column by column (a snapshot of the store)."""
        self.valid_until.extend(array("q", valid_until_us))
        self.entry_id.extend(array("q", entry_ids))
        self.score.extend(array("f", scores))
        self.source.extend(array("H", sources))
        self.revoked.extend(bytes(bytearray(revoked)))

    def __len__(self) -> int:
        return len(self.entry_id)

    def frozen(self, order: np.ndarray) -> _FrozenColumns:
        def take(a, dtype):
            arr = np.frombuffer(a, dtype=dtype) if len(a) else np.zeros(0, dtype)
            if len(arr) and arr.min() == arr.max():  # one value (a bulk import): nothing to reorder
                return arr.copy()
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
        return not self.revoked.item(row) and at_us < self.valid_until.item(row)

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


def _int64s(a: array) -> np.ndarray:
    return np.frombuffer(a, dtype=np.int64) if len(a) else np.zeros(0, np.int64)


_GOLDEN_INT = 0x9E3779B97F4A7C15
_GOLDEN = np.uint64(_GOLDEN_INT)
_MASK64 = (1 << 64) - 1


class _SortedKeys:
    """A sorted key column (several rows may share a key) with a bitmap in front of it.

    A binary search over millions of keys takes a cache miss at nearly every step, and
    almost every key a check asks about is absent. The bitmap has at least 32 slots per
    distinct key, one bit each, so all but about 3 % of absent keys are answered by one
    memory read; only those that pass are searched.
    """

    def __init__(self, keys: np.ndarray) -> None:
        self.keys = keys
        distinct = _sorted_unique(keys)
        bits = max(12, (32 * len(distinct) - 1).bit_length())
        self._shift_int = 64 - bits
        self._shift = np.uint64(64 - bits)
        marks = np.zeros(1 << bits, dtype=bool)
        marks[self._slots(distinct)] = True
        self._bitmap = np.packbits(marks, bitorder="little")  # slot s is bit s % 8 of byte s // 8

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self._bitmap.nbytes

    def _slots(self, q: np.ndarray) -> np.ndarray:
        return ((q.astype(np.int64).view(np.uint64) * _GOLDEN) >> self._shift).astype(np.intp)

    def has(self, key: int) -> bool:
        """Whether one key is present (the same test as :meth:`spans`, without arrays)."""
        slot = ((key & _MASK64) * _GOLDEN_INT & _MASK64) >> self._shift_int
        if not (int(self._bitmap[slot >> 3]) >> (slot & 7)) & 1:
            return False
        i = int(np.searchsorted(self.keys, key))
        return i < len(self.keys) and int(self.keys[i]) == key

    def maybe(self, q: np.ndarray) -> np.ndarray:
        """Mask of the queried keys the bitmap does not rule out."""
        slots = self._slots(q)
        return ((self._bitmap[slots >> 3] >> (slots & 7)) & 1).astype(bool)

    def spans(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each queried key the row span ``[lo, hi)`` holding it (empty when absent)."""
        lo = np.zeros(len(q), dtype=np.intp)
        hi = np.zeros(len(q), dtype=np.intp)
        if len(self.keys) and len(q):
            where = np.flatnonzero(self.maybe(q))
            if len(where):
                sub = q[where]
                first, found = self._first(sub)
                # a key is nearly always on one row: a second search only where the
                # next row holds it too (each search costs a cache miss a step)
                last = first + found
                nxt = np.minimum(last, len(self.keys) - 1)
                more = np.flatnonzero(found & (last < len(self.keys)) & (self.keys[nxt] == sub))
                if len(more):
                    last[more] = np.searchsorted(self.keys, sub[more], "right")
                lo[where] = first
                hi[where] = last
        return lo, hi

    def _first(self, sub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where each key would go (its first row if present), and whether it is present."""
        first = np.searchsorted(self.keys, sub, "left")
        found = self.keys[np.minimum(first, len(self.keys) - 1)] == sub
        return first, found

    def contains(self, q: np.ndarray) -> np.ndarray:
        """Mask of the queried keys present (one search each, for those the bitmap passes)."""
        out = np.zeros(len(q), dtype=bool)
        if len(self.keys) and len(q):
            where = np.flatnonzero(self.maybe(q))
            if len(where):
                out[where] = self._first(q[where])[1]
        return out


def _stable_order(prefixes: np.ndarray) -> np.ndarray:
    """``np.argsort(prefixes, kind="stable")`` of ``uint32`` values, several times faster:
    each value is sorted with its position in the low 32 bits, so no two are equal."""
    n = len(prefixes)
    if n >= 1 << 32:  # pragma: no cover - positions no longer fit beside the values
        return np.argsort(prefixes, kind="stable")
    packed = (prefixes.astype(np.uint64) << np.uint64(32)) | np.arange(n, dtype=np.uint64)
    packed.sort()
    return (packed & np.uint64(0xFFFFFFFF)).astype(np.intp)


class _UrlIndex:
    """Sorted 4-byte hash prefixes, full hashes beside them, and the host filter."""

    def __init__(self, digests: bytes | bytearray, keys2: array, keys3: array, cols: _Columns) -> None:
        n = len(cols)
        prefixes = np.frombuffer(digests, dtype=">u4")[::8].astype(np.uint32)
        order = _stable_order(prefixes)
        self.prefixes: np.ndarray = prefixes[order]
        self.prefix_keys = _SortedKeys(self.prefixes)
        # rows gathered as four 8-byte words by np.take: the same bytes as indexing the
        # (n, 32) byte array with ``order``, several times faster
        words = np.frombuffer(digests, dtype=np.uint64).reshape(n, 4) if n else np.zeros((0, 4), np.uint64)
        self.full: np.ndarray = np.take(words, order, axis=0).view(np.uint8).reshape(n, 32)
        self._full_bytes = memoryview(self.full.reshape(-1))  # row r is [32 r, 32 r + 32)
        self.cols = cols.frozen(order)
        two, three = _int64s(keys2), _int64s(keys3)
        endings, counts = np.unique(two, return_counts=True)
        crowded = endings[counts >= _CROWDED_ENDING]
        keys = np.where(np.isin(two, crowded), three, two) if len(crowded) else two
        self.hosts = _SortedKeys(_sorted_unique(keys))

    def __reduce__(self):
        raise TypeError("a URL index holds per-process hash keys; rebuild it in each process")

    def __len__(self) -> int:
        return len(self.prefixes)

    @property
    def nbytes(self) -> int:
        return self.prefix_keys.nbytes + self.full.nbytes + self.hosts.nbytes + self.cols.nbytes

    def hosts_listed(self, hosts: list[str]) -> np.ndarray:
        """Mask of the hosts that may have a listed host suffix (see the module docstring)."""
        if len(self.hosts) == 0:
            return np.zeros(len(hosts), dtype=bool)
        two, three = _host_keys(hosts)
        return (self.hosts.contains(np.array(two, dtype=np.int64))
                | self.hosts.contains(np.array(three, dtype=np.int64)))

    def host_listed(self, host: str) -> bool:
        """:meth:`hosts_listed` for one host, without arrays (a single check)."""
        (two,), (three,) = _host_keys((host,))
        return self.hosts.has(two) or (three != two and self.hosts.has(three))

    def spans(self, digests: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """Row spans of the entries sharing each digest's 4-byte prefix."""
        q = np.frombuffer(b"".join(digests), dtype=">u4").reshape(len(digests), 8)[:, 0].astype(np.uint32)
        return self.prefix_keys.spans(q)

    def full_hash_is(self, row: int, digest: bytes) -> bool:
        """Whether ``row`` holds the full hash ``digest`` (compared in place, no copy)."""
        return self._full_bytes[32 * row:32 * row + 32] == digest

    def match(self, exprs: Sequence[str], at_us: int) -> _Match:
        """Rows whose full hash equals one of ``exprs``' hashes, in expression order."""
        m = _Match()
        if not len(self.prefixes):
            return m
        digests = expression_hashes(exprs)
        lo, hi = self.spans(digests)
        for k in np.flatnonzero(hi > lo).tolist():
            d = digests[k]
            for row in range(int(lo[k]), int(hi[k])):
                if self.full_hash_is(row, d):
                    m.offer(row, exprs[k], self.cols.active(row, at_us))
                    if m.active:
                        return m
        return m


_POW10 = np.array([10 ** i for i in range(19)], dtype=np.int64)


class _PhoneIndex:
    def __init__(self, keys: array, cols: _Columns) -> None:
        arr = np.frombuffer(keys, dtype=np.int64) if len(keys) else np.zeros(0, np.int64)
        order = np.argsort(arr, kind="stable")
        self.keys: np.ndarray = arr[order]
        self.sorted_keys = _SortedKeys(self.keys)
        self.cols = cols.frozen(order)
        ranges = self.keys[self.keys >= _RANGE_FLAG]
        #: Prefix lengths present among range rows, longest first (the most specific wins).
        self.prefix_lengths: list[int] = sorted(
            {int(k) & 0xF for k in np.unique(ranges >> _LEN_SHIFT)}, reverse=True)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def nbytes(self) -> int:
        return self.sorted_keys.nbytes + self.cols.nbytes

    def ranges(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.sorted_keys.spans(keys)

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
            lo, hi = self.sorted_keys.spans(pk)
            for i in np.flatnonzero((hi > lo) & usable):
                out.setdefault(int(i), []).append((int(lo[i]), int(hi[i]), f"+{int(prefix[i])}*"))
        return out


def url_rows(urls: Sequence[object]) -> tuple[bytes, array, array]:
    """What the index keeps of many URLs: their expressions' SHA-256s (joined) and the
    two host-filter keys of each (``int64`` arrays).

    All-or-nothing: a bad URL raises :class:`InvalidUrl` with ``line`` set to its
    1-based position in ``urls``. The host keys are :func:`hash` values, valid in this
    process and in processes forked from it (they share its hash secret), never in
    another started afresh.
    """
    hosts, exprs, errors = canonical_hosts_and_expressions(urls)
    if errors:
        i = min(errors)
        errors[i].line = i + 1
        raise errors[i]
    two, three = _host_keys(hosts)
    return b"".join(expression_hashes(exprs)), array("q", two), array("q", three)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- builder

class BlocklistBuilder:
    """Collects entries (block and allow) and builds an immutable :class:`Blocklist`.

    Values are canonicalised as they are added, so a bad one raises there
    (:class:`InvalidUrl`, :class:`InvalidPhone`) and the caller can say which line
    of which file it was.
    """

    def __init__(self) -> None:
        self._sources: dict[str, int] = {}
        self._url = {False: (bytearray(), array("q"), array("q"), _Columns()),
                     True: (bytearray(), array("q"), array("q"), _Columns())}
        self._phone = {False: (array("q"), _Columns()), True: (array("q"), _Columns())}

    def _source_code(self, source: str) -> int:
        return self.source_codes((source,))[0]

    def source_codes(self, sources: Iterable[str]) -> list[int]:
        """The codes of many source names (new names get the next codes)."""
        codes = self._sources
        out = [codes.setdefault(s, len(codes)) for s in sources]
        if len(codes) > 0x10000:
            raise ValueError("more than 65536 distinct sources")
        return out

    def _add_url_digests(self, digests: bytes, hosts: list[str], allow: bool) -> tuple[_Columns, int]:
        store, keys2, keys3, cols = self._url[allow]
        two, three = _host_keys(hosts)
        store += digests
        keys2.extend(two)
        keys3.extend(three)
        return cols, len(hosts)

    def add_url(self, url: str, *, valid_until: datetime, source: str = "", score: float = 1.0,
                revoked: bool = False, entry_id: int | None = None, allow: bool = False) -> str:
        """List ``url``; returns the stored expression (canonical URL without scheme)."""
        parts = canonical_parts(url)
        expr = parts.expression
        cols, _ = self._add_url_digests(expression_hash(expr), [parts.host], allow)
        cols.append(to_epoch_us(valid_until), _NO_ID if entry_id is None else entry_id,
                    score, self._source_code(source), revoked)
        return expr

    def add_url_expressions(self, expressions: Sequence[str], digests: bytes, *,
                            valid_until_us: Sequence[int], entry_ids: Sequence[int],
                            scores: Sequence[float], sources: Sequence[str], revoked: Sequence[bool],
                            allow: bool = False) -> int:
        """List expressions already canonical and hashed (``digests``: their SHA-256s, in
        order), each with its own life cycle given column by column: how a snapshot of
        the store is loaded without canonicalising or hashing anything again."""
        n = len(expressions)
        if len(digests) != 32 * n or not (len(valid_until_us) == len(entry_ids) == len(scores)
                                           == len(sources) == len(revoked) == n):
            raise ValueError("every column needs one value per expression")
        hosts = [e[:e.find("/")] for e in expressions]  # an expression is host + path (from '/')
        cols, _ = self._add_url_digests(digests, hosts, allow)
        cols.extend_columns(valid_until_us, entry_ids, scores, self.source_codes(sources), revoked)
        return n

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

    def add_phone_keys(self, keys: Sequence[int], *, valid_until_us: Sequence[int], entry_ids: Sequence[int],
                       scores: Sequence[float], sources: Sequence[str], revoked: Sequence[bool],
                       allow: bool = False) -> int:
        """List numbers by their index keys, each with its own life cycle given column by
        column (see :meth:`add_url_expressions`)."""
        n = len(keys)
        if not (len(valid_until_us) == len(entry_ids) == len(scores) == len(sources) == len(revoked) == n):
            raise ValueError("every column needs one value per number")
        store, cols = self._phone[allow]
        store.extend(array("q", keys))
        cols.extend_columns(valid_until_us, entry_ids, scores, self.source_codes(sources), revoked)
        return n

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
        digests, two, three = url_rows(urls if isinstance(urls, Sequence) else list(urls))
        return self.add_url_rows(digests, two, three, valid_until=valid_until, source=source, score=score,
                                 revoked=revoked, entry_ids=entry_ids, allow=allow)

    def add_url_rows(self, digests: bytes, keys2: array, keys3: array, *, valid_until: datetime,
                     source: str = "", score: float = 1.0, revoked: bool = False,
                     entry_ids: Sequence[int] | None = None, allow: bool = False) -> int:
        """List URLs already reduced by :func:`url_rows` (in this process or in one forked
        from it, see the module docstring), sharing one life cycle; returns how many."""
        n = len(keys2)
        if len(digests) != 32 * n or len(keys3) != n:
            raise ValueError("one digest and two host keys per URL")
        if entry_ids is not None and len(entry_ids) != n:
            raise ValueError("entry_ids must have one id per URL")
        until_us = to_epoch_us(valid_until)
        code = self._source_code(source)
        store, k2, k3, cols = self._url[allow]
        store += digests
        k2.extend(keys2)
        k3.extend(keys3)
        cols.extend(n, until_us, entry_ids, score, code, revoked)
        return n

    def add_phones(self, numbers: Iterable[str], *, valid_until: datetime, source: str = "",
                   score: float = 1.0, revoked: bool = False,
                   entry_ids: Sequence[int] | None = None, allow: bool = False) -> int:
        """List many numbers sharing one life cycle; all-or-nothing like :meth:`add_urls`."""
        new_keys, _, errors = phone_batch(numbers if isinstance(numbers, Sequence) else list(numbers))
        if errors:
            i = min(errors)
            errors[i].line = i + 1
            raise errors[i]
        return self.add_phone_rows(new_keys, valid_until=valid_until, source=source, score=score,
                                   revoked=revoked, entry_ids=entry_ids, allow=allow)

    def add_phone_rows(self, keys: np.ndarray, *, valid_until: datetime, source: str = "",
                       score: float = 1.0, revoked: bool = False,
                       entry_ids: Sequence[int] | None = None, allow: bool = False) -> int:
        """List numbers by their index keys (``int64``), sharing one life cycle."""
        n = len(keys)
        if entry_ids is not None and len(entry_ids) != n:
            raise ValueError("entry_ids must have one id per number")
        store, cols = self._phone[allow]
        store.frombytes(np.ascontiguousarray(keys, dtype=np.int64).tobytes())
        cols.extend(n, to_epoch_us(valid_until), entry_ids, score, self._source_code(source), revoked)
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

    def _decide(self, kind, value, m: _Match, cols: _FrozenColumns, allow_match, allow_cols):
        if m.row < 0:
            return Verdict(kind, value, False, "not_listed")
        row = m.row
        eid = cols.entry_id.item(row)
        info = (m.expression, None if eid == _NO_ID else eid, self._sources[cols.source.item(row)] or None,
                cols.score.item(row), None)
        if not m.active:
            reason = "revoked" if cols.revoked.item(row) else "expired"
            return _new_verdict((kind, value, False, reason) + info)
        a = allow_match()
        if a.active:
            aid = int(allow_cols.entry_id[a.row])
            return Verdict(kind, value, False, "allowlisted", matched_expression=a.expression,
                           entry_id=None if aid == _NO_ID else aid,
                           source=self._sources[int(allow_cols.source[a.row])] or None,
                           score=float(allow_cols.score[a.row]),
                           detail=f"allowlist overrides block entry on {m.expression}")
        return _new_verdict((kind, value, True, "listed") + info)

    def check_url(self, url: str | bytes, at: datetime | None = None) -> Verdict:
        """Check one URL. Raises :class:`InvalidUrl` if it cannot be read as a URL."""
        at_us = _now_us(at)
        host, canon = canonical_host_and_url(url)
        if not self._url_block.host_listed(host):
            return Verdict("url", canon, False, "not_listed")
        return self._url_verdicts([canonical_parts(canon)], at_us)[0]

    def check_urls(self, urls: Sequence[str | bytes], at: datetime | None = None) -> list[Verdict]:
        """Check many URLs at once; an unreadable one gets an ``invalid`` verdict.

        Two vectorised stages: the host filter over the whole batch, then — only for
        URLs that pass it — one prefix search over all their expression hashes. Python
        only touches the few prefix hits.
        """
        at_us = _now_us(at)
        with _collector_paused():
            return self._check_urls(urls, at_us)

    def _check_urls(self, urls: Sequence[str | bytes], at_us: int) -> list[Verdict]:
        hosts, canon, errors = canonical_hosts_and_urls(urls)
        out = _not_listed("url", canon)  # every URL starts as not listed
        for i, err in errors.items():
            u = urls[i]
            out[i] = Verdict("url", u if isinstance(u, str) else repr(u), False, "invalid", detail=str(err))
        passed = np.flatnonzero(self._url_block.hosts_listed(hosts)).tolist() if hosts else []
        candidates = [i for i in passed if i not in errors]
        if candidates:
            parts = [canonical_parts(canon[i]) for i in candidates]  # type: ignore[arg-type]  # a fixed point
            for i, v in zip(candidates, self._url_verdicts(parts, at_us)):
                out[i] = v
        return out

    def _url_verdicts(self, parts: list[CanonicalUrl], at_us: int) -> list[Verdict]:
        """Full check of URLs whose hosts passed the filter, one prefix search for all.

        Every URL starts as not listed (made in C, as in :meth:`_check_urls`); Python
        only walks the expressions whose 4-byte prefix is listed, in expression order
        per URL, with the row spans read out of the arrays once."""
        idx = self._url_block
        exprs = list(map(expressions_of, parts))
        flat = list(chain.from_iterable(exprs))
        digests = expression_hashes(flat)
        lo, hi = idx.spans(digests)
        out = _not_listed("url", map(str, parts))
        found = np.flatnonzero(hi > lo)
        if not len(found):
            return out
        owners = np.repeat(np.arange(len(parts)), list(map(len, exprs)))[found].tolist()
        ks, los, his = found.tolist(), lo[found].tolist(), hi[found].tolist()
        full, cols = idx._full_bytes, idx.cols
        j, n = 0, len(ks)
        while j < n:
            i = owners[j]
            m = _Match()
            while j < n and owners[j] == i:
                if not m.active:  # in expression order: the first active match decides
                    k = ks[j]
                    d = digests[k]
                    for row in range(los[j], his[j]):
                        if full[32 * row:32 * row + 32] == d:
                            m.offer(row, flat[k], cols.active(row, at_us))
                j += 1
            if m.row >= 0:
                out[i] = self._decide("url", out[i].value, m, cols,
                                      lambda es=exprs[i]: self._url_allow.match(es, at_us),
                                      self._url_allow.cols)
        return out

    # ---- phone checks

    def check_phone(self, number: str, at: datetime | None = None) -> Verdict:
        """Check one number. Raises :class:`InvalidPhone` if it is not a valid number."""
        phone = parse_phone(number)
        hit = self._phone_hits(np.array([phone.key], dtype=np.int64)).get(0)
        if hit is None:
            return Verdict("phone", phone.value, False, "not_listed")
        return self._phone_decide(phone.key, phone.value, *hit, _now_us(at))

    def check_phones(self, numbers: Sequence[str], at: datetime | None = None) -> list[Verdict]:
        """Check many numbers at once; an invalid one gets an ``invalid`` verdict.

        Keys come from :func:`~fanzha.intercept.phones.phone_batch`, one vectorised
        search finds the listed ones, and every other number's verdict is made in C;
        Python only touches the hits.
        """
        at_us = _now_us(at)
        with _collector_paused():
            return self._check_phones(numbers, at_us)

    def _check_phones(self, numbers: Sequence[str], at_us: int) -> list[Verdict]:
        keys, values, errors = phone_batch(numbers, values=True)
        out = _not_listed("phone", values)  # type: ignore[arg-type]
        for i, err in errors.items():
            out[i] = Verdict("phone", str(numbers[i]), False, "invalid", detail=str(err))
        hits = self._phone_hits(keys, errors)
        for k, (lo, hi, spans) in hits.items():
            out[k] = self._phone_decide(int(keys[k]), values[k], lo, hi, spans, at_us)  # type: ignore[arg-type]
        return out

    def _phone_hits(self, keys: np.ndarray, errors: Container[int] = ()
                    ) -> dict[int, tuple[int, int, list[tuple[int, int, str]]]]:
        """Positions of the keys some block row matches: their row span and range spans."""
        lo, hi = self._phone_block.ranges(keys)
        in_ranges = self._phone_block.range_rows(keys)
        found = set(np.flatnonzero(hi > lo).tolist())
        found.update(in_ranges)
        return {k: (int(lo[k]), int(hi[k]), in_ranges.get(k, [])) for k in sorted(found) if k not in errors}

    def _phone_decide(self, key: int, value: str, lo: int, hi: int, spans: list[tuple[int, int, str]],
                      at_us: int) -> Verdict:
        cols = self._phone_block.cols
        m = _Match()
        for row in range(lo, hi):
            m.offer(row, value, cols.active(row, at_us))
        for a, b, expr in spans:
            for row in range(a, b):
                m.offer(row, expr, cols.active(row, at_us))
        return self._decide("phone", value, m, cols, lambda: self._phone_allow_match(key, value, at_us),
                            self._phone_allow.cols)

    def _phone_allow_match(self, key: int, value: str, at_us: int) -> _Match:
        m = _Match()
        idx = self._phone_allow
        if not len(idx):
            return m
        if idx.sorted_keys.has(key):  # one bitmap read answers nearly every absent number
            lo = int(np.searchsorted(idx.keys, key, "left"))
            hi = int(np.searchsorted(idx.keys, key, "right"))
            for row in range(lo, hi):
                m.offer(row, value, idx.cols.active(row, at_us))
        if idx.prefix_lengths:
            for a, b, expr in idx.range_rows(np.array([key], dtype=np.int64)).get(0, ()):
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
        return sorted({idx._full_bytes[32 * r:32 * r + 32].tobytes() for r in range(lo, hi)
                       if idx.cols.active(r, at_us)})
