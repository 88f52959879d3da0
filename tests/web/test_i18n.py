"""The console in two languages: Chinese by default, English by the header's switch.

Every interface text goes through one table (:data:`fanzha.web.i18n.EN`); these tests
read the templates, the page modules and the page script for the texts they show and
fail when one has no English, then open each main page in both languages.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fanzha import web
from fanzha.intake.service import EMERGENCY_BASIS
from fanzha.web import i18n, labels, money, screening
from fanzha.web.render import MENU, SCRIPT_TEXTS

from .conftest import ICBC_CARD, PASSWORD
from .test_money_board import traced_case
from .test_pages import file_case, send_order_row

WEB = Path(web.__file__).parent
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+")
#: ``t("…")`` in a template, ``N_("…")`` / ``translate("…")`` / ``tr("…")`` in a page module,
#: ``say("…")`` in the page script: the texts shown to people.
TEMPLATE_CALL = re.compile(r"""\bt\(\s*(?:"([^"]*)"|'([^']*)')""")
PYTHON_CALL = re.compile(r"""\b(?:N_|translate|tr)\(\s*(?:"([^"]*)"|'([^']*)')""")
SCRIPT_CALL = re.compile(r"""\bsay\(\s*(?:"([^"]*)"|'([^']*)')""")


def _calls(pattern: re.Pattern, path: Path) -> set[str]:
    return {a or b for a, b in pattern.findall(path.read_text(encoding="utf-8"))}


def interface_texts() -> dict[str, str]:
    """Every text the console shows, with where it is used."""
    found: dict[str, str] = {}
    for path in sorted((WEB / "templates").glob("*.html")):
        for text in _calls(TEMPLATE_CALL, path):
            found.setdefault(text, f"templates/{path.name}")
    for path in sorted(WEB.glob("*.py")):
        for text in _calls(PYTHON_CALL, path):
            found.setdefault(text, path.name)
    for text in _calls(SCRIPT_CALL, WEB / "static" / "console.js"):
        found.setdefault(text, "static/console.js")
    tables = {f"labels.{name}": getattr(labels, name) for name in
              ("ROLES", "ORDER_KINDS", "ORDER_STATES", "DONE_BY_KIND", "CASE_EVENTS", "CASE_STATUS",
               "IDENTIFIER_KINDS", "REPORT_SOURCES", "SCAM_TYPE_LABELS")}
    tables.update({"screening.ENTRY_STATES": screening.ENTRY_STATES, "screening.APPEAL_STATES": screening.APPEAL_STATES,
                   "screening.KINDS": screening.KINDS, "money.RULE_LABELS": money.RULE_LABELS,
                   "web.TITLES": web.TITLES, "render.MENU": {m.key: m.title for m in MENU},
                   "render.SCRIPT_TEXTS": dict(enumerate(SCRIPT_TEXTS))})
    for where, table in tables.items():
        for text in table.values():
            found.setdefault(text, where)
    return found


# --- the table -----------------------------------------------------------------------

def test_every_interface_text_has_an_english_entry():
    texts = interface_texts()
    assert len(texts) > 300  # the walk found the console's texts (not an empty pattern)
    missing = {text: where for text, where in texts.items() if text not in i18n.EN}
    assert not missing, f"texts with no English in fanzha/web/i18n.py: {missing}"


def test_templates_show_no_chinese_outside_t():
    """Chinese written straight into a template would never be translated."""
    leaks = []
    for path in sorted((WEB / "templates").glob("*.html")):
        stripped = TEMPLATE_CALL.sub("t(", path.read_text(encoding="utf-8"))
        for n, line in enumerate(stripped.splitlines(), 1):
            if CJK.search(line):
                leaks.append(f"{path.name}:{n}: {line.strip()[:120]}")
    assert not leaks, "\n".join(leaks)


def test_english_keeps_the_placeholders_of_the_chinese():
    names = re.compile(r"\{(\w+)\}")
    for zh, en in i18n.EN.items():
        assert sorted(names.findall(zh)) == sorted(names.findall(en)), zh
        assert not CJK.search(en.replace("中文", "")), (zh, en)


def test_a_missing_translation_falls_back_to_the_chinese():
    assert i18n.translate("尚未翻译的文字", "en") == "尚未翻译的文字"
    assert i18n.translate("无权访问", "en") == "Access denied"
    assert i18n.translate("无权访问", "zh") == "无权访问"
    assert i18n.translate("第{n}层", "en", n=2) == "Layer 2"
    assert i18n.translate("第{n}层", "zh", n=2) == "第2层"
    assert i18n.translate("cannot go from rejected to done", "en") == "cannot go from rejected to done"


# --- the pages -----------------------------------------------------------------------

