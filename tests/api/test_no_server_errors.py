"""No request is the server's fault: every operation of the API's OpenAPI document,
called with requests generated from it (schemathesis) — well-formed and not, by callers
of several roles, aimed at an unknown case and at a case on file — is answered below
500, on either database."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from fanzha.roles import Role

from .test_cases_orders import REPORT

ROLES = (Role.analyst, Role.admin, Role.liaison, Role.platform)
EXAMPLES = 12


def test_no_request_is_answered_with_a_server_error(api):
    case_no = api.client.post("/cases", json=REPORT, headers=api.as_(Role.analyst)).json()["case_no"]
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    failures: list[tuple] = []
    operations = 0
    for found in schema.get_all_operations():
        op = found.ok()
        operations += 1

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(op.as_strategy())
        def call(case) -> None:
            aims = [dict(case.path_parameters or {})]
            if "case_no" in aims[0]:
                aims.append({**aims[0], "case_no": case_no})
            for params in aims:
                case.path_parameters = params
                for role in ROLES:
                    r = case.call(headers=api.as_(role))
                    if r.status_code >= 500:
                        failures.append((op.method.upper(), op.path, role.value, params, case.query, case.body,
                                         r.status_code, r.text[:200]))

        call()
    assert operations > 40   # the document lists the API's operations
    assert not failures, failures[:5]
