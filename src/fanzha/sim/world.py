"""The synthetic world: a city, its gangs, their victims, a ledger and the reports.

``generate_world(seed, transactions)`` is a pure function of its arguments. It builds
the citizens and their accounts, the shops, the gangs with their mule networks and
cases (:mod:`fanzha.sim.fraud`), the report texts (:mod:`fanzha.sim.texts`), and plans
the clean background (:mod:`fanzha.sim.background`). The ledger itself is not held:
:meth:`World.ledger_batches` streams it in time order, merging the fraud rows into the
background window by window, so ten million rows cost a few hundred megabytes.

Opening balances are set so that a replay of the ledger never takes an account below
zero: each account opens with its own money plus everything it will spend in the
background plus whatever its part in the fraud needs ahead of arrivals (a victim's
payments, a mule's rebates). The mules' and victims' own money is therefore really
there, mixed with the stolen money, as tracing rules expect.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fanzha.errors import InputError
from fanzha.money import format_fen
from fanzha.sim import catalog, fraud as fraud_mod, people, texts
from fanzha.sim.background import CHANNELS, MEMOS, BackgroundPlan, Rows
from fanzha.sim.fraud import VICTIM_PAYMENT

CST = timezone(timedelta(hours=8))
DEFAULT_START = datetime(2024, 4, 29, tzinfo=CST)

#: A progress callback: ``progress(task, done, total)``.
Progress = Callable[[str, int, int], None]

# Account roles and kinds (small integers in the arrays, words in the files).
ROLES = ("citizen", "merchant", "mule", "middleman")
ACCOUNT_KINDS = ("card", "payment", "corporate")

# Where Xiamen people bank (rough shares); the rest of the banks share what is left.
_BANK_SHARE = {"ICBC": 12, "CCB": 11, "BOC": 10, "ABC": 9, "CIB": 8, "XMBANK": 7, "CMB": 7, "PSBC": 6,
               "XMRCB": 5, "BOCOM": 4, "FJNX": 3, "XIB": 3, "CITIC": 3, "SPDB": 2, "CMBC": 2, "PAB": 2,
               "CEB": 2, "HXB": 1.5, "GDB": 1.5, "FJHXB": 1}
_PAY_SHARE = {"ALIPAY": 70, "TENPAY": 25, "UNIONPAY": 2, "BESTPAY": 1, "CMPAY": 1, "DOUYINPAY": 1}
_NOISE_BY_TYPE = {
    "customer_service": (("app", "向日葵"), ("app", "ToDesk"), ("phone", "95118")),
    "credit_report": (("app", "腾讯会议"), ("app", "Zoom")),
    "police_impersonation": (("app", "Zoom"), ("app", "腾讯会议")),
    "loan": (("app", "云闪付"),),
    "investment": (("app", "向日葵"),),
}
_SOURCES = (("110", "call_taker", 0.40), ("station", "officer", 0.35), ("platform", "victim", 0.25))


@dataclass(frozen=True)
class WorldParams:
    """What a world is made from. Same parameters, same world, to the byte."""

    seed: int = 1
    transactions: int = 100_000
    reports: int | None = None  # default: one per 2,000 transactions, 4 to 5,000
    days: int = 1
    start: datetime = DEFAULT_START
    citizens: int | None = None  # default: one per 25 transactions, 300 to 400,000
    not_fraud_share: float = 0.05
    duplicate_share: float = 0.03

    def validate(self) -> None:
        if not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"seed must be a non-negative integer, got {self.seed!r}", field="seed")
        if self.transactions < 1:
            raise InputError(f"transactions must be at least 1, got {self.transactions}", field="transactions")
        if self.reports is not None and self.reports < 0:
            raise InputError(f"reports must not be negative, got {self.reports}", field="reports")
        if not 1 <= self.days <= 366:
            raise InputError(f"days must be 1 to 366, got {self.days}", field="days")
        if self.start.tzinfo is None:
            raise InputError("start needs a UTC offset, e.g. 2024-04-29T00:00:00+08:00", field="start")
        if self.citizens is not None and self.citizens < 10:
            raise InputError(f"citizens must be at least 10, got {self.citizens}", field="citizens")

    @property
    def n_reports(self) -> int:
        if self.reports is not None:
            return self.reports
        return max(4, min(5000, self.transactions // 2000))

    @property
    def n_citizens(self) -> int:
        if self.citizens is not None:
            return self.citizens
        return max(300, min(400_000, self.transactions // 25), 3 * self.n_reports)


@dataclass
class Accounts:
    """Every account of the world as parallel columns (index = account number's row)."""

    number: list[str]
    institution: np.ndarray  # int16 index into catalog.INSTITUTIONS
    kind: np.ndarray  # int8 index into ACCOUNT_KINDS
    role: np.ndarray  # int8 index into ROLES
    owner: list[str]  # person / merchant id
    holder: list[str]  # the holder's name
    base: np.ndarray  # int64 fen: the holder's own money
    opening: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # int64 fen

    def __len__(self) -> int:
        return len(self.number)


@dataclass
class Citizens:
    person_id: list[str]
    name: list[str]
    male: np.ndarray
    birth_year: np.ndarray
    id_number: list[str]
    district: list[str]
    address: list[str]
    unit_code: list[str]
    phone: list[str]
    acc_start: np.ndarray  # their accounts are acc_start[i] : acc_start[i] + acc_count[i]
    acc_count: np.ndarray


@dataclass
class World:
    """A generated world. The ledger is streamed (:meth:`ledger_batches`); the rest is here."""

    params: WorldParams
    start: int  # epoch seconds
    end: int
    citizens: Citizens
    merchants: list[tuple[str, str, str]]  # (merchant id, name, district)
    accounts: Accounts
    fraud: fraud_mod.Fraud
    reports: list[dict]  # reports.jsonl objects, in file order
    report_truth: list[dict]  # per report: gang, victim, unit, voice, duplicate_of
    plan: BackgroundPlan
    fraud_txn: list[str]  # txn_id of each fraud row (same order as fraud.rows)
    fraud_window: np.ndarray  # window of each fraud row
    txn_width: int
    victim_people: dict[str, int] = field(default_factory=dict)  # victim_id -> citizen index

    @property
    def n_rows(self) -> int:
        return int(self.plan.counts.sum()) + len(self.fraud.rows)

    # ------------------------------------------------------------------ ledger
    def ledger_batches(self, *, rows_per_batch: int = 1_000_000,
                       progress: Progress | None = None) -> Iterator[pa.RecordBatch]:
        """The ledger in file order, as record batches of about ``rows_per_batch`` rows."""
        acct = pa.array(self.accounts.number + [""], pa.string())
        inst_codes = pa.array([i.code for i in catalog.INSTITUTIONS] + [""], pa.string())
        acct_inst = np.append(self.accounts.institution.astype(np.int32), len(catalog.INSTITUTIONS))
        channels = pa.array(CHANNELS, pa.string())
        memos = pa.array(MEMOS, pa.string())
        f = self._fraud_arrays()
        done = 0
        total = self.n_rows
        offset = 0
        pending: list[tuple[Rows, np.ndarray]] = []
        pending_rows = 0
        windows = self.plan.n_windows
        for w in range(windows):
            merged = self._merged_window(w, f)
            pending.append(merged)
            pending_rows += len(merged[0])
            if pending_rows >= rows_per_batch or w == windows - 1:
                rows = _concat([p[0] for p in pending])
                batch = self._batch(rows, offset, acct, inst_codes, acct_inst, channels, memos)
                offset += len(rows)
                pending, pending_rows = [], 0
                done += batch.num_rows
                if progress:
                    progress("ledger", done, total)
                if batch.num_rows:
                    yield batch

    def ledger_table(self) -> pa.Table:
        """The whole ledger in memory: for small worlds and tests."""
        batches = list(self.ledger_batches())
        return pa.Table.from_batches(batches, schema=LEDGER_SCHEMA)

    def _fraud_arrays(self) -> dict[str, np.ndarray]:
        rows = self.fraud.rows
        return {
            "ts": np.array([r.ts for r in rows], np.int64),
            "payer": np.array([r.payer for r in rows], np.int32),
            "payee": np.array([r.payee for r in rows], np.int32),
            "amount": np.array([r.amount for r in rows], np.int64),
            "channel": np.array([r.channel for r in rows], np.int8),
            "memo": np.array([r.memo for r in rows], np.int16),
        }

    def _merged_window(self, w: int, f: dict[str, np.ndarray]) -> tuple[Rows, np.ndarray]:
        """Window ``w``'s rows: background and fraud merged by time, fraud first on ties."""
        bg = self.plan.window(w)
        sel = np.nonzero(self.fraud_window == w)[0]
        if len(sel) == 0:
            return bg, sel
        pos = np.searchsorted(bg.ts, f["ts"][sel], side="left") + np.arange(len(sel))
        n = len(bg) + len(sel)
        is_bg = np.ones(n, bool)
        is_bg[pos] = False
        out = {}
        for name in ("ts", "payer", "payee", "amount", "channel", "memo"):
            col = np.empty(n, getattr(bg, name).dtype)
            col[is_bg] = getattr(bg, name)
            col[pos] = f[name][sel]
            out[name] = col
        return Rows(**out), sel

    def _batch(self, rows: Rows, offset: int, acct, inst_codes, acct_inst, channels, memos) -> pa.RecordBatch:
        n = len(rows)
        sentinel = len(self.accounts)
        payer = np.where(rows.payer < 0, sentinel, rows.payer)
        payee = np.where(rows.payee < 0, sentinel, rows.payee)
        seq = pa.array(np.arange(offset + 1, offset + n + 1, dtype=np.int64))
        txn = pc.binary_join_element_wise("T", pc.utf8_lpad(pc.cast(seq, pa.string()), self.txn_width, "0"), "")
        if n:
            lo = int(rows.ts[0])
            span = int(rows.ts[-1]) - lo + 1
            stamps = np.datetime_as_string((np.arange(lo, lo + span, dtype=np.int64) + 8 * 3600).astype("datetime64[s]"))
            table = pc.binary_join_element_wise(pa.array(stamps), "+08:00", "")
            ts = table.take(pa.array(rows.ts - lo))
        else:
            ts = pa.array([], pa.string())
        yuan = pc.cast(pa.array(rows.amount // 100), pa.string())
        cents = pc.utf8_lpad(pc.cast(pa.array(rows.amount % 100), pa.string()), 2, "0")
        amount = pc.binary_join_element_wise(yuan, cents, ".")
        cols = [
            txn, ts, acct.take(pa.array(payer)), acct.take(pa.array(payee)), amount,
            inst_codes.take(pa.array(acct_inst[payer])), inst_codes.take(pa.array(acct_inst[payee])),
            channels.take(pa.array(rows.channel)), pa.array(np.full(n, "CNY", dtype=object), pa.string()),
            memos.take(pa.array(rows.memo)), pa.array(rows.amount),
        ]
        return pa.RecordBatch.from_arrays(cols, schema=LEDGER_SCHEMA)

    # ------------------------------------------------------------------ truth helpers
    def victim_rows(self) -> list[tuple[str, str]]:
        """``(victim_id, txn_id)`` of every victim payment, in ledger order."""
        out = []
        for i, r in enumerate(self.fraud.rows):
            if r.kind == VICTIM_PAYMENT:
                out.append((self.fraud.cases[r.case].victim_id, self.fraud_txn[i]))
        return out


#: The ledger's columns: FORMATS.md's, then ``amount_fen`` (Parquet only).
LEDGER_SCHEMA = pa.schema([
    ("txn_id", pa.string()), ("timestamp", pa.string()), ("from_account", pa.string()),
    ("to_account", pa.string()), ("amount", pa.string()), ("from_institution", pa.string()),
    ("to_institution", pa.string()), ("channel", pa.string()), ("currency", pa.string()),
    ("memo", pa.string()), ("amount_fen", pa.int64()),
])
LEDGER_CSV_COLUMNS = [f.name for f in LEDGER_SCHEMA if f.name != "amount_fen"]


def _concat(parts: list[Rows]) -> Rows:
    if len(parts) == 1:
        return parts[0]
    return Rows(*(np.concatenate([getattr(p, name) for p in parts])
                  for name in ("ts", "payer", "payee", "amount", "channel", "memo")))


# ---------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------


class _AccountFactory:
    """Fresh account numbers, never the same twice in one world."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def cards(self, banks: np.ndarray) -> list[str]:
        """One valid card number per entry of ``banks`` (indices into catalog.INSTITUTIONS)."""
        out: list[str] = [""] * len(banks)
        for b in np.unique(banks):
            inst = catalog.INSTITUTIONS[int(b)]
            idx = np.nonzero(banks == b)[0]
            for i, number in zip(idx, _luhn_cards(self.rng, inst, len(idx))):
                while number in self.used:
                    number = _luhn_cards(self.rng, inst, 1)[0]
                self.used.add(number)
                out[i] = number
        return out

    def one(self, code: str) -> str:
        inst = catalog.INSTITUTIONS_BY_CODE[code]
        if inst.kind == "payment":
            return self.payment(code)
        return self.cards(np.array([catalog.INSTITUTIONS.index(inst)]))[0]

    def payment(self, code: str) -> str:
        prefix = catalog.INSTITUTIONS_BY_CODE[code].account_prefix
        while True:
            number = f"{prefix}{int(self.rng.integers(0, 10**12)):012d}"
            if number not in self.used:
                self.used.add(number)
                return number

    def payments(self, codes: list[str]) -> list[str]:
        body = self.rng.integers(0, 10**12, size=len(codes))
        out = []
        for code, b in zip(codes, body):
            number = f"{catalog.INSTITUTIONS_BY_CODE[code].account_prefix}{int(b):012d}"
            out.append(self.payment(code) if number in self.used else number)
            self.used.add(out[-1])
        return out

    def corporate(self, banks: np.ndarray) -> list[str]:
        """Company settlement accounts: not cards, so no BIN and no Luhn digit."""
        body = self.rng.integers(0, 10**11, size=len(banks))
        out = []
        for b, x in zip(banks, body):
            number = f"3501{int(b):02d}{int(x):011d}"
            while number in self.used:
                number = f"3501{int(b):02d}{int(self.rng.integers(0, 10**11)):011d}"
            self.used.add(number)
            out.append(number)
        return out


def _luhn_cards(rng: np.random.Generator, inst: catalog.Institution, n: int) -> list[str]:
    """``n`` card numbers of ``inst``: a BIN, random digits, the Luhn check digit."""
    length = inst.card_length
    bins = np.array([[int(c) for c in b] for b in inst.bins], dtype=np.int64)
    digits = np.empty((n, length), dtype=np.int64)
    digits[:, :6] = bins[rng.integers(0, len(bins), size=n)]
    digits[:, 6:-1] = rng.integers(0, 10, size=(n, length - 7))
    payload = digits[:, :-1][:, ::-1]  # rightmost payload digit first: it is doubled
    doubled = payload.copy()
    doubled[:, 0::2] *= 2
    doubled[doubled > 9] -= 9
    digits[:, -1] = (10 - doubled.sum(axis=1) % 10) % 10
    return (digits.astype(np.uint8) + 48).view(f"S{length}").ravel().astype(str).tolist()


def _seeded(seed: int, stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stream])))


def _shares(codes: dict[str, float], extra_kinds: tuple[str, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Institution indices and probabilities; other institutions of ``extra_kinds`` share 3 %."""
    idx = [catalog.INSTITUTIONS.index(catalog.INSTITUTIONS_BY_CODE[c]) for c in codes]
    w = list(codes.values())
    others = [i for i, inst in enumerate(catalog.INSTITUTIONS) if inst.kind in extra_kinds and i not in idx]
    if others:
        idx += others
        w += [3 * sum(codes.values()) / 100 / len(others)] * len(others)
    p = np.array(w, dtype=np.float64)
    return np.array(idx), p / p.sum()


def _build_citizens(seed: int, n: int, factory: _AccountFactory, start_year: int) -> tuple[Citizens, dict]:
    rng = _seeded(seed, 0xC1)
    districts = list(catalog.DISTRICTS)
    pop = np.array([catalog.DISTRICT_POPULATION[d] for d in districts], dtype=np.float64)
    didx = rng.choice(len(districts), size=n, p=pop / pop.sum())
    male = rng.random(n) < 0.51
    age = np.clip(rng.normal(42, 15, size=n).astype(np.int64), 18, 85)
    birth = start_year - age
    name = people.names(rng, n, male)
    idn = people.id_numbers(rng, [catalog.DISTRICTS[districts[d]] for d in didx], male, birth)
    address, units = people.addresses(rng, didx)
    phone = people.mobile_numbers(rng, n)
    # Accounts: one to three cards, and a payment account for most.
    n_cards = rng.choice([1, 2, 3], size=n, p=[0.45, 0.35, 0.20])
    has_pay = rng.random(n) < 0.6
    count = n_cards + has_pay
    acc_start = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
    total = int(count.sum())
    bank_idx, bank_p = _shares(_BANK_SHARE, ("national_bank", "local_bank"))
    pay_idx, pay_p = _shares(_PAY_SHARE)
    owner_of = np.repeat(np.arange(n), count)
    slot = np.arange(total) - acc_start[owner_of]
    is_pay = has_pay[owner_of] & (slot == count[owner_of] - 1)
    inst = np.where(is_pay, rng.choice(pay_idx, size=total, p=pay_p), rng.choice(bank_idx, size=total, p=bank_p))
    numbers: list[str] = [""] * total
    card_pos = np.nonzero(~is_pay)[0]
    for i, num in zip(card_pos, factory.cards(inst[card_pos])):
        numbers[i] = num
    pay_pos = np.nonzero(is_pay)[0]
    for i, num in zip(pay_pos, factory.payments([catalog.INSTITUTIONS[int(k)].code for k in inst[pay_pos]])):
        numbers[i] = num
    base = (np.exp(rng.normal(0, 1.2, size=total)) * 20_000_00).astype(np.int64)
    base[is_pay] //= 10
    weight = np.exp(rng.normal(0, 1.0, size=total))
    pids = [f"P{i + 1:07d}" for i in range(n)]
    cit = Citizens(pids, name, male, birth, idn, [districts[d] for d in didx], address, units, phone,
                   acc_start, count.astype(np.int64))
    acc = {
        "number": numbers, "institution": inst.astype(np.int16),
        "kind": np.where(is_pay, 1, 0).astype(np.int8), "role": np.zeros(total, np.int8),
        "owner": [pids[o] for o in owner_of], "holder": [name[o] for o in owner_of],
        "base": base, "weight": weight,
    }
    return cit, acc


def _build_merchants(seed: int, n: int, factory: _AccountFactory) -> tuple[list, dict]:
    rng = _seeded(seed, 0xC4)
    districts = list(catalog.DISTRICTS)
    didx = rng.integers(0, len(districts), size=n)
    names = people.merchant_names(rng, n, didx)
    bank_idx, bank_p = _shares(_BANK_SHARE, ("national_bank", "local_bank"))
    inst = rng.choice(bank_idx, size=n, p=bank_p)
    numbers = factory.corporate(inst)
    ids = [f"B{i + 1:06d}" for i in range(n)]
    base = (np.exp(rng.normal(0, 1.3, size=n)) * 200_000_00).astype(np.int64)
    weight = np.exp(rng.normal(0, 1.3, size=n))
    merchants = [(ids[i], names[i], districts[didx[i]]) for i in range(n)]
    acc = {
        "number": numbers, "institution": inst.astype(np.int16), "kind": np.full(n, 2, np.int8),
        "role": np.ones(n, np.int8), "owner": ids, "holder": names, "base": base, "weight": weight,
    }
    return merchants, acc


def generate_world(seed: int = 1, transactions: int = 100_000, reports: int | None = None, *,
                   days: int = 1, start: datetime | None = None, citizens: int | None = None,
                   progress: Progress | None = None) -> World:
    """Build a world. Deterministic: the same arguments give the same world."""
    params = WorldParams(seed=seed, transactions=transactions, reports=reports, days=days,
                         start=start or DEFAULT_START, citizens=citizens)
    return build(params, progress=progress)


def build(params: WorldParams, *, progress: Progress | None = None) -> World:
    params.validate()
    seed = params.seed
    t_start = int(params.start.timestamp())
    t_end = t_start + params.days * 86400
    step = (lambda task, done, total: progress(task, done, total)) if progress else (lambda *a: None)

    factory = _AccountFactory(_seeded(seed, 0xC2))
    step("people", 0, 4)
    cit, cacc = _build_citizens(seed, params.n_citizens, factory, params.start.astimezone(CST).year)
    step("people", 1, 4)
    merchants, macc = _build_merchants(seed, max(20, params.n_citizens // 20), factory)
    step("people", 2, 4)

    # ---- fraud
    n_total = params.n_reports
    n_nf = int(round(n_total * params.not_fraud_share)) if n_total >= 10 else 0
    n_dup = int(round(n_total * params.duplicate_share)) if n_total >= 20 else 0
    n_cases = n_total - n_nf - n_dup
    rnd = random.Random(f"fanzha-sim-{seed}")
    mule_rng = _seeded(seed, 0xC3)
    victims = list(_seeded(seed, 0xC5).permutation(params.n_citizens))
    base_mule = len(cacc["number"]) + len(macc["number"])

    def victim_accounts(c: int) -> list[tuple[int, str]]:
        s, k = int(cit.acc_start[c]), int(cit.acc_count[c])
        return [(i, catalog.INSTITUTIONS[int(cacc["institution"][i])].code) for i in range(s, s + k)]

    def people_maker() -> tuple[str, str, str]:
        male = mule_rng.random(1) < 0.7
        name = people.names(mule_rng, 1, male)[0]
        birth = np.array([params.start.year - int(mule_rng.integers(18, 45))])
        idn = people.id_numbers(mule_rng, people.mule_regions(mule_rng, 1), male, birth)[0]
        return name, idn, people.mobile_numbers(mule_rng, 1)[0]

    fr = fraud_mod.simulate(rnd, n_reports=n_cases, start=t_start, end=t_end, account_base=base_mule,
                            victims=[int(v) for v in victims], victim_accounts=victim_accounts,
                            new_account=factory.one, people_maker=people_maker)
    step("people", 3, 4)

    # ---- all accounts
    mule_inst = np.array([catalog.INSTITUTIONS.index(catalog.INSTITUTIONS_BY_CODE[a.institution])
                          for a in fr.accounts], dtype=np.int16)
    mule_kind = np.array([1 if catalog.INSTITUTIONS_BY_CODE[a.institution].kind == "payment" else 0
                          for a in fr.accounts], dtype=np.int8)
    mrng = _seeded(seed, 0xC6)
    mule_base = (np.exp(mrng.normal(0, 1.0, size=len(fr.accounts))) * 800_00).astype(np.int64)
    accounts = Accounts(
        number=cacc["number"] + macc["number"] + [a.number for a in fr.accounts],
        institution=np.concatenate([cacc["institution"], macc["institution"], mule_inst]),
        kind=np.concatenate([cacc["kind"], macc["kind"], mule_kind]),
        role=np.concatenate([cacc["role"], macc["role"],
                             np.array([3 if a.middleman else 2 for a in fr.accounts], np.int8)]),
        owner=cacc["owner"] + macc["owner"] + [fr.people[a.holder].person_id for a in fr.accounts],
        holder=cacc["holder"] + macc["holder"] + [fr.people[a.holder].name for a in fr.accounts],
        base=np.concatenate([cacc["base"], macc["base"], mule_base]),
    )

    # ---- reports
    reports, truth = _reports(rnd, params, cit, accounts, fr, n_nf, n_dup, t_start)
    step("people", 4, 4)
    victim_people = {c.victim_id: c.victim for c in fr.cases}

    # ---- background and the first pass over it
    n_bg = params.transactions - len(fr.rows)
    if n_bg < 0:
        raise InputError(f"{params.transactions} transactions are too few for {n_total} reports: their fraud "
                         f"alone takes {len(fr.rows)} ledger rows (raise --transactions or lower --reports)",
                         field="transactions")
    n_cit_acc = len(cacc["number"])
    n_mer = len(macc["number"])
    consumers = np.concatenate([np.arange(n_cit_acc), np.arange(base_mule, len(accounts))])
    consumer_w = np.concatenate([cacc["weight"], np.full(len(fr.accounts), 0.3)])
    plan = BackgroundPlan(seed, t_start, t_end - t_start, n_bg, consumers, consumer_w,
                          np.arange(n_cit_acc, n_cit_acc + n_mer), macc["weight"])
    f_ts = np.array([r.ts for r in fr.rows], np.int64)
    f_window = np.searchsorted(plan.bounds, f_ts, side="right") - 1
    debits = np.zeros(len(accounts), np.int64)
    fraud_pos = np.zeros(len(fr.rows), np.int64)
    offset = 0
    for w in range(plan.n_windows):
        rows = plan.window(w)
        out = rows.payer >= 0
        np.add.at(debits, rows.payer[out], rows.amount[out])
        sel = np.nonzero(f_window == w)[0]
        if len(sel):
            fraud_pos[sel] = offset + np.searchsorted(rows.ts, f_ts[sel], side="left") + np.arange(len(sel))
        offset += len(rows) + len(sel)
        step("plan", w + 1, plan.n_windows)
    accounts.opening = accounts.base + debits + _fraud_needs(fr, len(accounts))
    width = max(8, len(str(params.transactions)))
    fraud_txn = [f"T{int(p) + 1:0{width}d}" for p in fraud_pos]
    return World(params, t_start, t_end, cit, merchants, accounts, fr, reports, truth, plan, fraud_txn,
                 f_window, width, victim_people)


def _fraud_needs(fr: fraud_mod.Fraud, n: int) -> np.ndarray:
    """Money each account must already hold for its fraud debits never to overdraw it.

    Replays the fraud rows alone: a victim needs what they pay (less rebates already
    received), a mule what it pays out before the money to cover it arrives (rebates)."""
    running: dict[int, int] = {}
    low: dict[int, int] = {}
    for r in fr.rows:
        if r.payee >= 0:
            running[r.payee] = running.get(r.payee, 0) + r.amount
        if r.payer >= 0:
            v = running.get(r.payer, 0) - r.amount
            running[r.payer] = v
            if v < low.get(r.payer, 0):
                low[r.payer] = v
    need = np.zeros(n, np.int64)
    for a, v in low.items():
        need[a] = -v
    return need


def _reports(rnd: random.Random, params: WorldParams, cit: Citizens, accounts: Accounts, fr: fraud_mod.Fraud,
             n_nf: int, n_dup: int, t_start: int) -> tuple[list[dict], list[dict]]:
    """Every report: one per case, a few second reports of the same case, some not fraud."""
    drafts: list[tuple[int, int, dict, dict]] = []  # (received, order, report, truth)
    inst_name = {i.code: i.name for i in catalog.INSTITUTIONS}
    order = 0
    dup_cases = set(rnd.sample(range(len(fr.cases)), min(n_dup, len(fr.cases)))) if n_dup else set()
    start_year = params.start.astimezone(CST).year
    for case in fr.cases:
        gang = fr.gangs[case.gang]
        v = case.victim
        payments = [texts.Payment(p.ts, p.amount, accounts.number[p.payee],
                                  inst_name[catalog.INSTITUTIONS[int(accounts.institution[p.payee])].code],
                                  accounts.holder[p.payee], bool(accounts.kind[p.payee] == 1))
                    for p in case.payments]
        last = max([p.ts for p in case.payments] + [r.ts for r in case.rebates])
        delay = int(min(2 * 86400, max(300, rnd.lognormvariate(math.log(2700), 1.0))))
        received = last + delay
        if case.case_no == 0 and sum(p.amount for p in payments) == 990_000_00:
            received = last + 360
        contacts = _contacts(rnd, case.scam_type, gang)
        case.contacts = contacts
        noise_pool = _NOISE_BY_TYPE.get(case.scam_type, ())
        noise = [rnd.choice(noise_pool)] if noise_pool and rnd.random() < 0.6 else []
        copies = 2 if case.case_no in dup_cases else 1
        first_rid_order = order
        used_sources: set[str] = set()
        for copy in range(copies):
            source, voice = _pick_source(rnd, used_sources)
            used_sources.add(source)
            story = texts.Story(case.scam_type, cit.name[v], bool(cit.male[v]), start_year - int(cit.birth_year[v]),
                                cit.address[v], received, payments, [r.amount for r in case.rebates], contacts,
                                ip=rnd.choice(gang.ips) if voice == "officer" and gang.ips and rnd.random() < 0.5 else None,
                                den=next(d[1] for d in fraud_mod.DENS if d[0] == gang.den), noise=noise)
            text, idents = texts.write(rnd, story, voice)
            report = {"report_id": "", "received_at": _iso(received), "district": cit.district[v],
                      "scam_type": case.scam_type, "loss": format_fen(sum(p.amount for p in payments)),
                      "identifiers": idents, "text": text, "victim_id": case.victim_id,
                      "address": cit.address[v], "source": source}
            truth = {"gang_id": gang.gang_id, "victim_id": case.victim_id, "citizen_id": cit.person_id[v],
                     "scam_type": case.scam_type, "unit_code": cit.unit_code[v], "voice": voice,
                     "duplicate_of": first_rid_order if copy else None}
            drafts.append((received, order, report, truth))
            order += 1
            received += rnd.randint(600, 6 * 3600)
    n_cit = len(cit.person_id)
    for _ in range(n_nf):
        v = rnd.randrange(n_cit)
        other = rnd.randrange(n_cit)
        received = t_start + rnd.randrange(params.days * 86400)
        story = texts.Story("not_fraud", cit.name[v], bool(cit.male[v]), 40, cit.address[v], received, [], [],
                            {"phone": [cit.phone[other]]})
        source, voice = _pick_source(rnd, set())
        text, idents = texts.write(rnd, story, voice)
        report = {"report_id": "", "received_at": _iso(received), "district": cit.district[v],
                  "scam_type": "not_fraud", "loss": "0.00", "identifiers": idents, "text": text,
                  "victim_id": None, "address": cit.address[v], "source": source}
        truth = {"gang_id": None, "victim_id": None, "citizen_id": cit.person_id[v], "scam_type": "not_fraud",
                 "unit_code": cit.unit_code[v], "voice": voice, "duplicate_of": None}
        drafts.append((received, order, report, truth))
        order += 1
    drafts.sort(key=lambda d: (d[0], d[1]))
    width = max(6, len(str(len(drafts))))
    rid_of_order = {d[1]: f"R{i + 1:0{width}d}" for i, d in enumerate(drafts)}
    reports, truths = [], []
    for i, (_, o, rep, tr) in enumerate(drafts):
        rep["report_id"] = rid_of_order[o]
        tr = {"report_id": rid_of_order[o], **tr}
        if tr["duplicate_of"] is not None:
            tr["duplicate_of"] = rid_of_order[tr["duplicate_of"]]
        reports.append(rep)
        truths.append(tr)
    return reports, truths


def _contacts(r: random.Random, scam: str, gang: fraud_mod.Gang) -> dict[str, list[str]]:
    """The identifiers one victim saw, drawn from the gang's pools for this script."""
    out: dict[str, list[str]] = {}
    needs = fraud_mod._NEEDS[scam]
    if "phone" in needs and gang.phones:
        out["phone"] = r.sample(gang.phones, min(len(gang.phones), 2 if r.random() < 0.25 else 1))
    elif gang.phones and r.random() < 0.2:
        out["phone"] = [r.choice(gang.phones)]
    for kind, pool in (("qq", gang.qq), ("wechat", gang.wechat), ("app", gang.apps)):
        if kind in needs and pool:
            out[kind] = [r.choice(pool)]
    if ("url" in needs or "domain" in needs) and (gang.urls or gang.domains):
        if gang.urls and ("url" in needs or r.random() < 0.5):
            out["url"] = [r.choice(gang.urls)]
        else:
            out["domain"] = [r.choice(gang.domains)]
    return out


def _pick_source(r: random.Random, avoid: set[str]) -> tuple[str, str]:
    options = [s for s in _SOURCES if s[0] not in avoid] or list(_SOURCES)
    x = r.random() * sum(s[2] for s in options)
    for s in options:
        x -= s[2]
        if x < 0:
            return s[0], s[1]
    return options[-1][0], options[-1][1]


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, CST).isoformat()
