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

import os
import pickle
import queue
import signal
import threading
from array import array
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from itertools import compress, islice
from operator import itemgetter, not_, or_
from pathlib import Path
from typing import NamedTuple

import numpy as np

from fanzha.errors import InputError
from fanzha.intercept.blocklist import Blocklist, BlocklistBuilder, url_rows
from fanzha.intercept.entries import EntryKind, require_aware
from fanzha.intercept.phones import looks_like_phone, phone_batch

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


class _Rows(NamedTuple):
    """What one chunk of lines adds to the index (see :func:`_chunk_rows`)."""

    url_digests: bytes
    url_keys2: array
    url_keys3: array
    url_lines: array
    phone_keys: bytes
    phone_lines: array


_first_char = itemgetter(slice(0, 1))


def _chunk_rows(path: str | Path, lines: list[str], n: int) -> _Rows:
    """Sort one chunk's lines (the first being line ``n + 1``) into URLs and numbers and
    reduce them to index rows; raises :class:`InputError` naming the first bad line.

    The rules are :func:`iter_list`'s. A letter first means a URL at once, and bare
    digits (at least three) a number: those lines (nearly all of a list) are picked out
    by ``map`` and ``compress``, without Python code per line; only the others (numbers
    written with ``+``, spaces or dashes, URLs starting with a digit, comments, blank
    lines) are looked at one by one.
    """
    url = EntryKind.url
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
    url_lines = array("q", compress(numbers, is_url))
    phones = list(compress(values, is_phone))
    phone_lines = array("q", compress(numbers, is_phone))
    try:
        digests, keys2, keys3 = url_rows(urls)
    except InputError as err:
        i = (err.line or 1) - 1
        raise InputError(f"{err.message}: {urls[i]!r}", file=str(path), line=url_lines[i],
                         field=url.value) from None
    keys, _, errors = phone_batch(phones)
    if errors:
        i = min(errors)
        raise InputError(f"{errors[i].message}: {phones[i]!r}", file=str(path), line=phone_lines[i],
                         field=EntryKind.phone.value) from None
    return _Rows(digests, keys2, keys3, url_lines, keys.tobytes(), phone_lines)


def _add_rows(builder: BlocklistBuilder, rows: _Rows, **life) -> None:
    if len(rows.url_lines):
        builder.add_url_rows(rows.url_digests, rows.url_keys2, rows.url_keys3, entry_ids=rows.url_lines, **life)
    if len(rows.phone_lines):
        builder.add_phone_rows(np.frombuffer(rows.phone_keys, dtype=np.int64), entry_ids=rows.phone_lines,
                               **life)


def _chunks(f, path: str | Path) -> Iterator[tuple[int, list[str]]]:
    """``(lines before, lines)`` of each chunk of an open list file."""
    n = 0
    try:
        while lines := list(islice(f, _CHUNK)):
            yield n, lines
            n += len(lines)
    except UnicodeDecodeError:
        raise InputError("list file is not UTF-8", file=str(path), line=n + 1) from None


def _add(builder: BlocklistBuilder, path: str | Path, **life) -> None:
    """Stream the file into the builder in chunks, in one process."""
    with _open(path) as f:
        for n, lines in _chunks(f, path):
            _add_rows(builder, _chunk_rows(path, lines, n), **life)


#: A file this large (bytes) is loaded by two processes (see :func:`_add_forked`).
_FORK_BYTES = 8 << 20


#: The share of the chunks the forked process reduces, as ``(a, b)``: ``a`` of every
#: ``b``. More than half, because the parent also adds every chunk's rows to the
#: builder and then builds the index alone. On the 3,000,000-line benchmark list
#: (CPU seconds, one process, a shared machine): reading 0.4, reducing every chunk
#: 8-10, adding the rows 0.2, the build 1.1-1.4. With 3 of 5 the parent spends about
#: 5-6 s and the helper about as much; the helper's last chunk, then the build, end
#: the load. (An even split ends the reduction a little sooner but leaves the parent
#: about 1 s more.)
_CHILD_SHARE = (3, 5)

#: Reduced chunks the forked process may hold before the parent takes them.
_CHILD_AHEAD = 4


