"""A write is answered only after it is committed.

The request's transaction is committed before the response leaves. If the commit fails,
the caller gets a 500 and nothing is kept, never a 201 for a case the database does not
have; and a page a 303 redirects to always reads what the POST wrote.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from fanzha.roles import Role
from fanzha.store.models import Case

from .test_cases_orders import REPORT


def _cases(api) -> int:
    with api.sessions() as s:
        return s.execute(select(func.count(Case.id))).scalar_one()


def test_a_failed_commit_is_not_answered_as_success(api):
    app = api.client.app
    make = app.state.sessions
    failing = {"on": False}

    def sessions():
        session = make()

        @event.listens_for(session, "before_commit")
        def refuse(_session):
            if failing["on"]:
                raise RuntimeError("the disk is full")
        return session

    app.state.sessions = sessions
    client = TestClient(app, raise_server_exceptions=False)
    before = _cases(api)
    failing["on"] = True
    r = client.post("/cases", json=REPORT, headers=api.as_(Role.analyst))
    failing["on"] = False
    assert r.status_code == 500, (r.status_code, r.text)
    assert _cases(api) == before
    # the same request with a working database opens the case
    r = client.post("/cases", json=REPORT, headers=api.as_(Role.analyst))
    assert r.status_code in (200, 201), r.text
    assert _cases(api) == before + 1