#: (page, who opens it, a text of the page in English, the same in Chinese)
PAGES = [
    ("login", None, "Log in", "登录"),
    ("cases", "analyst", "Emergencies only", "只看紧急"),
    ("case", "analyst", "Timeline", "时间线"),
    ("report", "officer", "File and open case", "登记并立案"),
    ("query", "analyst", "One-stop query / stop-payment / freeze", "一站式查询 / 止付 / 冻结"),
    ("inbox", "liaison", "Recently answered", "最近办结"),
    ("board", "analyst", "Emergency stop-payment cases", "紧急止付案件"),
    ("figures", "commander", "Money stopped", "止付金额"),
    ("stats", "commander", "By scam type", "按诈骗类型"),
    ("users", "admin", "New user", "新增用户"),
    ("audit", "admin", "Actor", "操作人"),
    ("intercept", "analyst", "Appeals to decide", "待裁决申诉"),
]

#: What people typed or the records hold, shown as it is in either language.
DATA = ["厦门市公安局", "思明分局", "湖里分局", "中华派出所", "湖里派出所", "中国工商银行", "支付宝", "张警官", "李行长",
        "王某", "工商银行答复", EMERGENCY_BASIS]


@pytest.fixture
def world(console):
    """A case with orders (one answered), a traced ledger and a page address per main page."""
    case_no, trace_id = traced_case(console)
    order_id = send_order_row(console, case_no)
    console["liaison"].post(f"/console/orders/{order_id}/answer", {"state": "done", "held": "50000.00"})
    send_order_row(console, file_case(console, caller="13900000009"))
    paths = {"login": "/console/login", "cases": "/console/cases",
             "case": f"/console/cases/{case_no}?trace={trace_id}&restitution=traced",
             "report": "/console/report", "query": f"/console/query?case_no={case_no}", "inbox": "/console/inbox",
             "board": "/console/board", "figures": "/console/figures", "stats": "/console/stats",
             "users": "/console/users", "audit": "/console/audit", "intercept": "/console/intercept"}
    return console, paths


def _client(console, who):
    return console.anonymous(Accept="text/html") if who is None else console[who].client


def leftover_chinese(html: str) -> list[str]:
    """Chinese on an English page once what people typed (report texts, names, data) is set aside."""
    html = re.sub(r"<textarea.*?</textarea>|<p class=\"text\">.*?</p>|<td class=\"summary\">.*?</td>"
                  r"|<span class=\"detail\">.*?</span>|<td class=\"detail\">.*?</td>", "", html, flags=re.DOTALL)
    for text in DATA:
        html = html.replace(text, "")
    html = html.replace(">中文</a>", "")  # the switch names Chinese in Chinese
    return CJK.findall(html)


@pytest.mark.parametrize("name,who,english,chinese", PAGES, ids=[p[0] for p in PAGES])
def test_each_main_page_is_chinese_by_default_and_english_with_the_cookie(world, name, who, english, chinese):
    console, paths = world
    client = _client(console, who)
    r = client.get(paths[name])
    assert r.status_code == 200, r.text
    assert '<html lang="zh-CN">' in r.text and chinese in r.text and english not in r.text
    assert 'class="lang-switch"' in r.text and ">English</a>" in r.text
    client.cookies.set(i18n.COOKIE, "en")
    r = client.get(paths[name])
    assert r.status_code == 200
    assert '<html lang="en">' in r.text and english in r.text and chinese not in r.text
    assert ">中文</a>" in r.text
    if who is not None:
        assert "Log out" in r.text and "退出" not in r.text
    left = leftover_chinese(r.text)
    assert not left, f"untranslated on the English {name} page: {left}"


