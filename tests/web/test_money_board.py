"""The console's newer pages: a case's money (ledger, trace, graph, holds, restitution),
the live board, the figures as charts, linked cases and interception admin — each with
the roles that may not open it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from fanzha.intercept import store as istore
from fanzha.store import services
from fanzha.store.db import transaction
from fanzha.store.models import AuditRecord, Case, Order

from .conftest import ICBC_CARD
from .test_pages import audit_actions, file_case

MULE = "6212260000000000017"
LEDGER = "\n".join(["txn_id,timestamp,from_account,to_account,amount",
                    f"T1,2024-04-29T10:00:00+08:00,VICTIM-ACCT,{ICBC_CARD},50000.00",
                    f"T2,2024-04-29T10:01:00+08:00,{ICBC_CARD},{MULE},20000.00",
                    f"T3,2024-04-29T10:02:00+08:00,{MULE},,5000.00"]) + "\n"
VICTIMS = "victim_id,txn_id\nV1,T1\n"
ACCOUNTS = f"account,opening_balance,institution,holder\n{ICBC_CARD},0.00,ICBC,张三\n{MULE},0.00,ALIPAY,李四\n"


def upload(browser, case_no: str, ledger: str = LEDGER, accounts: bool = True):
    files = {"ledger": ("ledger.csv", ledger.encode(), "text/csv"),
             "victims": ("victims.csv", VICTIMS.encode(), "text/csv"),
             "accounts": ("accounts.csv", ACCOUNTS.encode() if accounts else b"", "text/csv")}
    if not accounts:
        files["accounts"] = ("", b"", "application/octet-stream")
    return browser.client.post(f"/console/cases/{case_no}/ledgers", files=files,
                               data={"csrf_token": browser.csrf, "source": "工商银行答复"})


def traced_case(console) -> tuple[str, int]:
    case_no = file_case(console)
    a = console["analyst"]
    r = upload(a, case_no)
    assert r.status_code == 303 and "ledger=1" in r.headers["location"], r.headers["location"]
    r = a.post(f"/console/cases/{case_no}/traces", {"rule": "fifo", "ledger_version": "1"})
    assert r.status_code == 303, r.text
    trace_id = int(re.search(r"trace=(\d+)", r.headers["location"]).group(1))
    return case_no, trace_id


# --- money on the case page -----------------------------------------------------------

def test_analyst_uploads_traces_sees_the_graph_and_queues_the_holds(console):
    case_no, trace_id = traced_case(console)
    a = console["analyst"]
    page = a.get(f"/console/cases/{case_no}?trace={trace_id}").text
    assert '<svg class="flow"' in page and f'data-account="{MULE}"' in page and f'data-account="{ICBC_CARD}"' in page
    assert "第1层" in page and "第2层" in page and "冻结方案" in page
    assert "资金追踪" in page and "收到交易明细" in page  # the timeline's new steps
    # the plan: what is still there, largest first
    assert re.findall(r'data-hold="([^"]+)"', page) == [ICBC_CARD, MULE]

    # clicking an account: its transactions and what it holds
    r = a.get(f"/console/cases/{case_no}/traces/{trace_id}/account", params={"account": MULE},
              headers={"Accept": "application/json"})
    assert r.status_code == 200
    part = r.json()["html"]
    assert "T2" in part and "T3" in part and "T1" not in part and "15,000.00" in part
    # the same without scripts: the node's link renders the panel into the page
    assert "T3" in a.get(f"/console/cases/{case_no}?trace={trace_id}&account={MULE}").text

    r = a.post(f"/console/cases/{case_no}/traces/{trace_id}/holds", {"kind": "stop_payment", "legal_basis": "依法止付"})
    assert r.status_code == 303 and "queued=2" in r.headers["location"]
    again = a.post(f"/console/cases/{case_no}/traces/{trace_id}/holds", {"kind": "stop_payment", "legal_basis": "依法止付"})
    assert "queued=0" in again.headers["location"]  # nothing queued twice
    with transaction(console.sessions) as s:
        holds = s.execute(select(Order.target, Order.amount_fen).join(Case).where(
            Case.case_no == case_no, Order.idempotency_key.like(f"trace{trace_id}-%"))).all()
        assert sorted(holds) == sorted([(ICBC_CARD, 3_000_000), (MULE, 1_500_000)])
    actions = audit_actions(console, "analyst")
    for action in ("ledger_added", "trace_run", "trace_account_viewed", "holds_queued"):
        assert action in actions


def test_restitution_from_what_was_actually_held(console):
    case_no, trace_id = traced_case(console)
    a = console["analyst"]
    a.post(f"/console/cases/{case_no}/traces/{trace_id}/holds", {"kind": "freeze", "legal_basis": "依法冻结"})
    with transaction(console.sessions) as s:
        order = s.execute(select(Order).join(Case).where(Case.case_no == case_no, Order.target == MULE,
                                                         Order.kind == "freeze")).scalar_one()
        services.move_order(s, order, "sent", actor="gateway")
        services.move_order(s, order, "done", actor="alipay", answer={"held": "12000.00"})
    page = a.get(f"/console/cases/{case_no}?trace={trace_id}&restitution=traced").text
    assert 'data-mode="traced"' in page and "¥12,000.00" in page
    assert "restitution_planned" in audit_actions(console, "analyst")


def test_a_bad_ledger_is_refused_on_the_page_and_nothing_kept(console):
    case_no = file_case(console)
    r = upload(console["analyst"], case_no, ledger=LEDGER.replace("50000.00", "fifty"))
    assert r.status_code == 303 and "money_error=" in r.headers["location"]
    page = console["analyst"].get(r.headers["location"]).text
    assert 'class="error"' in page and "ledger.csv" in page
    assert "<b>收到交易明细</b>" not in page


def test_the_accounts_file_may_be_left_empty(console):
    case_no = file_case(console)
    r = upload(console["analyst"], case_no, accounts=False)
    assert r.status_code == 303 and "ledger=1" in r.headers["location"]


def test_money_is_refused_to_other_units_liaisons_and_roles_without_tracing(console):
    case_no, trace_id = traced_case(console)
    account = f"/console/cases/{case_no}/traces/{trace_id}/account?account={MULE}"
    # an officer of another unit: 403 on the case and everything under it
    huli = console["officer_huli"]
    assert huli.get(f"/console/cases/{case_no}").status_code == 403
    assert huli.get(account).status_code == 403
    assert upload(huli, case_no).status_code == 403
    # a liaison: no case pages at all
    liaison = console["liaison"]
    assert liaison.get(f"/console/cases/{case_no}").status_code == 403
    assert liaison.get(account).status_code == 403
    assert liaison.post(f"/console/cases/{case_no}/traces", {"rule": "fifo"}).status_code == 403
    # the case's own officer reads the case, but tracing is the centre's: no money section
    officer = console["officer"]
    page = officer.get(f"/console/cases/{case_no}")
    assert page.status_code == 200 and 'id="money"' not in page.text
    assert officer.post(f"/console/cases/{case_no}/traces/{trace_id}/holds", {"legal_basis": "x"}).status_code == 403
    # the commander reads cases but does not trace
    assert 'id="money"' not in console["commander"].get(f"/console/cases/{case_no}").text
    assert console["commander"].get(account).status_code == 403


def test_a_trace_of_another_case_is_not_found(console):
    case_no, trace_id = traced_case(console)
    other = file_case(console, text="受害人称被冒充公检法人员诈骗，损失2万元。", caller="13600000002")
    assert other != case_no
    assert console["analyst"].get(f"/console/cases/{other}?trace={trace_id}").status_code == 404
    assert console["analyst"].post(f"/console/cases/{other}/traces/{trace_id}/holds",
                                   {"legal_basis": "x"}).status_code == 404


# --- the live board --------------------------------------------------------------------

def test_board_shows_new_reports_emergency_clocks_and_late_institutions(console):
    case_no = file_case(console)
    with transaction(console.sessions) as s:
        order = s.execute(select(Order).join(Case).where(Case.case_no == case_no,
                                                         Order.kind == "stop_payment")).scalar_one()
        order.created_at = order.created_at.replace(year=order.created_at.year - 1)  # long queued
    r = console["analyst"].get("/console/board")
    assert r.status_code == 200
    html = r.text
    assert f'data-case="{case_no}"' in html and 'data-report=' in html
    assert 'class="clock running"' in html  # the first request is not out yet: its clock runs
    assert 'data-institution="ICBC"' in html  # an order queued too long counts against ICBC
    version = re.search(r'data-live="/console/board/live" data-version="([0-9a-f]+)"', html).group(1)
    live = console["analyst"].get(f"/console/board/live?since={version}", headers={"Accept": "application/json"})
    assert live.json() == {"version": version, "html": None}
    with transaction(console.sessions) as s:
        order = s.get(Order, order.id)
        services.move_order(s, order, "sent", actor="gateway")
    moved = console["analyst"].get(f"/console/board/live?since={version}", headers={"Accept": "application/json"})
    assert moved.json()["html"] and moved.json()["version"] != version
    assert "board_viewed" in audit_actions(console, "analyst")


def test_board_is_scoped_and_closed_to_liaisons(console):
    case_no = file_case(console)
    assert f'data-case="{case_no}"' in console["officer"].get("/console/board").text
    assert case_no not in console["officer_huli"].get("/console/board").text
    assert console["liaison"].get("/console/board").status_code == 403
    assert console["liaison"].get("/console/board/live").status_code == 403


# --- figures as charts --------------------------------------------------------------------

def test_figures_are_charts_with_last_year_beside(console):
    case_no = file_case(console)
    with transaction(console.sessions) as s:
        order = s.execute(select(Order).join(Case).where(Case.case_no == case_no,
                                                         Order.kind == "stop_payment")).scalar_one()
        services.move_order(s, order, "sent", actor="gateway")
        services.move_order(s, order, "done", actor="icbc", answer={"held": "40000.00"})
    r = console["commander"].get("/console/figures")
    assert r.status_code == 200
    html = r.text
    assert html.count('<svg class="chart"') >= 8
    stopped = html.split('data-figure="stopped"')[1].split("</section>")[0]
    assert "¥40,000.00" in stopped and "新增" in stopped
    filed = html.split('data-figure="filed"')[1].split("</section>")[0]
    assert '<span class="n">1</span>' in filed
    assert "暂无数据源" in html.split('data-figure="warnings"')[1].split("</section>")[0]
    for who in ("officer", "liaison", "dissuader"):
        assert console[who].get("/console/figures").status_code == 403


# --- linked cases ---------------------------------------------------------------------

def test_case_page_links_cases_sharing_an_identifier(console):
    first = file_case(console)
    second = file_case(console, victim_name="李某", caller="13800000001",
                       text_extra="另一名受害人。", minutes_ago=40)
    assert first != second  # a second report of the same card: linked, not merged
    r = console["analyst"].get(f"/console/cases/{first}/linked", headers={"Accept": "application/json"})
    assert r.status_code == 200
    part = r.json()["html"]
    assert ICBC_CARD in part
    page = console["analyst"].get(f"/console/cases/{first}")
    assert f'data-fragment="/console/cases/{first}/linked"' in page.text
    assert console["analyst"].get(f"/console/cases/{first}/linked").text.startswith("<!doctype html>")
    assert console["officer"].get(f"/console/cases/{first}/linked").status_code == 403
    assert console["liaison"].get(f"/console/cases/{first}/linked").status_code == 403
    assert 'id="linked"' not in console["officer"].get(f"/console/cases/{first}").text


# --- interception admin ---------------------------------------------------------------

def test_intercept_admin_searches_reads_history_and_decides_an_appeal(console):
    with transaction(console.sessions) as s:
        listed = istore.list_entry(s, value="+8617012345678", kind="phone", listing="block", source_kind="analyst",
                                   source="analyst", reason="诈骗号码", score=1.0, valid_until=None, ttl=None,
                                   seen_at=None, actor="analyst")
        entry_id = listed.entry.id
        appeal = istore.file_appeal(s, value=listed.entry.value, kind="phone", entry_id=entry_id,
                                    appellant="某快递公司", contact="0592-1234567", statement="此号码为我司客服热线",
                                    filed_by="carrier")
        appeal_id = appeal.id
    a = console["analyst"]
    page = a.get("/console/intercept", params={"contains": "17012345"}).text
    assert f'data-entry="{entry_id}"' in page and f'data-appeal="{appeal_id}"' in page
    entry = a.get(f"/console/intercept/entries/{entry_id}").text
    assert "诈骗号码" in entry and "某快递公司" in entry
    # a decision needs a note
    r = a.post(f"/console/intercept/appeals/{appeal_id}/decision", {"decision": "upheld", "note": ""})
    assert r.status_code == 303 and "error=" in r.headers["location"]
    r = a.post(f"/console/intercept/appeals/{appeal_id}/decision", {"decision": "upheld", "note": "核实为正常号码"})
    assert r.status_code == 303
    assert f'data-appeal="{appeal_id}"' not in a.get("/console/intercept").text  # no longer pending
    assert 'data-state="revoked"' in a.get(f"/console/intercept/entries/{entry_id}").text
    with transaction(console.sessions) as s:
        assert s.execute(select(AuditRecord).where(AuditRecord.action == "intercept_appeal_upheld")).first()
    for who in ("officer", "commander", "liaison"):
        assert console[who].get("/console/intercept").status_code == 403
        assert console[who].post(f"/console/intercept/appeals/{appeal_id}/decision",
                                 {"decision": "rejected", "note": "x"}).status_code == 403


@pytest.mark.parametrize("path", ["/console/board", "/console/figures", "/console/intercept"])
def test_new_pages_read_the_store_in_a_fixed_number_of_statements(console, path):
    """A page's statements do not grow with the cases on file (no statement per row):
    with a few cases on file (every part of the page has rows) and again after ten more,
    it runs as many."""
    from sqlalchemy import event

    def statements() -> int:
        seen = []
        listen = lambda *a, **k: seen.append(1)  # noqa: E731
        event.listen(console.app.state.engine, "before_cursor_execute", listen)
        try:
            assert console["analyst"].get(path).status_code == 200
        finally:
            event.remove(console.app.state.engine, "before_cursor_execute", listen)
        return len(seen)

    for n in range(3):
        file_case(console, text_extra=f"第{n}起。", minutes_ago=20 + n, caller=f"1391234{n:04d}")
    console["analyst"].get(path)
    before = statements()
    for n in range(3, 13):
        file_case(console, text_extra=f"第{n}起。", minutes_ago=20 + n, caller=f"1391234{n:04d}")
    assert statements() == before
