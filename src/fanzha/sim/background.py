"""Clean background banking: the bulk of a city's ledger, generated vectorised in windows.

The fraud is a few thousand rows; the ledger it hides in is millions. The background is
cut into fixed time windows, and every window draws its rows from its own random stream
(seeded by the world's seed and the window's number), so a window can be generated
twice — once to learn each account's total spending (which sets the opening balances)
and once to write it — and comes out the same both times, without the whole ledger
ever being held in memory.

Activity follows the clock (quiet at 4 a.m., busy at lunch and in the evening), and
accounts differ in how busy they are (a few very active, most quiet).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Channels a transfer can come through; stored as small integers, written as these words.
CHANNELS = ("mobile_banking", "online_banking", "qr_code", "pos", "quick_pay", "payroll", "atm", "counter")
CH = {name: i for i, name in enumerate(CHANNELS)}

#: Memos, written as the banks' statements show them; "" is no memo.
MEMOS = ("", "转账", "还款", "生活费", "房租", "红包", "消费", "扫码支付", "餐饮", "超市购物", "工资", "报销",
         "货款", "服务费", "ATM取款", "现金存款", "往来款", "投资款", "保证金", "解冻费", "手续费", "柜台取现",
         "返利", "借款", "充值", "佣金", "网购")
MEMO = {m: i for i, m in enumerate(MEMOS)}

# Background kinds: (name, share, median yuan, log-sigma, round to this many fen)
_KINDS = (
    ("p2p", 0.22, 300, 1.3, 100),
    ("purchase", 0.50, 60, 1.2, 1),
    ("payroll", 0.04, 6500, 0.5, 100),
    ("b2b", 0.10, 5000, 1.5, 100),
    ("atm", 0.09, 1000, 0.8, 10000),
    ("deposit", 0.05, 2000, 1.0, 10000),
)
_KIND_CDF = np.cumsum([k[1] for k in _KINDS])
_KIND_CDF /= _KIND_CDF[-1]
_MEDIAN_FEN = np.array([k[2] * 100 for k in _KINDS], dtype=np.float64)
_SIGMA = np.array([k[3] for k in _KINDS])
_ROUND = np.array([k[4] for k in _KINDS], dtype=np.int64)

# Memo choices per kind, and the channel choices per kind.
_KIND_MEMOS = (
    (MEMO["转账"], MEMO[""], MEMO["还款"], MEMO["生活费"], MEMO["房租"], MEMO["红包"], MEMO["借款"]),
    (MEMO["消费"], MEMO["扫码支付"], MEMO["餐饮"], MEMO["超市购物"], MEMO[""], MEMO["网购"], MEMO["充值"]),
    (MEMO["工资"], MEMO["报销"], MEMO["工资"]),
    (MEMO["货款"], MEMO["服务费"], MEMO["往来款"], MEMO[""]),
    (MEMO["ATM取款"],),
    (MEMO["现金存款"],),
)
_KIND_CHANNELS = (
    (CH["mobile_banking"], CH["mobile_banking"], CH["online_banking"], CH["quick_pay"]),
    (CH["qr_code"], CH["qr_code"], CH["pos"], CH["quick_pay"]),
    (CH["payroll"],),
    (CH["online_banking"], CH["online_banking"], CH["counter"]),
    (CH["atm"],),
    (CH["counter"], CH["atm"]),
)
_MEMO_TABLE = np.array([[m[i % len(m)] for i in range(840)] for m in _KIND_MEMOS], dtype=np.int16)
_CHANNEL_TABLE = np.array([[c[i % len(c)] for i in range(840)] for c in _KIND_CHANNELS], dtype=np.int8)

#: Relative activity by hour of day (Asia/Shanghai).
HOURLY = np.array([3, 2, 1.2, 0.8, 0.7, 1, 2.5, 5, 7, 8, 9, 10, 10.5, 9, 8.5, 8.5, 8.5, 9, 9.5, 10, 10, 9, 7, 5])

WINDOW_SECONDS = 900  # a quarter of an hour


@dataclass
class Rows:
    """Ledger rows as arrays; account -1 means "none" (cash in or cash out)."""

    ts: np.ndarray  # int64 epoch seconds, sorted
    payer: np.ndarray  # int32 account index, -1: cash deposit
    payee: np.ndarray  # int32 account index, -1: cash withdrawal
    amount: np.ndarray  # int64 fen, > 0
    channel: np.ndarray  # int8 index into CHANNELS
    memo: np.ndarray  # int16 index into MEMOS

    def __len__(self) -> int:
        return len(self.ts)


class BackgroundPlan:
    """Which window gets how many clean rows, and how a window's rows are drawn.

    ``consumers`` / ``merchants`` are account indices with activity weights; people pay
    people and shops, shops pay wages and each other, people take cash out and put it in.
    """

    def __init__(self, seed: int, start: int, seconds: int, rows: int,
                 consumers: np.ndarray, consumer_w: np.ndarray,
                 merchants: np.ndarray, merchant_w: np.ndarray) -> None:
        self.seed = seed
        self.start = start
        self.n_windows = max(1, -(-seconds // WINDOW_SECONDS))
        self.bounds = np.minimum(start + np.arange(self.n_windows + 1, dtype=np.int64) * WINDOW_SECONDS,
                                 start + seconds)
        hours = ((self.bounds[:-1] - start) // 3600 + _hour0(start)) % 24
        w = HOURLY[hours] * (self.bounds[1:] - self.bounds[:-1])
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0xB0])))
        self.counts = rng.multinomial(rows, w / w.sum()) if rows > 0 else np.zeros(self.n_windows, np.int64)
        # Weighted draws by binary search cost ten million cache misses per column; draws
        # from a pre-drawn pool (a multinomial sample of four per account) cost one.
        self.consumer_pool = _pool(rng, consumers.astype(np.int32), consumer_w)
        self.merchant_pool = _pool(rng, merchants.astype(np.int32), merchant_w)

    def window(self, w: int) -> Rows:
        """The clean rows of window ``w``, sorted by time; the same every call."""
        n = int(self.counts[w])
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, 0xB1, w])))
        ts = np.sort(rng.integers(self.bounds[w], self.bounds[w + 1], size=n, dtype=np.int64))
        kind = np.searchsorted(_KIND_CDF, rng.random(n), side="right").astype(np.int8)
        kind = np.minimum(kind, len(_KINDS) - 1)
        cp, mp = self.consumer_pool, self.merchant_pool
        cons_a = cp[rng.integers(0, len(cp), size=n)]
        cons_b = cp[rng.integers(0, len(cp), size=n)]
        if len(mp):
            mer_a = mp[rng.integers(0, len(mp), size=n)]
            mer_b = mp[rng.integers(0, len(mp), size=n)]
        else:
            mer_a, mer_b = cons_a, cons_b
        raw = np.exp(rng.standard_normal(n) * _SIGMA[kind]) * _MEDIAN_FEN[kind]
        pick = rng.integers(0, 840, size=n)
        step = _ROUND[kind]
        amount = np.maximum((raw // step).astype(np.int64) * step, step)
        amount = np.minimum(amount, 5_000_000_00)  # no clean transfer above 5 million yuan
        atm = kind == 4
        amount[atm] = np.minimum(amount[atm], 20_000_00)  # an ATM gives at most 20,000 yuan a day
        payer = np.where(kind <= 1, cons_a, np.where((kind == 2) | (kind == 3), mer_a, np.where(atm, cons_a, -1)))
        payee = np.where(kind == 0, cons_b, np.where(kind == 1, mer_b, np.where(kind == 2, cons_a,
                         np.where(kind == 3, mer_b, np.where(atm, -1, cons_b)))))
        same = (payer == payee) & (payer >= 0)
        if same.any():  # nobody pays themselves: shop-to-shop falls back to a person paying
            payee = np.where(same & (kind == 3), cons_b, payee)
            payer = np.where((payer == payee) & (payer >= 0), -1, payer)  # then it is a deposit
            kind = np.where(payer == -1, np.int8(5), kind).astype(np.int8)
        return Rows(ts, payer.astype(np.int32), payee.astype(np.int32), amount,
                    _CHANNEL_TABLE[kind, pick], _MEMO_TABLE[kind, pick])


def _pool(rng: np.random.Generator, items: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``items`` repeated in proportion to ``weights``: four draws per item, at least 65,536."""
    if len(items) == 0:
        return items
    cdf = np.cumsum(weights, dtype=np.float64)
    cdf /= cdf[-1]
    u = np.sort(rng.random(max(4 * len(items), 1 << 16)))
    return items[np.searchsorted(cdf, u, side="right").clip(0, len(items) - 1)]


def _hour0(start: int) -> int:
    """The Asia/Shanghai hour of ``start`` (epoch seconds)."""
    return int(((start + 8 * 3600) // 3600) % 24)
