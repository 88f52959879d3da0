"""No form of the console is the server's fault: every POST route under ``/console``,
its fields filled with generated values (empty, huge numbers, dates that are not,
a NUL, text of any kind, the values the form expects), by people of several roles
with their login's CSRF token, at a case on file and at none, is answered below 500
on either database."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fanzha.web import pages

from .conftest import recent_report

USERS = ("analyst", "officer", "liaison", "admin")
EXAMPLES = 10

TRICKY = ["", " ", "0", "-1", "1.005", "99999999999999999999", "9223372036854775808", "1e309", "NaN",
          "2024-05-01T10:00", "2024-13-45T99:99", "2024-05-01T10:00:00+08:00", "\x00", "中\x00文", "ICBC", "ALIPAY",
          "fifo", "pro-rata", "stop_payment", "freeze", "done", "rejected", "accepted", "link", "not_linked",
          "upheld", "overturned", "analyst", "station_officer", "350203-01", "6222021001115555556", "5万元",
          "/console/cases", "https://example.com/", "<script>alert(1)</script>", "' OR 1=1 --"]
VALUE = st.one_of(st.sampled_from(TRICKY), st.text(max_size=40))
FILE = st.one_of(st.binary(max_size=200), st.sampled_from([
    b"", b"\xff\xfe\x00", b"from,to,amount,at\n", b"from,to,amount,at\nA,B,-5,2024-05-01T10:00:00+08:00\n",
    "账户,对方,金额\n".encode("gb18030")]))


def _post_routes():
    def walk(routes):
        for r in routes:
            if hasattr(r, "dependant") and "POST" in r.methods:
                yield r
            inner = getattr(r, "router", None)
            yield from walk(getattr(r, "routes", None) or getattr(inner, "routes", None) or [])
    return [r for r in walk(pages.router.routes) if not r.path.endswith(("/login", "/logout"))]


def test_no_console_form_is_answered_with_a_server_error(console):
    officer = console["officer"]
    made = officer.post("/console/report", recent_report())
    assert made.status_code == 303, made.text
    case_no = made.headers["location"].split("?", 1)[0].rsplit("/", 1)[-1]
    assert case_no.startswith("FZ"), made.headers["location"]
    routes = _post_routes()
    assert len(routes) >= 10
    failures: list[tuple] = []
    for route in routes:
        fields = [(p.name, type(p.field_info).__name__ == "File") for p in route.dependant.body_params]
        ids = [p.name for p in route.dependant.path_params]

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(st.fixed_dictionaries({name: (FILE if is_file else VALUE) for name, is_file in fields}),
               st.fixed_dictionaries({name: (st.sampled_from([case_no, "FZ20000101000001", "x"]) if name == "case_no"
                                             else st.sampled_from(["1", "2", "0", "99999999999999999999"]))
                                      for name in ids}))
        def post(values, params) -> None:
            path = route.path.format(**params)
            data = {k: v for k, v in values.items() if isinstance(v, str)}
            files = {k: (f"{k}.csv", v, "text/csv") for k, v in values.items() if isinstance(v, bytes)}
            for user in USERS:
                r = console[user].post(path, data, files=files or None)
                if r.status_code >= 500:
                    failures.append((user, path, data, list(files), r.status_code, r.text[:200]))

        post()
    assert not failures, failures[:5]


def test_a_nul_character_in_a_form_is_refused_alike_on_either_database(console):
    """A NUL in a form's field (an order's legal basis, a link's note) is a 422 naming the
    field on SQLite as on PostgreSQL, and nothing is written."""
    from sqlalchemy import func, select

    from fanzha.store.models import Order

    officer, analyst = console["officer"], console["analyst"]
    case_no = officer.post("/console/report", recent_report()).headers["location"].split("?")[0].rsplit("/", 1)[-1]
    with console.sessions() as s:
        before = s.execute(select(func.count()).select_from(Order)).scalar_one()
    r = analyst.post("/console/orders", {"case_no": case_no, "kind": "account_holder", "institution": "ICBC",
                                         "target": "6222021001115555556", "legal_basis": "第十八条\x00"})
    assert r.status_code == 422 and "legal_basis" in r.text and "NUL" in r.text
    r = officer.post("/console/report", recent_report(address="中华街道\x00某小区"))
    assert r.status_code == 422 and "address" in r.text
    with console.sessions() as s:
        assert s.execute(select(func.count()).select_from(Order)).scalar_one() == before
