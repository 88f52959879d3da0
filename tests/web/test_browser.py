"""The console in a real browser: every role logs in, and the emergency loop runs end to end.

A real uvicorn server (a thread of this process, on a free port of 127.0.0.1, over a
temporary SQLite database) is driven by Playwright through Debian's own Chromium:

- every role logs in and lands on its page (and the page's load time is measured);
- a station officer files a report naming an ICBC card and a payment twenty minutes
  ago, so intake queues the emergency stop-payment at once;
- the ICBC liaison's inbox shows it without a reload, and the liaison answers it done;
- the analyst, whose case page stays open the whole time, sees the hold (已止付)
  appear without reloading;
- the analyst uploads the card's transactions on the case page, traces them, clicks an
  account of the money-flow graph to see its transactions, and queues the freeze plan's
  holds as stop-payments; the live board shows the case's clocks;
- an officer of another unit opening the case by its URL gets the 403 page;
- the commander's figures count the hold, also as a chart beside last year.

What it needs, and why it fails rather than skips without it: the ``playwright`` pip
package (only its Python driver — never ``playwright install``, which downloads a
browser the centre's closed network does not have) and Chromium at
``/usr/bin/chromium`` (``apt-get install -y chromium`` on Debian; a CJK font such as
``fonts-wqy-zenhei`` makes the screenshots legible). A browser test that silently
skipped would let CI pass without ever having run it.

Screenshots of the main pages go to ``$FANZHA_SCREENSHOTS`` when it is set (the
README's are made with ``FANZHA_SCREENSHOTS=docs/screenshots``), else to a temporary
directory.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from fanzha.api.app import create_app
from fanzha.settings import Settings
from fanzha.store import db, services
from fanzha.store.db import transaction
from fanzha.store.models import Case, Order

from .conftest import ICBC_CARD, PASSWORD, make_city

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.xdist_group("browser")  # one Chromium at a time per CI run


def _need_browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - set-up problem
        pytest.fail("the browser test needs the Playwright driver: pip install playwright "
                    "(do not run `playwright install`; the test uses Debian's chromium)", pytrace=False)
    if not CHROMIUM.exists():  # pragma: no cover - set-up problem
        pytest.fail(f"the browser test needs Chromium at {CHROMIUM}: apt-get install -y chromium",
                    pytrace=False)
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, app, port: int):
        import uvicorn

        self.app, self.url = app, f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                    lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, name="console-server", daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the console server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A real server over a migrated temporary SQLite database with the small city."""
    root = tmp_path_factory.mktemp("console")
    url = f"sqlite:///{root / 'fanzha.db'}"
    db.upgrade(url)
    app = create_app(Settings(database_url=url, secret_key="browser-test-secret-" + "y" * 24, data_dir=root))
    with transaction(app.state.sessions) as s:
        make_city(s)
    with LiveServer(app, _free_port()) as server:
        yield server
    app.state.engine.dispose()


@pytest.fixture(scope="module")
def chromium():
    sync_playwright = _need_browser()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    target = os.environ.get("FANZHA_SCREENSHOTS")
    path = Path(target) if target else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


#: Screenshots are for the README: small PNGs.
MAX_SCREENSHOT_BYTES = 400_000


def shoot(page, path: Path, *, full_page: bool = False) -> None:
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size < MAX_SCREENSHOT_BYTES, f"{path.name} is {path.stat().st_size} bytes"


def shoot_part(locator, path: Path) -> None:
    locator.screenshot(path=str(path))
    assert path.stat().st_size < MAX_SCREENSHOT_BYTES, f"{path.name} is {path.stat().st_size} bytes"


#: The bank's answer for the case's card: most of the money moved on to a payment
#: account, part of it was taken out as cash (FORMATS.md's ledger.csv, victims.csv, accounts.csv).
MULE = "2088000000000017"
LEDGER = "\n".join(["txn_id,timestamp,from_account,to_account,amount",
                    f"T1,2024-04-29T10:00:00+08:00,6217001234567890,{ICBC_CARD},50000.00",
                    f"T2,2024-04-29T10:01:00+08:00,{ICBC_CARD},{MULE},30000.00",
                    f"T3,2024-04-29T10:04:00+08:00,{MULE},,8000.00"]) + "\n"
VICTIMS = "victim_id,txn_id\n王某,T1\n"
ACCOUNTS = f"account,opening_balance,institution,holder\n{ICBC_CARD},0.00,ICBC,张某\n{MULE},0.00,ALIPAY,刘某\n"


def load_ms(page) -> float:
    """The last navigation's time from request to the load event, as the browser measured it."""
    return page.evaluate("() => { const n = performance.getEntriesByType('navigation')[0];"
                         " return n.loadEventEnd - n.startTime; }")


