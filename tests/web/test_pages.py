"""The console's pages, role by role: who may open what, scoping, audit and the forms.

These run without a browser (TestClient), over SQLite and PostgreSQL; the real-browser
walk-through is ``test_browser.py``.
"""

from __future__ import annotations


import pytest
from sqlalchemy import select

from fanzha.roles import Role, allowed
from fanzha.store import services
from fanzha.store.db import transaction
from fanzha.store.models import AuditRecord, Case, Order, User
from fanzha.web.render import MENU
from .conftest import ICBC_CARD, PEOPLE, recent_report

ROLE_OF = {username: Role(role) for username, role, _, _ in PEOPLE}


def audit_actions(console, actor: str) -> list[str]:
    with transaction(console.sessions) as s:
        return list(s.execute(select(AuditRecord.action).where(AuditRecord.actor == actor)
                              .order_by(AuditRecord.id)).scalars())


def file_case(console, who: str = "officer", **fields) -> str:
    r = console[who].post("/console/report", recent_report(**fields))
    assert r.status_code == 303, r.text
    return r.headers["location"].split("/console/cases/")[1].split("?")[0]


def send_order_row(console, case_no: str, state: str = "sent") -> int:
    """The emergency stop-payment of a case, moved to ``state`` as the gateway would."""
    with transaction(console.sessions) as s:
        order = s.execute(select(Order).join(Case).where(Case.case_no == case_no,
                                                         Order.kind == "stop_payment")).scalar_one()
        if state != "pending":
            services.move_order(s, order, "sent", actor="gateway", note="to the liaison inbox (test)")
        return order.id


# --- logging in ----------------------------------------------------------------------

def test_login_sets_a_strict_httponly_cookie_and_lands_on_the_roles_page(console):
    client = console.anonymous(Accept="text/html")
    r = client.post("/console/login", data={"username": "liaison", "password": "correct horse battery"})
    assert r.status_code == 303 and r.headers["location"] == "/console/inbox"
    cookie = r.headers["set-cookie"].lower()
    assert "fanzha_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert "login" in audit_actions(console, "liaison")


@pytest.mark.parametrize("username,landing", [("analyst", "/console/cases"), ("officer", "/console/cases"),
                                              ("liaison", "/console/inbox"), ("commander", "/console/stats"),
                                              ("admin", "/console/users")])
def test_each_role_lands_on_its_own_page(console, username, landing):
    assert console[username].landing == landing
    r = console[username].get("/console")
    assert r.status_code == 303 and r.headers["location"] == landing


def test_pages_carry_the_console_headers(console):
    r = console["analyst"].get("/console/cases")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
    assert console.anonymous().get("/static/console.js").status_code == 200


def test_wrong_password_is_refused_and_audited(console):
    client = console.anonymous(Accept="text/html")
    r = client.post("/console/login", data={"username": "analyst", "password": "nope nope nope"})
    assert r.status_code == 401 and "用户名或密码错误" in r.text
    assert "set-cookie" not in r.headers
    assert audit_actions(console, "analyst") == ["login_failed"]


def test_login_only_follows_console_paths(console):
    client = console.anonymous(Accept="text/html")
    for bad in ("https://evil.example/", "//evil.example/x", "/auth/me"):
        r = client.post("/console/login", data={"username": "analyst", "password": "correct horse battery",
                                                "next": bad})
        assert r.headers["location"] == "/console/cases", bad
    r = client.post("/console/login", data={"username": "analyst", "password": "correct horse battery",
                                            "next": "/console/stats"})
    assert r.headers["location"] == "/console/stats"


def test_anonymous_browser_is_sent_to_login_but_api_callers_get_401(console):
    r = console.anonymous(Accept="text/html").get("/console/cases?emergency=1")
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login?next=/console/cases%3Femergency%3D1"
    r = console.anonymous().get("/console/cases")
    assert r.status_code == 401 and r.json()["detail"]
    assert console.anonymous().get("/cases").status_code == 401
    assert console.anonymous(Accept="text/html").get("/console/login").status_code == 200


def test_a_cookie_of_a_removed_user_no_longer_works(console):
    b = console["analyst"]
    with transaction(console.sessions) as s:
        s.execute(select(User).where(User.username == "analyst")).scalar_one().active = False
    assert b.get("/console/cases").status_code == 303  # back to the login page


def test_logout_clears_the_cookie_and_needs_the_csrf_token(console):
    b = console["analyst"]
    assert b.post("/console/logout", csrf=False).status_code == 403
    r = b.post("/console/logout")
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    assert 'fanzha_session=""' in r.headers["set-cookie"] or "max-age=0" in r.headers["set-cookie"].lower()
    assert b.get("/console/cases").status_code == 303


