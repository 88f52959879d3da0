"""Gateway benchmark: the dispatcher's own overhead against the bound set by institutions.

An order cannot be answered faster than its institution takes to answer. With N
concurrent cases — each a transaction-details query and a stop-payment at one of the
simulated institutions, answering in 1–5 s of institution time (scaled down by the
clock's speed so the run takes seconds) — this measures, per order:

* ``bound``: the institution's own latency for it (what the simulator slept);
* ``took``: from the moment the order was in the outbox (or the dispatcher started, for
  the orders queued before it) to its answer being received;
* ``overhead = took − bound``: claiming, signing, HTTP on loopback, queueing.

Reported: median and p95 overhead in ms, the ratio Σ took / Σ bound (1.00 = no
overhead; the target is ≤ 1.10), the makespan against the slowest single answer, and
throughput, and the dispatcher process's CPU per order (its own cost, whatever the
simulator's). Runs at several N to show how the overhead grows with the load. All N
cases start at the same instant — the worst case; the simulator serves every
institution from one Python process, so at large N part of the "overhead" is the
simulated institutions' own HTTP handling queueing for the CPU.

Usage::

    python benchmarks/bench_gateway.py                       # every race; N = 50, 200, 400 cases
    python benchmarks/bench_gateway.py --cases 200 --speed 10 --database-url postgresql://…

``--mode loop`` runs the race instead: N reports at once, each a victim's payment swept
down a three-layer mule chain across three institutions before the report; the
automatic loop (:mod:`fanzha.gateway.loop`) chases it. Reported: the share of stolen
money held, time to first and last hold per case against the bound (the chain of
institution latencies the loop had to wait for), and their ratio. ``--repeat R`` runs
each N R times, in rounds over the Ns (so a drift in the machine's speed touches each
alike), and reports the median run with the range of the ratio. Institution time is
not accelerated (``--speed 1``); the world is synthetic (see ``--mode day`` for a day of ``fanzha sim``).
The race is run two ways (``--arrive-over S …``, default ``0 2``): with S = 0 the N
reports are all queued before the dispatcher starts — one burst of N first requests at
the same instant, the worst case; with S > 0 they arrive one after another over S
seconds into the running dispatcher — with S well under a chain's ~10 s the N cases
are still in flight together — and each case's times run from its own start.
Where the difference goes, per step of a chain (``steps``, median and p95 in ms): an
answer received → the loop's next order written; that order written → sent; the HTTP
round trip beyond the institution's own latency (the simulator's share included); and
the dispatcher's start → the first orders sent; and (``critical_path``) the same summed
along each case's chain behind its last hold — its overhead, taken apart. Wall times depend on what else the
machine runs, so CPU time per order is reported too — the dispatcher's, its database
thread's share (and of that, recording answers and taking the loop's steps on them,
apart from claiming, which polls as often whatever the load), and the simulator's —
with the load average before and after.

``--mode day`` runs the race over a day of a ``fanzha sim`` world's reports (those
with a payment within ``--recent-hours``): each report is filed as intake files an
emergency (the receiving accounts queried and stopped at once for what was paid there)
when the simulated clock reaches its receipt; the world's institutions answer in 1–5 s
of simulated time while its fraudsters keep moving and cashing out what is not held:
from the receipt of a gang's first report, every mule account of the gang sweeps the
gang's unheld money on to its next layer every 2–8 simulated minutes, and the last
layer withdraws it in cash (at most 50,000 yuan a time, 1–5 minutes apart) — a schedule
drawn from ``--seed`` alone, the same for every way of handling the day
(:class:`fanzha.gateway.simulator.Sweeps`; ``--no-sweeps`` replays the ledger as it is).
Simulated time runs ``--speed`` times the wall clock and skips ahead to the next report
whenever nothing is in flight. The same day is then handled "by hand"
(``--officer-round`` minutes between rounds, the first ``--hand-first-round`` minutes
after the report; ``--hand-speed``, as the officer's waits dominate). Reported, per
case and overall, in simulated seconds from the report: money held, time to first and
last hold and their bound (institution latency along the chain of answers that led to
the hold), and the money the automatic loop saves over by hand. Alone it writes ``gateway_day.json``.

``--mode both`` runs the orders and loop races, ``--mode all`` (the default, as ``make
bench`` runs it) every one. Writes ``benchmarks/out/gateway.json`` (or ``--out
DIR/gateway.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from fanzha.money import parse_yuan

OUT = Path(__file__).resolve().parent / "out" / "gateway.json"
START = datetime(2024, 4, 29, 9, 0, tzinfo=timezone(timedelta(hours=8)))


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[max(0, min(len(s) - 1, -(-len(s) * q // 100) - 1))] if s else float("nan")


def _world(n_cases: int, institutions: int):
    """Accounts enough for every case, 100,000 yuan each, spread over the institutions."""
    from fanzha.gateway.simulator import AccountState, World

    codes = [f"B{i:03d}" for i in range(institutions)]
    accounts = {f"62{c[1:]}{k:012d}": AccountState(f"62{c[1:]}{k:012d}", c, "某", 10_000_000)
                for c in codes for k in range(n_cases // institutions + 1)}
    return codes, World([], accounts)


def serve_sim(n_cases: int, institutions: int, speed: float, seed: int, keys_file: str, port_file: str,
              mode: str = "orders") -> None:
    """The simulated institutions in their own process (as real ones would be)."""
    from fanzha.gateway.signing import Keyring
    from fanzha.gateway.simulator import Faults, ServerThread, SimClock, Simulator, build_app

    codes, world = (_chain_world if mode == "loop" else _world)(n_cases, institutions)
    sim = Simulator(world, Keyring.load(keys_file, env={}), institutions=codes, clock=SimClock(START, speed),
                    faults=Faults(latency_s=(1, 5)), seed=seed)
    server = ServerThread(build_app(sim)).start()
    Path(port_file).write_text(str(server.port))
    while True:
        time.sleep(3600)


def _point_at_sim(session, codes: list[str], base: str) -> dict:
    """The institutions (made if missing), each sent to its simulator at ``base``."""
    from fanzha.gateway.simulator import institution_url
    from fanzha.store.models import Institution

    insts = {}
    for c in codes:
        inst = session.execute(select(Institution).where(Institution.code == c)).scalar_one_or_none()
        if inst is None:
            inst = Institution(code=c, name=c, kind="bank")
            session.add(inst)
        inst.api_url, inst.max_in_flight = institution_url(base, c), 64
        insts[c] = inst
    session.flush()
    return insts


def _wait_for_sim(proc: subprocess.Popen, port_file: Path) -> str:
    """The simulator subprocess's base URL, once it has written its port."""
    deadline = time.monotonic() + 60
    while not port_file.exists() or not port_file.read_text():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("the simulator did not start")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port_file.read_text()}"


