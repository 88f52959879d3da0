"""Bulk import of a day's reports from CSV or XLSX, row by row.

Spreadsheets come from many desks, so headers are accepted in Chinese or English
(``报警时间`` or ``received_at``), encodings are tried in the order they occur in
practice (UTF-8, UTF-8 with BOM, GB18030), and merged cells are read as the value of
their top-left cell. A bad row gets an error naming its line and field; the good rows
still go in.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

from fanzha.errors import InputError
from fanzha.money import AmountError, MAX_FEN, parse_cn_amount, parse_yuan

SHANGHAI = ZoneInfo("Asia/Shanghai")

#: Column name (as written in a sheet) → field.
HEADERS = {
    "external_id": "external_id", "警情编号": "external_id", "接警编号": "external_id", "编号": "external_id",
    "received_at": "received_at", "报警时间": "received_at", "接警时间": "received_at", "时间": "received_at",
    "district": "district", "辖区": "district", "区县": "district", "所属区": "district",
    "address": "address", "地址": "address", "发案地址": "address", "发案地点": "address",
    "caller": "caller", "报警人电话": "caller", "联系电话": "caller", "报警电话": "caller",
    "name": "name", "报警人": "name", "受害人": "name", "姓名": "name",
    "loss": "loss", "损失金额": "loss", "涉案金额": "loss", "被骗金额": "loss", "金额": "loss",
    "scam_type": "scam_type", "案件类别": "scam_type", "诈骗类型": "scam_type",
    "text": "text", "简要案情": "text", "报警内容": "text", "案情": "text", "内容": "text",
    "paid_at": "paid_at", "转账时间": "paid_at", "最后转账时间": "paid_at",
}
REQUIRED = ("received_at", "text")
MAX_ROWS = 200_000
MAX_TEXT = 100_000


@dataclass
class ImportedReport:
    line: int
    received_at: datetime
    text: str
    external_id: str | None = None
    district: str = ""
    address: str = ""
    caller: str = ""
    name: str = ""
    loss_fen: int = 0
    scam_type: str | None = None
    paid_at: datetime | None = None


@dataclass
class ImportResult:
    reports: list[ImportedReport] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)


def parse_time(value: object, *, where: str = "received_at") -> datetime:
    """Times in sheets: ISO 8601, ``2024-05-01 10:00[:00]``, ``2024/5/1 10:00``, or a real datetime.

    A time written without an offset is a Shanghai wall-clock time (how every desk
    writes them); it is never guessed to be UTC.
    """
    if isinstance(value, datetime):
        dt = value
    else:
        s = str(value or "").strip().replace("/", "-").replace("T", " ")
        if not s:
            raise ValueError(f"{where} is empty")
        written = s.replace("+08:00", "+0800").replace("Z", "+0000")
        dt = _iso_seconds(written)
        if dt is None:
            for fmt in ("%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M%z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
                try:
                    dt = datetime.strptime(written, fmt)
                    break
                except ValueError:
                    continue
            else:
                raise ValueError(f"{where} {value!r} is not a date and time")
    return dt.replace(tzinfo=SHANGHAI) if dt.tzinfo is None else dt


_ISO_SECONDS = re.compile(r"(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)([+-])(\d\d):?([0-5]\d)")


def _iso_seconds(s: str) -> datetime | None:
    """``2024-05-01 10:00:00+0800`` (how nearly every sheet writes it) read directly: what
    the first format of :func:`parse_time` reads, at a fraction of ``strptime``'s cost.
    ``None`` for anything else (and for an impossible date), left to the formats."""
    m = _ISO_SECONDS.fullmatch(s)
    if m is None:
        return None
    y, mo, d, h, mi, sec, sign, oh, om = m.groups()
    offset = timedelta(hours=int(oh), minutes=int(om))
    try:
        return datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec),
                        tzinfo=timezone(-offset if sign == "-" else offset))
    except ValueError:
        return None


def parse_loss(value: object) -> int:
    """Losses as sheets write them: ``12800``, ``12,800.00``, ``9.9万``, ``叁拾伍万元整``."""
    if value is None or str(value).strip() == "":
        return 0
    if isinstance(value, (int,)) and not isinstance(value, bool):
        fen = value * 100
    elif isinstance(value, float):
        fen = round(value * 100)  # a spreadsheet number cell; rounded to the fen at the edge
    else:
        s = str(value).strip().replace(",", "").replace("，", "")
        try:
            fen = parse_yuan(s, allow_zero=True)
        except AmountError:
            fen = parse_cn_amount(str(value).strip())
    if fen < 0:
        raise AmountError(f"loss must not be negative: {value!r}")
    if fen > MAX_FEN // 1000:
        raise AmountError(f"loss {value!r} is implausibly large for one report")
    return fen


def _row(line: int, values: dict[str, object], file: str) -> ImportedReport:
    missing = [f for f in REQUIRED if not str(values.get(f) or "").strip()]
    if missing:
        raise InputError(f"{missing[0]} is required", file=file, line=line, field=missing[0])
    try:
        received = parse_time(values["received_at"])
    except ValueError as err:
        raise InputError(str(err), file=file, line=line, field="received_at") from None
    paid = None
    if str(values.get("paid_at") or "").strip():
        try:
            paid = parse_time(values["paid_at"], where="paid_at")
        except ValueError as err:
            raise InputError(str(err), file=file, line=line, field="paid_at") from None
    try:
        loss = parse_loss(values.get("loss"))
    except AmountError as err:
        raise InputError(str(err), file=file, line=line, field="loss") from None
    text = str(values["text"]).strip()
    if len(text) > MAX_TEXT:
        raise InputError(f"text of {len(text):,} characters is longer than {MAX_TEXT:,}", file=file, line=line,
                         field="text")
    s = lambda k: str(values.get(k) or "").strip()  # noqa: E731
    return ImportedReport(line=line, received_at=received.astimezone(timezone.utc), text=text,
                          external_id=s("external_id") or None, district=s("district"), address=s("address"),
                          caller=s("caller"), name=s("name"), loss_fen=loss, scam_type=s("scam_type") or None,
                          paid_at=paid.astimezone(timezone.utc) if paid else None)


def _columns(header: list[object], file: str) -> list[str | None]:
    cols = [HEADERS.get(str(h or "").strip().lower()) or HEADERS.get(str(h or "").strip()) for h in header]
    for req in REQUIRED:
        if req not in cols:
            raise InputError(f"no column for {req} (header: {', '.join(str(h) for h in header)})", file=file,
                             line=1, field=req)
    return cols


def _decode(data: bytes, file: str) -> str:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise InputError("not UTF-8 or GB18030 text", file=file, line=None)


def _csv_rows(path: Path) -> Iterator[tuple[int, list[object]]]:
    text = _decode(path.read_bytes(), str(path))
    reader = csv.reader(io.StringIO(text))
    for row in reader:
        yield reader.line_num, row


def _xlsx_rows(path: Path) -> Iterator[tuple[int, list[object]]]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, data_only=True)  # not read_only: merged ranges need the full sheet
    except Exception as err:  # openpyxl raises many kinds for a broken file
        raise InputError(f"not a readable XLSX workbook ({type(err).__name__}: {err})", file=str(path)) from None
    ws = wb.worksheets[0]
    merged = {}
    for rng in ws.merged_cells.ranges:
        top = ws.cell(rng.min_row, rng.min_col).value
        for r in range(rng.min_row, rng.max_row + 1):
            for c in range(rng.min_col, rng.max_col + 1):
                merged[(r, c)] = top
    for r, row in enumerate(ws.iter_rows(values_only=True), start=1):
        yield r, [merged.get((r, c + 1), v) for c, v in enumerate(row)]


def read_reports(path: str | Path) -> ImportResult:
    """Read a CSV or XLSX of reports. File-level problems raise; row problems are collected."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such file", file=str(path))
    rows = _xlsx_rows(path) if path.suffix.lower() in (".xlsx", ".xlsm") else _csv_rows(path)
    result = ImportResult()
    cols: list[str | None] | None = None
    for line, raw in rows:
        if cols is None:
            cols = _columns(raw, str(path))
            continue
        if all(v is None or str(v).strip() == "" for v in raw):
            continue
        if len(result.reports) + len(result.errors) >= MAX_ROWS:
            result.errors.append(InputError(f"more than {MAX_ROWS:,} rows; the rest were not read",
                                            file=str(path), line=line))
            break
        values = {c: v for c, v in zip(cols, raw) if c}
        try:
            result.reports.append(_row(line, values, str(path)))
        except InputError as err:
            result.errors.append(err)
    if cols is None:
        raise InputError("empty file: no header row", file=str(path), line=1)
    return result