# --- every page, every role ----------------------------------------------------------

@pytest.mark.parametrize("username", [p[0] for p in PEOPLE])
def test_every_menu_page_is_allowed_or_403_by_the_role_matrix(console, username):
    b = console[username]
    role = ROLE_OF[username]
    for item in MENU:
        r = b.get(item.path)
        if allowed(role, item.permission):
            assert r.status_code == 200, f"{username} refused {item.path}: {r.status_code}"
            assert f'data-user="{username}"' in r.text  # the layout shows who is logged in
            assert f'href="{item.path}"' in r.text       # and the page is on their menu
        else:
            assert r.status_code == 403, f"{username} not refused {item.path}: {r.status_code}"
            assert "无权访问" in r.text
    # the menu offers exactly what the role may open
    page = b.get("/console", follow_redirects=True).text
    for item in MENU:
        assert (f'href="{item.path}"' in page) == allowed(role, item.permission), (username, item.path)


def test_dissuasion_officer_has_a_start_page(console):
    r = console["dissuader"].get("/console")
    assert r.status_code == 200 and "劝阻专员" in r.text


# --- cases ---------------------------------------------------------------------------

def test_officer_files_a_report_and_the_emergency_orders_are_queued(console):
    case_no = file_case(console)
    r = console["officer"].get(f"/console/cases/{case_no}?filed=opened")
    assert r.status_code == 200
    page = r.text
    assert "已立案并自动流转" in page and "紧急" in page
    assert ICBC_CARD in page and "中华派出所" in page
    assert "紧急止付" in page and "交易明细查询" in page and "待发送" in page
    assert "报案登记" in page and "自动流转" in page  # the timeline
    with transaction(console.sessions) as s:
        case = services.get_case(s, case_no)
        assert case.emergency and case.unit.code == "350203-01"
        kinds = sorted(o.kind for o in s.execute(select(Order).where(Order.case_id == case.id)).scalars())
    assert kinds == ["stop_payment", "transaction_details"]
    assert audit_actions(console, "officer")[-2:] == ["report_opened", "case_read"]


def test_report_form_errors_are_shown_and_nothing_is_filed(console):
    r = console["officer"].post("/console/report", {"text": "被骗了", "loss": "abc"})
    assert r.status_code == 422 and "error" in r.text and "被骗了" in r.text
    with transaction(console.sessions) as s:
        assert s.execute(select(Case)).first() is None


def test_report_preview_reads_the_text(console):
    b = console["officer"]
    r = b.client.post("/console/report/preview", data={"text": f"转账到{ICBC_CARD}共3万元"},
                      headers={"X-CSRF-Token": b.csrf, "Accept": "application/json"})
    assert r.status_code == 200
    body = r.json()
    assert {"kind": "bank_card", "label": "银行卡", "value": ICBC_CARD} in body["identifiers"] and body["amounts"]


def test_case_list_is_newest_first_flags_emergencies_and_is_scoped(console):
    first = file_case(console, "officer", caller="13900000001")
    calm = file_case(console, "officer", caller="13900000002", paid_at="", text_extra="（无近期转账）")
    huli = file_case(console, "officer_huli", caller="13900000003")
    page = console["analyst"].get("/console/cases").text
    assert page.index(huli) < page.index(calm) < page.index(first)
    assert page.count('class="flag"') == 2
    own = console["officer"].get("/console/cases").text
    assert first in own and calm in own and huli not in own
    emergency_only = console["analyst"].get("/console/cases?emergency=1").text
    assert calm not in emergency_only and first in emergency_only
    with transaction(console.sessions) as s:
        rec = s.execute(select(AuditRecord).where(AuditRecord.actor == "officer",
                                                  AuditRecord.action == "cases_listed")).scalars().all()[-1]
    assert sorted(rec.detail["case_nos"]) == sorted([first, calm])


def test_officer_opening_another_units_case_by_url_gets_403(console):
    huli = file_case(console, "officer_huli")
    r = console["officer"].get(f"/console/cases/{huli}")
    assert r.status_code == 403 and "无权访问" in r.text and "another unit" in r.text
    assert huli not in console["officer"].get("/console/cases").text
    assert console["officer"].get(f"/console/cases/{huli}/live").status_code == 403
    assert console["analyst"].get(f"/console/cases/{huli}").status_code == 200
    assert console["commander"].get(f"/console/cases/{huli}").status_code == 200
    assert console["analyst"].get("/console/cases/FZ19990101000001").status_code == 404


