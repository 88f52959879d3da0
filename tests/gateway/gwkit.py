"""Helpers for the gateway tests: a small world, seeding, queueing and dispatching."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from fanzha.gateway.dispatcher import DispatchConfig, Dispatcher
from fanzha.gateway.simulator import ServerThread, Simulator, institution_url
from fanzha.store import services
from fanzha.store.db import transaction
from fanzha.store.models import Case, Institution, Order, Report

START = datetime(2024, 4, 29, 9, 0, tzinfo=timezone(timedelta(hours=8)))
CODES = ("ICBC", "ALIPAY", "CMB", "CMCC")

#: Accounts of the small world: a victim's, and a chain of mule accounts across banks.
VICTIM, A, B, C, D = "6217000000000000001", "6222020000000000001", "2088000000000001", "6225880000000001", \
    "6222020000000000002"
ACCOUNTS = [(VICTIM, "80000.00", "CCB", "受害人"), (A, "0.00", "ICBC", "甲"), (B, "0.00", "ALIPAY", "乙"),
            (C, "0.00", "CMB", "丙"), (D, "100.00", "ICBC", "丁")]
LEDGER = [  # seconds after START, from, to, yuan
    ("T1", 10, VICTIM, A, "50000.00"),
    ("T2", 60, A, B, "30000.00"),
    ("T3", 90, A, "", "10000.00"),
    ("T4", 120, B, C, "20000.00"),
    ("T5", 180, C, "", "20000.00"),
    ("T6", 240, A, D, "10000.00"),
]


def write_world(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    inst = {a: i for a, _, i, _ in ACCOUNTS}
    with open(directory / "ledger.csv", "w", encoding="utf-8") as fh:
        fh.write("txn_id,timestamp,from_account,to_account,amount,from_institution,to_institution,channel,currency,memo\n")
        for txn, s, frm, to, amount in LEDGER:
            fh.write(f"{txn},{(START + timedelta(seconds=s)).isoformat()},{frm},{to},{amount},"
                     f"{inst.get(frm, '')},{inst.get(to, '')},online_banking,CNY,\n")
    with open(directory / "accounts.csv", "w", encoding="utf-8") as fh:
        fh.write("account,opening_balance,institution,holder\n")
        for row in ACCOUNTS:
            fh.write(",".join(row) + "\n")
    with open(directory / "victims.csv", "w", encoding="utf-8") as fh:
        fh.write("victim_id,txn_id\nV1,T1\n")
    return directory


class ManualClock:
    """A simulated clock that stands still until told to move (hold-timing tests)."""

    def __init__(self, start: datetime, speed: float = 1000.0):
        self.t, self.speed = start, speed

    def now(self) -> datetime:
        return self.t

    def real_seconds(self, sim_seconds: float) -> float:
        return sim_seconds / self.speed



@dataclass
class SimHandle:
    sim: Simulator
    server: ServerThread

    @property
    def url(self) -> str:
        return self.server.url

    def inst_url(self, code: str) -> str:
        return institution_url(self.server.url, code)



def seed(sessions, sim: SimHandle | None, *, inbox: tuple[str, ...] = (), case_no: str = "FZ20240429000001") -> str:
    """Institutions (with the simulator's URLs), one case with its report."""
    with transaction(sessions) as s:
        for code in CODES + inbox:
            if s.query(Institution).filter_by(code=code).one_or_none() is None:
                s.add(Institution(code=code, name=code, kind="bank",
                                  api_url=sim.inst_url(code) if sim and code not in inbox else None))
        case = Case(case_no=case_no, opened_at=datetime.now(timezone.utc), emergency=True)
        s.add(case)
        s.flush()
        s.add(Report(source="110", received_at=datetime.now(timezone.utc), case_id=case.id, text="…"))
    return case_no


def start_loop(sessions, sim: SimHandle | None) -> str:
    """:func:`seed`, then the victim's 50,000 yuan reported and the loop started at A (ICBC)."""
    from fanzha.gateway import loop
    from fanzha.store.models import Victim

    case_no = seed(sessions, sim)
    with transaction(sessions) as s:
        case = services.get_case(s, case_no)
        case.loss_fen = 5_000_000
        s.add(Victim(case=case, name="受害人", account=VICTIM, loss_fen=5_000_000))
        loop.start(s, case, [(A, "ICBC", None)])
    return case_no


def queue(sessions, case_no: str, kind: str, inst: str, target: str, amount_fen: int | None = None,
          round_no: int = 0) -> int:
    with transaction(sessions) as s:
        case = services.get_case(s, case_no)
        order, _ = services.create_order(s, case=case, kind=kind, institution=services.get_institution(s, inst),
                                         target=target, legal_basis="反电信网络诈骗法 第二十条", created_by="test",
                                         amount_fen=amount_fen, round_no=round_no)
        order.round_no = round_no
        return order.id


def dispatch(sessions, keys, *, deadline_s: float = 20.0, **config: Any) -> Dispatcher:
    cfg = dict(timeout_s=1.0, lease_s=5.0, backoff_base_s=0.02, backoff_cap_s=0.2, breaker_failures=3,
               breaker_reset_s=0.2, answer_poll_s=0.3, idle_s=0.01, seed=1)
    cfg.update(config)
    d = Dispatcher(sessions, keys, DispatchConfig(**cfg))
    asyncio.run(d.run(until_settled=True, deadline_s=deadline_s))
    return d


def orders(sessions) -> list[Order]:
    with sessions() as s:
        out = s.query(Order).order_by(Order.id).all()
        for o in out:
            _ = o.events, o.institution
        return out
