"""Reading ledgers, victims and opening balances (FORMATS.md), strictly and in columns.

A bank's answer to a transaction-details query can be millions of rows; a mistake in
one of them (a negative amount, a time without its offset, a repeated ``txn_id``)
silently shifts whose money is where. So every file is checked in full and the first
bad value is reported with its file, line and field.

Two readers share one set of rules:

* the **fast path** reads with ``pyarrow`` (CSV streamed block by block, or Parquet)
  and checks whole columns at once; it keeps only compact columns (times as integer
  microseconds, amounts as integer fen, accounts interned to integers);
* the **exact path** reads with the ``csv`` module, row by row, and knows the physical
  line of every record. It is the reference: whenever the fast path finds anything it
  does not like, the exact path reads the file again and either names the first bad
  line, field and value, or (when the fast path was merely stricter about spelling,
  e.g. spaces around an amount) returns the data itself.

Rows come back in replay order: stable-sorted by time, so equal times keep file order.
"""

from __future__ import annotations

import bisect
import csv
import io
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fanzha.errors import InputError
from fanzha.money import MAX_FEN, AmountError, parse_yuan

LEDGER_REQUIRED = ("txn_id", "timestamp", "from_account", "to_account", "amount")
LEDGER_OPTIONAL = ("from_institution", "to_institution", "channel", "currency", "memo")
VICTIMS_REQUIRED = ("victim_id", "txn_id")
ACCOUNTS_REQUIRED = ("account", "opening_balance")
ACCOUNTS_OPTIONAL = ("institution", "holder")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_AMOUNT_RE = r"^[0-9]+(\.[0-9]{1,2})?$"
_OFFSET_RE = r"(Z|z|[+-][0-9][0-9](:?[0-9][0-9])?)$"
#: Files larger than this are read with pyarrow first; smaller ones go straight to the
#: exact reader (it is fast enough there and never needs a second pass).
FAST_PATH_BYTES = 8 * 2**20
_CHUNK_ROWS = 500_000


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------

def parse_time(text: str) -> datetime:
    """An ISO 8601 time that carries its UTC offset; a naive time is refused, because
    the same wall-clock time in Beijing and in Phnom Penh is an hour apart."""
    s = text.strip()
    if not s:
        raise ValueError("empty time")
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {text!r}") from None
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"time has no UTC offset: {text!r} (write it as 2024-04-29T17:30:05+08:00)")
    return dt


def to_micros(dt: datetime) -> int:
    """Microseconds since the Unix epoch, UTC: how the columns keep time."""
    return (dt - _EPOCH) // _US


def from_micros(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(us))


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------

@dataclass
class Ledger:
    """A ledger in replay order, in columns.

    ``payer``/``payee`` index :attr:`accounts` (``-1``: no account — money from outside
    or a cash-out). ``row`` is each transfer's 0-based position in the source file, so a
    message can point back at it.
    """

    source: str
    txn_id: pa.Array                 # string, replay order
    ts: np.ndarray                   # int64 µs since epoch, UTC, non-decreasing
    payer: np.ndarray                # int32
    payee: np.ndarray                # int32
    amount: np.ndarray               # int64 fen, > 0
    row: np.ndarray | None           # int64 position in the file (None: the file was in order)
    accounts: list[str]              # interned account ids
    institution: list[str]           # per account: an institution the ledger names for it ("" if none)
    _account_index: dict[str, int] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.ts)

    def account_index(self) -> dict[str, int]:
        if self._account_index is None:
            self._account_index = {a: i for i, a in enumerate(self.accounts)}
        return self._account_index

    def line_of(self, pos: int) -> int:
        """The file line of the transfer at replay position ``pos`` (header is line 1),
        exact when the file puts one record on a line, as ledgers do."""
        return (pos if self.row is None else int(self.row[pos])) + 2

    # What a replay asks of a ledger (:class:`SmallLedger` answers the same questions).

    def lists(self) -> tuple[list[int], list[int], list[int]]:
        """``(payer, payee, amount)`` as Python lists."""
        return self.payer.tolist(), self.payee.tolist(), self.amount.tolist()

    def txn_ids(self, positions: list[int]) -> list[str]:
        """The ``txn_id`` at each replay position."""
        return self.txn_id.take(pa.array(positions, pa.int64())).to_pylist() if positions else []

    def positions_of(self, txn_ids: list[str]) -> dict[str, int]:
        """Replay position of each of ``txn_ids`` that is in the ledger."""
        # Scan the ledger against the (small) set of ids rather than hashing the (large)
        # ledger: one pass, no table of ten million strings.
        ids = pa.array(txn_ids, pa.string())
        hit = np.flatnonzero(np.asarray(pc.is_in(self.txn_id, value_set=ids).to_numpy(zero_copy_only=False),
                                        dtype=bool))
        return dict(zip(self.txn_id.take(pa.array(hit)).to_pylist(), hit.tolist()))

    def rows_until(self, us: int) -> int:
        """How many rows are at or before ``us`` (µs since the epoch)."""
        return int(np.searchsorted(self.ts, us, "right"))


