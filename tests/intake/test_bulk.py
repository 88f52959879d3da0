"""Filing in bulk is filing one by one: the same cases, reports, identifiers, victims,
timelines, orders and kept platform ids, whatever the batch boundaries, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from fanzha.errors import InputError
from fanzha.intake import reports_cli
from fanzha.intake.reports_cli import import_file
from fanzha.intake.routing import Router, Zone
from fanzha.intake.service import Book, Incoming, UnitRef, file_report, file_reports, plan, read_report
from fanzha.store import audit, seed
from fanzha.store.db import transaction
from fanzha.store.models import (AuditRecord, Case, CaseEvent, Identifier, Order, OrderEvent, Report, ReportAlias,
                                 Victim)
from fanzha.store.services import SHANGHAI

AT = datetime(2024, 5, 1, 2, 0, tzinfo=timezone.utc)
ICBC = "6212260566850009457"
ABC = "6228493615857736334"
NO_BANK = "6213091133248349799"  # a valid card whose issuer is not among the institutions

TEXTS = [f"被冒充客服诈骗，通过手机银行向对方账户{ICBC}转账5万元。",
         f"刷单返利，向{ABC}转账2万3千元，对方QQ 1110524935。",
         f"对方冒充公检法，让我把钱转到安全账户{NO_BANK}，共12,800元。",
         "报警人称其在中山社区丢失钱包，暂无财产损失。",
         f"我刚才报过警，补充一下：又向{ICBC}转了2万元。",
         "  "]  # no text: refused
PLACES = [("思明区", "中华街道大同路"), ("湖里区", ""), ("", "厦门市海沧区嵩屿街道"), ("", "")]
OFFSETS = [timedelta(0), timedelta(seconds=20), timedelta(hours=3), timedelta(days=2), timedelta(days=9)]


CALLERS = ["", "+8613912345678", "+8613912345678", "+8613800000001"]
#: A platform's id names one call: the same id comes with the same caller, time and text
#: (how it can differ in other fields — a corrected district, a loss filled in later — is drawn).
#: "110-3" is a second platform's id for the call "110-1" names; that platform may later
#: send a corrected text under its id (drawn as another text).
PLATFORM_CALLS = {"110-1": [(OFFSETS[0], TEXTS[0], CALLERS[1])], "110-2": [(OFFSETS[2], TEXTS[1], CALLERS[3])],
                  "110-3": [(OFFSETS[0], TEXTS[0], CALLERS[1]), (OFFSETS[0], TEXTS[2], CALLERS[1])]}


@st.composite
def incoming(draw) -> Incoming:
    external_id = draw(st.sampled_from([None, None, "110-1", "110-2", "110-3"]))
    if external_id:
        offset, text, caller = draw(st.sampled_from(PLATFORM_CALLS[external_id]))
        source = "110"
    else:
        offset, text, caller = (draw(st.sampled_from(OFFSETS)), draw(st.sampled_from(TEXTS)),
                                draw(st.sampled_from(CALLERS)))
        source = draw(st.sampled_from(["110", "import"]))
    received = AT + offset
    district, address = draw(st.sampled_from(PLACES))
    paid = draw(st.sampled_from([None, timedelta(minutes=20), timedelta(days=5)]))
    return Incoming(
        received_at=received, text=text, source=source,
        external_id=external_id, district=district, address=address,
        caller=caller,
        name=draw(st.sampled_from(["", "张三"])),
        loss_fen=draw(st.sampled_from([None, 0, 5_000_000, 150_000_000])),
        scam_type=draw(st.sampled_from([None, None, "part_time_task"])),
        paid_at=received - paid if paid else None,
        identifiers=draw(st.sampled_from([[], [("phone", "139 1234 5678")], [("bank_card", ABC[:4] + " " + ABC[4:])],
                                          [("telepathy", "x")]])),
        victim_account=draw(st.sampled_from(["", ICBC])),
        unit_code=draw(st.sampled_from([None, None, "350203-01"])))


@st.composite
def batches(draw) -> tuple[list[Incoming], int]:
    """Reports with repeats (the same report sent again) in any order, and a batch size."""
    base = draw(st.lists(incoming(), min_size=1, max_size=8))
    again = draw(st.lists(st.sampled_from(base), max_size=4))
    rows = draw(st.permutations(base + again))
    return rows, draw(st.integers(1, len(rows)))


@pytest.fixture
def city(sessions):
    with transaction(sessions) as s:
        seed.seed_reference(s)
    return sessions


def _clear(sessions) -> None:
    with transaction(sessions) as s:
        for model in (OrderEvent, Order, CaseEvent, Identifier, Victim, ReportAlias, Report, Case):
            s.execute(delete(model))


def _snapshot(sessions) -> dict:
    """Everything filing wrote, without ids and clock times."""
    with sessions() as s:
        cases = s.execute(select(Case).order_by(Case.case_no)).scalars().all()
        return {
            "cases": [(c.case_no, c.status, c.scam_type, c.unit.code if c.unit else None, c.loss_fen, c.emergency,
                       c.summary, c.escalated_to.code if c.escalated_to else None,
                       [(e.kind, e.actor, e.detail) for e in c.events],
                       sorted((v.name, v.phone, v.account, v.loss_fen) for v in c.victims)) for c in cases],
            "reports": sorted((r.source, r.external_id or "", r.received_at, r.district, r.address, r.scam_type or "",
                               r.loss_fen, r.text, r.caller, r.paid_at or AT, r.fingerprint, r.case.case_no,
                               r.created_by, sorted((i.kind, i.value) for i in r.identifiers))
                              for r in s.execute(select(Report)).scalars()),
            "orders": sorted((o.case.case_no, o.kind, o.institution.code, o.target, o.amount_fen or 0, o.legal_basis,
                              o.idempotency_key, o.state, o.created_by, sorted(o.request.items()),
                              [(e.from_state or "", e.to_state, e.actor, e.note) for e in o.events])
                             for o in s.execute(select(Order)).scalars()),
            "aliases": sorted(s.execute(select(ReportAlias.source, ReportAlias.external_id, Report.fingerprint)
                                        .join(Report, ReportAlias.report_id == Report.id)).all()),
        }


def _outcome(done) -> tuple:
    if isinstance(done, InputError):
        return ("error", done.field)
    return (done.outcome, done.case_no, done.orders)


def _one_by_one(sessions, rows: list[Incoming]) -> list[tuple]:
    out = []
    for inc in rows:
        try:
            with transaction(sessions) as s:
                f = file_report(s, inc, actor="desk")
                out.append((f.outcome, f.case.case_no, f.orders))
        except InputError as err:
            out.append(("error", err.field))
    return out


def _in_batches(sessions, rows: list[Incoming], size: int) -> list[tuple]:
    out = []
    for start in range(0, len(rows), size):
        with transaction(sessions) as s:
            out += [_outcome(d) for d in file_reports(s, rows[start:start + size], actor="desk")]
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=batches())
def test_bulk_files_exactly_what_one_by_one_files(city, batch):
    rows, size = batch
    _clear(city)
    single = _one_by_one(city, rows)
    expected = _snapshot(city)
    _clear(city)
    bulk = _in_batches(city, rows, size)
    assert bulk == single
    assert _snapshot(city) == expected
    again = _in_batches(city, rows, size)  # the whole batch sent again files nothing new
    assert [o if o[0] == "error" else (o[0] if o[0] == "duplicate" else "filed", o[1], 0) for o in again] == \
        [o if o[0] == "error" else ("duplicate", o[1], 0) for o in bulk]
    assert _snapshot(city) == expected


def test_duplicates_and_follow_ups_within_one_batch(city):
    caller = "+8613912345678"
    first = Incoming(received_at=AT, text=TEXTS[0], source="110", external_id="110-1", caller=caller,
                     district="思明区", address="中华街道", loss_fen=5_000_000, paid_at=AT - timedelta(minutes=20))
    rows = [first,
            Incoming(**{**vars(first), "received_at": AT + timedelta(seconds=30)}),  # sent again
            Incoming(received_at=AT + timedelta(hours=2), text=TEXTS[4], source="110", caller=caller,
                     loss_fen=7_000_000, paid_at=AT + timedelta(hours=1)),  # the victim calls back
            Incoming(received_at=AT, text=TEXTS[1], source="110", caller="+8613800000001")]
    with transaction(city) as s:
        done = file_reports(s, rows, actor="desk")
    assert [d.outcome for d in done] == ["opened", "duplicate", "follow_up", "opened"]
    assert done[0].case_no == done[1].case_no == done[2].case_no != done[3].case_no
    assert done[1].report_id == done[0].report_id
    assert done[0].orders == 2 and done[2].orders == 1  # a new stop-payment for the larger loss only
    with city() as s:
        case = s.execute(select(Case).where(Case.case_no == done[0].case_no)).scalar_one()
        assert case.loss_fen == 7_000_000 and case.emergency and case.unit.code == "350203-01"
        kinds = [e.kind for e in case.events]
        assert kinds.count("emergency") == 1 and kinds.count("follow_up") == 1 and kinds[0] == "filed"
        stops = sorted(o.amount_fen for o in s.execute(select(Order).where(Order.kind == "stop_payment",
                                                                           Order.target == ICBC)).scalars())
        assert stops == [5_000_000, 7_000_000]


def _sheet(path, rows: list[str]) -> None:
    path.write_text("接警编号,报警时间,辖区,地址,报警人电话,损失金额,转账时间,简要案情\n" + "\n".join(rows) + "\n",
                    encoding="utf-8")


SHEET = [f"110-{n},2024-05-01 10:0{n % 10},思明区,中华街道,+86139123456{n % 3:02d},{1000 * n},2024-05-01 09:40,"
         f"被冒充客服诈骗，向{ICBC if n % 2 else ABC}转账{n}万元" for n in range(1, 12)]
SHEET += [SHEET[2], "110-99,,湖里区,,,100,,缺时间", "110-98,2024-05-01 10:00," + "区" * 70 + ",,,1,,地名太长"]


@pytest.mark.parametrize("processes", [1, 2])
def test_import_in_chunks_and_processes_is_import_one_by_one(city, tmp_path, monkeypatch, processes):
    sheet = tmp_path / "day.csv"
    _sheet(sheet, SHEET)
    monkeypatch.setattr(reports_cli, "CHUNK", 4)
    summary = import_file(sheet, source="import", actor="desk", sessions=city, processes=processes)
    assert [(e["line"], e["field"]) for e in summary["errors"]] == [(14, "received_at"), (15, "district")]
    assert summary["duplicate"] == 1 and summary["opened"] + summary["follow_up"] == 11
    bulk = _snapshot(city)
    with city() as s:
        assert audit.verify_chain(s).ok
        chunks = s.execute(select(AuditRecord).where(AuditRecord.action == "reports_imported")).scalars().all()
        assert sum(r.detail["opened"] + r.detail["follow_up"] + r.detail["duplicate"] for r in chunks) == 12
    _clear(city)
    from fanzha.intake.importer import read_reports

    rows = [Incoming(received_at=r.received_at, text=r.text, source="import", external_id=r.external_id,
                     district=r.district, address=r.address, caller=r.caller, loss_fen=r.loss_fen or None,
                     paid_at=r.paid_at) for r in read_reports(sheet).reports]
    _one_by_one(city, rows)
    assert _snapshot(city) == bulk


def test_a_row_the_store_refuses_spoils_only_itself(city, tmp_path):
    # A report already on file without a case holds its platform id: filing that id again
    # breaks the store's uniqueness rule, which only the store can see.
    with transaction(city) as s:
        s.add(Report(source="import", external_id="110-3", received_at=AT, text="旧记录", fingerprint="x"))
    sheet = tmp_path / "day.csv"
    _sheet(sheet, SHEET[:5])
    summary = import_file(sheet, source="import", actor="desk", sessions=city, processes=1)
    assert [(e["line"], e["field"]) for e in summary["errors"]] == [(4, None)]
    assert "refused" in summary["errors"][0]["error"]
    assert summary["opened"] + summary["follow_up"] == 4
    with city() as s:
        assert len(s.execute(select(Report).where(Report.case_id.is_not(None))).scalars().all()) == 4


def test_a_nul_character_in_a_row_is_that_rows_error(city, tmp_path):
    """A NUL in a sheet's cell (which PostgreSQL's text cannot hold) is the row's error,
    naming its line and field, on either database; the other rows go in."""
    sheet = tmp_path / "day.csv"
    _sheet(sheet, SHEET[:3] + ["110-97,2024-05-01 10:00,思明区,中华街道\x008号,,100,,被冒充客服诈骗"])
    summary = import_file(sheet, source="import", actor="desk", sessions=city, processes=1)
    assert [(e["line"], e["field"]) for e in summary["errors"]] == [(5, "address")]
    assert "NUL" in summary["errors"][0]["error"]
    assert summary["opened"] + summary["follow_up"] == 3


def _book() -> Book:
    """A book of an empty store with one district branch and its station (no database)."""
    city = UnitRef(1, "350200", None)
    siming = UnitRef(2, "350203", city)
    station = UnitRef(3, "350203-01", siming)
    zones = [Zone("350200", "city", "思明区"), Zone("350203", "district", "思明区"),
             Zone("350203-01", "station", "思明区", "中华街道")]
    book = Book(Router(zones), {u.code: u for u in (city, siming, station)}, {"ICBC", "ABC"})
    for offset in OFFSETS:
        book.next_case_no[(AT + offset).astimezone(SHANGHAI).date()] = \
            f"FZ{(AT + offset).astimezone(SHANGHAI):%Y%m%d}000001"
    return book


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(incoming(), min_size=1, max_size=12))
def test_planning_is_idempotent_and_numbers_cases_once(rows):
    reads = []
    for inc in rows:
        try:
            reads.append(read_report(inc))
        except InputError:
            continue
    book = _book()
    first = [plan(r, book, actor="desk") for r in reads]
    opened = [p.case.case_no for p in first if p.outcome == "opened"]
    assert len(set(opened)) == len(opened)  # every new case its own number
    for p in first:
        if p.outcome != "opened":  # a duplicate or follow-up joins a case opened before it
            assert p.case.case_no in opened
    again = [plan(r, book, actor="desk") for r in reads]  # the same batch sent again
    assert [p.outcome for p in again] == ["duplicate"] * len(reads)
    assert [p.case for p in again] == [p.case for p in first]
    assert all(not p.steps for p in again)


@pytest.mark.parametrize("together", [False, True])
def test_a_duplicate_keeps_its_platform_id_for_later_reports(city, together):
    """The call arrives from the 110 desk, then from the national platform under its own id
    (a duplicate by its words); a later report under the platform's id (the text corrected)
    is still that call, not a new case — in one batch or one by one."""
    call = Incoming(received_at=AT, text=TEXTS[0], source="110", caller=CALLERS[1], district="思明区")
    again = Incoming(**{**vars(call), "source": "national", "external_id": "GJ-7"})
    corrected = Incoming(**{**vars(again), "text": TEXTS[0] + "（更正：转账时间为10时）",
                            "received_at": AT + timedelta(hours=1)})
    rows = [call, again, corrected]
    if together:
        with transaction(city) as s:
            done = [_outcome(d) for d in file_reports(s, rows, actor="desk")]
    else:
        done = _one_by_one(city, rows)
    assert [d[0] for d in done] == ["opened", "duplicate", "duplicate"]
    assert done[0][1] == done[1][1] == done[2][1]
    with city() as s:
        assert s.execute(select(Report)).scalars().all()[0].case.case_no == done[0][1]
        assert len(s.execute(select(Report)).scalars().all()) == 1
        assert s.execute(select(ReportAlias.source, ReportAlias.external_id)).all() == [("national", "GJ-7")]
    # and the platform id sent yet again, in a later batch, is the same call again
    with transaction(city) as s:
        [later] = file_reports(s, [Incoming(**{**vars(corrected), "received_at": AT + timedelta(days=1)})],
                               actor="desk")
    assert (later.outcome, later.case_no) == ("duplicate", done[0][1])
    with city() as s:
        assert len(s.execute(select(ReportAlias)).scalars().all()) == 1
