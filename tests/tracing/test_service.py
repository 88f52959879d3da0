"""The calls the API makes: uploaded texts in, JSON out, errors naming the upload."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fanzha.errors import InputError
from fanzha.tracing import service
from fanzha.tracing.graph import render_html

from .helpers import HEADER, t

LEDGER = "\n".join([HEADER, f"T1,{t(0)},v1,B,500.00", f"T2,{t(1)},v2,A,300.00", f"T3,{t(3)},A,,200.00"]) + "\n"
VICTIMS = "victim_id,txn_id\nV1,T1\nV2,T2\n"
ACCOUNTS = "account,opening_balance,institution,holder\nA,0.00,ICBC,张三\nB,10.00,ABC,李四\n"


def test_validate_trace_restitution_from_texts():
    assert service.validate(LEDGER, VICTIMS, ACCOUNTS) == 3
    doc = service.trace(LEDGER, VICTIMS, ACCOUNTS, rule="fifo", issued_at=datetime(2024, 4, 29, 3, tzinfo=UTC))
    holds = doc["freeze_plan"]["holds"]
    assert [(h["account"], h["institution"], h["amount"]) for h in holds] == [("B", "ABC", "500.00"),
                                                                              ("A", "ICBC", "100.00")]
    assert datetime.fromisoformat(holds[0]["expires_at"]) == datetime(2024, 5, 1, 3, tzinfo=UTC)
    plan = service.restitution(LEDGER, VICTIMS, ACCOUNTS, frozen={"A": service.fen("100.00"), "B": 0},
                               mode="traced")
    assert plan["orders"] == [{"victim": "V2", "from_account": "A", "to_account": "v2", "amount": "100.00"}]


def test_upload_errors_name_the_upload():
    with pytest.raises(InputError) as e:
        service.validate(LEDGER.replace("300.00", "3OO"), VICTIMS, None)
    assert (e.value.file, e.value.line, e.value.field) == ("ledger.csv", 3, "amount")
    with pytest.raises(InputError) as e:
        service.fen("-1", field="frozen.A")
    assert e.value.field == "frozen.A"


def test_graph_is_self_contained():
    loaded = service.load_texts(LEDGER, VICTIMS, ACCOUNTS)
    page = render_html(service.run(loaded, "fifo"))
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert "<script" not in page and "https://" not in page
    assert "held ¥500.00" in page and "cash ¥200.00" in page