@dataclass
class SmallLedger:
    """A ledger of a few rows in replay order, in Python lists: what an institution's
    answers to one case add up to. Numpy's and pyarrow's set-up costs far more than
    replaying a few rows, so :func:`fanzha.tracing.engine.replay` traces it as it is.
    Read by :func:`read_small_ledger` under the same rules as a :class:`Ledger`, and
    answers the same questions (``lists``, ``txn_ids``, ``positions_of``, ``rows_until``).
    """

    source: str
    txn_id: list[str]
    ts: list[int]
    payer: list[int]
    payee: list[int]
    amount: list[int]
    row: list[int]
    accounts: list[str]
    institution: list[str]
    _account_index: dict[str, int] = field(repr=False)

    def __len__(self) -> int:
        return len(self.ts)

    def account_index(self) -> dict[str, int]:
        return self._account_index

    def line_of(self, pos: int) -> int:
        return self.row[pos] + 2

    def lists(self) -> tuple[list[int], list[int], list[int]]:
        return self.payer, self.payee, self.amount

    def txn_ids(self, positions: list[int]) -> list[str]:
        return [self.txn_id[p] for p in positions]

    def positions_of(self, txn_ids: list[str]) -> dict[str, int]:
        wanted = set(txn_ids)
        return {t: p for p, t in enumerate(self.txn_id) if t in wanted}

    def rows_until(self, us: int) -> int:
        return bisect.bisect_right(self.ts, us)


@dataclass(frozen=True)
class VictimRow:
    victim_id: str
    txn_id: str
    line: int


@dataclass
class Accounts:
    """``accounts.csv``: opening balances (fen) and, where given, institution and holder."""

    opening: dict[str, int]
    institution: dict[str, str]
    holder: dict[str, str]

    @classmethod
    def empty(cls) -> "Accounts":
        return cls({}, {}, {})


# ---------------------------------------------------------------------------
# The exact reader
# ---------------------------------------------------------------------------

def _open_text(path: str | Path) -> io.TextIOBase:
    return open(path, encoding="utf-8-sig", newline="")


#: No line of a ledger, victims or accounts file is longer than this: a longer one is
#: not such a file (a binary or a dump with no line breaks), refused before it fills memory.
MAX_LINE_CHARS = 1 << 20


def _bounded(fh: Iterable[str], name: str) -> Iterator[str]:
    """The lines of ``fh``, refusing one longer than :data:`MAX_LINE_CHARS`."""
    readline = getattr(fh, "readline", None)
    if readline is None:  # already a list of lines
        yield from fh
        return
    n = 0
    while True:
        line = readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        n += 1
        if len(line) > MAX_LINE_CHARS:
            raise InputError(f"line longer than {MAX_LINE_CHARS:,} characters: not a CSV file of this kind",
                             file=name, line=n)
        yield line


