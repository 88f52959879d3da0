"""Reading reports.jsonl strictly: one bad line never stops the others."""

import json

import pytest

from fanzha.errors import InputError
from fanzha.linking.reports import read_reports


def write(tmp_path, lines):
    p = tmp_path / "reports.jsonl"
    p.write_text("\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines) + "\n",
                 encoding="utf-8")
    return p


GOOD = {"report_id": "R1", "received_at": "2024-05-01T10:00:00+08:00", "district": "思明区",
        "scam_type": "冒充电商物流客服类", "loss": "990000.00",
        "identifiers": [{"kind": "phone", "value": "+85265432109"},
                        {"kind": "bank_card", "value": "6222025260181590832"}], "text": "…"}


def test_good_report(tmp_path):
    res = read_reports(write(tmp_path, [GOOD]))
    assert res.errors == []
    (r,) = res.reports
    assert r.report_id == "R1" and r.scam_type == "customer_service" and r.loss_fen == 99_000_000
    assert r.identifiers == (("phone", "+85265432109"), ("bank_card", "6222025260181590832"))


@pytest.mark.parametrize("bad, field, words", [
    ({"identifiers": []}, "report_id", "missing"),
    ({"report_id": 7}, "report_id", "text"),
    ({"report_id": "R2", "identifiers": [{"kind": "fax", "value": "1"}]}, "identifiers[0].kind", "unknown"),
    ({"report_id": "R2", "identifiers": [{"kind": "phone", "value": "nope"}]}, "identifiers[0].value", "malformed"),
    ({"report_id": "R2", "identifiers": [{"kind": "phone"}]}, "identifiers[0].value", "missing"),
    ({"report_id": "R2", "identifiers": "phone"}, "identifiers", "list"),
    ({"report_id": "R2", "scam_type": "lottery"}, "scam_type", "unknown"),
    ({"report_id": "R2", "loss": "1,000"}, "loss", "yuan"),
    ({"report_id": "R2", "received_at": "2024-05-01T10:00:00"}, "received_at", "offset"),
    ({"report_id": "R1"}, "report_id", "duplicate"),
])
def test_bad_report_is_an_error_naming_line_and_field(tmp_path, bad, field, words):
    res = read_reports(write(tmp_path, [GOOD, bad, {"report_id": "R3"}]))
    assert [r.report_id for r in res.reports] == ["R1", "R3"]
    (e,) = res.errors
    assert e.line == 2 and e.field == field and words in e.message


def test_not_json_and_blank_lines(tmp_path):
    res = read_reports(write(tmp_path, ["", "{oops", GOOD]))
    assert [r.report_id for r in res.reports] == ["R1"]
    assert res.errors[0].line == 2 and "JSON" in res.errors[0].message


def test_strict_raises_the_first_error(tmp_path):
    with pytest.raises(InputError) as err:
        read_reports(write(tmp_path, [GOOD, {"report_id": "R2", "identifiers": [{"kind": "fax", "value": "1"}]}]),
                     strict=True)
    assert err.value.line == 2 and err.value.field == "identifiers[0].kind"


def test_missing_file(tmp_path):
    with pytest.raises(InputError):
        read_reports(tmp_path / "absent.jsonl")


def test_duplicate_identifiers_in_one_report_count_once(tmp_path):
    rep = {"report_id": "R1", "identifiers": [{"kind": "phone", "value": "13912345678"},
                                              {"kind": "phone", "value": "+86 139 1234 5678"}]}
    (r,) = read_reports(write(tmp_path, [rep])).reports
    assert r.identifiers == (("phone", "+8613912345678"),)