def run_once(n_cases: int, *, institutions: int, speed: float, database_url: str | None, seed: int) -> dict:
    import httpx

    from fanzha.gateway.dispatcher import DispatchConfig, Dispatcher
    from fanzha.gateway.signing import Keyring
    from fanzha.store import db, services
    from fanzha.store.models import Case, Order, OrderEvent, Report

    rng = random.Random(seed)
    tmp = Path(tempfile.mkdtemp(prefix="fanzha-bench-gw-"))
    url = database_url or f"sqlite:///{tmp}/bench.db"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    codes, world = _world(n_cases, institutions)
    accounts = world.accounts
    keys = Keyring.generate(codes)
    keys.save(tmp / "keys.json")
    proc = subprocess.Popen([sys.executable, __file__, "--serve-sim", str(n_cases), str(institutions), str(speed),
                             str(seed), str(tmp / "keys.json"), str(tmp / "port")])
    tag = f"{n_cases}-{seed}-{int(time.time() * 1000) % 10**8}"
    try:
        base = _wait_for_sim(proc, tmp / "port")
        with db.transaction(sessions) as s:
            insts = _point_at_sim(s, codes, base)
            accts = sorted(accounts)
            rng.shuffle(accts)
            for i in range(n_cases):
                case = Case(case_no=f"BG{tag}-{i:05d}"[:32], opened_at=datetime.now(timezone.utc), emergency=True)
                s.add(case)
                s.flush()
                s.add(Report(source="110", received_at=datetime.now(timezone.utc), case_id=case.id))
                acct = accts[i]
                inst = insts[accounts[acct].institution]
                for kind, amount in (("transaction_details", None), ("stop_payment", 500_000)):
                    services.create_order(s, case=case, kind=kind, institution=inst, target=acct,
                                          legal_basis="反电信网络诈骗法 第二十条", created_by="bench", amount_fen=amount)
        d = Dispatcher(sessions, keys, DispatchConfig(timeout_s=30, batch=2000, max_in_flight=64))
        t0, t0_utc, cpu0 = time.perf_counter(), datetime.now(timezone.utc), time.process_time()
        asyncio.run(d.run(until_settled=True, deadline_s=600))
        makespan, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        seen = httpx.get(base + "/sim/requests", timeout=30).json()
        with sessions() as s:
            rows = s.execute(select(Order.idempotency_key, Order.created_at, Order.state)
                             .where(Order.created_by == "bench", Order.case_id.in_(
                                 select(Case.id).where(Case.case_no.like(f"BG{tag}%"))))).all()
            done_at = dict(s.execute(select(Order.idempotency_key, OrderEvent.at).join(OrderEvent)
                                     .where(OrderEvent.to_state == "done", Order.idempotency_key.in_(
                                         [r[0] for r in rows]))).all())
        took, bound, over = [], [], []
        for key, created, state in rows:
            assert state == "done", (key, state)
            # from when the dispatcher could first see it (queued earlier: when it started)
            t, b = (done_at[key] - max(created, t0_utc)).total_seconds(), seen["latency_s"][key]
            took.append(t)
            bound.append(b)
            over.append((t - b) * 1000)
        assert set(seen["holds"].values()) == {1} and len(seen["holds"]) == n_cases   # each hold once
        assert set(seen["effects"].values()) == {1}
    finally:
        proc.kill()
        proc.wait()
        engine.dispose()
    orders = len(rows)
    return {"cases": n_cases, "orders": orders, "institutions": institutions, "speed": speed,
            "database": url.split(":", 1)[0],
            "latency_ms_median": round(statistics.median(bound) * 1000, 1),
            "overhead_ms_median": round(statistics.median(over), 1), "overhead_ms_p95": round(_pct(over, 95), 1),
            "ratio_took_to_bound": round(sum(took) / sum(bound), 3),
            "makespan_s": round(makespan, 3), "slowest_answer_s": round(max(bound), 3),
            "ratio_makespan_to_slowest": round(makespan / max(bound), 3),
            "orders_per_s": round(orders / makespan, 1),
            "dispatcher_cpu_ms_per_order": round(cpu * 1000 / orders, 2)}


# --- the race: the automatic loop chasing money down mule chains ------------------------

#: Per case: the victim's payment and two sweeps, minutes before the report (yuan).
CHAIN = (("P", 100_000_00), ("S1", 80_000_00), ("S2", 50_000_00))


def _chain(i: int, codes: list[str]) -> list[tuple[str, str]]:
    """Case ``i``'s accounts: the victim's, then layers 1–3, each at another institution."""
    k = len(codes)
    return [(f"6217{i:012d}", "CCB")] + [(f"62{l}{codes[(i + l - 1) % k][1:]}{i:010d}", codes[(i + l - 1) % k])
                                       for l in (1, 2, 3)]