def _records(fh: Iterable[str], name: str, required: tuple[str, ...]
             ) -> Iterator[tuple[int, dict[str, str]]]:
    """``(line, row)`` for every record; the header is checked first. ``line`` is the
    physical line the record starts on."""
    reader = csv.reader(_bounded(fh, name))
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("empty file: no header row", file=name, line=1) from None
    except csv.Error as err:
        raise InputError(f"not a CSV file: {err}", file=name, line=1) from None
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 (byte {err.start})", file=name, line=1) from None
    header = [h.strip() for h in header]
    for col in required:
        if col not in header:
            raise InputError(f"missing required column {col!r} (have: {', '.join(header)})", file=name,
                             line=1, field=col)
    seen: set[str] = set()
    for col in header:
        if col in seen and col:
            raise InputError(f"column {col!r} appears twice", file=name, line=1, field=col)
        seen.add(col)
    width = len(header)
    last = reader.line_num
    while True:
        start = last + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise InputError(f"malformed CSV: {err}", file=name, line=start) from None
        except UnicodeDecodeError as err:
            raise InputError(f"not UTF-8 (byte {err.start})", file=name, line=start) from None
        last = reader.line_num
        if not values or (len(values) == 1 and not values[0].strip()):
            continue  # a blank line
        if len(values) != width:
            raise InputError(f"expected {width} fields, found {len(values)}", file=name, line=start)
        yield start, dict(zip(header, values))


def _amount(text: str, name: str, line: int, col: str, *, allow_zero: bool = False) -> int:
    try:
        return parse_yuan(text, allow_zero=allow_zero)
    except AmountError as err:
        raise InputError(str(err), file=name, line=line, field=col) from None


class _Interner:
    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.names: list[str] = []
        self.inst: list[str] = []

    def get(self, name: str, inst: str) -> int:
        if not name:
            return -1
        i = self.ids.get(name)
        if i is None:
            i = self.ids[name] = len(self.names)
            self.names.append(name)
            self.inst.append(inst)
        elif inst and not self.inst[i]:
            self.inst[i] = inst
        return i


def _read_ledger_exact(path: str | Path, name: str) -> Ledger:
    with _open_text(path) as fh:
        return read_ledger_rows(_records(fh, name, LEDGER_REQUIRED), name, unit="line")


# ---------------------------------------------------------------------------
# The fast reader
# ---------------------------------------------------------------------------

class _Fallback(Exception):
    """The fast path saw something it will not judge; the exact reader decides."""


def _arrow_csv_columns(path: str | Path, name: str, wanted: tuple[str, ...], optional: tuple[str, ...]
                       ) -> dict[str, pa.ChunkedArray]:
    import pyarrow.csv as pacsv

    try:
        with _open_text(path) as fh:
            first = next(_bounded(fh, name), "")
    except UnicodeDecodeError:
        raise _Fallback from None  # the exact reader names the line
    header = [h.strip() for h in next(csv.reader([first]), [])]
    if any(c not in header for c in wanted) or len(set(header)) != len(header) or header != first.rstrip(
            "\r\n").lstrip("\ufeff").split(","):
        raise _Fallback
    cols = list(wanted) + [c for c in optional if c in header]
    try:
        reader = pacsv.open_csv(
            str(path),
            read_options=pacsv.ReadOptions(block_size=64 * 2**20, use_threads=True),
            parse_options=pacsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in header},
                                                 include_columns=cols, strings_can_be_null=False,
                                                 quoted_strings_can_be_null=False))
        # Stream: each block's times become integers at once, so the text of the
        # widest column never sits in memory whole.
        out: dict[str, list] = {c: [] for c in cols}
        for batch in reader:
            for c in cols:
                col = batch.column(c)
                if c == "timestamp":
                    if _first_false(pc.match_substring_regex(col, _OFFSET_RE)) is not None:
                        raise _Fallback
                    col = pc.cast(col, pa.timestamp("us", tz="UTC"))
                out[c].append(col)
    except (pa.ArrowInvalid, UnicodeDecodeError, OSError):
        raise _Fallback from None
    types = {c: (pa.timestamp("us", tz="UTC") if c == "timestamp" else pa.string()) for c in cols}
    return {c: pa.chunked_array(out[c], types[c]) for c in cols}


