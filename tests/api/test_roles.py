"""The role matrix: every role against every endpoint — allowed, or 403."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute

from fanzha.roles import MATRIX, Role, allowed

#: Endpoints anyone may call (logging in, liveness, the API description). The console's
#: login page and the bare address (a redirect to the console) are public too.
PUBLIC = {("POST", "/auth/login"), ("GET", "/health"),
          ("GET", "/console/login"), ("POST", "/console/login"), ("GET", "/")}
#: Endpoints any authenticated caller may call: who am I, the console's start page
#: (a redirect to the role's own page) and logging out.
ANY_CALLER = {("GET", "/auth/me"), ("GET", "/console"), ("POST", "/console/logout")}


def _permission_of(route: APIRoute):
    """The permission a route demands, read from its ``require(...)`` dependency."""
    found = []
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        perm = getattr(dep.call, "permission", None)
        if perm is not None:
            found.append(perm)
        stack.extend(dep.dependencies)
    assert len(found) <= 1, f"{route.path} demands several permissions: {found}"
    return found[0] if found else None


def _routes(app):
    for route in app.routes:
        if isinstance(route, APIRoute):
            for method in sorted(route.methods):
                yield method, route


def test_every_endpoint_is_authenticated_and_role_checked(api):
    for method, route in _routes(api.client.app):
        key = (method, route.path)
        if key in PUBLIC or key in ANY_CALLER:
            continue
        assert _permission_of(route) is not None, f"{method} {route.path} has no role check"


def test_every_endpoint_refuses_anonymous_callers(api):
    for method, route in _routes(api.client.app):
        if (method, route.path) in PUBLIC:
            continue
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        r = api.client.request(method, path, json={} if method == "POST" else None)
        assert r.status_code == 401, f"{method} {path} answered {r.status_code} without credentials"


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_role_matrix(api, role):
    """Each role gets 403 exactly where the matrix withholds the permission."""
    for method, route in _routes(api.client.app):
        perm = _permission_of(route)
        if perm is None:
            continue
        path = re.sub(r"\{[^}]+\}", "999999", route.path)
        body = [] if route.path == "/reports" else {}
        r = api.client.request(method, path, headers=api.as_(role), json=body if method == "POST" else None)
        if allowed(role, perm):
            assert r.status_code not in (401, 403), f"{role.value} refused {method} {path}: {r.text}"
        else:
            assert r.status_code == 403, f"{role.value} not refused {method} {path}: {r.status_code}"


def test_matrix_covers_every_role():
    assert set(MATRIX) == set(Role)


def test_bad_credentials(api):
    assert api.client.get("/cases", headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    assert api.client.get("/cases", headers={"X-API-Key": "fz_nope_nope"}).status_code == 401
    r = api.client.post("/auth/login", json={"username": "analyst", "password": "wrong password"})
    assert r.status_code == 401


def test_openapi_is_served(api):
    r = api.client.get("/openapi.json")
    assert r.status_code == 200
    assert "/orders" in r.json()["paths"]