def test_case_page_view_is_audited(console):
    case_no = file_case(console)
    console["analyst"].get(f"/console/cases/{case_no}")
    with transaction(console.sessions) as s:
        rec = s.execute(select(AuditRecord).where(AuditRecord.actor == "analyst")
                        .order_by(AuditRecord.id.desc())).scalars().first()
    assert (rec.action, rec.case_no, rec.role) == ("case_read", case_no, "analyst")


def test_analyst_sends_an_order_from_the_case_page(console):
    case_no = file_case(console)
    b = console["analyst"]
    r = b.post("/console/orders", {"case_no": case_no, "kind": "freeze", "institution": "ICBC",
                                   "target": ICBC_CARD, "amount": "50000", "legal_basis": "反电信网络诈骗法第二十条"})
    assert r.status_code == 303 and r.headers["location"].startswith(f"/console/cases/{case_no}#order-")
    assert "冻结" in b.get(f"/console/cases/{case_no}").text
    assert "order_sent" in audit_actions(console, "analyst")
    # a money order without an amount is refused with the form kept
    r = b.post("/console/orders", {"case_no": case_no, "kind": "stop_payment", "institution": "ICBC",
                                   "target": "6222020000000000", "legal_basis": "x"})
    assert r.status_code == 422 and "amount" in r.text and "6222020000000000" in r.text
    # the one-stop query page
    r = b.get(f"/console/query?case_no={case_no}")
    assert r.status_code == 200 and case_no in r.text


def test_officer_may_not_send_orders_on_another_units_case(console):
    huli = file_case(console, "officer_huli")
    r = console["officer"].post("/console/orders", {"case_no": huli, "kind": "account_holder",
                                                    "institution": "ICBC", "target": ICBC_CARD, "legal_basis": "x"})
    assert r.status_code == 403


def test_commander_sees_cases_but_has_no_order_form(console):
    case_no = file_case(console)
    page = console["commander"].get(f"/console/cases/{case_no}").text
    assert case_no in page and 'action="/console/orders"' not in page
    assert 'action="/console/orders"' in console["analyst"].get(f"/console/cases/{case_no}").text


# --- CSRF ----------------------------------------------------------------------------