def log_in(chromium, live, username: str):
    """A fresh browser context (its own cookies) logged in through the login form."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{live.url}/console")  # not logged in: sent to the login page
    assert "/console/login" in page.url
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', PASSWORD)
    with page.expect_navigation():
        page.click('button[type="submit"]')
    assert page.locator(f'[data-user="{username}"]').count() == 1, page.url
    return page


LANDINGS = {"analyst": "/console/cases", "officer": "/console/cases", "liaison": "/console/inbox",
            "commander": "/console/stats", "admin": "/console/users", "dissuader": "/console"}


def test_every_role_logs_in_and_lands_on_its_page(chromium, live, shots, record_property):
    timings: dict[str, float] = {}
    for username, landing in LANDINGS.items():
        page = log_in(chromium, live, username)
        assert page.url == live.url + landing, (username, page.url)
        timings[landing + f" ({username})"] = load_ms(page)
        page.context.close()
    admin = log_in(chromium, live, "admin")
    admin.goto(f"{live.url}/console/audit")
    timings["/console/audit (admin)"] = load_ms(admin)
    shoot(admin, shots / "audit.png")
    admin.goto(f"{live.url}/console/users")
    shoot(admin, shots / "users.png")
    # The header's switch shows the same page in English (remembered by the browser), and back.
    with admin.expect_navigation():
        admin.click("header a.lang-switch")
    assert admin.url == f"{live.url}/console/users"
    assert admin.locator("html").get_attribute("lang") == "en"
    assert admin.locator("h1").inner_text() == "Users"
    assert admin.locator("nav.menu").get_by_text("Audit log").count() == 1
    admin.goto(f"{live.url}/console/audit")
    assert admin.locator("h1").inner_text().startswith("Audit log")
    with admin.expect_navigation():
        admin.click("header a.lang-switch")
    assert admin.url == f"{live.url}/console/audit"
    assert admin.locator("html").get_attribute("lang") == "zh-CN"
    assert admin.locator("h1").inner_text().startswith("审计日志")
    admin.context.close()
    record_property("load_ms", timings)
    print("\nconsole page load times (ms):", {k: round(v) for k, v in timings.items()})


def test_report_to_hold_in_the_browser(chromium, live, shots, record_property):
    timings: dict[str, float] = {}
    # 1. The station officer files a report: money left twenty minutes ago to an ICBC card.
    officer = log_in(chromium, live, "officer")
    officer.click("text=报案登记")
    timings["/console/report"] = load_ms(officer)
    paid = datetime.now(timezone(timedelta(hours=8))) - timedelta(minutes=20)
    officer.fill('textarea[name="text"]', f"受害人称接到自称快递客服的电话，说包裹丢失要理赔，"
                                          f"按对方要求通过手机银行向账户{ICBC_CARD}转账5万元。")
    officer.fill('input[name="paid_at"]', paid.strftime("%Y-%m-%dT%H:%M"))
    officer.fill('input[name="victim_name"]', "王某")
    officer.fill('input[name="caller"]', "13912345678")
    # the extraction is shown as the officer types, for them to confirm
    officer.locator("#preview").get_by_text(ICBC_CARD).wait_for()
    shoot(officer, shots / "report.png")
    with officer.expect_navigation(url="**/console/cases/FZ*"):
        officer.click('button:has-text("登记并立案")')
    case_url = officer.url.split("?")[0]
    case_no = case_url.rsplit("/", 1)[1]
    title = officer.locator("h1").first.inner_text()
    assert "紧急" in title, (officer.url, title, officer.locator("main").inner_text()[:500])
    assert officer.locator("#orders").get_by_text("紧急止付").count() >= 1

    # 2. The analyst opens the case and keeps the page open (no reload from here on).
    analyst = log_in(chromium, live, "analyst")
    shoot(analyst, shots / "cases.png")
    analyst.goto(case_url)
    timings["/console/cases/{no}"] = load_ms(analyst)
    analyst.evaluate("() => { window.__sameDocument = true; }")
    stop_row = analyst.locator('#orders tr[data-kind="stop_payment"]')
    assert stop_row.locator(".badge").inner_text() == "待发送"

    # 3. The liaison's inbox is open before the order arrives.
    liaison = log_in(chromium, live, "liaison")
    timings["/console/inbox"] = load_ms(liaison)
    assert liaison.locator(".inbox-item").count() == 0
    liaison.evaluate("() => { window.__sameDocument = true; }")

    # The gateway's dispatcher delivers orders for institutions without an API to the
    # liaison's inbox by moving them from pending to sent. This test stands in for it
    # and makes that one move directly in the database, as the dispatcher would.
    with transaction(live.app.state.sessions) as s:
        for order in s.execute(select(Order).join(Case).where(Case.case_no == case_no)).scalars():
            services.move_order(s, order, "sent", actor="gateway", note="to the liaison inbox of ICBC (no API)")

    # 4. The orders appear in the inbox without a reload; the liaison answers the stop-payment.
    item = liaison.locator('.inbox-item[data-kind="stop_payment"]')
    item.wait_for()
    assert liaison.evaluate("() => window.__sameDocument === true")
    assert item.locator('input[name="held"]').input_value() == "50000.00"
    shoot(liaison, shots / "inbox.png")
    item.locator('form.done textarea[name="content"]').fill("已对该账户紧急止付，实际止付50000.00元。")
    with liaison.expect_navigation():
        item.locator('button:has-text("办结")').click()
    held = liaison.locator("table.grid").get_by_text("已止付")
    try:
        held.wait_for()  # the answered order in the inbox's table (the page's own words if not)
    except Exception:
        pytest.fail(f"no 已止付 row at {liaison.url}: {liaison.locator('main').inner_text()[:800]}")
    assert held.count() == 1

    # 5. The analyst's page, never reloaded, now shows the hold.
    stop_row.locator(".badge", has_text="已止付").wait_for(timeout=15_000)
    assert analyst.evaluate("() => window.__sameDocument === true"), "the case page was reloaded"
    assert "50000.00" in stop_row.inner_text()
    shoot(analyst, shots / "case.png", full_page=True)

    # 6. The bank's answer brings the card's transactions: the analyst uploads them on the
    #    case page, traces the money, clicks an account of the graph and queues the plan's holds.
    analyst.set_input_files('form.ledger-form input[name="ledger"]',
                            {"name": "ledger.csv", "mimeType": "text/csv", "buffer": LEDGER.encode()})
    analyst.set_input_files('form.ledger-form input[name="victims"]',
                            {"name": "victims.csv", "mimeType": "text/csv", "buffer": VICTIMS.encode()})
    analyst.set_input_files('form.ledger-form input[name="accounts"]',
                            {"name": "accounts.csv", "mimeType": "text/csv", "buffer": ACCOUNTS.encode()})
    analyst.fill('form.ledger-form input[name="source"]', "工商银行答复")
    with analyst.expect_navigation():
        analyst.click('button:has-text("上传交易明细")')
    assert analyst.locator("#money .ok").inner_text().startswith("已保存交易明细第 1 版")
    with analyst.expect_navigation():
        analyst.click('button:has-text("追踪资金")')
    timings["/console/cases/{no}?trace="] = load_ms(analyst)
    graph = analyst.locator("svg.flow")
    assert graph.locator("a.node.account").count() == 2
    assert graph.locator("a.node.held").count() == 2
    analyst.evaluate("() => { window.__sameDocument = true; }")
    graph.locator(f'a.node[data-account="{MULE}"]').click()
    analyst.locator(f'#account-detail .account[data-account="{MULE}"]').wait_for()
    assert analyst.evaluate("() => window.__sameDocument === true"), "clicking an account reloaded the page"
    assert analyst.locator("#account-detail tr.traced").count() == 2  # in from the card, out as cash
    assert analyst.locator("table.plan tbody tr").count() == 2
    analyst.locator("#money").scroll_into_view_if_needed()
    shoot_part(analyst.locator("#money"), shots / "trace.png")
    with analyst.expect_navigation():
        analyst.click('button:has-text("按方案下发止付")')
    assert analyst.locator("#money [data-queued]").get_attribute("data-queued") == "2"
    plan_rows = analyst.locator("table.plan tbody tr")
    assert plan_rows.locator(".badge", has_text="待发送").count() == 2
    assert analyst.locator('#orders tr[data-kind="stop_payment"]').count() == 3
    assert analyst.locator(".timeline").get_by_text("资金追踪").count() == 1

    # 7. The live board: the case is on the clock, and its clocks read off the orders.
    analyst.goto(f"{live.url}/console/board")
    timings["/console/board"] = load_ms(analyst)
    row = analyst.locator(f'table.clocks tr[data-case="{case_no}"]')
    assert row.count() == 1 and row.locator(".clock.done").count() >= 2
    shoot(analyst, shots / "board.png")

    # 8. An officer of another unit who has the case's URL gets 403.
    other = log_in(chromium, live, "officer_huli")
    response = other.goto(case_url)
    assert response is not None and response.status == 403
    body = other.content()
    assert "无权访问" in body and ICBC_CARD not in body and "王某" not in body

    # 9. The commander's figures count the hold, and chart it beside last year.
    commander = log_in(chromium, live, "commander")
    timings["/console/stats"] = load_ms(commander)
    assert "¥50,000.00" in commander.locator(".figure.good").inner_text()
    shoot(commander, shots / "stats.png")
    commander.click("text=成效趋势")
    timings["/console/figures"] = load_ms(commander)
    stopped = commander.locator('[data-figure="stopped"]')
    assert "¥50,000.00" in stopped.locator(".totals").inner_text()
    assert commander.locator("svg.chart").count() >= 8
    shoot(commander, shots / "figures.png")

    record_property("load_ms", timings)
    print("\nconsole page load times (ms):", {k: round(v) for k, v in timings.items()})
    for ctx in {p.context for p in (officer, analyst, liaison, other, commander)}:
        ctx.close()