def _childs(chunk: int) -> bool:
    """Whether the forked process reduces this chunk: ``a`` of every ``b`` chunks
    (:data:`_CHILD_SHARE`), spread evenly; with ``(1, 2)`` the odd ones."""
    a, b = _CHILD_SHARE
    return (chunk * a) // b != ((chunk + 1) * a) // b


def _send_rows(out, path: str | Path) -> None:
    """The forked process's work: reduce its chunks, and send each one's rows (or its
    first error) down ``out`` from a second thread, so that reducing never waits for
    the parent to take them (at most :data:`_CHILD_AHEAD` wait in between)."""
    ready: queue.Queue = queue.Queue(maxsize=_CHILD_AHEAD)

    def send() -> None:
        while (msg := ready.get()) is not None:
            pickle.dump(msg, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()

    sender = threading.Thread(target=send)
    sender.start()
    try:
        with _open(path) as f:
            for k, (n, lines) in enumerate(_chunks(f, path)):
                if _childs(k):
                    try:
                        msg: object = _chunk_rows(path, lines, n)
                    except InputError as err:  # sent as its fields: they pickle
                        msg = (err.message, err.file, err.line, err.field)
                    ready.put(msg)
                    if not isinstance(msg, _Rows):
                        break
    except InputError:
        pass  # not UTF-8: the parent meets it on the same line
    finally:
        ready.put(None)
        sender.join()


def _add_forked(builder: BlocklistBuilder, path: str | Path, **life) -> None:
    """:func:`_add` with a forked second process reducing most chunks.

    Both processes read the whole file (reading is a small part of the work); the
    child reduces its share of the chunks (see :func:`_childs`) to rows and sends them
    down a pipe, the parent reduces the others and adds every chunk's rows in file
    order, so the index is the one :func:`_add` builds, entry for entry. The host-filter
    keys the child computes are valid here: a forked process keeps its parent's hash
    secret. The first bad line in file order is reported, as by :func:`_add`; the child
    reports its errors as rows would come, and the parent raises them in turn. Should
    the child die, the parent reduces the chunks it would have sent.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller
        status = 1
        try:
            os.close(read_fd)
            with os.fdopen(write_fd, "wb") as out:
                _send_rows(out, path)
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    helper = True
    try:
        with os.fdopen(read_fd, "rb") as rows_in, _open(path) as f:
            for k, (n, lines) in enumerate(_chunks(f, path)):
                rows = None
                if helper and _childs(k):
                    try:
                        rows = pickle.load(rows_in)
                    except EOFError:  # the helper died (killed, out of memory): go on alone,
                        helper = False  # so that whatever it met is met and reported here
                    if rows is not None and not isinstance(rows, _Rows):
                        message, file, line, field = rows
                        raise InputError(message, file=file, line=line, field=field)
                if rows is None:
                    rows = _chunk_rows(path, lines, n)
                _add_rows(builder, rows, **life)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)  # done or not: it has nothing more to give
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)


def _can_fork() -> bool:
    """Whether a second loading process may be forked: only from a single-threaded
    process (a fork copies just the calling thread) on a machine with two cores or more."""
    return hasattr(os, "fork") and threading.active_count() == 1 and (os.cpu_count() or 1) > 1


def load_blocklist(block_path: str | Path, allow_path: str | Path | None = None, *,
                   at: datetime | None = None, ttl: timedelta = DEFAULT_TTL,
                   source: str | None = None, version: int = 0, processes: int = 2) -> Blocklist:
    """Build a :class:`Blocklist` from a block list file and an optional allow list file.

    A large file is read by ``processes`` (at most two) processes when this one may fork
    (see :func:`_add_forked`); the result is the same either way.
    """
    at = require_aware(at, "at") if at is not None else datetime.now(timezone.utc)
    builder = BlocklistBuilder()
    for path, allow in ((block_path, False), (allow_path, True)):
        if path is None:
            continue
        add = _add
        if processes > 1 and _can_fork():
            try:
                if os.path.getsize(path) >= _FORK_BYTES:
                    add = _add_forked
            except OSError:
                pass  # _add reports the file as missing or unreadable
        add(builder, path, allow=allow, valid_until=at + ttl, source=source or Path(path).name)
    return builder.build(version)
