"""An API over a fresh database of each kind, with one caller of every role."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from fanzha.api.app import create_app
from fanzha.roles import Role
from fanzha.settings import Settings
from fanzha.store.db import transaction
from fanzha.store.users import create_client, create_user

from city import make_reference

PASSWORD = "correct horse battery"


@dataclass
class Api:
    client: TestClient
    headers: dict[Role, dict[str, str]]
    sessions: object

    def as_(self, role: Role | str) -> dict[str, str]:
        return self.headers[Role(role)]

    def login(self, username: str) -> dict[str, str]:
        return login(self.client, username)


@pytest.fixture
def api(migrated_url, tmp_path) -> Api:
    settings = Settings(database_url=migrated_url, secret_key="test-secret-not-for-use-" + "x" * 16, data_dir=tmp_path)
    app = create_app(settings)
    keys: dict[Role, str] = {}
    with transaction(app.state.sessions) as s:
        make_reference(s)
        for role in (Role.analyst, Role.dissuasion, Role.commander, Role.admin):
            create_user(s, username=role.value, password=PASSWORD, role=role.value)
        create_user(s, username="station_officer", password=PASSWORD, role="station_officer",
                    unit_code="350203-01")
        create_user(s, username="officer_huli", password=PASSWORD, role="station_officer", unit_code="350206-01")
        create_user(s, username="liaison", password=PASSWORD, role="liaison", institution_code="ICBC")
        create_user(s, username="liaison_alipay", password=PASSWORD, role="liaison", institution_code="ALIPAY")
        keys[Role.platform] = create_client(s, name="110", role="platform")[1]
        keys[Role.institution] = create_client(s, name="icbc-api", role="institution", institution_code="ICBC")[1]
        keys[Role.carrier] = create_client(s, name="carrier", role="carrier")[1]
    client = TestClient(app)
    headers: dict[Role, dict[str, str]] = {}
    for role in Role:
        if role in keys:
            headers[role] = {"X-API-Key": keys[role]}
        else:
            r = client.post("/auth/login", json={"username": role.value, "password": PASSWORD})
            assert r.status_code == 200, r.text
            headers[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    yield Api(client, headers, app.state.sessions)
    app.state.engine.dispose()


def login(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}
