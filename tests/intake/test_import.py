"""Bulk import: headers in Chinese or English, encodings, merged cells, per-row errors."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.errors import InputError
from fanzha.intake.importer import parse_time, read_reports

CSV_ZH = ("接警编号,报警时间,辖区,地址,报警人电话,损失金额,简要案情\n"
          "110-1,2024-05-01 10:00,思明区,中华街道,13912345678,\"12,800.00\",刷单被骗\n"
          "110-2,2024/5/1 10:05,湖里区,,13912345679,9.9万,冒充客服\n"
          "110-3,,湖里区,,,100,缺时间\n"
          "110-4,2024-05-01 10:07,湖里区,,,-5,负数\n"
          "110-5,2024-05-01 10:08,湖里区,,,叁拾伍万元整,大写金额\n")


def test_csv_with_chinese_headers(tmp_path):
    p = tmp_path / "day.csv"
    p.write_text(CSV_ZH, encoding="utf-8")
    res = read_reports(p)
    assert [r.external_id for r in res.reports] == ["110-1", "110-2", "110-5"]
    assert [r.loss_fen for r in res.reports] == [1_280_000, 9_900_000, 35_000_000]
    first = res.reports[0]
    assert first.received_at.tzinfo is timezone.utc and first.received_at.hour == 2  # 10:00 Shanghai
    assert [(e.line, e.field) for e in res.errors] == [(4, "received_at"), (5, "loss")]
    assert all(e.file == str(p) for e in res.errors)


def test_gb18030_csv(tmp_path):
    p = tmp_path / "gbk.csv"
    p.write_bytes(CSV_ZH.encode("gb18030"))
    assert len(read_reports(p).reports) == 3


def test_binary_garbage_is_a_file_error(tmp_path):
    p = tmp_path / "x.csv"
    p.write_bytes(b"\xff\xfe\x00\x81\x82" * 50)
    with pytest.raises(InputError):
        read_reports(p)


def test_missing_required_column(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("编号,地址\n1,x\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_reports(p)
    assert e.value.field == "received_at" and e.value.line == 1


def test_xlsx_with_merged_cells(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["报警时间", "辖区", "损失金额", "简要案情"])
    ws.append(["2024-05-01 10:00", "思明区", 5000, "冒充公检法"])
    ws.append(["2024-05-01 10:30", None, 2000.5, "刷单"])
    ws.merge_cells("B2:B3")  # one district cell spanning two reports
    ws.append(["2024-05-01 11:00", "湖里区", "abc", "金额写错"])
    p = tmp_path / "day.xlsx"
    wb.save(p)
    res = read_reports(p)
    assert [r.district for r in res.reports] == ["思明区", "思明区"]
    assert [r.loss_fen for r in res.reports] == [500_000, 200_050]
    assert [(e.line, e.field) for e in res.errors] == [(4, "loss")]


def test_broken_xlsx(tmp_path):
    p = tmp_path / "bad.xlsx"
    p.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="XLSX"):
        read_reports(p)


def test_absurd_amount_is_a_row_error(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("报警时间,损失金额,简要案情\n2024-05-01 10:00,999999999999999,x\n", encoding="utf-8")
    res = read_reports(p)
    assert not res.reports and res.errors[0].field == "loss"


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)),
       st.integers(-23 * 60 + 1, 23 * 60 - 1), st.sampled_from(["T", " ", "/"]), st.booleans())
def test_times_with_seconds_and_offset_read_as_the_first_format_reads_them(dt, minutes, sep, colon):
    """The direct reading of the commonest spelling answers what ``strptime`` answers."""
    offset = dt.replace(tzinfo=timezone(timedelta(minutes=minutes))).strftime("%z")
    text = dt.strftime("%Y-%m-%d" if sep != "/" else "%Y/%m/%d") + ("T" if sep == "T" else " ") + \
        dt.strftime("%H:%M:%S") + (offset[:3] + ":" + offset[3:] if colon else offset)
    want = datetime.strptime(text.replace("/", "-").replace("T", " "), "%Y-%m-%d %H:%M:%S%z")
    got = parse_time(text)
    assert (got, got.utcoffset()) == (want, want.utcoffset())
