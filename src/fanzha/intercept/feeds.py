"""Reading threat feeds into interception entries: plain lists, CSV and STIX 2.1 indicators.

Pure reading, no store: each reader yields :class:`FeedItem` records (value, kind and
whatever life cycle the feed states) or raises :class:`~fanzha.errors.InputError`
naming the file, line (or indicator) and field. :func:`fanzha.intercept.store.list_entry`
then lists each one, so a feed entry seen again extends the entry rather than
duplicating it.

Formats:

* **plain** — one URL, domain, number or range (``+86170*``, ``A..B``) a line, ``#``
  comments (the same rules as :mod:`.listfile`);
* **CSV** — UTF-8 with a header; ``value`` is required; optional ``kind`` (url, phone,
  phone_range), ``listing`` (block, allow), ``reason``, ``score`` (0–1), ``first_seen``
  and ``valid_until`` (ISO 8601 with offset);
* **STIX 2.1** — a bundle (or a list of objects, or one object). Each ``indicator``
  whose pattern is STIX patterning and whose comparisons are equalities on
  ``url:value``, ``domain-name:value``, ``ipv4-addr:value``, ``ipv6-addr:value`` or a
  phone number (``x-phone-number:value``, ``phone-number:value``) gives one item per
  comparison joined by ``OR``. ``valid_until`` and ``confidence`` (0–100, as the score)
  are carried; ``name`` or ``description`` becomes the reason; revoked indicators and
  other object types are skipped and counted. Patterns with ``AND``, other operators
  or other object paths cannot be expressed as a list entry and are skipped with why.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from fanzha.errors import InputError
from fanzha.intercept.listfile import iter_list
from fanzha.intercept.phones import looks_like_range

__all__ = ["FeedItem", "FeedReport", "read_plain", "read_csv", "read_stix", "read_feed", "FORMATS"]

FORMATS = ("plain", "csv", "stix")


@dataclass(frozen=True)
class FeedItem:
    value: str
    kind: str | None = None
    listing: str = "block"
    reason: str = ""
    score: float | None = None
    first_seen: datetime | None = None
    valid_until: datetime | None = None
    ref: str = ""  # line number or indicator id: where it came from, for messages


@dataclass
class FeedReport:
    items: list[FeedItem] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (where, why)


def _time(text: str, *, file: str, line: int | None, name: str) -> datetime | None:
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"not an ISO 8601 time: {text!r}", file=file, line=line, field=name) from None
    if t.tzinfo is None:
        raise InputError(f"time needs an offset, e.g. {text}+08:00", file=file, line=line, field=name)
    return t


def read_plain(path: str | Path) -> FeedReport:
    rep = FeedReport()
    for ln in iter_list(path):
        kind = "phone_range" if looks_like_range(ln.value) else ln.kind.value
        rep.items.append(FeedItem(ln.value, kind, ref=f"line {ln.line}"))
    return rep


def read_csv(path: str | Path) -> FeedReport:
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError("feed file not found", file=file) from None
    except UnicodeDecodeError:
        raise InputError("feed file is not UTF-8", file=file) from None
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "value" not in reader.fieldnames:
        raise InputError("CSV needs a header with a 'value' column", file=file, line=1, field="value")
    known = {"value", "kind", "listing", "reason", "score", "first_seen", "valid_until", "source"}
    unknown = [f for f in reader.fieldnames if f not in known]
    if unknown:
        raise InputError(f"unknown column {unknown[0]!r}; known: {', '.join(sorted(known))}",
                         file=file, line=1, field=unknown[0])
    rep = FeedReport()
    for row in reader:
        line = reader.line_num
        value = (row.get("value") or "").strip()
        if not value:
            raise InputError("empty value", file=file, line=line, field="value")
        kind = (row.get("kind") or "").strip() or None
        if kind is not None and kind not in ("url", "phone", "phone_range"):
            raise InputError(f"unknown kind {kind!r}; one of url, phone, phone_range", file=file, line=line,
                             field="kind")
        listing = (row.get("listing") or "").strip() or "block"
        if listing not in ("block", "allow"):
            raise InputError(f"unknown listing {listing!r}; block or allow", file=file, line=line, field="listing")
        score = None
        if (row.get("score") or "").strip():
            try:
                score = float(row["score"])
            except ValueError:
                raise InputError(f"not a number: {row['score']!r}", file=file, line=line, field="score") from None
            if not 0.0 <= score <= 1.0:
                raise InputError("score must be within [0, 1]", file=file, line=line, field="score")
        rep.items.append(FeedItem(
            value, kind, listing, (row.get("reason") or "").strip(), score,
            _time((row.get("first_seen") or "").strip(), file=file, line=line, name="first_seen"),
            _time((row.get("valid_until") or "").strip(), file=file, line=line, name="valid_until"),
            ref=f"line {line}"))
    return rep


_COMPARISON = re.compile(
    r"\s*\[?\s*([a-z0-9\-]+):([a-z_.]+)\s*(=|!=|LIKE|MATCHES|IN|>|<|>=|<=)\s*'((?:[^'\\]|\\.)*)'\s*\]?\s*",
    re.IGNORECASE)
_OBJECTS = {"url": "url", "domain-name": "url", "ipv4-addr": "url", "ipv6-addr": "url",
            "x-phone-number": "phone", "phone-number": "phone"}


def _pattern_values(pattern: str) -> tuple[list[tuple[str, str]], str | None]:
    """``[(kind, value)]`` of a pattern's ``OR``-joined equalities, or ``([], why)``."""
    if re.search(r"\bAND\b|\bFOLLOWEDBY\b|\bWITHIN\b|\bREPEATS\b", pattern):
        return [], "pattern joins observations with AND / FOLLOWEDBY / WITHIN: not a list entry"
    out = []
    for part in re.split(r"\bOR\b", pattern):
        m = _COMPARISON.fullmatch(part.strip())
        if m is None:
            return [], f"cannot read the comparison {part.strip()[:80]!r}"
        obj, prop, op, literal = m.groups()
        obj = obj.lower()
        if obj not in _OBJECTS or prop != "value":
            return [], f"{obj}:{prop} is not a URL, domain, IP address or phone number"
        if op != "=":
            return [], f"operator {op} is not an equality"
        value = literal.replace("\\'", "'").replace("\\\\", "\\")
        if obj == "ipv6-addr" and not value.startswith("["):
            value = f"[{value}]"
        out.append((_OBJECTS[obj], value))
    return out, None


