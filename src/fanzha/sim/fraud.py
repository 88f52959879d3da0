"""Gangs, their mule networks, their victims, and the money's path through the layers.

A gang has a den (usually abroad), the identifiers it contacts victims with (phones,
QQ, WeChat, sites, apps, IPs) and a layered network of mule accounts: victims pay the
first layer, each layer sweeps what it holds to the next a few minutes later (fanning
out, and fanning in as many victims' money meets in the same accounts), and the last
layer takes cash out at ATMs and bank counters. Mules keep a small cut, some sweeps
never happen (a nervous mule, a blocked account) and nothing moves after the end of the
period, so money is left sitting where a freeze can still reach it. A few "middlemen"
accounts (a card dealer's, a 跑分 platform's) serve several gangs at once: they are
what makes linking by shared accounts hard, and the truth says which they are.

The laundering runs as an event simulation in time order, so a sweep only ever moves
money that has already arrived. Everything is scalar Python: fraud is a small share of
a city's ledger.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

from fanzha.scam_types import SCAM_TYPES
from fanzha.sim import catalog
from fanzha.sim.background import CH, MEMO

#: Scam types (FORMATS.md) and how often gangs run each: order brushing leads the
#: national figures, then investment, loans and fake customer service.
SCAM_SHARE = {
    "order_brushing": 0.28, "investment": 0.20, "loan": 0.11, "customer_service": 0.12,
    "police_impersonation": 0.06, "credit_report": 0.06, "acquaintance_impersonation": 0.05,
    "game_trade": 0.04, "romance": 0.04, "shopping": 0.03, "other_fraud": 0.01,
}
SCAM_LABELS = SCAM_TYPES

# Loss per case: median yuan and log-sigma; the tail reaches hundreds of thousands.
_LOSS = {
    "order_brushing": (9000, 1.1), "investment": (60000, 1.3), "loan": (6000, 0.9),
    "customer_service": (25000, 1.2), "police_impersonation": (80000, 1.3),
    "credit_report": (30000, 1.1), "acquaintance_impersonation": (40000, 1.2),
    "game_trade": (2500, 1.0), "romance": (50000, 1.3), "shopping": (1500, 1.0),
    "other_fraud": (5000, 1.2),
}
# How many payments a victim makes: (fewest, most).
_PAYMENTS = {
    "order_brushing": (2, 6), "investment": (2, 7), "loan": (1, 4), "customer_service": (1, 4),
    "police_impersonation": (1, 4), "credit_report": (1, 4), "acquaintance_impersonation": (1, 2),
    "game_trade": (1, 3), "romance": (2, 5), "shopping": (1, 2), "other_fraud": (1, 2),
}
# Identifier kinds a gang running the type needs for its script.
_NEEDS = {
    "order_brushing": ("qq", "app"), "investment": ("wechat", "url"), "loan": ("phone", "app"),
    "customer_service": ("phone",), "police_impersonation": ("phone", "url"),
    "credit_report": ("phone",), "acquaintance_impersonation": ("qq",),
    "game_trade": ("qq", "url"), "romance": ("wechat", "domain"), "shopping": ("wechat",),
    "other_fraud": ("phone",),
}

# Dens: country, Chinese name, share, /16 blocks their IPs come from, country calling code.
DENS = (
    ("KH", "柬埔寨", 0.34, ("36.37", "175.100", "103.216", "203.144"), "855"),
    ("MM", "缅甸", 0.20, ("37.111", "103.25", "203.81"), "95"),
    ("PH", "菲律宾", 0.15, ("112.198", "122.52", "180.190"), "63"),
    ("LA", "老挝", 0.08, ("115.84", "183.182"), "856"),
    ("VN", "越南", 0.05, ("113.160", "14.160"), "84"),
    ("MY", "马来西亚", 0.05, ("175.136", "60.50"), "60"),
    ("AE", "阿联酋", 0.03, ("94.200", "86.98"), "971"),
    ("CN", "境内", 0.10, ("117.24", "223.104", "113.57"), "86"),
)

_APP_HEADS = ("鑫盛", "中金", "汇通", "恒信", "金牛", "易融", "速贷", "华富", "盈泰", "聚宝", "优选", "星辰",
              "国泰", "银河", "博众", "诚品", "天利", "安信", "融信", "宏达", "致远", "嘉银", "富邦", "明润")
_APP_TAILS = {
    "investment": ("财富", "智投", "证券Pro", "理财", "资本", "期货", "数字资产"),
    "loan": ("贷", "借呗Plus", "金融", "分期", "钱包", "信用"),
    "order_brushing": ("任务", "众包", "优购", "商城", "兼职"),
}
_TLDS = (".top", ".xyz", ".cc", ".vip", ".com", ".net", ".club", ".cn", ".shop", ".icu")
_DOMAIN_WORDS = {
    "investment": ("gupiao", "licai", "touzi", "zhengquan", "jijin", "stock", "invest", "wealth"),
    "police_impersonation": ("gaj", "jcy", "fayuan", "ga-gov", "police", "tongji", "anquan"),
    "game_trade": ("youxi", "jiaoyi", "game", "zhanghao", "deal", "dd373", "pxb"),
    "romance": ("bocai", "caipiao", "yule", "amusement", "vip", "lucky"),
    "loan": ("daikuan", "jiekuan", "loan", "credit", "xinyong"),
    "shopping": ("shop", "mall", "haowu", "tejia"),
}


@dataclass
class MuleAccount:
    number: str
    institution: str
    holder: int  # index into the mule people
    gangs: list[str] = field(default_factory=list)
    layer: dict[str, int] = field(default_factory=dict)  # gang -> layer (1 = receives from victims)
    middleman: bool = False


@dataclass
class MulePerson:
    person_id: str
    name: str
    id_number: str
    phone: str


@dataclass
class Gang:
    gang_id: str
    scam_types: list[str]
    den: str  # country code
    phones: list[str]
    qq: list[str]
    wechat: list[str]
    domains: list[str]
    urls: list[str]
    apps: list[str]
    ips: list[str]
    layers: list[list[int]]  # account indices (into mule accounts), layer 1 first
    n_reports: int = 0

    @property
    def depth(self) -> int:
        return len(self.layers)

    def identifiers(self) -> list[tuple[str, str]]:
        """Every identifier the gang uses to reach victims (accounts are listed apart)."""
        out = [("phone", p) for p in self.phones] + [("qq", q) for q in self.qq]
        out += [("wechat", w) for w in self.wechat] + [("domain", d) for d in self.domains]
        out += [("url", u) for u in self.urls] + [("app", a) for a in self.apps] + [("ip", i) for i in self.ips]
        return out


@dataclass
class Case:
    """One victim's encounter with one gang: the payments and rebates in the ledger."""

    case_no: int
    gang: int
    victim: int  # citizen index
    victim_id: str
    scam_type: str
    payer: int  # the victim's paying account (global account index)
    payments: list["FraudRow"] = field(default_factory=list)
    rebates: list["FraudRow"] = field(default_factory=list)
    contacts: dict[str, list[str]] = field(default_factory=dict)  # kind -> values used on this victim


