"""kill -9 a dispatcher process mid-run, restart it: nothing lost, nothing doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

from sqlalchemy import func, select

from fanzha.gateway.simulator import Faults
from fanzha.store.models import Order

from gwkit import A, B, C, START, ManualClock, orders, queue, seed  # noqa: E402


def _dispatcher(url: str, keys_file, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "fanzha.gateway.cli", "dispatch", "--database-url", url,
                             "--keys", str(keys_file), "--timeout", "2", "--lease", "1.5", "--max-in-flight", "4",
                             "--backoff-base", "0.05", "--backoff-cap", "0.2", *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_kill_9_mid_run_then_restart_sends_each_order_once(migrated_url, sessions, keys, make_sim, tmp_path):
    keys_file = keys.save(tmp_path / "keys.json")
    # 25–125 ms an answer; some 500s after acting, so resends meet stored answers too
    h = make_sim(Faults(latency_s=(1, 5), error_rate=0.1), clock=ManualClock(START, speed=40), seed=7)
    case = seed(sessions, h)
    n = 90
    for i in range(n):
        code, acct = [("ICBC", A), ("ALIPAY", B), ("CMB", C)][i % 3]
        queue(sessions, case, "stop_payment", code, acct, 100 + i)

    def done() -> int:
        with sessions() as s:
            return s.execute(select(func.count()).select_from(Order).where(Order.state == "done")).scalar_one()

    first = _dispatcher(migrated_url, keys_file)
    deadline = time.monotonic() + 30
    while done() < n // 4:
        assert first.poll() is None, first.stderr.read().decode()
        assert time.monotonic() < deadline, "the first dispatcher made no progress"
        time.sleep(0.02)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    killed_at = done()
    assert killed_at < n, "killed too late to test anything"
    in_flight = sum(h.sim.stats[c].requests for c in h.sim.stats) - sum(h.sim.effects.values())

    second = _dispatcher(migrated_url, keys_file, "--until-settled", "--deadline", "40", "--format", "json")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err.decode()

    final = orders(sessions)
    assert [o.state for o in final] == ["done"] * n                       # nothing lost
    assert len(h.sim.world.holds) == n                                    # nothing doubled…
    assert set(h.sim.holds_by_request().values()) == {1}
    assert set(h.sim.effects.values()) == {1}                             # …as far as the banks can tell
    for o in final:                                                       # and the record says it once
        assert Counter(e.to_state for e in o.events) == Counter({"pending": 1, "sent": 1, "done": 1}), o.events
    assert killed_at >= n // 4 and in_flight >= 0
