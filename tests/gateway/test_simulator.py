"""The simulated institutions: ledgers moving in simulated time, holds that stop them,
idempotency keys honoured, signatures checked."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fanzha.gateway import protocol as p
from fanzha.gateway.signing import Keyring, signed_headers, verify
from fanzha.gateway.simulator import Faults, World
from fanzha.money import parse_yuan

from gwkit import A, B, C, D, START, ManualClock  # noqa: E402


def post(h, keys, code, kind, *, target, amount=None, request_id="req-0000001", case_no="FZ1", key=None):
    url = h.inst_url(code) + p.path_for(kind)
    body = p.request_body(kind=kind, request_id=request_id, case_no=case_no, legal_basis="law", target=target,
                          amount=amount, sent_at=datetime.now(timezone.utc), callback_url=None)
    path = httpx.URL(url).path
    r = httpx.post(url, content=body, headers=signed_headers(key or keys.get(code), code, "POST", path, body))
    if r.status_code == 200:
        assert verify(keys, r.headers, "ANSWER", path, r.content) == code  # answers are signed too
    return r


def test_world_replays_and_holds_block_the_fraudsters(world_dir):
    w = World.from_dir(world_dir)
    assert w.accounts[A].balance_fen == 0 and w.accounts[D].balance_fen == 10_000
    w.advance(START + timedelta(seconds=30))                      # T1: the victim's 50,000 arrive at A
    assert w.accounts[A].balance_fen == 5_000_000
    h = w.hold(A, 2_500_000, case_no="FZ1", request_id="r1", at=START)
    assert h.held_fen == 2_500_000
    w.advance(START + timedelta(seconds=300))
    # T2 wanted 30,000 out of A: only the 25,000 not held moved; T3 and T6 found nothing free
    assert w.accounts[A].balance_fen == 2_500_000 and w.accounts[A].held_fen == 2_500_000
    assert w.accounts[B].balance_fen == 2_500_000 - 2_000_000
    assert sum(b for _, b in w.blocked) == 500_000 + 1_000_000 + 1_000_000
    assert [r.amount for r in w.rows_of(A)] == ["50000.00", "25000.00"]
    # an unfreeze gives back only this case's holds
    assert w.release(A, 9_999_999, case_no="FZ2") == 0
    assert w.release(A, 1_000_000, case_no="FZ1") == 1_000_000 and w.accounts[A].held_fen == 1_500_000


def test_without_holds_the_ledger_replays_untouched(world_dir):
    w = World.from_dir(world_dir)
    w.advance(START + timedelta(days=1))
    assert not w.blocked and len(w.executed) == len(w.rows)
    assert w.accounts[C].balance_fen == 0


def test_same_key_same_answer_one_hold(keys, make_sim):
    clock = ManualClock(START + timedelta(seconds=30))
    h = make_sim(clock=clock)
    first = post(h, keys, "ICBC", "stop_payment", target=A, amount="20000.00")
    clock.t += timedelta(seconds=100)
    again = post(h, keys, "ICBC", "stop_payment", target=A, amount="20000.00")
    assert first.status_code == again.status_code == 200
    assert json.loads(first.content) == json.loads(again.content)
    assert h.sim.holds_by_request() == {"req-0000001": 1}
    assert json.loads(first.content)["result"]["held"] == "20000.00"
    conflict = post(h, keys, "ICBC", "stop_payment", target=A, amount="1.00")
    assert conflict.status_code == 409 and "different request" in conflict.text


def test_queries_answer_from_the_moving_ledger(keys, make_sim):
    clock = ManualClock(START + timedelta(seconds=30))
    h = make_sim(clock=clock)
    r = post(h, keys, "ICBC", "transaction_details", target=A, request_id="q-00000001")
    res = p.TransactionsResult.model_validate(json.loads(r.content)["result"])
    assert [row.txn_id for row in res.rows] == ["T1"] and res.balance == "50000.00"
    clock.t = START + timedelta(seconds=100)
    r = post(h, keys, "ICBC", "transaction_details", target=A, request_id="q-00000002")
    res = p.TransactionsResult.model_validate(json.loads(r.content)["result"])
    assert [row.txn_id for row in res.rows] == ["T1", "T2", "T3"]
    assert parse_yuan(res.balance) == 1_000_000
    r = post(h, keys, "ALIPAY", "account_holder", target=A, request_id="q-00000003")  # not ALIPAY's
    assert json.loads(r.content)["status"] == "rejected"


@pytest.mark.parametrize("bad", ["wrong key", "stale"])
def test_bad_signatures_get_401_and_no_effect(keys, make_sim, bad):
    h = make_sim()
    url = h.inst_url("ICBC") + p.path_for("freeze")
    body = p.request_body(kind="freeze", request_id="req-0000009", case_no="FZ1", legal_basis="law", target=A,
                          amount="1.00", sent_at=datetime.now(timezone.utc), callback_url=None)
    if bad == "wrong key":
        headers = signed_headers(Keyring.generate(["ICBC"]).get("ICBC"), "ICBC", "POST", httpx.URL(url).path, body)
    else:
        headers = signed_headers(keys.get("ICBC"), "ICBC", "POST", httpx.URL(url).path, body,
                                 now=datetime.now(timezone.utc).timestamp() - 3600)
    r = httpx.post(url, content=body, headers=headers)
    assert r.status_code == 401 and "signature refused" in r.text
    assert h.sim.stats["ICBC"].bad_signature == 1 and not h.sim.world.holds


def test_outage_answers_503_and_acts_not(keys, make_sim):
    h = make_sim(by={"CMB": Faults(outages=[(0, 60)])})
    r = post(h, keys, "CMB", "stop_payment", target=C, amount="1.00")
    assert r.status_code == 503 and not h.sim.world.holds


def test_holder_answers_carry_the_id_number_and_phone_when_the_bank_has_them(keys, make_sim, world_dir):
    accounts = world_dir / "accounts.csv"
    lines = accounts.read_text(encoding="utf-8").splitlines()
    out = [lines[0] + ",holder_id_number,holder_phone"]
    for line in lines[1:]:
        out.append(line + (",350203199001011234,+8613800000001" if line.startswith(A + ",") else ",,"))
    accounts.write_text("\n".join(out) + "\n", encoding="utf-8")
    h = make_sim(clock=ManualClock(START + timedelta(seconds=30)))
    res = p.HolderResult.model_validate(json.loads(post(h, keys, "ICBC", "account_holder", target=A).content)["result"])
    assert (res.id_number, res.phone) == ("350203199001011234", "+8613800000001")
    other = json.loads(post(h, keys, "ALIPAY", "account_holder", target=B, request_id="q-00000009").content)
    assert "id_number" not in other["result"]          # the bank's file has none for this holder


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                     lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=12), kids, max_size=4),
                     max_leaves=8)
_FIELDS = st.fixed_dictionaries({}, optional={k: _JSON for k in ("request_id", "case_no", "legal_basis", "target",
                                                                  "amount", "sent_at", "callback_url", "kind")})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.sampled_from([b"", b"{not json", b"[1,", b"\xff\xfe", b"\x80", b'{"request_id": 5, "amount": []}']),
                      st.binary(max_size=24), _JSON.map(lambda v: json.dumps(v).encode()),
                      _FIELDS.map(lambda v: json.dumps(v).encode())))
def test_a_malformed_request_gets_the_same_refusal_as_from_the_protocols_own_routes(keys, body):
    """The simulator serves requests on a fast path; a body it cannot read is refused
    exactly as the declared route (FastAPI's validation) refuses it, whatever the bytes."""
    from starlette.testclient import TestClient

    from fanzha.gateway.simulator import build_app

    path = "/institutions/ICBC" + p.path_for("freeze")
    headers = signed_headers(keys.get("ICBC"), "ICBC", "POST", path, body)
    headers["content-type"] = "application/json"
    fast = TestClient(build_app(_sim(keys))).post(path, content=body, headers=headers)
    plain = build_app(_sim(keys))
    plain.user_middleware.clear()  # the declared route alone
    declared = TestClient(plain).post(path, content=body, headers=headers)
    assert fast.status_code == declared.status_code
    if declared.status_code in (400, 422):
        assert fast.json() == declared.json()


def _sim(keys):
    from fanzha.gateway.simulator import Simulator

    return Simulator(World([], {}), keys, institutions=["ICBC"], faults=Faults(latency_s=(0, 0)))
