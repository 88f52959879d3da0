"""Reading ``reports.jsonl`` (FORMATS.md) strictly, one report at a time.

A centre's report file is assembled from many feeds, and one bad line must not stop
the other million from being linked: each line is read on its own, a bad one becomes a
:class:`ReportError` naming the line and the field, and the good ones go on. With
``strict`` the first bad line raises instead (the CLI's ``--strict``, exit code 2).

What makes a report bad: not a JSON object; ``report_id`` missing, not text, or seen on
an earlier line; an identifier of an unknown kind or a value that cannot be read as its
kind; an unknown ``scam_type``; a ``loss`` that is not a yuan decimal; a ``received_at``
without a UTC offset. A report with one bad identifier is rejected whole: linking it on
the others would hide the error behind a plausible group.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from fanzha.errors import InputError
from fanzha.linking.identifiers import IdentifierError, normalise_identifier
from fanzha.money import AmountError, parse_yuan

from fanzha.scam_types import SCAM_TYPES  # reports may carry the code or the label
_SCAM_CODE: dict[str, str] = {c: c for c in SCAM_TYPES}
_SCAM_CODE.update({label: c for c, label in SCAM_TYPES.items()})
_SCAM_CODE.update({label.split("（")[0]: c for c, label in SCAM_TYPES.items()})
#: Small integer per scam type, for the vectorised core (-1 = not given).
SCAM_INDEX: dict[str, int] = {c: i for i, c in enumerate(SCAM_TYPES)}

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True, slots=True)
class Report:
    """One report as linking sees it: its ID, its normalised identifiers, and what the
    group summaries need (time for ordering, scam type for the common-value rule, loss)."""

    report_id: str
    identifiers: tuple[tuple[str, str], ...] = ()
    received_at: datetime | None = None
    scam_type: str | None = None
    loss_fen: int = 0
    district: str | None = None

    @property
    def sort_key(self) -> tuple[int, str]:
        """Earliest first, then by ID; reports without a time sort after all dated ones.

        Group IDs and the order of reports in a group follow this key, so they do not
        depend on the order of the file or of arrival."""
        return (time_key(self.received_at), self.report_id)


def time_key(t: datetime | None) -> int:
    """Microseconds since the epoch; the largest int64 for "no time" (sorts last)."""
    if t is None:
        return 2**63 - 1
    d = t - _EPOCH
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


@dataclass(frozen=True, slots=True)
class ReportError:
    """Why one line was not linked."""

    line: int | None
    field: str | None
    message: str
    report_id: str | None = None
    file: str | None = None

    def as_dict(self) -> dict:
        return {"line": self.line, "report_id": self.report_id, "field": self.field, "error": self.message}

    def to_input_error(self) -> InputError:
        return InputError(self.message, file=self.file, line=self.line, field=self.field)


@dataclass
class ReadResult:
    reports: list[Report] = field(default_factory=list)
    errors: list[ReportError] = field(default_factory=list)


def parse_report(obj: object) -> Report:
    """One decoded JSON object to a :class:`Report`; :class:`InputError` (with the field)
    if anything in it is unusable."""
    if not isinstance(obj, dict):
        raise InputError(f"a report is a JSON object, not {type(obj).__name__}")
    rid = obj.get("report_id")
    if rid is None:
        raise InputError("report_id is missing", field="report_id")
    if not isinstance(rid, str) or not rid.strip():
        raise InputError(f"report_id must be non-empty text, not {rid!r}", field="report_id")
    raw_ids = obj.get("identifiers", [])
    if not isinstance(raw_ids, list):
        raise InputError("identifiers must be a list of {kind, value} objects", field="identifiers")
    idents: dict[tuple[str, str], None] = {}
    for i, item in enumerate(raw_ids):
        where = f"identifiers[{i}]"
        if not isinstance(item, dict):
            raise InputError("an identifier is an object {kind, value}", field=where)
        if "kind" not in item:
            raise InputError("identifier kind is missing", field=f"{where}.kind")
        if "value" not in item:
            raise InputError("identifier value is missing", field=f"{where}.value")
        idents[normalise_identifier(item["kind"], item["value"], field=where)] = None
    received = obj.get("received_at")
    when: datetime | None = None
    if received is not None:
        if not isinstance(received, str):
            raise InputError("received_at must be an ISO 8601 string", field="received_at")
        try:
            when = datetime.fromisoformat(received)
        except ValueError:
            raise InputError(f"not an ISO 8601 time: {received!r}", field="received_at") from None
        if when.tzinfo is None:
            raise InputError(f"received_at needs a UTC offset, e.g. {received}+08:00", field="received_at")
    scam = obj.get("scam_type")
    code: str | None = None
    if scam is not None and scam != "":
        code = _SCAM_CODE.get(scam) if isinstance(scam, str) else None
        if code is None:
            raise InputError(f"unknown scam_type {scam!r} (a code or label from FORMATS.md)", field="scam_type")
    loss = obj.get("loss")
    fen = 0
    if loss is not None:
        try:
            fen = parse_yuan(loss, allow_zero=True)
        except AmountError as err:
            raise InputError(str(err), field="loss") from None
    district = obj.get("district")
    return Report(rid, tuple(idents), when, code, fen, district if isinstance(district, str) else None)


def iter_reports(lines: Iterable[str], *, file: str | None = None) -> Iterator[Report | ReportError]:
    """Each non-blank line in turn, as a report or as the error that rejected it.

    A ``report_id`` already seen is an error on the later line (the earlier report is
    kept: it is the one other records may already point at)."""
    seen: dict[str, int] = {}
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        rid_hint: str | None = None
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            yield ReportError(n, None, f"not valid JSON: {err.msg} (column {err.colno})", None, file)
            continue
        if isinstance(obj, dict) and isinstance(obj.get("report_id"), str):
            rid_hint = obj["report_id"]
        try:
            report = parse_report(obj)
        except (InputError, IdentifierError) as err:
            yield ReportError(n, err.field, err.message, rid_hint, file)
            continue
        first = seen.get(report.report_id)
        if first is not None:
            yield ReportError(n, "report_id", f"duplicate report_id {report.report_id!r} (first on line {first})",
                              report.report_id, file)
            continue
        seen[report.report_id] = n
        yield report


def read_reports(path: str | Path, *, strict: bool = False) -> ReadResult:
    """Every good report of a ``reports.jsonl`` file, and an error for every bad line.

    ``strict``: raise the first bad line's :class:`InputError` instead of going on."""
    out = ReadResult()
    name = str(path)
    try:
        fh = open(path, encoding="utf-8")
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", file=name) from None
    with fh:
        try:
            for item in iter_reports(fh, file=name):
                if isinstance(item, ReportError):
                    if strict:
                        raise item.to_input_error()
                    out.errors.append(item)
                else:
                    out.reports.append(item)
        except UnicodeDecodeError as err:
            raise InputError(f"not UTF-8 text: {err.reason}", file=name) from None
    return out
