"""The plain list file: one URL, domain or phone number a line.

This is what analysts paste from a detector's output or a partner's feed, and what the
CLI reads with ``--list`` / ``--allow``. Rules:

* UTF-8 (a leading BOM is ignored); blank lines and lines starting with ``#`` are skipped;
* a line written like a phone number (digits, ``+``, spaces, dashes, brackets) is a
  number; anything else is a URL or bare domain (``evil.com`` blocks the whole site);
* a bare IP address must be written as a URL (``http://3279880203/``) — a plain run of
  digits is read as a phone number.

Every entry gets the same explicit life cycle: source (the file name unless given),
score 1.0, ``valid_until`` = load time + ``ttl``; its ``entry_id`` is its line number,
so a verdict points back at the line that caused it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from itertools import compress, islice
from operator import itemgetter, not_, or_
from pathlib import Path
from typing import NamedTuple

from fanzha.errors import InputError
from fanzha.intercept.blocklist import Blocklist, BlocklistBuilder
from fanzha.intercept.entries import EntryKind, require_aware
from fanzha.intercept.phones import looks_like_phone

__all__ = ["ListLine", "iter_list", "read_list", "classify", "load_blocklist", "DEFAULT_TTL"]

#: How long a line of a plain list file stays listed when nothing else says so.
DEFAULT_TTL = timedelta(days=30)


class ListLine(NamedTuple):
    line: int
    value: str
    kind: EntryKind


#: Lines handed to the builder at a time: bounds the memory a multi-million-line file
#: needs while loading to a few MB beyond the index itself.
_CHUNK = 1 << 16

def classify(value: str) -> EntryKind:
    """Phone if written like a number; URL otherwise (a letter first means URL at once)."""
    if value[:1].isalpha():
        return EntryKind.url
    if value.isdigit() and len(value) >= 3:
        return EntryKind.phone
    return EntryKind.phone if looks_like_phone(value) else EntryKind.url


def iter_list(path: str | Path) -> Iterator[ListLine]:
    """Stream a list file's entries; raises :class:`InputError` naming the file and line."""
    n = 0
    with _open(path) as f:
        try:
            for n, raw in enumerate(f, start=1):
                value = raw.strip()
                if not value or value[0] == "#":
                    continue
                yield ListLine(n, value, classify(value))
        except UnicodeDecodeError:
            raise InputError("list file is not UTF-8", file=str(path), line=n + 1) from None


def read_list(path: str | Path) -> list[ListLine]:
    """All entries of a list file (see :func:`iter_list`)."""
    return list(iter_list(path))


def _open(path: str | Path):
    try:
        return open(path, encoding="utf-8-sig", newline=None)
    except FileNotFoundError:
        raise InputError("list file not found", file=str(path)) from None
    except OSError as err:
        raise InputError(f"cannot read list file: {err.strerror}", file=str(path)) from None


def _flush(builder: BlocklistBuilder, path: str | Path, values: list[str], lines: list[int],
           kind: EntryKind, **life) -> None:
    add = builder.add_urls if kind is EntryKind.url else builder.add_phones
    try:
        add(values, entry_ids=lines, **life)
    except InputError as err:
        i = (err.line or 1) - 1
        raise InputError(f"{err.message}: {values[i]!r}", file=str(path), line=lines[i],
                         field=kind.value) from None
    values.clear()
    lines.clear()


_first_char = itemgetter(slice(0, 1))


def _add(builder: BlocklistBuilder, path: str | Path, **life) -> None:
    """Stream the file into the builder in chunks (the same rules as :func:`iter_list`).

    A letter first means a URL at once, and bare digits (at least three) a number: those
    lines (nearly all of a list) are picked out by ``map`` and ``compress``, without
    Python code per line; only the others (numbers written with ``+``, spaces or dashes,
    URLs starting with a digit, comments, blank lines) are looked at one by one.
    """
    url, phone = EntryKind.url, EntryKind.phone
    n = 0
    with _open(path) as f:
        try:
            while lines := list(islice(f, _CHUNK)):
                values = list(map(str.strip, lines))
                is_url = list(map(str.isalpha, map(_first_char, values)))
                is_phone = list(map(str.isdigit, values))  # bare digits, at least 3 (see classify)
                if min(map(len, compress(values, is_phone)), default=3) < 3:
                    is_phone = [d and len(v) >= 3 for d, v in zip(is_phone, values)]
                for i in list(compress(range(len(values)), map(not_, map(or_, is_url, is_phone)))):
                    value = values[i]
                    if value and value[0] != "#":
                        if classify(value) is url:
                            is_url[i] = True
                        else:
                            is_phone[i] = True
                numbers = range(n + 1, n + 1 + len(values))
                urls = list(compress(values, is_url))  # in line order
                url_lines = list(compress(numbers, is_url))
                phones = list(compress(values, is_phone))
                phone_lines = list(compress(numbers, is_phone))
                if urls:
                    _flush(builder, path, urls, url_lines, url, **life)
                if phones:
                    _flush(builder, path, phones, phone_lines, phone, **life)
                n += len(lines)
        except UnicodeDecodeError:
            raise InputError("list file is not UTF-8", file=str(path), line=n + 1) from None


def load_blocklist(block_path: str | Path, allow_path: str | Path | None = None, *,
                   at: datetime | None = None, ttl: timedelta = DEFAULT_TTL,
                   source: str | None = None, version: int = 0) -> Blocklist:
    """Build a :class:`Blocklist` from a block list file and an optional allow list file."""
    at = require_aware(at, "at") if at is not None else datetime.now(timezone.utc)
    builder = BlocklistBuilder()
    _add(builder, block_path, allow=False, valid_until=at + ttl,
         source=source or Path(block_path).name)
    if allow_path is not None:
        _add(builder, allow_path, allow=True, valid_until=at + ttl,
             source=source or Path(allow_path).name)
    return builder.build(version)
