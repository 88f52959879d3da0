"""Simulated institutions: the protocol served over real HTTP, with ledgers that move.

The gateway must be tested against something that behaves like ~100 banks, payment
companies and operators: slow, sometimes down, sometimes answering garbage, sending
callbacks twice or late — while the fraudsters keep moving the money. This module is
that something:

* :class:`World` holds the accounts and a ledger (FORMATS.md ``ledger.csv``,
  ``accounts.csv`` with an ``institution`` column, or a ``fanzha sim world``
  directory) and replays the rows against a :class:`SimClock` running ``speed`` times
  faster than the wall clock. A hold takes money out of reach: a later transfer or
  cash-out from a held account moves only what is not held, and the rest is recorded
  as blocked.
* :class:`Sweeps` (on by default for a ``fanzha sim world`` directory, whose ``truth/``
  says which accounts are which gang's mules, at which layer): the gangs keep moving
  their money after a victim of theirs reports, as real mule chains do when a victim
  stops answering. From the receipt of a gang's first report (its *alarm*) the
  ledger's own planned hops and cash-outs of that gang stop, and instead every mule
  account of the gang sweeps, every few minutes, the gang's money it still has and
  that is not held: to an account of the gang's next layer, or, at the last layer, out
  at an ATM or counter (a withdrawal at most ``cash_out_max_fen`` at a time, a few
  minutes apart). The schedule — when each account sweeps and where to — is drawn
  from ``Sweeps.seed`` per account and fixed by the world's reports alone: whoever
  chases, and however fast, faces the same gangs; only what the holds leave them to
  move differs. Without ``truth/`` (or with ``sweeps=None``) the ledger is replayed
  as it is, and money the ledger leaves in an account stays there.
* :class:`Simulator` answers protocol requests for the institutions it serves, honours
  idempotency keys (the same key is the same answer and at most one effect), checks
  signatures, and injects the configured :class:`Faults`.
* :func:`build_app` is the FastAPI app (and so the protocol's OpenAPI document);
  :class:`ServerThread` runs it with uvicorn on loopback.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import heapq
import json
import random
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlsplit

import httpx
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError

from fanzha.errors import InputError
from fanzha.gateway import protocol as p
from fanzha.gateway.orders import MONEY_ORDERS, OrderKind
from fanzha.gateway.signing import PROTOCOL, Keyring, SignatureError, signed_headers, verify
from fanzha.money import AmountError, format_fen, parse_yuan

ANSWER_METHOD = "ANSWER"  # what answers are signed as, so a request can never pass for one


# --- the clock and the world ----------------------------------------------------------

class SimClock:
    """Simulated time: ``start`` when created, running ``speed`` times the wall clock."""

    def __init__(self, start: datetime, speed: float = 1.0):
        if start.tzinfo is None:
            raise ValueError("the simulated clock needs a timezone-aware start")
        self.start, self.speed = start, float(speed)
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)

    def real_seconds(self, sim_seconds: float) -> float:
        """How long ``sim_seconds`` of institution time take on the wall clock."""
        return sim_seconds / self.speed

    def skip_to(self, at: datetime) -> datetime:
        """Jump ahead to ``at`` (never back: what happened stays in the past); the clock
        keeps running at its speed from there. Returns the time now."""
        if at.tzinfo is None:
            raise ValueError("the simulated clock needs a timezone-aware time")
        now = self.now()
        if at > now:
            self.start, self._t0 = at, time.monotonic()
        return self.now()


@dataclass
class Row:
    txn_id: str
    at: datetime
    from_account: str
    to_account: str
    amount_fen: int
    extra: dict[str, str]


@dataclass
class Executed:
    row: Row
    amount_fen: int  # what actually moved: less than the row's amount when a hold stood in the way


@dataclass
class Hold:
    hold_id: str
    account: str
    case_no: str
    request_id: str
    requested_fen: int
    held_fen: int
    at: datetime
    released_fen: int = 0


@dataclass
class AccountState:
    account: str
    institution: str
    holder: str = ""
    balance_fen: int = 0
    held_fen: int = 0
    holder_id_number: str | None = None
    holder_phone: str | None = None


@dataclass(frozen=True)
class Sweeps:
    """How a gang moves its money once one of its victims has reported (see the module
    docstring). Times are simulated seconds."""

    gap_s: tuple[float, float] = (120.0, 480.0)          # between one mule account's sweeps
    cash_out_gap_s: tuple[float, float] = (60.0, 300.0)  # between the last layer's withdrawals
    cash_out_max_fen: int = 50_000_00                    # one withdrawal (a counter's large cash)
    min_fen: int = 100_00                                # less than this is not worth a mule's move
    active_s: float = 2 * 86400.0                        # how long after its alarm a gang keeps at it
    seed: int = 0


@dataclass
class _Mule:
    account: str
    gang: str
    layer: int                  # 1 receives from victims
    next_layer: list[str]       # the gang's accounts one layer on (empty: the last layer, cashing out)
    rng: random.Random


class World:
    """Accounts and a ledger replayed in simulated time, with holds that stop money moving."""

    def __init__(self, rows: list[Row], accounts: dict[str, AccountState]):
        rows.sort(key=lambda r: r.at)  # stable: equal timestamps keep file order
        self.rows = rows
        self.accounts = accounts
        self.next = 0
        self.executed: list[Executed] = []
        self.by_account: dict[str, list[int]] = {}
        self.blocked: list[tuple[Row, int]] = []  # (row, fen that did not move)
        self.holds: list[Hold] = []
        # the gangs' own moves (:meth:`enable_sweeps`); none unless enabled
        self.sweeps: Sweeps | None = None
        self.alarm: dict[str, datetime] = {}            # gang → when it starts sweeping
        self.fraud_rows: dict[str, tuple[str, str]] = {}   # txn_id → (kind, gang)
        self.dirty: dict[str, int] = {}                 # mule account → the gangs' money in it (fen)
        self.replaced: list[Row] = []                   # planned hops and cash-outs the sweeps took over
        self.swept: list[Executed] = []                 # the sweeps and cash-outs that moved money
        self.schedule: list[tuple[datetime, str, str]] = []   # every sweep due: (at, account, to; "" cash)
        self._ticks: list[tuple[datetime, int, _Mule]] = []
        self._tick_seq = self._sweep_no = 0
        self._raise_openings()

    # loading -----------------------------------------------------------------------
    @classmethod
    def from_files(cls, ledger: str | Path, accounts: str | Path | None = None) -> "World":
        from fanzha.sim.catalog import account_institution

        ledger = Path(ledger)
        rows: list[Row] = []
        accts: dict[str, AccountState] = {}
        if accounts and Path(accounts).is_file():
            with open(accounts, newline="", encoding="utf-8") as fh:
                for n, rec in enumerate(csv.DictReader(fh), start=2):
                    try:
                        opening = parse_yuan(rec.get("opening_balance") or "0", allow_zero=True)
                    except AmountError as err:
                        raise InputError(str(err), file=str(accounts), line=n, field="opening_balance") from None
                    acct = rec["account"]
                    accts[acct] = AccountState(acct, rec.get("institution") or account_institution(acct) or "",
                                               rec.get("holder") or "", opening,
                                               holder_id_number=rec.get("holder_id_number") or None,
                                               holder_phone=rec.get("holder_phone") or None)
        with open(ledger, newline="", encoding="utf-8") as fh:
            for n, rec in enumerate(csv.DictReader(fh), start=2):
                try:
                    at = datetime.fromisoformat(rec["timestamp"])
                    fen = parse_yuan(rec["amount"])
                except (ValueError, KeyError) as err:
                    raise InputError(str(err), file=str(ledger), line=n) from None
                if at.tzinfo is None:
                    raise InputError("timestamp without a UTC offset", file=str(ledger), line=n, field="timestamp")
                extra = {k: rec.get(k) or "" for k in ("from_institution", "to_institution", "channel",
                                                       "currency", "memo")}
                row = Row(rec["txn_id"], at, rec.get("from_account") or "", rec.get("to_account") or "", fen, extra)
                rows.append(row)
                for acct, inst in ((row.from_account, extra["from_institution"]),
                                   (row.to_account, extra["to_institution"])):
                    if acct and acct not in accts:
                        accts[acct] = AccountState(acct, inst or account_institution(acct) or "")
        return cls(rows, accts)

    @classmethod
    def from_dir(cls, directory: str | Path, *, sweeps: Sweeps | None = Sweeps()) -> "World":
        """A ``fanzha sim world`` directory (or any with ledger.csv and accounts.csv).

        With ``sweeps`` (the default) and the world's ``truth/``, the gangs sweep what
        they still have from their first report on (:meth:`enable_sweeps`)."""
        d = Path(directory)
        if not (d / "ledger.csv").is_file():
            raise InputError("no ledger.csv here", file=str(d))
        world = cls.from_files(d / "ledger.csv", d / "accounts.csv")
        truth = d / "truth"
        if sweeps is not None and (truth / "gangs.json").is_file() and (d / "reports.jsonl").is_file():
            world.enable_sweeps(*_gangs_from_truth(d), sweeps)
        return world

    def enable_sweeps(self, layers: dict[str, list[list[str]]], alarms: dict[str, datetime],
                      fraud_rows: dict[str, tuple[str, str]], sweeps: Sweeps) -> None:
        """Let the gangs move their own money from their alarm on.

        ``layers``: gang → its mule accounts, layer 1 first; ``alarms``: gang → when it
        learns a victim has reported (a gang without one never sweeps); ``fraud_rows``:
        the ledger's fraud rows, txn_id → (kind, gang), kinds as ``fanzha sim`` writes
        them (victim_payment, rebate, hop, cash_out). Call before the clock runs.
        """
        if self.next:
            raise RuntimeError("sweeps must be enabled before the ledger is replayed")
        self.sweeps, self.alarm, self.fraud_rows = sweeps, dict(alarms), dict(fraud_rows)
        for gang, accts in layers.items():
            for acct in (a for layer in accts for a in layer):
                self.dirty.setdefault(acct, 0)
        n = 0
        for gang in sorted(layers):
            if gang not in self.alarm:
                continue
            accts = layers[gang]
            for i, layer in enumerate(accts):
                nxt = accts[i + 1] if i + 1 < len(accts) else []
                for acct in layer:
                    if acct not in self.accounts:
                        continue
                    # each account its own stream: its schedule never depends on another's
                    rng = random.Random(f"{sweeps.seed}|{gang}|{acct}")
                    m = _Mule(acct, gang, i + 1, [a for a in nxt if a in self.accounts], rng)
                    n += 1
                    heapq.heappush(self._ticks, (self.alarm[gang] + timedelta(seconds=self._gap(m)), n, m))
        self._tick_seq = n

    def _gap(self, m: _Mule) -> float:
        assert self.sweeps is not None
        return m.rng.uniform(*(self.sweeps.gap_s if m.next_layer else self.sweeps.cash_out_gap_s))

    def _raise_openings(self) -> None:
        """Raise opening balances to the least that keeps every account from going negative
        when the ledger is replayed untouched, so only holds ever stop a transfer."""
        running: dict[str, int] = {}
        low: dict[str, int] = {}
        for r in self.rows:
            if r.from_account:
                running[r.from_account] = v = running.get(r.from_account, 0) - r.amount_fen
                if v < low.get(r.from_account, 0):
                    low[r.from_account] = v
            if r.to_account:
                running[r.to_account] = running.get(r.to_account, 0) + r.amount_fen
        for acct, lo in low.items():
            st = self.accounts[acct]
            st.balance_fen = max(st.balance_fen, -lo)

    # time --------------------------------------------------------------------------
    @property
    def first_time(self) -> datetime | None:
        return self.rows[0].at if self.rows else None

    def advance(self, now: datetime) -> None:
        """Apply every row (and every sweep of the gangs) up to ``now``, in time order; a
        payer moves at most what is not held."""
        rows, ticks = self.rows, self._ticks
        while True:
            row_due = self.next < len(rows) and rows[self.next].at <= now
            tick_due = bool(ticks) and ticks[0][0] <= now
            if not row_due and not tick_due:
                return
            if row_due and (not tick_due or rows[self.next].at <= ticks[0][0]):
                self._apply(rows[self.next])
                self.next += 1
            else:
                at, _, m = heapq.heappop(ticks)
                self._sweep(m, at)

    def _apply(self, r: Row) -> None:
        fraud = self.fraud_rows.get(r.txn_id)
        if fraud is not None and fraud[0] in ("hop", "cash_out") and fraud[1] in self.alarm \
                and r.at >= self.alarm[fraud[1]]:
            self.replaced.append(r)   # the gang is sweeping by now: its own schedule moves the money
            return
        moved = self._move(r)
        if fraud is not None and moved:
            if r.from_account in self.dirty:
                self.dirty[r.from_account] = max(self.dirty[r.from_account] - moved, 0)
            if r.to_account in self.dirty:
                self.dirty[r.to_account] += moved

    def _move(self, r: Row) -> int:
        """Move what the row asks, or what the payer has free; record what stayed and why."""
        amount = r.amount_fen
        if r.from_account:
            payer = self.accounts[r.from_account]
            free = max(payer.balance_fen - payer.held_fen, 0)
            amount = min(amount, free)
            had = min(r.amount_fen, max(payer.balance_fen, 0))   # what it would move without holds
            if amount < had:
                self.blocked.append((r, had - amount))
            if amount == 0:
                return 0
            payer.balance_fen -= amount
        if r.to_account:
            self.accounts[r.to_account].balance_fen += amount
        self.executed.append(Executed(r, amount))
        idx = len(self.executed) - 1
        for acct in (r.from_account, r.to_account):
            if acct:
                self.by_account.setdefault(acct, []).append(idx)
        return amount

    def _sweep(self, m: _Mule, at: datetime) -> None:
        """One scheduled move of mule account ``m``: the gang's money there that is not
        held, on to the next layer or (the last layer) out in cash. What it draws from
        its stream is the same whatever the holds left, so the schedule never changes."""
        sw = self.sweeps
        assert sw is not None
        # the same draws whatever the holds left, so the schedule stays the schedule
        target = m.rng.choice(m.next_layer) if m.next_layer else ""
        online = m.rng.random() < 0.5
        self.schedule.append((at, m.account, target))
        st = self.accounts[m.account]
        # a hold stands on the gang's money first (it is for victims' money): the mule's own
        # money is never what the gang moves
        amount = max(min(self.dirty.get(m.account, 0), st.balance_fen) - st.held_fen, 0)
        if not target:
            amount = min(amount, sw.cash_out_max_fen)
            amount -= amount % 100_00   # cash in hundreds of yuan
        if amount >= sw.min_fen:
            self._sweep_no += 1
            extra = {"from_institution": st.institution,
                     "to_institution": self.accounts[target].institution if target else "",
                     "channel": ("online_banking" if online else "mobile_banking") if target
                     else ("counter" if amount > 20_000_00 else "atm"),
                     "currency": "CNY", "memo": ("转账" if target else ("柜台取现" if amount > 20_000_00 else "ATM取款"))}
            row = Row(f"SW{self._sweep_no:07d}", at, m.account, target, amount, extra)
            moved = self._move(row)
            self.dirty[m.account] -= moved
            if target:
                self.dirty[target] = self.dirty.get(target, 0) + moved
            self.swept.append(self.executed[-1])
        if (at - self.alarm[m.gang]).total_seconds() < sw.active_s:
            self._tick_seq += 1
            heapq.heappush(self._ticks, (at + timedelta(seconds=self._gap(m)), self._tick_seq, m))

    def cashed_out_fen(self) -> int:
        """What the gangs took out in cash, by the ledger's plan and by their sweeps."""
        return sum(e.amount_fen for e in self.executed if e.row.from_account and not e.row.to_account
                   and (e.row.txn_id in self.fraud_rows or e.row.txn_id.startswith("SW")))

    # effects -----------------------------------------------------------------------
    def hold(self, account: str, amount_fen: int, *, case_no: str, request_id: str, at: datetime) -> Hold:
        st = self.accounts[account]
        take = min(amount_fen, max(st.balance_fen - st.held_fen, 0))
        st.held_fen += take
        h = Hold(f"H{len(self.holds) + 1:06d}", account, case_no, request_id, amount_fen, take, at)
        self.holds.append(h)
        return h

    def release(self, account: str, amount_fen: int, *, case_no: str) -> int:
        left = amount_fen
        for h in self.holds:
            if left == 0:
                break
            if h.account == account and h.case_no == case_no:
                give = min(left, h.held_fen - h.released_fen)
                h.released_fen += give
                left -= give
        released = amount_fen - left
        self.accounts[account].held_fen -= released
        return released

    def rows_of(self, account: str, since: datetime | None = None, until: datetime | None = None) -> list[p.LedgerRow]:
        out = []
        for i in self.by_account.get(account, []):
            ex = self.executed[i]
            if (since and ex.row.at < since) or (until and ex.row.at > until):
                continue
            r = ex.row
            out.append(p.LedgerRow(txn_id=r.txn_id, timestamp=r.at, from_account=r.from_account,
                                   to_account=r.to_account, amount=format_fen(ex.amount_fen), **r.extra))
        return out


