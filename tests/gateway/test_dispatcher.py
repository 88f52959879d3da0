"""The dispatcher against simulated institutions over loopback HTTP, on both databases."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from sqlalchemy import select

from fanzha.gateway.dispatcher import DispatchConfig, Dispatcher
from fanzha.gateway.signing import Keyring
from fanzha.gateway.simulator import Faults
from fanzha.store.models import GatewayCallback, Institution, Order, OrderAttempt

from gwkit import A, B, C, CODES, dispatch, orders, queue, seed  # noqa: E402


def _attempts(sessions) -> list[OrderAttempt]:
    with sessions() as s:
        return s.execute(select(OrderAttempt).order_by(OrderAttempt.id)).scalars().all()


def test_every_kind_is_answered_at_once(sessions, keys, make_sim):
    h = make_sim()
    case = seed(sessions, h)
    queue(sessions, case, "account_holder", "ICBC", A)
    queue(sessions, case, "transaction_details", "ICBC", A)
    queue(sessions, case, "stop_payment", "ALIPAY", B, 3_000_000)
    queue(sessions, case, "freeze", "CMB", C, 1_000_000)
    queue(sessions, case, "number_owner", "CMCC", "+8613912345678")
    queue(sessions, case, "number_shutdown", "CMCC", "+8613912345678")
    queue(sessions, case, "url_takedown", "CMCC", "http://phish.example.cn/")
    queue(sessions, case, "stop_payment", "ICBC", "6222020000009999999", 100)  # no such account
    d = dispatch(sessions, keys)
    got = {(o.kind, o.target): o for o in orders(sessions)}
    assert {o.state for o in got.values()} == {"done", "rejected"}
    assert got[("stop_payment", "6222020000009999999")].state == "rejected"
    assert "no account" in got[("stop_payment", "6222020000009999999")].answer["reason"]
    holder = got[("account_holder", A)].answer["result"]
    assert holder["holder"] == "甲" and holder["balance"] == "50000.00"
    rows = got[("transaction_details", A)].answer["result"]["rows"]
    assert [r["txn_id"] for r in rows] == ["T1"] and rows[0]["amount"] == "50000.00"
    assert got[("stop_payment", B)].answer["result"]["held"] == "0.00"  # nothing there yet at 09:00:30
    # every order: queued → sent → done, the sent event at the moment the request left
    for o in got.values():
        assert [e.to_state for e in o.events][:2] == ["pending", "sent"]
    assert d.counters.answered == 8 and d.counters.retried == 0
    assert all(a.outcome == "answered" for a in _attempts(sessions))
    assert sum(h.sim.effects.values()) == 8


def test_liaison_inbox_orders_are_marked_sent(sessions, keys, make_sim):
    h = make_sim()
    case = seed(sessions, h, inbox=("XMRCB",))
    queue(sessions, case, "stop_payment", "XMRCB", "6230000000000001", 500)
    dispatch(sessions, keys)
    (o,) = orders(sessions)
    assert o.state == "sent"
    assert "liaison inbox" in o.events[-1].note
    assert h.sim.stats == {}


def test_retries_backoff_and_no_double_effect_under_faults(sessions, keys, make_sim):
    h = make_sim(Faults(latency_s=(1, 5), error_rate=0.3, malformed_rate=0.2, timeout_rate=0.1, hang_s=0.5), seed=3)
    case = seed(sessions, h)
    ids = [queue(sessions, case, "stop_payment", code, acct, 1000 + i)
           for i, (code, acct) in enumerate([("ICBC", A), ("ALIPAY", B), ("CMB", C)] * 10)]
    d = dispatch(sessions, keys, timeout_s=0.25, breaker_failures=50)
    final = orders(sessions)
    assert [o.state for o in final] == ["done"] * len(ids)
    assert max(h.sim.holds_by_request().values()) == 1 and len(h.sim.world.holds) == len(ids)
    outcomes = Counter(a.outcome for a in _attempts(sessions))
    assert outcomes["answered"] == len(ids)
    assert outcomes["server_error"] and outcomes["malformed"] and outcomes["timeout"]
    for a in _attempts(sessions):
        assert a.detail  # every attempt says how it went
    assert d.counters.retried == sum(v for k, v in outcomes.items() if k != "answered")


def test_circuit_breaker_keeps_orders_queued_during_an_outage(sessions, keys, make_sim):
    icbc_faults = Faults(latency_s=(1, 2), outages=[(0, 1e9)])   # down until the test says otherwise
    h = make_sim(by={"ICBC": icbc_faults})
    case = seed(sessions, h)
    for i in range(6):
        queue(sessions, case, "account_holder", "ICBC", A, round_no=i)
    queue(sessions, case, "account_holder", "ALIPAY", B)

    def settled(now: list[Order]) -> bool:
        return (all("circuit open" in (o.last_error or "") for o in now if o.institution.code == "ICBC")
                and all(o.state == "done" for o in now if o.institution.code == "ALIPAY"))

    async def run():
        d = Dispatcher(sessions, keys, DispatchConfig(timeout_s=1, lease_s=5, backoff_base_s=0.02, backoff_cap_s=0.1,
                                                      breaker_failures=2, breaker_reset_s=0.3, idle_s=0.01, seed=1))
        stop = asyncio.Event()
        t0 = time.monotonic()
        task = asyncio.create_task(d.run(stop))
        mid: list[Order] = []
        while time.monotonic() < t0 + 60:   # until the outage is on record, however slow the machine
            await asyncio.sleep(0.05)
            mid = orders(sessions)
            if settled(mid):
                break
        stop.set()
        await task
        return d, mid, time.monotonic() - t0

    d, mid, elapsed = asyncio.run(run())
    icbc = [o for o in mid if o.institution.code == "ICBC"]
    assert all(o.state == "pending" for o in icbc)                     # queued, not failed
    assert all("circuit open" in (o.last_error or "") for o in icbc)   # and each says why
    assert [o.state for o in mid if o.institution.code == "ALIPAY"] == ["done"]  # others unaffected
    sent = Counter(a.outcome for a in _attempts(sessions))
    # the first burst (6 in flight), then one half-open trial per 0.3 s at most — not a
    # retry of every order every ~0.1 s
    assert sent["server_error"] <= 6 + int(elapsed / 0.3) + 1
    icbc_faults.outages = []                                           # the institution is back
    dispatch(sessions, keys, breaker_failures=2, breaker_reset_s=0.3)
    assert all(o.state == "done" for o in orders(sessions))


def test_callbacks_duplicates_and_late_ones_apply_once(sessions, keys, make_sim, centre):
    h = make_sim(Faults(latency_s=(1, 3), callback_rate=1.0, duplicate_callback_rate=1.0,
                        late_callback_rate=0.5, late_callback_s=(200, 400)))
    case = seed(sessions, h)
    for i, (code, acct) in enumerate([("ICBC", A), ("ALIPAY", B), ("CMB", C), ("ICBC", A)]):
        queue(sessions, case, "stop_payment", code, acct, 100 + i)
    dispatch(sessions, keys, callback_url=centre.url + "/gateway/callbacks", answer_poll_s=5)
    final = orders(sessions)
    assert [o.state for o in final] == ["done"] * 4
    for o in final:
        # the callback may overtake the dispatcher recording the synchronous "accepted";
        # then there is no acknowledged step (the SLA clock counts the answer instead)
        steps = [e.to_state for e in o.events]
        assert steps in (["pending", "sent", "acknowledged", "done"], ["pending", "sent", "done"]), steps
        assert o.answer["via"] == "callback"
    with sessions() as s:
        cbs = s.execute(select(GatewayCallback)).scalars().all()
    # wait for the duplicates still in flight
    assert Counter(c.outcome for c in cbs)["applied"] == 4
    assert max(h.sim.holds_by_request().values()) == 1


def test_lost_callbacks_are_recovered_by_asking_again(sessions, keys, make_sim):
    """Callbacks to nowhere: the dispatcher resends (same key) and gets the answer."""
    h = make_sim(Faults(latency_s=(1, 2), callback_rate=1.0))
    case = seed(sessions, h)
    queue(sessions, case, "freeze", "CMB", C, 500)
    d = dispatch(sessions, keys, callback_url="http://127.0.0.1:9/gateway/callbacks", answer_poll_s=0.2)
    (o,) = orders(sessions)
    assert o.state == "done" and o.answer["via"] == "poll"
    assert h.sim.holds_by_request() == {o.idempotency_key: 1}
    assert d.counters.answered >= 2


def test_wrong_key_is_refused_and_recorded_never_acted_on(sessions, keys, make_sim):
    h = make_sim()
    case = seed(sessions, h)
    queue(sessions, case, "stop_payment", "ICBC", A, 500)
    wrong = Keyring.generate(CODES)
    dispatch(sessions, wrong, deadline_s=3.0)
    (o,) = orders(sessions)
    assert o.state == "pending"  # queued, not dropped
    assert "unauthorised" in o.last_error and "signature" in o.last_error
    assert h.sim.stats["ICBC"].bad_signature >= 1 and not h.sim.world.holds
    dispatch(sessions, keys)
    assert orders(sessions)[0].state == "done" and len(h.sim.world.holds) == 1


def test_two_dispatchers_never_send_an_order_twice(sessions, keys, make_sim):
    h = make_sim(Faults(latency_s=(5, 20)))
    case = seed(sessions, h)
    n = 40
    for i in range(n):
        queue(sessions, case, "account_holder", CODES[i % 3], [A, B, C][i % 3], round_no=i)

    async def both():
        cfg = DispatchConfig(timeout_s=2, lease_s=10, idle_s=0.005, max_in_flight=4, batch=8)
        d1, d2 = Dispatcher(sessions, keys, cfg, name="d1"), Dispatcher(sessions, keys, cfg, name="d2")
        await asyncio.gather(d1.run(until_settled=True, deadline_s=20), d2.run(until_settled=True, deadline_s=20))
        return d1, d2

    d1, d2 = asyncio.run(both())
    assert all(o.state == "done" for o in orders(sessions))
    assert d1.counters.answered + d2.counters.answered == n
    assert d1.counters.answered and d2.counters.answered
    assert sum(h.sim.stats[c].requests for c in h.sim.stats) == n   # not one request twice


def test_sla_clocks_from_a_real_run(sessions, keys, make_sim):
    from datetime import datetime, timezone

    from fanzha.gateway import sla

    h = make_sim()
    case = seed(sessions, h)
    queue(sessions, case, "transaction_details", "ICBC", A)
    queue(sessions, case, "stop_payment", "ALIPAY", B, 500)
    dispatch(sessions, keys)
    with sessions() as s:
        clock = sla.load_case(s, case, datetime.now(timezone.utc))
        stats = sla.load_institution_stats(s)
    assert clock.case.sent <= clock.case.acknowledged <= clock.case.hold_confirmed
    assert clock.by_institution["ALIPAY"].hold_confirmed == clock.case.hold_confirmed
    assert [a.state for a in clock.alarms] == ["met", "met"]
    assert stats["ICBC"].answered == 1 and stats["ICBC"].error_rate == 0
    assert 0 <= stats["ALIPAY"].latency_ms_median < 1000


def test_claims_wait_while_answers_wait_to_be_written(keys):
    """The database thread writes answers before it claims: with answers waiting, no
    claim until ``claim_gap_s`` has passed — or at once when written answers left
    orders to the outbox."""
    d = Dispatcher(None, keys, DispatchConfig(claim_gap_s=1.0))
    now = time.monotonic()
    assert d._claim_now(now)                      # nothing waiting: claim
    d._backlog = 3
    assert not d._claim_now(now)                  # answers waiting, claimed just now
    assert d._claim_now(now - 1.5)                # …but not for longer than the gap
    d._recorded = asyncio.Event()
    d._recorded.set()                             # answers written left orders to claim
    assert d._claim_now(now)


def test_a_run_gives_back_the_collectors_freeze_as_it_found_it(sessions, keys, make_sim):
    """A dispatcher freezes what is alive at its start for the garbage collector and
    unfreezes it when the run ends; a process that froze objects of its own keeps them."""
    import gc

    h = make_sim()
    case = seed(sessions, h)
    queue(sessions, case, "account_holder", "ICBC", A)
    gc.unfreeze()
    d = dispatch(sessions, keys)
    assert d.counters.answered == 1 and d._frozen
    assert gc.get_freeze_count() == 0
    queue(sessions, case, "transaction_details", "ICBC", A)
    gc.freeze()
    try:
        d = dispatch(sessions, keys)
        assert d.counters.answered == 1 and not d._frozen
        assert gc.get_freeze_count() > 0   # (unfrozen, it would be none)
    finally:
        gc.unfreeze()


def test_a_run_loads_no_certificates_as_its_first_requests_leave(sessions, keys, make_sim, monkeypatch):
    """TLS is verified with the CA bundle aiohttp loaded at import: the start of a run,
    when a backlog of orders leaves at once, does not load it again in the event loop."""
    import ssl

    def refused(*a, **k):
        raise AssertionError("a CA bundle loaded during the run")

    h = make_sim()
    case = seed(sessions, h)
    queue(sessions, case, "account_holder", "ICBC", A)
    queue(sessions, case, "stop_payment", "ALIPAY", B, 3_000_000)
    monkeypatch.setattr(ssl, "create_default_context", refused)
    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", refused)
    d = dispatch(sessions, keys)
    assert d.counters.answered == 2


def test_an_error_page_with_nul_bytes_is_recorded_on_both_databases(sessions, keys):
    """An institution's error page is kept in the order's record as it came, a NUL
    (which PostgreSQL's text cannot hold) as U+FFFD: the attempt and the retry are
    recorded, not the transaction recording them refused."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Broken(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = b"upstream\x00failed"
            self.send_response(500)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        case = seed(sessions, None)
        with sessions.begin() as s:
            icbc = s.execute(select(Institution).where(Institution.code == "ICBC")).scalar_one()
            icbc.api_url = f"http://127.0.0.1:{server.server_address[1]}/institutions/ICBC"
        queue(sessions, case, "account_holder", "ICBC", A)
        d = dispatch(sessions, keys, deadline_s=1.5)
    finally:
        server.shutdown()
    [order] = orders(sessions)
    assert order.state == "pending" and order.attempts >= 1
    assert "upstream\ufffdfailed" in order.last_error
    attempts = _attempts(sessions)
    assert attempts and all(a.outcome == "server_error" and "upstream\ufffdfailed" in a.detail for a in attempts)
    assert d.counters.retried == len(attempts)
