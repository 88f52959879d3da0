"""The console over a fresh database of each kind, with a logged-in browser per role.

Each :class:`Browser` is a TestClient with its own cookie jar, logged in through the
console's own login form, so the tests exercise the cookie and CSRF path exactly as a
browser does. ``Accept: text/html`` is sent like a browser's navigation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from fanzha.api.app import create_app
from fanzha.settings import Settings
from fanzha.store.db import transaction
from fanzha.store.users import create_user

from city import make_reference

PASSWORD = "correct horse battery"
HTML = {"Accept": "text/html,application/xhtml+xml"}

#: (username, role, unit, institution): one login per role, plus a second officer and liaison.
PEOPLE = [
    ("analyst", "analyst", None, None),
    ("officer", "station_officer", "350203-01", None),
    ("officer_huli", "station_officer", "350206-01", None),
    ("liaison", "liaison", None, "ICBC"),
    ("liaison_alipay", "liaison", None, "ALIPAY"),
    ("dissuader", "dissuasion", None, None),
    ("commander", "commander", None, None),
    ("admin", "admin", None, None),
]

#: A Luhn-valid card of an ICBC BIN (622202): intake sends its orders to ICBC.
ICBC_CARD = "6222021001115555556"


def make_city(session) -> None:
    """A bureau, two districts with a station each, a bank and a payment company."""
    make_reference(session)
    for username, role, unit, inst in PEOPLE:
        create_user(session, username=username, password=PASSWORD, role=role, unit_code=unit,
                    institution_code=inst, display_name={"officer": "张警官", "liaison": "李行长"}.get(username, ""))


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf-token" content="([0-9a-f]*)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


class Browser:
    """One person's browser: a cookie jar and the page's CSRF token."""

    def __init__(self, app, username: str):
        self.username = username
        self.client = TestClient(app, headers=HTML, follow_redirects=False)
        r = self.client.post("/console/login", data={"username": username, "password": PASSWORD})
        assert r.status_code == 303, r.text
        self.landing = r.headers["location"]
        self.csrf = csrf_of(self.client.get("/console", follow_redirects=True).text)

    def get(self, path: str, **kw):
        return self.client.get(path, **kw)

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kw):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.csrf)
        return self.client.post(path, data=data, **kw)


@dataclass
class Console:
    app: object
    sessions: object
    browsers: dict[str, Browser]

    def __getitem__(self, username: str) -> Browser:
        if username not in self.browsers:
            self.browsers[username] = Browser(self.app, username)
        return self.browsers[username]

    def anonymous(self, **headers) -> TestClient:
        return TestClient(self.app, headers=headers, follow_redirects=False)


@pytest.fixture
def console(migrated_url, tmp_path) -> Console:
    settings = Settings(database_url=migrated_url, secret_key="test-secret-not-for-use-" + "x" * 16,
                        data_dir=tmp_path)
    app = create_app(settings)
    with transaction(app.state.sessions) as s:
        make_city(s)
    yield Console(app, app.state.sessions, {})
    app.state.engine.dispose()


def recent_report(text_extra: str = "", minutes_ago: int = 20, **fields) -> dict[str, str]:
    """A report form as an officer fills it: money paid a few minutes ago to an ICBC card."""
    paid = datetime.now(timezone(timedelta(hours=8))) - timedelta(minutes=minutes_ago)
    form = {
        "text": f"受害人称接到冒充客服电话，按对方要求于今天向银行卡{ICBC_CARD}转账5万元。{text_extra}",
        "paid_at": paid.strftime("%Y-%m-%dT%H:%M"),
        "caller": "13912345678",
        "victim_name": "王某",
    }
    form.update(fields)
    return form