def _gangs_from_truth(d: Path) -> tuple[dict[str, list[list[str]]], dict[str, datetime],
                                         dict[str, tuple[str, str]]]:
    """From a ``fanzha sim world`` directory: each gang's mule accounts by layer, its
    alarm (the receipt of its first report) and the ledger's fraud rows."""
    gangs = json.loads((d / "truth" / "gangs.json").read_text(encoding="utf-8"))
    layers: dict[str, list[list[str]]] = {}
    for g in gangs:
        by: dict[int, list[str]] = {}
        for m in g["mule_accounts"]:
            by.setdefault(int(m["layer"]), []).append(m["account"])
        layers[g["gang_id"]] = [by[k] for k in sorted(by)]
    received = {}
    for line in (d / "reports.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            rep = json.loads(line)
            received[rep["report_id"]] = datetime.fromisoformat(rep["received_at"])
    alarms: dict[str, datetime] = {}
    for g in gangs:
        times = [received[r] for r in g.get("reports", []) if r in received]
        if times:
            alarms[g["gang_id"]] = min(times)
    fraud: dict[str, tuple[str, str]] = {}
    path = d / "truth" / "fraud_txns.csv"
    if path.is_file():
        with open(path, newline="", encoding="utf-8") as fh:
            for rec in csv.DictReader(fh):
                fraud[rec["txn_id"]] = (rec["kind"], rec["gang_id"])
    return layers, alarms, fraud


# --- faults -----------------------------------------------------------------------------

@dataclass
class Faults:
    """How badly an institution behaves. Rates are shares of requests, 0 to 1.

    Latency is in institution seconds (scaled by the clock's speed on the wall clock).
    Errors, timeouts and garbage happen before the institution acts or after it, half
    each: a resend must then find the first answer, not act again.
    """

    latency_s: tuple[float, float] = (1.0, 5.0)
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    hang_s: float = 30.0                      # wall seconds a "timeout" keeps the caller waiting
    malformed_rate: float = 0.0
    callback_rate: float = 0.0                # share answered 202 + callback instead of at once
    duplicate_callback_rate: float = 0.0
    late_callback_rate: float = 0.0
    late_callback_s: tuple[float, float] = (30.0, 120.0)
    outages: list[tuple[float, float]] = field(default_factory=list)  # wall seconds since start

    @classmethod
    def parse(cls, spec: dict[str, Any]) -> "Faults":
        f = cls()
        for k, v in spec.items():
            if not hasattr(f, k):
                raise InputError(f"unknown fault setting {k!r}", field=k)
            if k in ("latency_s", "late_callback_s"):
                v = tuple(float(x) for x in v)
            elif k == "outages":
                v = [tuple(float(x) for x in w) for w in v]
            else:
                v = float(v)
            setattr(f, k, v)
        return f


@dataclass
class Stats:
    requests: int = 0
    answered: int = 0
    duplicates: int = 0
    errors: int = 0
    timeouts: int = 0
    malformed: int = 0
    outage: int = 0
    bad_signature: int = 0
    callbacks_sent: int = 0
    callbacks_failed: int = 0


# --- the simulator ----------------------------------------------------------------------

@dataclass
class _Known:
    fingerprint: str
    answer: p.Answer | None = None                      # set once processed
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Simulator:
    """The institutions' side of the protocol, over one :class:`World`."""

    def __init__(self, world: World, keys: Keyring, *, institutions: Iterable[str] | None = None,
                 clock: SimClock | None = None, faults: Faults | None = None,
                 faults_by_institution: dict[str, Faults] | None = None, seed: int = 0,
                 owners: dict[str, str] | None = None):
        self.world = world
        self.keys = keys
        self.institutions = set(institutions) if institutions is not None else (
            {a.institution for a in world.accounts.values() if a.institution} | set(keys.keys))
        self.clock = clock or SimClock(world.first_time or datetime.now(timezone.utc), 1.0)
        self.faults = faults or Faults()
        self.faults_by = faults_by_institution or {}
        self.rng = random.Random(seed)
        self.owners = owners or {}
        self.known: dict[tuple[str, str], _Known] = {}
        self.effects: dict[tuple[str, str], int] = {}   # (institution, request_id) → times acted
        self.stats: dict[str, Stats] = {}
        self.log: list[dict[str, Any]] = []
        self.latency_by_request: dict[str, float] = {}  # wall seconds the first answer took (benchmarks)
        self.started = time.monotonic()
        self._tasks: set[asyncio.Task] = set()
        self._http: httpx.AsyncClient | None = None

    # helpers -------------------------------------------------------------------------
    def faults_for(self, inst: str) -> Faults:
        return self.faults_by.get(inst, self.faults)

    def stat(self, inst: str) -> Stats:
        return self.stats.setdefault(inst, Stats())

    def _latency(self, f: Faults) -> float:
        return self.clock.real_seconds(self.rng.uniform(*f.latency_s))

    def _in_outage(self, f: Faults) -> bool:
        t = time.monotonic() - self.started
        return any(a <= t < b for a, b in f.outages)

    def now(self) -> datetime:
        return self.clock.now()

    def _signed(self, inst: str, path: str, answer: p.Answer, status: int) -> Response:
        body = answer.model_dump_json().encode()
        key = self.keys.get(inst)
        headers = signed_headers(key, inst, ANSWER_METHOD, path, body) if key else {}
        return Response(body, status_code=status, headers=headers, media_type="application/json")

    # the request path ------------------------------------------------------------------
    async def handle(self, inst: str, kind: OrderKind, req: Any, path: str) -> Response:
        """Answer one verified request, with this institution's faults."""
        f = self.faults_for(inst)
        st = self.stat(inst)
        st.requests += 1
        if self._in_outage(f):
            st.outage += 1
            return JSONResponse({"detail": "service unavailable (outage)"}, status_code=503)
        roll = self.rng.random()
        after = self.rng.random() < 0.5
        fault = None
        for name, rate in (("error", f.error_rate), ("timeout", f.timeout_rate), ("malformed", f.malformed_rate)):
            if roll < rate:
                fault = name
                break
            roll -= rate
        if fault and not after:
            await asyncio.sleep(self._latency(f) if fault != "timeout" else f.hang_s)
            return self._fault_response(st, fault, inst, path)
        key = (inst, req.request_id)
        fp = hashlib.sha256(req.model_dump_json(exclude={"sent_at", "callback_url"}).encode()).hexdigest()
        known = self.known.get(key)
        if known is not None and known.fingerprint != fp:
            return JSONResponse({"detail": "idempotency key reused for a different request"}, status_code=409)
        by_callback = self.rng.random() < f.callback_rate and bool(req.callback_url)
        if known is None:
            known = self.known[key] = _Known(fp)
            if by_callback:
                self._spawn(self._process_then_call_back(inst, kind, req, known, f))
            else:
                wait = self._latency(f)
                self.latency_by_request[req.request_id] = wait
                await asyncio.sleep(wait)
                self._process(inst, kind, req, known)
        else:
            st.duplicates += 1
            if not by_callback and known.answer is None:
                await known.done.wait()
            await asyncio.sleep(self._latency(f) / 4)
        if fault:  # after acting
            await asyncio.sleep(self._latency(f) / 4 if fault != "timeout" else f.hang_s)
            return self._fault_response(st, fault, inst, path)
        st.answered += 1
        if known.answer is None:  # by callback, still working
            return self._signed(inst, path, p.Answer(request_id=req.request_id, institution=inst, kind=kind,
                                                     status="accepted", answered_at=self.now(),
                                                     reason="will answer by callback"), 202)
        return self._signed(inst, path, known.answer, 200)

    def _fault_response(self, st: Stats, fault: str, inst: str, path: str) -> Response:
        if fault == "error":
            st.errors += 1
            return JSONResponse({"detail": "internal error (simulated)"}, status_code=500)
        if fault == "malformed":  # a buggy institution still signs what it sends
            st.malformed += 1
            body = self.rng.choice([b'{"status": "done", "result": [1, 2', b'<html>Bad Gateway</html>',
                                    b'{"protocol": "fanzha-institution/1", "status": "done"}'])
            key = self.keys.get(inst)
            headers = signed_headers(key, inst, ANSWER_METHOD, path, body) if key else {}
            return Response(body, status_code=200, headers=headers, media_type="application/json")
        st.timeouts += 1
        return JSONResponse({"detail": "too late"}, status_code=504)

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _process(self, inst: str, kind: OrderKind, req: Any, known: _Known) -> p.Answer:
        """Act on the request — once per idempotency key — and keep the answer."""
        self.effects[(inst, req.request_id)] = self.effects.get((inst, req.request_id), 0) + 1
        now = self.now()
        self.world.advance(now)
        try:
            status, result, reason = "done", self._act(inst, kind, req, now), ""
        except _Refusal as err:
            status, result, reason = "rejected", None, str(err)
        known.answer = p.Answer(request_id=req.request_id, institution=inst, kind=kind, status=status,
                                reason=reason, answered_at=now, result=result)
        known.done.set()
        self.log.append({"institution": inst, "kind": kind.value, "request_id": req.request_id,
                         "target": req.target, "status": status, "at": now.isoformat()})
        return known.answer

    def _account(self, inst: str, account: str) -> AccountState:
        st = self.world.accounts.get(account)
        if st is None or st.institution != inst:
            raise _Refusal(f"no account {account} at {inst}")
        return st

    def _act(self, inst: str, kind: OrderKind, req: Any, now: datetime) -> dict[str, Any]:
        if kind in (OrderKind.account_holder, OrderKind.transaction_details, *MONEY_ORDERS):
            acct = self._account(inst, req.target)
        if kind == OrderKind.account_holder:
            return p.HolderResult(account=acct.account, holder=acct.holder, institution=inst,
                                  balance=format_fen(acct.balance_fen), held=format_fen(acct.held_fen),
                                  id_number=acct.holder_id_number, phone=acct.holder_phone
                                  ).model_dump(mode="json", exclude_none=True)
        if kind == OrderKind.transaction_details:
            rows = self.world.rows_of(acct.account, req.since, req.until)
            return p.TransactionsResult(account=acct.account, institution=inst, balance=format_fen(acct.balance_fen),
                                        held=format_fen(acct.held_fen), as_of=now, rows=rows).model_dump(mode="json")
        if kind in (OrderKind.stop_payment, OrderKind.freeze):
            h = self.world.hold(acct.account, parse_yuan(req.amount), case_no=req.case_no,
                                request_id=req.request_id, at=now)
            return p.HoldResult(account=acct.account, hold_id=h.hold_id, requested=req.amount,
                                held=format_fen(h.held_fen), balance=format_fen(acct.balance_fen),
                                expires_at=req.expires_at).model_dump(mode="json")
        if kind == OrderKind.unfreeze:
            released = self.world.release(acct.account, parse_yuan(req.amount), case_no=req.case_no)
            return p.ReleaseResult(account=acct.account, released=format_fen(released),
                                   balance=format_fen(acct.balance_fen)).model_dump(mode="json")
        if kind == OrderKind.number_owner:
            return p.NumberOwnerResult(number=req.target, owner=self.owners.get(req.target, ""),
                                       operator=inst).model_dump(mode="json")
        if kind == OrderKind.number_shutdown:
            return p.ShutdownResult(number=req.target, shut_at=now).model_dump(mode="json")
        return p.TakedownResult(url=req.target, taken_down_at=now).model_dump(mode="json")

    # callbacks ---------------------------------------------------------------------------
    async def _process_then_call_back(self, inst: str, kind: OrderKind, req: Any, known: _Known, f: Faults) -> None:
        await asyncio.sleep(self._latency(f))
        answer = self._process(inst, kind, req, known)
        if self.rng.random() < f.late_callback_rate:
            await asyncio.sleep(self.clock.real_seconds(self.rng.uniform(*f.late_callback_s)))
        cb_id = hashlib.sha256(f"{inst}|{req.request_id}".encode()).hexdigest()[:24]
        cb = p.Callback(**answer.model_dump(), callback_id=cb_id)
        await self._post_callback(inst, req.callback_url, cb)
        if self.rng.random() < f.duplicate_callback_rate:
            await asyncio.sleep(self._latency(f) / 2)
            await self._post_callback(inst, req.callback_url, cb)

    async def _post_callback(self, inst: str, url: str, cb: p.Callback) -> None:
        """Deliver a callback, retrying a few times; the centre polls for what never arrives."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10)
        body = cb.model_dump_json().encode()
        path = urlsplit(url).path
        for attempt in range(4):
            headers = signed_headers(self.keys.get(inst) or b"", inst, "POST", path, body)
            try:
                r = await self._http.post(url, content=body, headers=headers)
                if r.status_code < 500:
                    self.stat(inst).callbacks_sent += 1
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05 * 2 ** attempt)
        self.stat(inst).callbacks_failed += 1

    async def aclose(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # what tests and the benchmark read ----------------------------------------------------
    def holds_by_request(self) -> dict[str, int]:
        """request_id → number of holds it made (exactly-once means never more than 1)."""
        out: dict[str, int] = {}
        for h in self.world.holds:
            out[h.request_id] = out.get(h.request_id, 0) + 1
        return out

    def summary(self) -> dict[str, Any]:
        return {"institutions": sorted(self.institutions), "sim_time": self.now().isoformat(),
                "holds": len(self.world.holds), "held": format_fen(sum(h.held_fen for h in self.world.holds)),
                "blocked": format_fen(sum(b for _, b in self.world.blocked)),
                "sweeping": self.world.sweeps is not None, "swept": len(self.world.swept),
                "cashed_out": format_fen(self.world.cashed_out_fen()),
                "stats": {k: vars(v) for k, v in sorted(self.stats.items())}}


class _Refusal(Exception):
    """The institution refuses the request (unknown account…): a ``rejected`` answer."""


# --- the HTTP app ------------------------------------------------------------------------

_DESCRIPTION = """\
The protocol between the anti-fraud centre and a bank, payment company or operator.

**Requests.** `POST {base}/v1/{kind}` with a JSON body. `base` is the institution's
endpoint (this simulator serves many under `/institutions/{code}`). Every request
carries `case_no`, `legal_basis` and `request_id` — the idempotency key: the same key
again must get the same answer and must never act twice.

**Signatures.** Every message (request, answer, callback) carries
`X-Fanzha-Protocol: fanzha-institution/1`, `X-Fanzha-Institution: {code}`,
`X-Fanzha-Timestamp: {unix seconds}` and `X-Fanzha-Signature: v1={hex}`, the
HMAC-SHA256 under the institution's key of

    fanzha-institution/1\\n{METHOD}\\n{path}\\n{timestamp}\\n{sha256 hex of body}

where METHOD is `POST` for requests and callbacks and `ANSWER` for answers. Messages
more than 300 s from the receiver's clock are refused (401).

**Answers.** `200` with `status: done` (and the kind's `result`) or `rejected` (with a
`reason`), or `202` with `status: accepted`, followed by a callback (see webhooks) to
the request's `callback_url`. A resend of an accepted request returns `accepted` until
the answer exists, then the answer. Amounts are yuan strings with two places.
"""


def _refusal(sim: "Simulator", code: str, headers, path: str, body: bytes) -> tuple[int, str] | None:
    """Why a request to institution ``code`` is refused before it is read (unknown
    institution 404, signature 401), or None: one check for the routes and the direct path."""
    if code not in sim.institutions:
        return 404, f"no institution {code} here"
    try:
        verify(sim.keys, headers, "POST", path, body, expect_institution=code)
    except SignatureError as err:
        sim.stat(code).bad_signature += 1
        return 401, f"signature refused: {err}"
    return None


def body_refusal(model: type[BaseModel], body: bytes, err: ValidationError) -> tuple[int, Any]:
    """Why ``body`` is no ``model`` (status and ``detail``), as FastAPI says it for a
    declared route (``err``: what reading it as JSON said): bytes that are no text are a
    400; an empty body is missing, unreadable JSON is placed at the character where it
    breaks, and each field's ``loc`` starts with ``"body"`` (422) — a caller gets the same
    answer whichever way the request was served."""
    if not body:
        return 422, [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]
    try:
        data = json.loads(body)
    except json.JSONDecodeError as bad:
        return 422, [{"type": "json_invalid", "loc": ["body", bad.pos], "msg": "JSON decode error", "input": {},
                      "ctx": {"error": bad.msg}}]
    except UnicodeDecodeError:
        return 400, "There was an error parsing the body"
    try:
        model.model_validate(data, from_attributes=True)  # (as FastAPI validates a body)
    except ValidationError as as_fastapi:
        err = as_fastapi
    return 422, [{**e, "loc": ["body", *e["loc"]]} for e in json.loads(err.json(include_url=False))]


class _DirectRequests:
    """The request endpoints served straight from the ASGI call, the same checks in the
    same order as the routes :func:`build_app` declares (unknown institution 404,
    signature 401, body 422) and the same :meth:`Simulator.handle`.

    The routes stay for the OpenAPI document; serving each request through FastAPI's
    parameter and dependency machinery cost several times what the simulator itself
    does for it, and in a benchmark the simulated institutions share the machine with
    the dispatcher being measured.
    """

    def __init__(self, app):
        self.app = app
        self.kinds = {p.path_for(k).rsplit("/", 1)[1]: (k, m) for k, m in p.REQUEST_MODELS.items()}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        parts = scope["path"].split("/")   # "", "institutions", code, "v1", kind
        sim: Simulator | None = scope["app"].state.sim if "app" in scope else None
        if sim is None or len(parts) != 5 or parts[1] != "institutions" or parts[3] != "v1" \
                or parts[4] not in self.kinds:
            return await self.app(scope, receive, send)
        code, (kind, model) = parts[2], self.kinds[parts[4]]
        body = bytearray()
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        body = bytes(body)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        refused = _refusal(sim, code, headers, scope["path"], body)
        if refused is not None:
            response: Response = JSONResponse({"detail": refused[1]}, status_code=refused[0])
        else:
            try:
                req = model.model_validate_json(body)
            except ValidationError as err:
                status, detail = body_refusal(model, body, err)
                response = JSONResponse({"detail": detail}, status_code=status)
            else:
                response = await sim.handle(code, kind, req, scope["path"])
        await response(scope, receive, send)


def build_app(sim: Simulator | None) -> FastAPI:
    """The protocol as an app. ``sim=None`` builds it only for its OpenAPI document."""
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        if app.state.sim is not None:
            await app.state.sim.aclose()

    app = FastAPI(title="fanzha institution protocol", version=PROTOCOL, description=_DESCRIPTION,
                  lifespan=lifespan)
    app.state.sim = sim
    app.add_middleware(_DirectRequests)

    async def verified(request: Request, code: str,
                       x_fanzha_institution: str | None = Header(None, description="institution code (key id)"),
                       x_fanzha_timestamp: str | None = Header(None, description="unix seconds"),
                       x_fanzha_signature: str | None = Header(None, description="v1=HMAC-SHA256 hex")) -> str:
        refused = _refusal(request.app.state.sim, code, request.headers, request.url.path, await request.body())
        if refused is not None:
            raise HTTPException(*refused)
        return code

    answers = {200: {"model": p.Answer, "description": "done or rejected"},
               202: {"model": p.Answer, "description": "accepted; the answer follows by callback"},
               401: {"description": "signature missing, stale or wrong"},
               409: {"description": "request_id reused for a different request"},
               503: {"description": "institution unavailable: retry later with the same request_id"}}

    def add(kind: OrderKind, model: type) -> None:
        async def endpoint(request: Request, body: model, code: str = Depends(verified)) -> Response:  # type: ignore[valid-type]
            return await request.app.state.sim.handle(code, kind, body, request.url.path)

        endpoint.__name__ = kind.value
        endpoint.__annotations__["body"] = model  # a real class: ``from __future__`` made it a string
        app.post("/institutions/{code}" + p.path_for(kind), summary=(model.__doc__ or kind.value).strip(),
                 response_model=p.Answer, responses=answers, tags=["requests"],
                 description=f"Result when done: `{p.RESULT_MODELS[kind].__name__}`.")(endpoint)

    for kind, model in p.REQUEST_MODELS.items():
        add(kind, model)

    @app.webhooks.post("answer-callback")
    def answer_callback(body: p.Callback) -> None:
        """The institution's later answer, POSTed (signed) to the request's `callback_url`.
        A callback delivered twice carries the same `callback_id`; the centre applies it once."""

    _extra_schemas = sorted({*p.RESULT_MODELS.values()}, key=lambda m: m.__name__)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes, webhooks=app.webhooks.routes)
        comps = schema.setdefault("components", {}).setdefault("schemas", {})
        for m in _extra_schemas:
            js = m.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in js.pop("$defs", {}).items():
                comps.setdefault(name, sub)
            comps.setdefault(m.__name__, js)
        schema["info"]["x-protocol"] = PROTOCOL
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

    if sim is not None:
        @app.get("/sim/summary", tags=["simulator"], include_in_schema=False)
        def summary() -> dict[str, Any]:
            return sim.summary()

        @app.get("/sim/clock", tags=["simulator"], include_in_schema=False)
        def clock_now() -> dict[str, Any]:
            return {"now": sim.now().isoformat(), "speed": sim.clock.speed}

        @app.post("/sim/clock", tags=["simulator"], include_in_schema=False)
        def clock_skip(body: dict[str, Any]) -> dict[str, Any]:
            """Skip simulated time ahead to ``{"at": ISO time}`` (a benchmark skipping the
            quiet hours between reports)."""
            skip = getattr(sim.clock, "skip_to", None)
            try:
                at = datetime.fromisoformat(str(body.get("at")))
                if skip is None:
                    raise ValueError("this clock cannot skip")
                return {"now": skip(at).isoformat(), "speed": sim.clock.speed}
            except ValueError as err:
                raise HTTPException(status_code=422, detail=f"at: {err}") from None

        @app.get("/sim/requests", tags=["simulator"], include_in_schema=False)
        def requests_seen() -> dict[str, Any]:
            """Per request: the latency the institution took and the holds it made (measurements)."""
            return {"latency_s": sim.latency_by_request, "holds": sim.holds_by_request(),
                    "effects": {f"{i}|{k}": n for (i, k), n in sim.effects.items()}}

    return app


def openapi_document() -> dict[str, Any]:
    return build_app(None).openapi()


# --- running it ------------------------------------------------------------------------------

class ServerThread:
    """Run an ASGI app with uvicorn on loopback in a thread (tests, benchmarks, the CLI)."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, keep_alive_s: float = 75.0):
        import uvicorn

        # keep-alive: longer than a client keeps an idle connection (the dispatcher's
        # 60 s), as institutions' front ends do, so the client is the one to close it
        self.config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                                     timeout_graceful_shutdown=1, access_log=False,
                                     timeout_keep_alive=int(keep_alive_s))
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.host = host

    def start(self, timeout: float = 15.0) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    @property
    def port(self) -> int:
        return self.server.servers[0].sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def institution_url(base: str, code: str) -> str:
    """Where the simulator serves institution ``code``: the value for ``Institution.api_url``."""
    return f"{base.rstrip('/')}/institutions/{code}"


def load_faults(path: str | Path) -> tuple[Faults, dict[str, Faults]]:
    """A JSON faults file: ``{"default": {...}, "by_institution": {"ICBC": {...}}}``."""
    spec = json.loads(Path(path).read_text())
    return (Faults.parse(spec.get("default", {})),
            {k: Faults.parse(v) for k, v in spec.get("by_institution", {}).items()})