# Fraud row kinds
VICTIM_PAYMENT, REBATE, HOP, CASH_OUT = "victim_payment", "rebate", "hop", "cash_out"


@dataclass
class FraudRow:
    ts: int
    seq: int
    payer: int  # global account index, -1 none
    payee: int
    amount: int
    channel: int
    memo: int
    kind: str
    gang: int
    case: int = -1  # victim_payment / rebate


@dataclass
class Fraud:
    people: list[MulePerson]
    accounts: list[MuleAccount]
    gangs: list[Gang]
    cases: list[Case]
    rows: list[FraudRow]  # sorted by (ts, seq)
    held: dict[tuple[int, int], int]  # (global account, gang) -> fen the simulation left there
    account_base: int  # global index of the first mule account


class _Ids:
    """Identifier values unique across the whole world, so truth never collides by chance."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd
        self.used: set[str] = set()

    def fresh(self, make) -> str:
        v = make(self.rnd)
        tries = 0
        while v in self.used:
            tries += 1
            v = make(self.rnd)
            if tries > 50:  # a small name space running out: number the copies, as app stores do
                v = f"{v}{tries - 49}"
        self.used.add(v)
        return v


def _gang_phone(r: random.Random, den: tuple) -> str:
    x = r.random()
    if x < 0.40:  # a virtual-operator number, bought in bulk
        vno = r.choice([i for i in catalog.OPERATORS if i.kind == "virtual_operator"])
        p = r.choice(vno.number_prefixes)
        return f"+86{p}{r.randrange(10 ** (11 - len(p))):0{11 - len(p)}d}"
    if x < 0.62 and den[4] != "86":  # the den's own country
        cc = den[4]
        if cc == "63":
            return f"+639{r.randrange(10**9):09d}"
        if cc == "855":
            return f"+855{r.choice('16789')}{r.randrange(10**7):07d}"
        if cc == "95":
            return f"+959{r.randrange(10**8):08d}"
        return f"+{cc}{r.randrange(1, 10):d}{r.randrange(10**8):08d}"
    if x < 0.82:  # Hong Kong numbers pass as "local enough"
        return f"+852{r.choice('569')}{r.randrange(10**7):07d}"
    basic = r.choice([i for i in catalog.OPERATORS if i.kind == "basic_operator"])
    return f"+86{r.choice(basic.number_prefixes)}{r.randrange(10**8):08d}"


def _qq(r: random.Random) -> str:
    return str(r.randrange(10**8, 4 * 10**9)) if r.random() < 0.8 else str(r.randrange(10**5, 10**8))


def _wechat(r: random.Random) -> str:
    alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
    if r.random() < 0.6:
        return "wxid_" + "".join(r.choice(alnum) for _ in range(14))
    head = r.choice(("kefu", "lc", "tz", "vip", "ls", "xiaomei", "zhuli", "jl", "laoshi"))
    return f"{head}_{r.randrange(1000, 99999)}"


def _domain(r: random.Random, scam: str) -> str:
    words = _DOMAIN_WORDS.get(scam, ("app", "web", "info"))
    sep = r.choice(("", "-", ""))
    return f"{r.choice(('', 'www.', 'm.', 'h5.'))}{r.choice(words)}{sep}{r.randrange(10, 9999)}{r.choice(_TLDS)}"


def _url(r: random.Random, domain: str) -> str:
    path = r.choice(("/m/index.html", "/h5/login", "/register", "/task", "/index.php", "/app/download"))
    q = r.choice(("", f"?inv={r.randrange(1000, 99999)}", f"?code={r.randrange(100, 9999)}", f"?id={r.randrange(10**5)}"))
    return f"{r.choice(('http', 'https'))}://{domain}{path}{q}"


def _ip(r: random.Random, den: tuple) -> str:
    return f"{r.choice(den[3])}.{r.randrange(256)}.{r.randrange(1, 255)}"


def _app(r: random.Random, scam: str) -> str:
    tails = _APP_TAILS.get(scam, ("助手", "宝"))
    mid = r.choice(("", "", "国际", "环球", "数字", "智慧", "云"))
    end = r.choice(("", "", "", "Pro", "Plus", "极速版", "HD"))
    return r.choice(_APP_HEADS) + mid + r.choice(tails) + end


def gang_sizes(r: random.Random, n: int) -> list[int]:
    """Reports per gang: mostly 2–5, a few running dozens (heavy tail), summing to ``n``."""
    sizes: list[int] = []
    left = n
    cap = max(2, n // 4)
    while left > 0:
        s = min(cap, 2 + int(r.paretovariate(1.4) * 1.5) - 1)
        s = min(max(2, s), left)
        if left - s == 1:
            s += 1
        sizes.append(s)
        left -= s
    if sizes and sizes[-1] < 2 and len(sizes) > 1:
        sizes[-2] += sizes.pop()
    return sizes


def _weighted(r: random.Random, items: dict[str, float]) -> str:
    x = r.random() * sum(items.values())
    for k, w in items.items():
        x -= w
        if x < 0:
            return k
    return k


# Banks mules hold accounts at: the big national banks and payment accounts dominate.
def _mule_institution(r: random.Random, layer: int) -> str:
    x = r.random()
    if x < 0.62:
        return r.choice(("ICBC", "ABC", "BOC", "CCB", "BOCOM", "PSBC", "CMB", "CIB", "CITIC", "SPDB",
                         "CMBC", "PAB", "CEB", "HXB", "GDB", "ICBC", "CCB", "ABC"))
    if x < 0.80:
        return r.choice([b.code for b in catalog.BANKS if b.kind == "local_bank"])
    if layer == 1 and x < 0.95:
        return r.choice(("ALIPAY", "ALIPAY", "TENPAY", "LAKALA", "YEEPAY", "BAOFOO"))
    return r.choice(("ICBC", "CCB", "ABC", "RCB_ANY"))


def simulate(r: random.Random, *, n_reports: int, start: int, end: int, account_base: int,
             victims: list[int], victim_accounts, new_account, people_maker) -> Fraud:
    """Gangs, mules and the fraud rows of ``n_reports`` cases in ``[start, end)``.

    ``victims``: citizen indices to draw victims from, in order (each at most once
    unless the pool runs out); ``victim_accounts(c)`` the accounts of citizen ``c`` as
    (global index, institution code) pairs; ``new_account(institution)`` a fresh account
    number there; ``people_maker(n)`` n mule holders as (name, id_number, phone).
    """
    ids = _Ids(r)
    sizes = gang_sizes(r, n_reports) if n_reports > 0 else []
    people: list[MulePerson] = []
    accounts: list[MuleAccount] = []

    def add_mule(layer: int, gang_id: str | None, middleman: bool = False) -> int:
        # A mule sometimes sells two or three cards: the same holder behind several accounts.
        if people and not middleman and r.random() < 0.25:
            holder = len(people) - 1
        else:
            name, idn, phone = people_maker()
            people.append(MulePerson(f"M{len(people) + 1:06d}", name, idn, phone))
            holder = len(people) - 1
        inst = _mule_institution(r, layer)
        if inst == "RCB_ANY":
            inst = r.choice(("XMRCB", "FJNX", "CQRCB", "GRCB"))
        acct = MuleAccount(new_account(inst), inst, holder, middleman=middleman)
        if gang_id:
            acct.gangs.append(gang_id)
            acct.layer[gang_id] = layer
        accounts.append(acct)
        return len(accounts) - 1

    n_mid = max(1, len(sizes) // 6) if len(sizes) > 1 else 0
    middlemen = [add_mule(2, None, middleman=True) for _ in range(n_mid)]

    gangs: list[Gang] = []
    for g, size in enumerate(sizes):
        gid = f"G{g + 1:04d}"
        types = [_weighted(r, SCAM_SHARE)]
        if r.random() < 0.25:
            second = _weighted(r, SCAM_SHARE)
            if second != types[0]:
                types.append(second)
        den = _weighted(r, {d[0]: d[2] for d in DENS})
        dinfo = next(d for d in DENS if d[0] == den)
        needs = {k for t in types for k in _NEEDS[t]}
        n_phone = (2 + min(10, size // 3)) if "phone" in needs else r.randrange(0, 3)
        phones = [ids.fresh(lambda rr: _gang_phone(rr, dinfo)) for _ in range(n_phone)]
        qq = [ids.fresh(_qq) for _ in range((1 + min(4, size // 5)) if "qq" in needs else 0)]
        wechat = [ids.fresh(_wechat) for _ in range((1 + min(4, size // 5)) if "wechat" in needs else 0)]
        main_type = next((t for t in types if t in _DOMAIN_WORDS), types[0])
        domains = [ids.fresh(lambda rr: _domain(rr, main_type)) for _ in range(
            r.randrange(1, 4) if needs & {"url", "domain"} else 0)]
        urls = [ids.fresh(lambda rr, d=d: _url(rr, d)) for d in domains] if "url" in needs else []
        app_type = next((t for t in types if t in _APP_TAILS), types[0])
        apps = [ids.fresh(lambda rr: _app(rr, app_type)) for _ in range(r.randrange(1, 3) if "app" in needs else 0)]
        ips = [ids.fresh(lambda rr: _ip(rr, dinfo)) for _ in range(r.randrange(1, 5))]
        depth = r.randrange(2, 6)
        layers: list[list[int]] = []
        for layer in range(1, depth + 1):
            if layer == 1:
                k = max(2, min(25, 1 + size // 2 + r.randrange(0, 3)))
            elif layer == depth:
                k = r.randrange(1, 5)
            else:
                k = r.randrange(2, 6)
            layers.append([add_mule(layer, gid) for _ in range(k)])
        # Middlemen: a shared dealer account in layer 2 (or, rarely, taking victims' money).
        if middlemen and r.random() < 0.25:
            layer = 1 if r.random() < 0.2 else 2
            m = r.choice(middlemen)
            if gid not in accounts[m].gangs:
                accounts[m].gangs.append(gid)
                accounts[m].layer[gid] = layer
                layers[layer - 1].append(m)
        gangs.append(Gang(gid, types, den, phones, qq, wechat, domains, urls, apps, ips, layers, size))

    # ------------------------------------------------------------------ cases
    rows: list[FraudRow] = []
    seq = [0]
    cases: list[Case] = []

    def row(ts: int, payer: int, payee: int, amount: int, channel: int, memo: int, kind: str, gang: int,
            case: int = -1) -> FraudRow:
        seq[0] += 1
        rows.append(FraudRow(ts, seq[0], payer, payee, amount, channel, memo, kind, gang, case))
        return rows[-1]

    span = end - start
    order = [(g, i) for g, gang in enumerate(gangs) for i in range(gang.n_reports)]
    big_case = 0 if len(order) >= 5 and span >= 18 * 3600 else -1  # the Xiamen 990,000-yuan case
    if big_case == 0 and "customer_service" not in gangs[order[0][0]].scam_types:
        gangs[order[0][0]].scam_types.append("customer_service")
        if not gangs[order[0][0]].phones:
            gangs[order[0][0]].phones.append(ids.fresh(lambda rr: _gang_phone(rr, DENS[0])))
    events: list[tuple[int, int, str, int, int, int]] = []  # (time, seq, what, account, gang, amount)

    def credit(ts: int, acct_global: int, g: int, amount: int) -> None:
        seq[0] += 1
        heapq.heappush(events, (ts, seq[0], "credit", acct_global, g, amount))

    for n, (g, _) in enumerate(order):
        gang = gangs[g]
        scam = r.choice(gang.scam_types)
        if n == big_case:
            scam = "customer_service"
        citizen = victims[n % len(victims)]
        accts = victim_accounts(citizen)
        cards = [a for a in accts if catalog.INSTITUTIONS_BY_CODE[a[1]].kind.endswith("bank")] or accts
        payer, _ = r.choice(cards)
        case = Case(n, g, citizen, f"V{n + 1:06d}", scam, payer)
        cases.append(case)
        median, sigma = _LOSS[scam]
        loss = int(r.lognormvariate(0, sigma) * median)
        loss = max(100, min(loss, 3_000_000))
        lo, hi = _PAYMENTS[scam]
        k = r.randint(lo, hi) if loss > 2000 else 1
        # Escalating payments, each a round-ish number of yuan.
        weights = [r.uniform(0.5, 1.5) * (1.6 ** i) for i in range(k)]
        total_w = sum(weights)
        amounts = [max(1, int(loss * w / total_w)) for w in weights]
        amounts = [a - a % 100 if a >= 1000 and r.random() < 0.7 else a for a in amounts]
        amounts = [max(1, a) * 100 for a in amounts]  # fen, whole yuan
        gaps = [r.randint(180, 2400) for _ in range(k)]
        rebate_plan: list[tuple[int, int]] = []  # (after payment i, amount)
        if scam == "order_brushing":
            # Small tasks first, paid back with a profit, to build trust.
            n_small = r.randint(1, 2)
            small = [r.choice((100, 200, 300, 500, 800, 1000)) * 100 for _ in range(n_small)]
            amounts = small + amounts
            gaps = [r.randint(120, 900) for _ in small] + gaps
            rebate_plan = [(i, a + a * r.randint(10, 30) // 100) for i, a in enumerate(small)]
        if n == big_case:
            amounts, gaps = [500_000_00, 300_000_00, 190_000_00], [0, 780, 540]
        duration = sum(gaps) + 600
        t0 = _case_start(r, start, max(start + 1, end - duration))
        if n == big_case:  # 17:02 on the first day, reported at about half past five
            day0 = start - (start + 8 * 3600) % 86400
            if start <= day0 + 17 * 3600 + 120 and day0 + 17 * 3600 + 120 + duration < end:
                t0 = day0 + 17 * 3600 + 120
        t = t0
        layer1 = gang.layers[0]
        payee = None
        for i, amt in enumerate(amounts):
            t += gaps[i] if i else 0
            if payee is None or r.random() < 0.6:
                payee = r.choice(layer1)
            pay_global = account_base + payee
            channel = _victim_channel(r, scam, accounts[payee].institution)
            memo = _victim_memo(r, scam)
            ri = row(t, payer, pay_global, amt, channel, memo, VICTIM_PAYMENT, g, n)
            case.payments.append(ri)
            credit(t, pay_global, g, amt)
            for after, rb in rebate_plan:
                if after == i:
                    src = r.choice(layer1)
                    rt = t + r.randint(60, 300)
                    case.rebates.append(row(rt, account_base + src, payer, rb, CH["mobile_banking"],
                                            MEMO["返利"] if r.random() < 0.5 else MEMO["佣金"], REBATE, g, n))
                    seq[0] += 1
                    heapq.heappush(events, (rt, seq[0], "debit", account_base + src, g, rb))
                    t = rt

    # ------------------------------------------------------------------ laundering
    balance: dict[tuple[int, int], int] = {}
    pending: set[tuple[int, int]] = set()

    def layer_of(acct_global: int, g: int) -> int:
        return accounts[acct_global - account_base].layer[gangs[g].gang_id]

    while events:
        ts, _, what, acct, g, amount = heapq.heappop(events)
        key = (acct, g)
        if what == "credit":
            balance[key] = balance.get(key, 0) + amount
            if key not in pending:
                pending.add(key)
                seq[0] += 1
                heapq.heappush(events, (ts + _sweep_delay(r, layer_of(acct, g), gangs[g].depth), seq[0],
                                        "sweep", acct, g, 0))
            continue
        if what == "debit":
            balance[key] = balance.get(key, 0) - amount
            continue
        pending.discard(key)
        held = balance.get(key, 0)
        if held <= 0 or ts >= end or r.random() < 0.07:
            continue  # nothing to move, the period is over, or this mule never moved it
        layer = layer_of(acct, g)
        gang = gangs[g]
        if layer >= gang.depth:
            _cash_out(r, acct, g, held, ts, end, balance, row, events, seq)
            continue
        cut = held * r.randint(0, 30) // 1000 if not accounts[acct - account_base].middleman else 0
        fwd = held - cut
        if fwd < 100:
            continue
        nxt = gang.layers[layer]
        k = min(len(nxt), 1 if fwd < 5_000_00 else r.randint(1, 3))
        targets = r.sample(nxt, k)
        parts = _split(r, fwd, k)
        t = ts
        for target, part in zip(targets, parts):
            t += r.randint(0, 90)
            if t >= end:
                break
            ch = CH["online_banking"] if r.random() < 0.5 else CH["mobile_banking"]
            memo = r.choice((MEMO[""], MEMO["转账"], MEMO["货款"], MEMO["往来款"], MEMO["还款"]))
            row(t, acct, account_base + target, part, ch, memo, HOP, g)
            balance[key] -= part
            credit(t, account_base + target, g, part)

    rows.sort(key=lambda x: (x.ts, x.seq))
    return Fraud(people, accounts, gangs, cases, rows, {k: v for k, v in balance.items() if v > 0}, account_base)


def _case_start(r: random.Random, lo: int, hi: int) -> int:
    """A start time, mostly in waking hours (fraudsters call when victims pick up)."""
    for _ in range(20):
        t = r.randrange(lo, hi)
        hour = ((t + 8 * 3600) // 3600) % 24
        if 8 <= hour <= 22 or r.random() < 0.15:
            return t
    return t


def _sweep_delay(r: random.Random, layer: int, depth: int) -> int:
    """Seconds a mule waits before passing money on: the first layer is quickest."""
    if layer == 1:
        return r.randint(60, 1200)
    if layer >= depth:
        return r.randint(600, 5400)
    return r.randint(300, 3600)


def _split(r: random.Random, total: int, k: int) -> list[int]:
    """``total`` fen in ``k`` positive parts that add up exactly."""
    if k <= 1:
        return [total]
    cuts = sorted(r.sample(range(1, total), k - 1)) if total > k else list(range(1, k))
    parts = [b - a for a, b in zip([0] + cuts, cuts + [total])]
    return parts


def _cash_out(r, acct, g, held, ts, end, balance, row, events, seq) -> None:
    """ATM and counter withdrawals in hundreds of yuan; what is left waits for the next sweep."""
    key = (acct, g)
    avail = held - held % 100_00
    t = ts
    n = 0
    while avail >= 100_00 and n < 4:
        counter = avail > 20_000_00 and r.random() < 0.4
        limit = r.randint(100, 500) * 100_00 if counter else r.randint(20, 200) * 100_00
        w = min(avail, limit)
        t += r.randint(40, 300)
        if t >= end:
            return
        row(t, acct, -1, w, CH["counter"] if counter else CH["atm"],
            MEMO["柜台取现"] if counter else MEMO["ATM取款"], CASH_OUT, g)
        balance[key] -= w
        avail -= w
        n += 1
    if balance[key] >= 100_00:
        seq[0] += 1
        heapq.heappush(events, (t + r.randint(1800, 10800), seq[0], "sweep", acct, g, 0))


def _victim_channel(r: random.Random, scam: str, payee_inst: str) -> int:
    if catalog.INSTITUTIONS_BY_CODE[payee_inst].kind == "payment":
        return CH["quick_pay"]
    if scam == "police_impersonation" and r.random() < 0.4:
        return CH["counter"]
    return CH["mobile_banking"] if r.random() < 0.75 else CH["online_banking"]


def _victim_memo(r: random.Random, scam: str) -> int:
    options = {
        "investment": ("投资款", "充值", "转账"), "loan": ("保证金", "解冻费", "手续费"),
        "police_impersonation": ("转账", "", "往来款"), "order_brushing": ("充值", "转账", ""),
        "credit_report": ("还款", "转账"), "shopping": ("网购", "货款"), "game_trade": ("保证金", "充值"),
    }.get(scam, ("转账", ""))
    return MEMO[r.choice(options)]