def _chain_world(n_cases: int, institutions: int):
    """Every case a victim paying layer 1, swept on to layers 2 and 3 before the report:
    20,000 left at layer 1, 30,000 at layer 2, 50,000 at layer 3."""
    from fanzha.gateway.simulator import AccountState, Row, World

    codes = [f"B{i:03d}" for i in range(institutions)]
    accounts, rows = {}, []
    for i in range(n_cases):
        chain = _chain(i, codes)
        for acct, inst in chain:
            accounts[acct] = AccountState(acct, inst, "某", 0)
        for step, ((txn, fen), (frm, fi), (to, ti)) in enumerate(zip(CHAIN, chain, chain[1:])):
            rows.append(Row(f"{txn}-{i:05d}", START - timedelta(minutes=10 - 2 * step), frm, to, fen,
                            {"from_institution": fi, "to_institution": ti, "channel": "online_banking",
                             "currency": "CNY", "memo": ""}))
    return codes, World(rows, accounts)


def run_loop(n_cases: int, *, institutions: int, speed: float, database_url: str | None, seed: int,
             profile: str | None = None, arrive_over_s: float = 0.0) -> dict:
    """N reports at once, each started by the loop; the dispatcher runs until settled.

    With ``arrive_over_s`` the reports arrive one after another, evenly over that many
    seconds, into the running dispatcher (each case's loop started in its own
    transaction, as intake starts it); each case's times run from its own start.

    Per case the bound is the longest chain of institution latencies the loop must wait
    for: query layer 1 → (query layer 2 → (stop-payment at layer 3)), from the
    simulator's own latencies and each order's ``after`` (the answer that decided it).
    """
    import httpx

    from fanzha.gateway import loop
    from fanzha.gateway.dispatcher import DispatchConfig, Dispatcher
    from fanzha.gateway.signing import Keyring
    from fanzha.store import db
    from fanzha.store.models import Case, Order, OrderAttempt, OrderEvent, Report, Victim

    tmp = Path(tempfile.mkdtemp(prefix="fanzha-bench-loop-"))
    url = database_url or f"sqlite:///{tmp}/bench.db"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    codes = [f"B{i:03d}" for i in range(institutions)]
    keys = Keyring.generate(codes)
    keys.save(tmp / "keys.json")
    proc = subprocess.Popen([sys.executable, __file__, "--serve-sim", str(n_cases), str(institutions), str(speed),
                             str(seed), str(tmp / "keys.json"), str(tmp / "port"), "loop"])
    tag = f"L{n_cases}-{int(time.time() * 1000) % 10**8}"
    try:
        base = _wait_for_sim(proc, tmp / "port")
        with db.transaction(sessions) as s:
            _point_at_sim(s, codes, base)
            cases = []
            for i in range(n_cases):
                chain = _chain(i, codes)
                case = Case(case_no=f"{tag}-{i:05d}"[:32], opened_at=datetime.now(timezone.utc), emergency=True,
                            loss_fen=CHAIN[0][1])
                s.add(case)
                s.add(Report(source="110", received_at=datetime.now(timezone.utc), case=case))
                s.add(Victim(case=case, account=chain[0][0], loss_fen=CHAIN[0][1]))
                s.flush()
                if not arrive_over_s:
                    loop.start(s, case, [(chain[1][0], chain[1][1], None)])
                cases.append(case.id)
        d = Dispatcher(sessions, keys, DispatchConfig(timeout_s=30, batch=2000, max_in_flight=64, answer_poll_s=5))
        began: dict[int, datetime] = {}

        def start_case(i: int) -> None:
            began[cases[i]] = datetime.now(timezone.utc)
            chain = _chain(i, codes)
            with db.transaction(sessions) as s:
                loop.start(s, s.get(Case, cases[i]), [(chain[1][0], chain[1][1], None)])

        async def race() -> None:
            if not arrive_over_s:
                await d.run(until_settled=True, deadline_s=600)
                return
            stop = asyncio.Event()
            running = asyncio.create_task(d.run(stop, deadline_s=600))
            feeder = concurrent.futures.ThreadPoolExecutor(1)
            ev = asyncio.get_running_loop()
            t_first = time.perf_counter()
            for i in range(n_cases):
                await asyncio.sleep(max(0.0, t_first + i * arrive_over_s / n_cases - time.perf_counter()))
                await ev.run_in_executor(feeder, start_case, i)
            while await ev.run_in_executor(feeder, d.unsettled):
                await asyncio.sleep(0.2)
            stop.set()
            await running
            feeder.shutdown()
        loop.warm_up()   # as a dispatcher running before the reports came has (see run_day)
        prof = None
        if profile:
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
        sim_cpu0, load0 = _cpu_of(proc.pid), os.getloadavg()
        t0, t0_utc, cpu0 = time.perf_counter(), datetime.now(timezone.utc), time.process_time()
        asyncio.run(race())
        makespan, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        sim_cpu, load1 = _cpu_of(proc.pid) - sim_cpu0, os.getloadavg()
        if prof is not None:
            prof.disable()
            prof.dump_stats(profile)
        seen = httpx.get(base + "/sim/requests", timeout=30).json()
        summary = httpx.get(base + "/sim/summary", timeout=30).json()
        with sessions() as s:
            orders = s.execute(select(Order.case_id, Order.idempotency_key, Order.kind, Order.state, Order.request,
                                      Order.answer, Order.round_no).where(Order.case_id.in_(cases))).all()
            done_at = dict(s.execute(select(Order.idempotency_key, OrderEvent.at).join(OrderEvent)
                                     .where(OrderEvent.to_state == "done", Order.case_id.in_(cases))).all())
            answered = s.execute(select(Order.idempotency_key, Order.created_at, OrderAttempt.started_at,
                                        OrderAttempt.latency_ms).join(OrderAttempt)
                                 .where(Order.case_id.in_(cases), OrderAttempt.outcome == "answered")).all()
    finally:
        proc.kill()
        proc.wait()
        engine.dispose()
    lat = seen["latency_s"]
    after = {o.idempotency_key: (o.request.get("loop") or {}).get("after") for o in orders}

    def chain_bound(key: str | None) -> float:
        return _chain_bound(key, after, lat)

    by_case: dict[int, list] = {}
    for o in orders:
        by_case.setdefault(o.case_id, []).append(o)
    stolen = n_cases * CHAIN[0][1]
    first, last, bound_first, bound_last, overs = [], [], [], [], []
    held = 0
    layers_held: set[int] = set()
    for cid in cases:
        began.setdefault(cid, t0_utc)
    for cid, os_ in by_case.items():
        holds = [o for o in os_ if o.kind == "stop_payment"]
        assert all(o.state == "done" for o in os_), [(o.kind, o.state) for o in os_]
        times = [(done_at[o.idempotency_key] - began[cid]).total_seconds() for o in holds]
        bounds = [chain_bound(o.idempotency_key) for o in holds]
        for o in holds:
            fen = int(round(float(o.answer["result"]["held"]) * 100))
            held += fen
            if fen:
                layers_held.add(o.round_no)
        first.append(min(times))
        last.append(max(times))
        bound_first.append(min(bounds))
        bound_last.append(max(bounds))
        overs.append((max(times) - max(bounds)) * 1000)
    assert set(seen["effects"].values()) == {1}             # every request acted on once
    # Where the time between the bound and the holds goes, per step of a chain (ms, median):
    # the answer written and the loop's next order made; that order waiting to be sent;
    # the HTTP round trip beyond what the institution itself took (loopback, both ends).
    steps: dict[str, list[float]] = {"answer_to_order_ms": [], "order_to_sent_ms": [], "http_beyond_bound_ms": [],
                                   "start_to_sent_ms": []}
    case_of = {o.idempotency_key: o.case_id for o in orders}
    for key, created, started, latency_ms in answered:
        parent = after.get(key)
        if parent and parent in done_at:
            steps["answer_to_order_ms"].append((created - done_at[parent]).total_seconds() * 1000)
            steps["order_to_sent_ms"].append((started - created).total_seconds() * 1000)
        elif not parent:   # the case's first orders: from the dispatcher's start (or the case's)
            steps["start_to_sent_ms"].append((started - began[case_of[key]]).total_seconds() * 1000)
        if latency_ms is not None and key in lat:
            steps["http_beyond_bound_ms"].append(latency_ms - lat[key] * 1000)
    breakdown = _p50_p95(steps)
    # The same, along each case's critical path (the chain of answers behind its last
    # hold), summed per case: the case's overhead is start + http + answer→sent.
    timing = {key: (created, started, latency_ms) for key, created, started, latency_ms in answered}
    critical: dict[str, list[float]] = {"start_ms": [], "http_ms": [], "answer_to_sent_ms": []}
    for os_ in by_case.values():
        key = max((o for o in os_ if o.kind == "stop_payment"), key=lambda o: done_at[o.idempotency_key]).idempotency_key
        http = between = 0.0
        while after.get(key):
            parent = after[key]
            between += (timing[key][1] - done_at[parent]).total_seconds() * 1000
            http += timing[key][2] - lat[key] * 1000
            key = parent
        http += timing[key][2] - lat[key] * 1000
        critical["start_ms"].append((timing[key][1] - began[case_of[key]]).total_seconds() * 1000)
        critical["http_ms"].append(http)
        critical["answer_to_sent_ms"].append(between)
    path = _p50_p95(critical)
    return {"mode": "loop", "cases": n_cases, "arrive_over_s": arrive_over_s, "orders": len(orders), "institutions": institutions, "speed": speed,
            "database": url.split(":", 1)[0], "stolen": stolen / 100, "held": held / 100,
            "held_share": round(held / stolen, 4), "layers_held": sorted(layers_held),
            "first_hold_s_median": round(statistics.median(first), 3),
            "last_hold_s_median": round(statistics.median(last), 3),
            "bound_first_s_median": round(statistics.median(bound_first), 3),
            "bound_last_s_median": round(statistics.median(bound_last), 3),
            "ratio_last_hold_to_bound": round(sum(last) / sum(bound_last), 3),
            "ratio_first_hold_to_bound": round(sum(first) / sum(bound_first), 3),
            "overhead_ms_median": round(statistics.median(overs), 1), "overhead_ms_p95": round(_pct(overs, 95), 1),
            "makespan_s": round(makespan, 3), "dispatcher_cpu_ms_per_order": round(cpu * 1000 / len(orders), 2),
            # the dispatcher's database thread (recording answers, the loop's decisions,
            # claiming) apart from its event loop (HTTP, signing); the simulator's own CPU;
            # the machine's 1-minute load average before and after (wall times depend on it)
            "dispatcher_db_cpu_ms_per_order": round(d.counters.db_cpu_s * 1000 / len(orders), 2),
            # of which recording answers and the loop's steps on them: the per-answer
            # cost, apart from claiming (which runs as often whatever the load)
            "dispatcher_record_cpu_ms_per_order": round(d.counters.record_cpu_s * 1000 / len(orders), 2),
            "sim_cpu_ms_per_order": round(sim_cpu * 1000 / len(orders), 2),
            "load_average": [round(load0[0], 2), round(load1[0], 2)],
            "sim_held": summary["held"], "steps": breakdown, "critical_path": path,
            "dispatcher": {"attempts": d.counters.attempts, "handed_over": d.counters.handed_over,
                           **d.counters.by_outcome}}