def _first_false(mask: pa.ChunkedArray | pa.Array) -> int | None:
    if pc.all(mask).as_py() is not False:
        return None
    return int(np.flatnonzero(~np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool))[0])


def _fast_fen(col: pa.ChunkedArray) -> np.ndarray:
    """Amount strings to fen, or :class:`_Fallback` if any is not plain ``123.45``."""
    if len(col) == 0:
        return np.zeros(0, np.int64)
    if _first_false(pc.match_substring_regex(col, _AMOUNT_RE)) is not None:
        raise _Fallback
    # Checked to be digits with at most one dot and two decimals: drop the dot, read the
    # integer, and scale by the decimals written (no decimal type needed).
    if any(c.null_count for c in col.chunks):
        raise _Fallback
    dot = np.asarray(pc.find_substring(col, ".").to_numpy(), dtype=np.int64)
    length = np.asarray(pc.utf8_length(col).to_numpy(), dtype=np.int64)
    decimals = np.where(dot >= 0, length - dot - 1, 0)
    if length.max(initial=0) > 18:
        raise _Fallback
    try:
        digits = np.asarray(pc.cast(pc.replace_substring(col, ".", ""), pa.int64()).to_numpy(), dtype=np.int64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise _Fallback from None
    return digits * np.array([100, 10, 1], dtype=np.int64)[decimals]


def _fast_micros(col: pa.ChunkedArray) -> np.ndarray:
    if len(col) == 0:
        return np.zeros(0, np.int64)
    if pa.types.is_timestamp(col.type):
        if col.type.tz is None:
            raise _Fallback
        us = pc.cast(col, pa.timestamp("us", tz="UTC"))
    else:
        if _first_false(pc.match_substring_regex(col, _OFFSET_RE)) is not None:
            raise _Fallback
        try:
            us = pc.cast(col, pa.timestamp("us", tz="UTC"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise _Fallback from None
    if us.null_count:
        raise _Fallback
    return np.asarray(pc.cast(us, pa.int64()).to_numpy(), dtype=np.int64)


def _strip_needed(col: pa.ChunkedArray | pa.Array) -> bool:
    return len(col) > 0 and pc.any(pc.match_substring_regex(col, r"^\s|\s$")).as_py() is True


def _unique_ids(tid: pa.ChunkedArray) -> bool:
    """Whether no ``txn_id`` repeats. Ledgers usually number their rows in order, and a
    strictly increasing column needs no hash table."""
    n = len(tid)
    if n < 2:
        return True
    flat = tid.combine_chunks() if isinstance(tid, pa.ChunkedArray) else tid
    if pc.all(pc.less(flat.slice(0, n - 1), flat.slice(1))).as_py():
        return True
    return pc.count_distinct(flat).as_py() == n


def _first_code(acct: np.ndarray, codes: np.ndarray, n_acc: int) -> np.ndarray:
    """Per account, the code of the first row that names one (``-1`` when none)."""
    out = np.full(n_acc, -1, np.int32)
    rows = np.flatnonzero((acct >= 0) & (codes >= 0))[::-1]
    out[acct[rows]] = codes[rows]   # later writes win: reversed, the first row wins
    return out


def _encode(columns: list[pa.ChunkedArray]) -> tuple[list[str], np.ndarray]:
    """One dictionary over string columns: ``(values, codes)``, codes of the columns one
    after the other; a null's code is ``len(values)``. Dictionary-typed columns (how
    Parquet hands back its dictionary pages) are unified rather than hashed again."""
    chunks = [c for col in columns for c in col.chunks]
    if chunks and all(pa.types.is_dictionary(c.type) for c in chunks):
        unified = pa.chunked_array(chunks).unify_dictionaries()
        values = unified.chunk(0).dictionary if unified.num_chunks else pa.array([], pa.string())
        idx = [c.indices for c in unified.chunks]
    else:
        chunks = [pc.cast(c, pa.string()) if pa.types.is_dictionary(c.type) else c for c in chunks]
        enc = pc.dictionary_encode(pa.chunked_array(chunks, pa.string()) if chunks else
                                   pa.chunked_array([], pa.string())).combine_chunks()
        values, idx = enc.dictionary, [enc.indices]
    nvals = len(values)
    codes = np.concatenate([np.asarray(pc.fill_null(i, nvals).to_numpy(zero_copy_only=False), dtype=np.int32)
                            for i in idx]) if idx else np.zeros(0, np.int32)
    return [("" if v is None else v) for v in values.to_pylist()], codes


def _ledger_from_columns(get, present: set[str], name: str) -> Ledger:
    """Check and compact the columns, loading each only when needed (``get(col)``) so a
    city's ledger never sits in memory as text all at once; raise :class:`_Fallback`
    on anything doubtful."""
    tid = get("txn_id")
    n = len(tid)
    if not (pa.types.is_string(tid.type) or pa.types.is_large_string(tid.type)):
        raise _Fallback
    if n and (pc.any(pc.equal(pc.utf8_length(tid), 0)).as_py() or _strip_needed(tid) or not _unique_ids(tid)):
        raise _Fallback
    tid = tid.combine_chunks() if isinstance(tid, pa.ChunkedArray) else tid
    ts = _fast_micros(get("timestamp"))
    amt = get("amount")
    if not pa.types.is_string(amt.type):
        amt = pc.cast(amt, pa.string())
    fen = _fast_fen(amt)
    del amt
    if n and (fen.min() <= 0 or fen.max() > MAX_FEN):
        raise _Fallback
    # Intern accounts: one dictionary over both columns; "" (no account) becomes -1.
    src, dst = get("from_account"), get("to_account")
    if n:
        names, codes = _encode([src, dst])
        del src, dst
        if any(not v or v != v.strip() for v in names):
            if any(v and v != v.strip() for v in names):
                raise _Fallback
        if "" in names:
            empty = names.index("")
            remap = np.arange(len(names) + 1, dtype=np.int32)
            remap[empty] = -1
            remap[empty + 1:-1] -= 1
            remap[-1] = -1          # a null code
            codes = remap[codes]
            names.pop(empty)
        payer, payee = codes[:n], codes[n:]
        if np.any((payer < 0) & (payee < 0)):
            raise _Fallback
    else:
        names, payer, payee = [], np.zeros(0, np.int32), np.zeros(0, np.int32)
    inst = [""] * len(names)
    for acct_col, inst_col in ((payer, "from_institution"), (payee, "to_institution")):
        if inst_col not in present or not len(names):
            continue
        labels, lab_codes = _encode([get(inst_col)])
        labels = [v.strip() for v in labels]
        blank = np.array([not v for v in labels] + [True], dtype=bool)
        lab_codes = np.where(blank[lab_codes], -1, lab_codes)
        first = _first_code(acct_col, lab_codes, len(names))
        for a in np.flatnonzero(first >= 0).tolist():
            if not inst[a]:
                inst[a] = labels[first[a]]
    sorted_already = n < 2 or bool(np.all(ts[1:] >= ts[:-1]))
    if sorted_already:
        return Ledger(name, tid, ts, payer, payee, fen, None, names, inst)
    order = np.argsort(ts, kind="stable")
    return Ledger(name, tid.take(pa.array(order)), ts[order], payer[order], payee[order], fen[order],
                  order.astype(np.int64), names, inst)


# ---------------------------------------------------------------------------
# Public readers
# ---------------------------------------------------------------------------

def read_ledger(path: str | Path, *, name: str | None = None, engine: str = "auto") -> Ledger:
    """Read ``ledger.csv`` or ``ledger.parquet`` (chosen by suffix) in replay order.

    ``engine``: ``"auto"`` (pyarrow for large files, with the exact reader behind it),
    ``"arrow"`` (always try pyarrow first) or ``"exact"`` (row by row).
    """
    path = Path(path)
    name = name or str(path)
    if not path.exists():
        raise InputError("no such file", file=name)
    if path.suffix.lower() in (".parquet", ".pq"):
        return _read_ledger_parquet(path, name)
    if engine == "exact" or (engine == "auto" and os.path.getsize(path) < FAST_PATH_BYTES):
        return _read_ledger_exact(path, name)
    try:
        cols = _arrow_csv_columns(path, name, LEDGER_REQUIRED, ("from_institution", "to_institution"))
        return _ledger_from_columns(cols.pop, set(cols), name)
    except _Fallback:
        return _read_ledger_exact(path, name)


def read_ledger_text(text: str, *, name: str = "ledger.csv") -> Ledger:
    """Read a ledger held in memory (an upload), with the exact reader."""
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".csv", encoding="utf-8", delete=False) as fh:
        fh.write(text)
        tmp = fh.name
    try:
        return _read_ledger_exact(tmp, name)
    finally:
        os.unlink(tmp)


def _read_ledger_parquet(path: Path, name: str) -> Ledger:
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
        pf = pq.ParquetFile(path, read_dictionary=[c for c in ("from_account", "to_account", "from_institution",
                                                               "to_institution") if c in names])
    except (pa.ArrowInvalid, OSError) as err:
        raise InputError(f"not a Parquet file: {err}", file=name) from None
    present = set(pf.schema_arrow.names)
    for col in LEDGER_REQUIRED:
        if col not in present:
            raise InputError(f"missing required column {col!r}", file=name, line=1, field=col)

    def get(col: str) -> pa.ChunkedArray:
        return pf.read(columns=[col]).column(0)

    try:
        return _ledger_from_columns(get, present, name)
    except _Fallback:
        pass
    # Find the first bad row with the exact rules; Parquet has rows, not lines.
    cols = list(LEDGER_REQUIRED) + [c for c in ("from_institution", "to_institution") if c in present]
    return read_ledger_rows(_parquet_rows({c: get(c) for c in cols}), name, unit="row")


def _parquet_rows(data: dict[str, pa.ChunkedArray]) -> Iterator[tuple[int, dict[str, str]]]:
    n = len(data["txn_id"])
    for start in range(0, n, 100_000):
        chunk = {c: [("" if v is None else (v.isoformat() if isinstance(v, datetime) else str(v)))
                     for v in col.slice(start, 100_000).to_pylist()] for c, col in data.items()}
        for k in range(len(chunk["txn_id"])):
            yield start + k + 1, {c: chunk[c][k] for c in chunk}


def _checked_rows(rows: Iterator[tuple[int, dict[str, str]]], name: str, unit: str
                  ) -> tuple[list[str], list[int], list[int], list[int], list[int], list[int], _Interner]:
    """The exact rules of the CSV reader over already-split rows ``(line, {column: text})``:
    ``(txn_id, µs, payer, payee, fen, line)`` columns in the rows' order, and the accounts."""
    ids, ts, payer, payee, amount, lines = [], [], [], [], [], []
    seen: dict[str, int] = {}
    acc = _Interner()
    for line, r in rows:
        tid = r["txn_id"].strip()
        if not tid:
            raise InputError("empty txn_id", file=name, line=line, field="txn_id")
        if tid in seen:
            raise InputError(f"duplicate txn_id {tid!r} (first on {unit} {seen[tid]})", file=name, line=line,
                             field="txn_id")
        seen[tid] = line
        try:
            t = to_micros(parse_time(r["timestamp"]))
        except ValueError as err:
            raise InputError(str(err), file=name, line=line, field="timestamp") from None
        src, dst = r["from_account"].strip(), r["to_account"].strip()
        if not src and not dst:
            raise InputError("from_account and to_account are both empty", file=name, line=line,
                             field="from_account")
        amount.append(_amount(r["amount"], name, line, "amount"))
        ids.append(tid)
        ts.append(t)
        payer.append(acc.get(src, (r.get("from_institution") or "").strip()))
        payee.append(acc.get(dst, (r.get("to_institution") or "").strip()))
        lines.append(line)
    return ids, ts, payer, payee, amount, lines, acc


def read_ledger_rows(rows: Iterator[tuple[int, dict[str, str]]], name: str, unit: str) -> Ledger:
    """A ledger from already-split rows ``(line, {column: text})`` — CSV lines, Parquet
    rows, or rows in memory — under the exact rules of the CSV reader."""
    ids, ts, payer, payee, amount, lines, acc = _checked_rows(rows, name, unit)
    ts_a = np.array(ts, dtype=np.int64)
    order = np.argsort(ts_a, kind="stable")
    return Ledger(name, pa.array(ids, pa.string()).take(pa.array(order)), ts_a[order],
                  np.array(payer, np.int32)[order], np.array(payee, np.int32)[order],
                  np.array(amount, np.int64)[order], (np.array(lines, np.int64) - 2)[order], acc.names, acc.inst,
                  acc.ids)


def read_small_ledger(rows: Iterator[tuple[int, dict[str, str]]], name: str, unit: str) -> SmallLedger:
    """:func:`read_ledger_rows` for a few rows: the same rules and the same replay order
    (stable by time), in Python lists."""
    ids, ts, payer, payee, amount, lines, acc = _checked_rows(rows, name, unit)
    order = sorted(range(len(ts)), key=ts.__getitem__)
    return SmallLedger(name, [ids[i] for i in order], [ts[i] for i in order], [payer[i] for i in order],
                       [payee[i] for i in order], [amount[i] for i in order], [lines[i] - 2 for i in order],
                       acc.names, acc.inst, acc.ids)


def read_victims(path: str | Path, *, name: str | None = None) -> list[VictimRow]:
    """``victims.csv`` rows in file order; each ``txn_id`` at most once (a payment
    belongs to one victim)."""
    name = name or str(path)
    if not Path(path).exists():
        raise InputError("no such file", file=name)
    with _open_text(path) as fh:
        return _victim_rows(_records(fh, name, VICTIMS_REQUIRED), name)


def read_victims_text(text: str, *, name: str = "victims.csv") -> list[VictimRow]:
    return _victim_rows(_records(io.StringIO(text.lstrip("\ufeff")), name, VICTIMS_REQUIRED), name)


def _victim_rows(records: Iterator[tuple[int, dict[str, str]]], name: str) -> list[VictimRow]:
    out: list[VictimRow] = []
    seen: dict[str, int] = {}
    for line, r in records:
        vid, tid = r["victim_id"].strip(), r["txn_id"].strip()
        if not vid:
            raise InputError("empty victim_id", file=name, line=line, field="victim_id")
        if not tid:
            raise InputError("empty txn_id", file=name, line=line, field="txn_id")
        if tid in seen:
            raise InputError(f"txn_id {tid!r} is listed twice (first on line {seen[tid]})", file=name, line=line,
                             field="txn_id")
        seen[tid] = line
        out.append(VictimRow(vid, tid, line))
    return out


def read_accounts(path: str | Path | None, *, name: str | None = None) -> Accounts:
    """``accounts.csv`` (optional): opening balances; zero is allowed, negative is not."""
    if path is None:
        return Accounts.empty()
    name = name or str(path)
    if not Path(path).exists():
        raise InputError("no such file", file=name)
    with _open_text(path) as fh:
        return _account_rows(_records(fh, name, ACCOUNTS_REQUIRED), name)


def read_accounts_text(text: str | None, *, name: str = "accounts.csv") -> Accounts:
    if text is None:
        return Accounts.empty()
    return _account_rows(_records(io.StringIO(text.lstrip("\ufeff")), name, ACCOUNTS_REQUIRED), name)


def unique_account(r: dict[str, str], name: str, line: int, seen: dict[str, int]) -> str:
    """The row's account, which must be given and listed once per file (``seen``: account → line)."""
    acct = r["account"].strip()
    if not acct:
        raise InputError("empty account", file=name, line=line, field="account")
    if acct in seen:
        raise InputError(f"account {acct!r} is listed twice (first on line {seen[acct]})", file=name,
                         line=line, field="account")
    seen[acct] = line
    return acct


def _account_rows(records: Iterator[tuple[int, dict[str, str]]], name: str) -> Accounts:
    opening: dict[str, int] = {}
    inst: dict[str, str] = {}
    holder: dict[str, str] = {}
    lines: dict[str, int] = {}
    for line, r in records:
        acct = unique_account(r, name, line, lines)
        opening[acct] = _amount(r["opening_balance"], name, line, "opening_balance", allow_zero=True)
        if (r.get("institution") or "").strip():
            inst[acct] = r["institution"].strip()
        if (r.get("holder") or "").strip():
            holder[acct] = r["holder"].strip()
    return Accounts(opening, inst, holder)


def read_accounts_fast(path: str | Path | None, *, name: str | None = None) -> Accounts:
    """Like :func:`read_accounts`, with pyarrow for a city-sized ``accounts.csv`` or
    ``accounts.parquet``; any doubt goes to the exact reader."""
    if path is None:
        return Accounts.empty()
    path = Path(path)
    name = name or str(path)
    if not path.exists():
        raise InputError("no such file", file=name)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            t = pq.read_table(path)
            if any(c not in t.column_names for c in ACCOUNTS_REQUIRED):
                raise InputError("missing required column", file=name, line=1,
                                 field=next(c for c in ACCOUNTS_REQUIRED if c not in t.column_names))
            cols = {c: t.column(c) for c in t.column_names if c in ACCOUNTS_REQUIRED + ACCOUNTS_OPTIONAL}
        else:
            if os.path.getsize(path) < FAST_PATH_BYTES:
                return read_accounts(path, name=name)
            cols = _arrow_csv_columns(path, name, ACCOUNTS_REQUIRED, ACCOUNTS_OPTIONAL)
        acct = cols["account"]
        if _strip_needed(acct) or (len(acct) and pc.any(pc.equal(pc.utf8_length(acct), 0)).as_py()):
            raise _Fallback
        if len(acct) and pc.count_distinct(acct).as_py() != len(acct):
            raise _Fallback
        bal = cols["opening_balance"]
        if not pa.types.is_string(bal.type):
            bal = pc.cast(bal, pa.string())
        fen = _fast_fen(bal) if len(bal) else np.zeros(0, np.int64)
        if len(fen) and (fen.min() < 0 or fen.max() > MAX_FEN):
            raise _Fallback
        names = acct.to_pylist()
        out = Accounts(dict(zip(names, fen.tolist())), {}, {})
        for col, target in (("institution", out.institution), ("holder", out.holder)):
            if col in cols:
                for a, v in zip(names, cols[col].to_pylist()):
                    if v:
                        target[a] = v
        return out
    except _Fallback:
        if path.suffix.lower() in (".parquet", ".pq"):
            rows = ((i + 1, {c: ("" if v is None else str(v)) for c, v in r.items()})
                    for i, r in enumerate(t.to_pylist()))
            return _account_rows(rows, name)
        return read_accounts(path, name=name)