def read_stix(path: str | Path) -> FeedReport:
    file = str(path)
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise InputError("feed file not found", file=file) from None
    except (ValueError, UnicodeDecodeError) as err:
        raise InputError(f"not a STIX JSON document: {err}", file=file) from None
    if isinstance(doc, dict) and doc.get("type") == "bundle":
        objects = doc.get("objects") or []
    elif isinstance(doc, list):
        objects = doc
    elif isinstance(doc, dict):
        objects = [doc]
    else:
        raise InputError("expected a STIX bundle, a list of objects or one object", file=file)
    rep = FeedReport()
    for n, obj in enumerate(objects, start=1):
        if not isinstance(obj, dict):
            raise InputError("a STIX object must be a JSON object", file=file, field=f"objects[{n - 1}]")
        where = str(obj.get("id") or f"objects[{n - 1}]")
        if obj.get("type") != "indicator":
            rep.skipped.append((where, f"not an indicator ({obj.get('type')})"))
            continue
        if obj.get("revoked"):
            rep.skipped.append((where, "revoked indicator"))
            continue
        if obj.get("pattern_type", "stix") != "stix":
            rep.skipped.append((where, f"pattern type {obj.get('pattern_type')} is not stix"))
            continue
        pattern = obj.get("pattern")
        if not isinstance(pattern, str) or not pattern.strip():
            raise InputError("indicator has no pattern", file=file, field=f"{where}.pattern")
        values, why = _pattern_values(pattern)
        if why:
            rep.skipped.append((where, why))
            continue
        score = None
        if obj.get("confidence") is not None:
            c = obj["confidence"]
            if not isinstance(c, int) or not 0 <= c <= 100:
                raise InputError("confidence must be an integer 0–100", file=file, field=f"{where}.confidence")
            score = c / 100
        reason = str(obj.get("name") or obj.get("description") or "")[:4000]
        first = _time(str(obj.get("valid_from") or ""), file=file, line=None, name=f"{where}.valid_from")
        until = _time(str(obj.get("valid_until") or ""), file=file, line=None, name=f"{where}.valid_until")
        for kind, value in values:
            rep.items.append(FeedItem(value, kind, "block", reason, score, first, until, ref=where))
    return rep


def read_feed(path: str | Path, fmt: str | None = None) -> FeedReport:
    """Read a feed; ``fmt`` (plain, csv, stix) defaults from the file name's extension."""
    if fmt is None:
        suffix = Path(path).suffix.lower()
        fmt = {".csv": "csv", ".json": "stix", ".stix": "stix"}.get(suffix, "plain")
    if fmt == "plain":
        return read_plain(path)
    if fmt == "csv":
        return read_csv(path)
    if fmt == "stix":
        return read_stix(path)
    raise InputError(f"unknown feed format {fmt!r}; one of {', '.join(FORMATS)}", field="--as")