def _p50_p95(samples: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    return {k: {"p50": round(statistics.median(v), 1), "p95": round(_pct(v, 95), 1)} for k, v in samples.items() if v}


def _cpu_of(pid: int) -> float:
    """CPU seconds a process has used so far (Linux; NaN elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def _chain_bound(key: str | None, after: dict[str, str | None], latency: dict[str, float]) -> float:
    """The institution latency along the chain of answers that led to order ``key``:
    its own, the answer that decided it, the answer that decided that one…"""
    total = 0.0
    while key:
        total += latency.get(key, 0.0)
        key = after.get(key)
    return total


# --- the race over a day of `fanzha sim` reports ---------------------------------------

def _day_world(directory: Path, transactions: int, seed: int) -> Path:
    """A one-day `fanzha sim` world in ``directory`` (made once, then reused)."""
    if not (directory / "reports.jsonl").is_file():
        from fanzha.sim.world import WorldParams, build
        from fanzha.sim.writer import write_world

        write_world(build(WorldParams(seed=seed, transactions=transactions)), directory)
    return directory


def _day_cases(world: Path, recent: timedelta) -> list[dict]:
    """The world's fraud reports (first report of each case) whose last payment is within
    ``recent`` of the report, each with what the report says: the victim's account,
    when and how much was paid to which receiving account at which institution."""
    import csv

    with open(world / "truth" / "reports.csv", newline="", encoding="utf-8") as fh:
        truth = {r["report_id"]: r for r in csv.DictReader(fh)}
    with open(world / "victims.csv", newline="", encoding="utf-8") as fh:
        txns = {r["txn_id"]: r["victim_id"] for r in csv.DictReader(fh)}
    payments: dict[str, list[dict]] = {}
    with open(world / "ledger.csv", newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["txn_id"] in txns:
                payments.setdefault(txns[r["txn_id"]], []).append(
                    {"txn_id": r["txn_id"], "at": datetime.fromisoformat(r["timestamp"]), "from": r["from_account"],
                     "to": r["to_account"], "to_institution": r["to_institution"],
                     "fen": parse_yuan(r["amount"])})
    out = []
    for line in (world / "reports.jsonl").read_text(encoding="utf-8").splitlines():
        rep = json.loads(line)
        t = truth.get(rep["report_id"]) or {}
        pays = payments.get(rep.get("victim_id") or "")
        if not pays or t.get("duplicate_of"):
            continue
        received = datetime.fromisoformat(rep["received_at"])
        paid_at = max(p["at"] for p in pays)
        if received - paid_at > recent:
            continue
        receiving: dict[tuple[str, str], int] = {}
        for p in pays:
            receiving[(p["to"], p["to_institution"])] = receiving.get((p["to"], p["to_institution"]), 0) + p["fen"]
        out.append({"report_id": rep["report_id"], "received_at": received, "paid_at": paid_at,
                    "victim_account": pays[0]["from"], "stolen_fen": sum(p["fen"] for p in pays),
                    "receiving": [(a, i, fen) for (a, i), fen in sorted(receiving.items())]})
    return sorted(out, key=lambda c: (c["received_at"], c["report_id"]))


def serve_day(world: str, speed: float, start: str, seed: int, keys_file: str, port_file: str,
              sweeps: bool = True) -> None:
    """The world's institutions, served by the simulator in their own process; with
    ``sweeps`` the gangs keep sweeping what is unheld from their first report on, on a
    schedule drawn from ``seed`` alone (the same in every run of the day)."""
    from fanzha.gateway.signing import Keyring
    from fanzha.gateway.simulator import Faults, ServerThread, SimClock, Simulator, Sweeps, World, build_app

    w = World.from_dir(world, sweeps=Sweeps(seed=seed) if sweeps else None)
    sim = Simulator(w, Keyring.load(keys_file, env={}), clock=SimClock(datetime.fromisoformat(start), speed),
                    faults=Faults(latency_s=(1, 5)), seed=seed)
    server = ServerThread(build_app(sim)).start()
    Path(port_file).write_text(str(server.port))
    while True:
        time.sleep(3600)


def _file_case(sessions, tag: str, n: int, c: dict, policy) -> int:
    """The report as intake files an emergency: the case, its report and victim, and the
    loop started on the receiving accounts (each stopped at once for what was paid there)."""
    from fanzha.gateway import loop
    from fanzha.store import db
    from fanzha.store.models import Case, Report, Victim

    with db.transaction(sessions) as s:
        case = Case(case_no=f"{tag}-{n:05d}"[:32], opened_at=datetime.now(timezone.utc), emergency=True,
                    loss_fen=c["stolen_fen"])
        s.add(case)
        s.add(Report(source="110", external_id=c["report_id"], received_at=c["received_at"], paid_at=c["paid_at"],
                     loss_fen=c["stolen_fen"], case=case))
        s.add(Victim(case=case, account=c["victim_account"], loss_fen=c["stolen_fen"]))
        s.flush()
        loop.start(s, case, c["receiving"], policy=policy)
        return case.id


def run_day(world: Path, cases: list[dict], *, speed: float, officer_round_min: float | None,
            database_url: str | None, seed: int, first_round_min: float = 0.0, idle_skip: bool = True,
            sweeps: bool = True) -> dict:
    """One way of handling a day of reports: the automatic loop (``officer_round_min``
    None) or by hand (next-layer orders wait for an officer round every that many
    simulated minutes, the first ``first_round_min`` after the report). Simulated time runs ``speed`` times the wall clock and skips
    ahead to the next report whenever nothing is in flight. Times are simulated seconds
    from the report's filing (at its receipt, or as soon after as the race lets the
    bench file it: ``filed_late_s``)."""
    import httpx

    from fanzha.gateway import loop as loop_mod
    from fanzha.gateway.dispatcher import DispatchConfig, Dispatcher
    from fanzha.gateway.loop import LoopPolicy
    from fanzha.gateway.signing import Keyring
    from fanzha.store import db
    from fanzha.store.models import Order

    tmp = Path(tempfile.mkdtemp(prefix="fanzha-bench-day-"))
    url = database_url or f"sqlite:///{tmp}/bench.db"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    codes = sorted({i["code"] for i in json.loads((world / "institutions.json").read_text(encoding="utf-8"))})
    keys = Keyring.generate(codes)
    keys.save(tmp / "keys.json")
    start = cases[0]["received_at"] - timedelta(seconds=1)
    proc = subprocess.Popen([sys.executable, __file__, "--serve-day", str(world), str(speed), start.isoformat(),
                             str(seed), str(tmp / "keys.json"), str(tmp / "port"), "sweeps" if sweeps else "no-sweeps"])
    # the officer's round is in simulated minutes; the loop waits on the wall clock
    policy = LoopPolicy(officer_round=timedelta(minutes=officer_round_min) / speed,
                        first_round_after=timedelta(minutes=first_round_min) / speed) if officer_round_min else None
    tag = f"D{'H' if officer_round_min else 'A'}{int(time.time() * 1000) % 10**8}"
    try:
        base = _wait_for_sim(proc, tmp / "port")
        with db.transaction(sessions) as s:
            _point_at_sim(s, codes, base)
        d = Dispatcher(sessions, keys, DispatchConfig(timeout_s=30, batch=2000, max_in_flight=64, answer_poll_s=5,
                                                      loop_policy=policy))
        loop_mod.warm_up()   # as a running dispatcher has: the tracer's first run loads its libraries

        async def race() -> tuple[dict[int, dict], float]:
            stop = asyncio.Event()
            runner = asyncio.create_task(d.run(stop))
            filed: dict[int, dict] = {}
            skipped = 0.0
            async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                async def sim_now() -> datetime:
                    return datetime.fromisoformat((await http.get("/sim/clock")).json()["now"])

                for n, c in enumerate(cases):
                    while (now := await sim_now()) < c["received_at"]:
                        if idle_skip and await asyncio.to_thread(d.unsettled) == 0:
                            r = await http.post("/sim/clock", json={"at": c["received_at"].isoformat()})
                            skipped += (c["received_at"] - now).total_seconds()
                            now = datetime.fromisoformat(r.json()["now"])
                            break
                        await asyncio.sleep(0.02)
                    cid = await asyncio.to_thread(_file_case, sessions, tag, n, c, policy)
                    filed[cid] = {**c, "filed_at": now}
                while await asyncio.to_thread(d.unsettled):
                    await asyncio.sleep(0.1)
            stop.set()
            await runner
            return filed, skipped

        t0 = time.perf_counter()
        filed, skipped = asyncio.run(race())
        wall = time.perf_counter() - t0
        seen = httpx.get(base + "/sim/requests", timeout=30).json()
        with sessions() as s:
            orders = s.execute(select(Order.case_id, Order.idempotency_key, Order.kind, Order.state, Order.request,
                                      Order.answer, Order.round_no).where(Order.case_id.in_(list(filed)))).all()
    finally:
        proc.kill()
        proc.wait()
        engine.dispose()
    lat = {k: v * speed for k, v in seen["latency_s"].items()}   # simulated seconds
    after = {o.idempotency_key: (o.request.get("loop") or {}).get("after") for o in orders}
    per_case = []
    for cid, c in filed.items():
        holds = [o for o in orders if o.case_id == cid and o.kind == "stop_payment" and o.state == "done"]
        held = [(parse_yuan(o.answer["result"]["held"], allow_zero=True), o) for o in holds]
        got = [(fen, o) for fen, o in held if fen > 0]
        times = [(datetime.fromisoformat(o.answer["answered_at"]) - c["filed_at"]).total_seconds()
                 for _, o in got]
        bounds = [_chain_bound(o.idempotency_key, after, lat) for _, o in got]
        per_case.append({"report": c["report_id"], "received_at": c["received_at"].isoformat(),
                         "stolen": c["stolen_fen"] / 100, "held": sum(f for f, _ in held) / 100,
                         "holds": len(got), "layers": max((o.round_no for _, o in got), default=0),
                         "queries": sum(1 for o in orders if o.case_id == cid and o.kind == "transaction_details"),
                         "first_hold_s": round(min(times), 1) if times else None,
                         "last_hold_s": round(max(times), 1) if times else None,
                         "bound_first_s": round(min(bounds), 1) if bounds else None,
                         "bound_last_s": round(max(bounds), 1) if bounds else None,
                         "filed_late_s": round((c["filed_at"] - c["received_at"]).total_seconds(), 1)})
    assert set(seen["effects"].values()) <= {1}, "a request acted on twice"
    stolen = sum(c["stolen"] for c in per_case)
    held = sum(c["held"] for c in per_case)
    timed = [c for c in per_case if c["last_hold_s"] is not None]
    return {"mode": "by_hand" if officer_round_min else "automatic", "officer_round_min": officer_round_min,
            "first_round_min": first_round_min if officer_round_min else None,
            "speed": speed, "cases": len(per_case), "stolen": round(stolen, 2), "held": round(held, 2),
            "held_share": round(held / stolen, 4) if stolen else None, "cases_with_holds": len(timed),
            "first_hold_s_median": statistics.median([c["first_hold_s"] for c in timed]) if timed else None,
            "last_hold_s_median": statistics.median([c["last_hold_s"] for c in timed]) if timed else None,
            "bound_first_s_median": statistics.median([c["bound_first_s"] for c in timed]) if timed else None,
            "bound_last_s_median": statistics.median([c["bound_last_s"] for c in timed]) if timed else None,
            "ratio_last_hold_to_bound": round(sum(c["last_hold_s"] for c in timed)
                                              / max(sum(c["bound_last_s"] for c in timed), 1e-9), 3) if timed else None,
            "wall_s": round(wall, 1), "skipped_sim_s": round(skipped), "orders": len(orders), "per_case": per_case}


def race_day(args) -> dict:
    """A day of `fanzha sim` reports, handled by the automatic loop and by hand."""
    world = _day_world(args.day_world or Path(tempfile.gettempdir()) / f"fanzha-day-{args.day_transactions}-{args.seed}",
                       args.day_transactions, args.seed)
    cases = _day_cases(world, timedelta(hours=args.recent_hours))
    if args.day_cases:
        cases = cases[:args.day_cases]
    if not cases:
        raise SystemExit(f"{world}: no report with a payment within {args.recent_hours} h")
    sweeps = not args.no_sweeps
    load0 = os.getloadavg()
    auto = run_day(world, cases, speed=args.speed, officer_round_min=None, database_url=args.database_url,
                   seed=args.seed, sweeps=sweeps)
    hands = [run_day(world, cases, speed=args.hand_speed, officer_round_min=args.officer_round,
                     first_round_min=first, database_url=args.database_url, seed=args.seed, sweeps=sweeps)
             for first in args.hand_first_round]
    return {"world": str(world), "reports": len(cases), "gangs_sweep": sweeps,
            "load_average": [round(load0[0], 2), round(os.getloadavg()[0], 2)], "automatic": auto, "by_hand": hands,
            "saved_over_by_hand": [round(auto["held"] - h["held"], 2) for h in hands]}


def _print_day(day: dict) -> None:
    def sec(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f}s"

    ways = [("automatic", day["automatic"])] + [(f"hand {h['officer_round_min']:g}m+{h['first_round_min']:g}m", h)
                                                for h in day["by_hand"]]
    print(f"\nday of {day['reports']} reports from {day['world']} (times: simulated seconds from the report; "
          f"gangs {'sweeping after their first report' if day.get('gangs_sweep') else 'replaying the ledger'}; "
          f"load average {day['load_average'][0]:.2f} → {day['load_average'][1]:.2f})")
    print(f"{'way':>16} {'speed':>6} {'stolen':>13} {'held':>13} {'share':>7} {'1st hold':>9} {'bound':>7} "
          f"{'last hold':>9} {'bound':>7} {'last/bound':>10} {'wall':>7}")
    for name, r in ways:
        print(f"{name:>16} {r['speed']:>6g} {r['stolen']:>13,.2f} {r['held']:>13,.2f} {r['held_share'] or 0:>7.1%} "
              f"{sec(r['first_hold_s_median']):>9} {sec(r['bound_first_s_median']):>7} "
              f"{sec(r['last_hold_s_median']):>9} {sec(r['bound_last_s_median']):>7} "
              f"{r['ratio_last_hold_to_bound'] or 0:>10.3f} {r['wall_s']:>6.1f}s")
    print(f"{'report':>8} {'stolen':>12}" + "".join(f" | {name:>16} held, 1st/last (bound)" for name, _ in ways))
    for i, c in enumerate(day["automatic"]["per_case"]):
        line = f"{c['report']:>8} {c['stolen']:>12,.2f}"
        for _, r in ways:
            x = r["per_case"][i]
            line += f" | {x['held']:>12,.2f} {sec(x['first_hold_s'])}/{sec(x['last_hold_s'])} " \
                    f"({sec(x['bound_first_s'])}/{sec(x['bound_last_s'])})"
        print(line)
    for (name, _), saved in zip(ways[1:], day["saved_over_by_hand"]):
        print(f"money the automatic loop saves over {name}: {saved:,.2f} yuan")


def _median_run(runs: list[dict]) -> dict:
    """The run of median last hold ÷ bound, with every run's ratio beside it."""
    ranked = sorted(runs, key=lambda r: r["ratio_last_hold_to_bound"])
    return {**ranked[len(ranked) // 2], "ratio_last_hold_to_bound_runs": [r["ratio_last_hold_to_bound"] for r in runs]}


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve-sim"]:
        n, inst, speed, seed, keys_file, port_file = argv[1:7]
        serve_sim(int(n), int(inst), float(speed), int(seed), keys_file, port_file, *argv[7:8])
    if argv[:1] == ["--serve-day"]:
        world, speed, start, seed, keys_file, port_file = argv[1:7]
        serve_day(world, float(speed), start, int(seed), keys_file, port_file, argv[7:8] != ["no-sweeps"])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, nargs="*", default=[50, 200, 400])
    ap.add_argument("--institutions", type=int, default=20)
    ap.add_argument("--speed", type=float, default=1.0,
                    help="institution seconds per wall second (1: real 1–5 s answers)")
    ap.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--world", default=None, help=argparse.SUPPRESS)  # accepted from `make bench`, unused
    ap.add_argument("--mode", choices=("orders", "loop", "both", "day", "all"),
                    default="all",
                    help="orders: each case two independent orders; loop: the automatic loop down 3-layer chains; "
                         "both: orders and loop; day: a day of `fanzha sim` reports, automatic and by hand; "
                         "all (the default): every one")
    ap.add_argument("--day-world", type=Path, default=None, help="day: a `fanzha sim world` directory "
                    "(default: one made with --day-transactions in the temporary directory)")
    ap.add_argument("--day-transactions", type=int, default=20_000, help="day: size of the world made")
    ap.add_argument("--day-cases", type=int, default=None, help="day: only the first this many reports")
    ap.add_argument("--recent-hours", type=float, default=24.0,
                    help="day: reports whose last payment is at most this old (the emergencies)")
    ap.add_argument("--officer-round", type=float, default=10.0, help="day, by hand: minutes between rounds")
    ap.add_argument("--hand-first-round", type=float, nargs="*", default=[0.0, 10.0],
                    help="day, by hand: minutes from the report to the officer's first round (one run each)")
    ap.add_argument("--hand-speed", type=float, default=60.0,
                    help="day, by hand: simulated seconds per wall second (the officer's waits dominate)")
    ap.add_argument("--no-sweeps", action="store_true",
                    help="day: replay the world's ledger as it is, the gangs not sweeping after their first "
                         "report (by default they sweep what is unheld every few minutes and cash out at the "
                         "last layer, on a schedule fixed by --seed: see fanzha.gateway.simulator)")
    ap.add_argument("--out", type=Path, default=None, help="directory for gateway.json (default benchmarks/out)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="loop: runs at each N, taken in rounds over the Ns; the median run is reported")
    ap.add_argument("--arrive-over", type=float, nargs="+", default=[0.0, 2.0], metavar="S",
                    help="loop: the N reports arrive evenly over S seconds into the running dispatcher, "
                         "0: all at the same instant, before it starts (default: each way, 0 and 2)")
    ap.add_argument("--profile", default=None, help="write a cProfile of the dispatcher (loop mode) here")
    args = ap.parse_args(argv)
    results = []
    if args.mode in ("orders", "both", "all"):
        results += [run_once(n, institutions=args.institutions, speed=args.speed, database_url=args.database_url,
                             seed=args.seed) for n in args.cases]
    loops = []
    if args.mode in ("loop", "both", "all"):
        # Rounds over every N in turn, so a drift in the machine's speed touches each N alike.
        ways = [(s, n) for s in args.arrive_over for n in args.cases]
        runs: dict[tuple[float, int], list[dict]] = {w: [] for w in ways}
        for _ in range(args.repeat):
            for s, n in ways:
                runs[s, n].append(run_loop(n, institutions=args.institutions, speed=args.speed,
                                           database_url=args.database_url, seed=args.seed,
                                           profile=args.profile and f"{args.profile}.{s:g}.{n}", arrive_over_s=s))
        loops = [_median_run(runs[w]) for w in ways]
    if results:
        print(f"{'cases':>6} {'orders':>6} {'latency p50':>11} {'overhead p50':>12} {'p95':>8} "
              f"{'took/bound':>10} {'makespan':>9} {'/slowest':>8} {'orders/s':>9} {'cpu/order':>9}")
    for r in results:
        print(f"{r['cases']:>6} {r['orders']:>6} {r['latency_ms_median']:>9.0f}ms {r['overhead_ms_median']:>10.1f}ms "
              f"{r['overhead_ms_p95']:>6.1f}ms {r['ratio_took_to_bound']:>10.3f} {r['makespan_s']:>8.2f}s "
              f"{r['ratio_makespan_to_slowest']:>8.3f} {r['orders_per_s']:>9.1f} "
              f"{r['dispatcher_cpu_ms_per_order']:>7.2f}ms")
    if loops:
        if args.repeat > 1:
            print(f"\nloop: the median of {args.repeat} runs at each N (by last hold ÷ bound; the runs' range beside it)")
        print(f"\n{'arrive':>7} {'cases':>6} {'orders':>6} {'held':>7} {'1st hold':>9} {'bound':>7} {'last hold':>9} {'bound':>7} "
              f"{'last/bound':>10} {'over p50':>9} {'p95':>8} {'makespan':>9}" + ("  range" if args.repeat > 1 else ""))
    for r in loops:
        spread = r["ratio_last_hold_to_bound_runs"]
        arrive = f"over {r['arrive_over_s']:g}s" if r["arrive_over_s"] else "at once"
        print(f"{arrive:>7} {r['cases']:>6} {r['orders']:>6} {r['held_share']:>7.1%} {r['first_hold_s_median']:>8.2f}s "
              f"{r['bound_first_s_median']:>6.2f}s {r['last_hold_s_median']:>8.2f}s {r['bound_last_s_median']:>6.2f}s "
              f"{r['ratio_last_hold_to_bound']:>10.3f} {r['overhead_ms_median']:>7.1f}ms {r['overhead_ms_p95']:>6.1f}ms "
              f"{r['makespan_s']:>8.2f}s" + (f"  {min(spread):.3f}–{max(spread):.3f}" if len(spread) > 1 else ""))
    for r in loops:
        arrive = f"arriving over {r['arrive_over_s']:g} s" if r["arrive_over_s"] else "at once"
        print(f"{r['cases']:>6} cases {arrive}, per step p50/p95: " + ", ".join(
            f"{k} {v['p50']:.0f}/{v['p95']:.0f}" for k, v in r["steps"].items()))
        print(f"{'':>6} along each case's critical path, summed, p50/p95: " + ", ".join(
            f"{k} {v['p50']:.0f}/{v['p95']:.0f}" for k, v in r["critical_path"].items()))
        print(f"{'':>6} CPU per order: dispatcher {r['dispatcher_cpu_ms_per_order']:.2f} ms (database thread "
              f"{r['dispatcher_db_cpu_ms_per_order']:.2f}, recording answers "
              f"{r['dispatcher_record_cpu_ms_per_order']:.2f}), simulator {r['sim_cpu_ms_per_order']:.2f} ms; "
              f"load average {r['load_average'][0]:.2f} → {r['load_average'][1]:.2f}")
    day = race_day(args) if args.mode in ("day", "all") else None
    if day:
        _print_day(day)
    out = {"benchmark": "gateway", "python": sys.version.split()[0], "runs": results, "loop": loops}
    if day:
        out["day"] = day
    path = (args.out / OUT.name) if args.out else OUT
    if args.mode == "day":
        path = path.with_name("gateway_day.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")
    return out


if __name__ == "__main__":
    main()