def test_cookie_posts_without_the_csrf_token_are_refused(console):
    b = console["officer"]
    assert b.post("/console/report", recent_report(), csrf=False).status_code == 403
    assert b.post("/console/report", {**recent_report(), "csrf_token": "0" * 64}).status_code == 403
    other = console["analyst"].csrf  # a token of another login is no good either
    assert b.post("/console/report", {**recent_report(), "csrf_token": other}).status_code == 403
    # a page of another site posting with the right token (say, leaked) is refused by its Origin
    r = b.post("/console/report", recent_report(), headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    # the JSON API through the cookie is held to the same rule
    r = b.client.post("/cases", json={"received_at": "2024-05-01T10:00:00+08:00", "text": "被骗"},
                      headers={"Accept": "application/json"})
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    r = b.client.post("/cases", json={"received_at": "2024-05-01T10:00:00+08:00", "text": "被骗"},
                      headers={"X-CSRF-Token": b.csrf, "Accept": "application/json"})
    assert r.status_code == 201
    with transaction(console.sessions) as s:
        assert len(s.execute(select(Case)).all()) == 1


def test_cross_site_login_is_refused(console):
    r = console.anonymous(Origin="https://evil.example").post(
        "/console/login", data={"username": "analyst", "password": "correct horse battery"})
    assert r.status_code == 403 and "set-cookie" not in r.headers


def test_bearer_callers_need_no_csrf_token(console):
    client = console.anonymous()
    token = client.post("/auth/login", json={"username": "officer", "password": "correct horse battery"}).json()
    r = client.post("/console/report", data=recent_report(),
                    headers={"Authorization": f"Bearer {token['access_token']}"})
    assert r.status_code == 303


# --- the liaison's inbox -------------------------------------------------------------

def test_liaison_inbox_shows_only_its_institutions_sent_orders(console):
    case_no = file_case(console)
    inbox = console["liaison"].get("/console/inbox").text
    assert ICBC_CARD not in inbox  # still pending in the outbox: not yet delivered
    order_id = send_order_row(console, case_no)
    inbox = console["liaison"].get("/console/inbox").text
    assert f'id="order-{order_id}"' in inbox and ICBC_CARD in inbox and "中国工商银行" in inbox
    assert ICBC_CARD not in console["liaison_alipay"].get("/console/inbox").text
    assert "inbox_viewed" in audit_actions(console, "liaison")


def test_liaison_acknowledges_then_answers_done(console):
    order_id = send_order_row(console, file_case(console))
    b = console["liaison"]
    assert b.post(f"/console/orders/{order_id}/answer", {"state": "acknowledged"}).status_code == 303
    r = b.post(f"/console/orders/{order_id}/answer", {"state": "done", "held": "48000.00", "content": "已止付"})
    assert r.status_code == 303
    with transaction(console.sessions) as s:
        order = s.get(Order, order_id)
        assert order.state == "done" and order.answer["held"] == "48000.00"
        assert [e.to_state for e in order.events] == ["pending", "sent", "acknowledged", "done"]
    page = b.get("/console/inbox").text
    assert "已止付" in page and "暂无待处理指令" in page


def test_liaison_rejects_with_a_reason_only(console):
    order_id = send_order_row(console, file_case(console))
    b = console["liaison"]
    r = b.post(f"/console/orders/{order_id}/answer", {"state": "rejected", "note": " "})
    assert r.status_code == 303 and "error=" in r.headers["location"]
    r = b.post(f"/console/orders/{order_id}/answer", {"state": "rejected", "note": "账户已销户"})
    assert r.status_code == 303
    with transaction(console.sessions) as s:
        order = s.get(Order, order_id)
        assert order.state == "rejected" and order.events[-1].note == "账户已销户"
    # answering again is a conflict, shown on the inbox
    r = b.post(f"/console/orders/{order_id}/answer", {"state": "done"})
    assert "error=" in r.headers["location"]
    assert "cannot go from rejected" in b.get(r.headers["location"]).text


def test_liaison_may_not_answer_another_institutions_order(console):
    order_id = send_order_row(console, file_case(console))
    assert console["liaison_alipay"].post(f"/console/orders/{order_id}/answer",
                                          {"state": "done"}).status_code == 403
    assert console["analyst"].post(f"/console/orders/{order_id}/answer", {"state": "done"}).status_code == 403


# --- live parts ----------------------------------------------------------------------

def test_case_orders_poll_returns_html_only_when_something_changed(console):
    case_no = file_case(console)
    a = console["analyst"]
    first = a.get(f"/console/cases/{case_no}/live").json()
    assert first["html"] and "待发送" in first["html"]
    before = len(audit_actions(console, "analyst"))
    same = a.get(f"/console/cases/{case_no}/live?since={first['version']}").json()
    assert same == {"version": first["version"], "html": None}
    assert len(audit_actions(console, "analyst")) == before  # an empty poll shows nothing, audits nothing
    order_id = send_order_row(console, case_no)
    console["liaison"].post(f"/console/orders/{order_id}/answer", {"state": "done"})
    changed = a.get(f"/console/cases/{case_no}/live?since={first['version']}").json()
    assert changed["version"] != first["version"] and "已止付" in changed["html"]
    assert audit_actions(console, "analyst")[-1] == "case_orders_viewed"


def test_inbox_poll(console):
    b = console["liaison"]
    empty = b.get("/console/inbox/live").json()
    assert empty["open"] == 0
    send_order_row(console, file_case(console))
    r = b.get(f"/console/inbox/live?since={empty['version']}").json()
    assert r["open"] == 1 and ICBC_CARD in r["html"] and b.csrf in r["html"]
    assert b.get(f"/console/inbox/live?since={r['version']}").json()["html"] is None


# --- commander and admin -------------------------------------------------------------

def test_stats_page_shows_the_figures(console):
    order_id = send_order_row(console, file_case(console))
    console["liaison"].post(f"/console/orders/{order_id}/answer", {"state": "done"})
    page = console["commander"].get("/console/stats").text
    assert "成效统计" in page
    assert '<span class="n">¥50,000.00</span><span>已止付 / 冻结</span>' in page
    assert "按诈骗类型" in page and "紧急止付" in page


def test_admin_adds_a_user_and_reads_the_audit_log(console):
    b = console["admin"]
    r = b.post("/console/users", {"username": "wang", "display_name": "王警官", "role": "station_officer",
                                  "unit": "350206-01", "password": "long enough pass"})
    assert r.status_code == 303
    assert "王警官" in b.get("/console/users").text
    r = b.post("/console/users", {"username": "nounit", "role": "station_officer", "password": "long enough pass"})
    assert r.status_code == 422 and "needs a unit" in r.text
    with transaction(console.sessions) as s:
        assert s.execute(select(User).where(User.username == "nounit")).first() is None
    log = b.get("/console/audit?actor=admin").text
    assert "user_added" in log and "users_listed" in log
    assert "audit_read" in audit_actions(console, "admin")


def test_audit_log_has_no_way_to_change_it(console):
    for route in console.app.routes:
        if getattr(route, "path", "").startswith("/console/audit"):
            assert route.methods == {"GET"}