def test_the_switch_sets_the_cookie_and_returns_to_the_same_page(console):
    b = console["analyst"]
    page = b.get("/console/cases?emergency=1").text
    href = re.search(r'class="lang-switch" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert href == "/console/lang?to=en&next=%2Fconsole%2Fcases%3Femergency%3D1"
    r = b.get(href)
    assert r.status_code == 303 and r.headers["location"] == "/console/cases?emergency=1"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("lang=en;") and "Path=/" in cookie
    page = b.get(r.headers["location"]).text
    assert '<html lang="en">' in page and "All cases" in page
    back = re.search(r'class="lang-switch" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert back.startswith("/console/lang?to=zh&")
    r = b.get(back)
    assert r.headers["location"] == "/console/cases?emergency=1"
    assert "全部案件" in b.get("/console/cases?emergency=1").text


def test_the_switch_works_before_logging_in_and_only_returns_to_the_console(console):
    client = console.anonymous(Accept="text/html")
    page = client.get("/console/login?next=/console/stats").text
    href = re.search(r'class="lang-switch" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    r = client.get(href)
    assert r.status_code == 303 and r.headers["location"] == "/console/login?next=/console/stats"
    assert "Username" in client.get(r.headers["location"]).text
    for bad in ("https://evil.example/", "//evil.example/", "/auth/me"):
        r = client.get("/console/lang", params={"to": "en", "next": bad})
        assert r.headers["location"] == "/console", bad
    r = client.get("/console/lang", params={"to": "fr", "next": "/console/login"})
    assert r.status_code == 303 and "set-cookie" not in r.headers
    client.cookies.set(i18n.COOKIE, "fr")  # an unknown language: Chinese
    assert '<html lang="zh-CN">' in client.get("/console/login").text


def test_a_form_page_answering_a_post_switches_back_to_the_form(console):
    b = console["analyst"]
    r = b.post("/console/orders", {"case_no": "FZ19990101000001", "kind": "freeze", "institution": "ICBC",
                                   "target": ICBC_CARD, "legal_basis": "x"},
               headers={"Referer": "http://testserver/console/query"})
    assert r.status_code == 404 and "没有案件 FZ19990101000001" in r.text
    assert "next=%2Fconsole%2Fquery" in r.text
    b.client.cookies.set(i18n.COOKIE, "en")
    r = b.post("/console/orders", {"case_no": "FZ19990101000001", "kind": "freeze", "institution": "ICBC",
                                   "target": ICBC_CARD, "legal_basis": "x"})
    assert "No case FZ19990101000001" in r.text and 'next=%2Fconsole"' in r.text


def test_messages_and_error_pages_follow_the_language(console):
    client = console.anonymous(Accept="text/html")
    client.cookies.set(i18n.COOKIE, "en")
    r = client.post("/console/login", data={"username": "analyst", "password": "nope nope nope"})
    assert r.status_code == 401 and "Wrong username or password" in r.text and "用户名或密码错误" not in r.text
    huli = file_case(console, "officer_huli")
    b = console["officer"]
    b.client.cookies.set(i18n.COOKIE, "en")
    r = b.get(f"/console/cases/{huli}")
    assert r.status_code == 403 and "Access denied" in r.text and '<html lang="en">' in r.text
    order_id = send_order_row(console, file_case(console))
    liaison = console["liaison"]
    liaison.client.cookies.set(i18n.COOKIE, "en")
    r = liaison.post(f"/console/orders/{order_id}/answer", {"state": "rejected", "note": " "})
    assert "A refusal needs a reason" in liaison.get(r.headers["location"]).text


def test_live_parts_and_the_preview_follow_the_language(console):
    case_no = file_case(console)
    a = console["analyst"]
    a.client.cookies.set(i18n.COOKIE, "en")
    part = a.get(f"/console/cases/{case_no}/live").json()["html"]
    assert "Pending" in part and "Emergency stop-payment" in part and "待发送" not in part
    board = a.get("/console/board/live").json()["html"]
    assert "Latest reports" in board and "最新警情" not in board
    officer = console["officer"]
    r = officer.client.post("/console/report/preview", data={"text": f"转账到{ICBC_CARD}共3万元"},
                            headers={"X-CSRF-Token": officer.csrf, "Accept": "application/json"})
    assert {"kind": "bank_card", "label": "银行卡", "value": ICBC_CARD} in r.json()["identifiers"]
    officer.client.cookies.set(i18n.COOKIE, "en")
    r = officer.client.post("/console/report/preview", data={"text": f"转账到{ICBC_CARD}共3万元"},
                            headers={"X-CSRF-Token": officer.csrf, "Accept": "application/json"})
    assert {"kind": "bank_card", "label": "Bank card", "value": ICBC_CARD} in r.json()["identifiers"]


def _script_texts(page: str) -> dict[str, str]:
    block = re.search(r'<script type="application/json" id="console-texts">(.*?)</script>', page, re.DOTALL)
    return json.loads(block.group(1))


def test_the_page_script_gets_its_words_in_the_page_language(console):
    a = console["analyst"]
    zh = _script_texts(a.get("/console/board").text)
    assert set(zh) == set(SCRIPT_TEXTS) and zh["{m}分{s}秒"] == "{m}分{s}秒"
    a.client.cookies.set(i18n.COOKIE, "en")
    en = _script_texts(a.get("/console/board").text)
    assert en["{m}分{s}秒"] == "{m}m{s}s" and en["{h}小时{m}分"] == "{h}h{m}m"


def test_logging_in_keeps_the_language(console):
    client = console.anonymous(Accept="text/html")
    client.cookies.set(i18n.COOKIE, "en")
    r = client.post("/console/login", data={"username": "commander", "password": PASSWORD})
    assert r.status_code == 303
    page = client.get(r.headers["location"]).text
    assert "Performance" in page and '<html lang="en">' in page
