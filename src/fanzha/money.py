"""Money as integer fen.

Every amount inside fanzha is an ``int`` of fen (分, 1/100 yuan). Files and JSON carry
decimal strings with two places (``"990000.00"``). Floats never hold money: a float
cannot say 0.1 yuan exactly, and a trace must balance to the fen.
"""

from __future__ import annotations

import re
from functools import lru_cache

_DECIMAL = re.compile(r"^(?P<int>\d+)(?:\.(?P<frac>\d{1,2}))?$")

#: The largest amount fanzha accepts in one figure: 10^13 yuan. Anything above is a
#: typing error, not a transfer.
MAX_FEN = 10**15


class AmountError(ValueError):
    """An amount that is not a valid sum of yuan."""


def parse_yuan(text: str, *, allow_zero: bool = False) -> int:
    """Parse a decimal yuan string (``"12800"``, ``"12800.5"``, ``"990000.00"``) to fen.

    Strict on purpose: at most two decimal places, no sign, no exponent, no thousands
    separators (files use them for nothing else, so a comma means a broken column).
    """
    if not isinstance(text, str):
        raise AmountError(f"amount must be a decimal string, got {type(text).__name__}")
    s = text.strip()
    m = _DECIMAL.match(s)
    if not m:
        if s.startswith("-"):
            raise AmountError(f"amount must be positive: {text!r}")
        raise AmountError(f"not a yuan amount with at most two decimal places: {text!r}")
    frac = (m.group("frac") or "").ljust(2, "0")
    fen = int(m.group("int")) * 100 + int(frac)
    if fen == 0 and not allow_zero:
        raise AmountError(f"amount must be positive: {text!r}")
    if fen > MAX_FEN:
        raise AmountError(f"amount is implausibly large: {text!r}")
    return fen


def format_fen(fen: int) -> str:
    """Format fen as a yuan decimal string with two places: ``99000000 -> "990000.00"``."""
    if not isinstance(fen, int):
        raise TypeError(f"fen must be int, got {type(fen).__name__}")
    sign = "-" if fen < 0 else ""
    q, r = divmod(abs(fen), 100)
    return f"{sign}{q}.{r:02d}"


def format_fen_cn(fen: int) -> str:
    """Format fen for people: thousands separators and the yuan sign, ``¥990,000.00``."""
    sign = "-" if fen < 0 else ""
    q, r = divmod(abs(fen), 100)
    return f"{sign}¥{q:,}.{r:02d}"


# ---------------------------------------------------------------------------
# Amounts as Chinese reports write them
# ---------------------------------------------------------------------------
#
# Reports mix three notations, sometimes in one figure: Arabic digits with thousands
# separators (``12,800元``, ``5,000.50元``), Arabic digits with Chinese scale words
# (``9.9万``, ``7万2千元``) and Chinese numerals, lower case (``二十三万五千元``) or the
# financial upper case banks print on receipts (``人民币叁拾伍万元整``). One parser
# handles all of them so that "the same sum" means the same fen whichever way a
# victim, an officer or a bank wrote it.

from fractions import Fraction  # noqa: E402  (kept next to the code that needs it)

_CN_DIGIT = {
    "零": 0, "〇": 0, "○": 0, "洞": 0,
    "一": 1, "壹": 1, "幺": 1, "弌": 1,
    "二": 2, "贰": 2, "貳": 2, "两": 2, "兩": 2, "俩": 2,
    "三": 3, "叁": 3, "參": 3, "叄": 3,
    "四": 4, "肆": 4,
    "五": 5, "伍": 5,
    "六": 6, "陆": 6, "陸": 6,
    "七": 7, "柒": 7,
    "八": 8, "捌": 8,
    "九": 9, "玖": 9,
}
_CN_SMALL = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000, "k": 1000, "K": 1000}
_CN_BIG = {"万": 10**4, "萬": 10**4, "w": 10**4, "W": 10**4, "亿": 10**8, "億": 10**8}

#: Characters that may appear in the numeric part of an amount.
CN_NUMERAL_CHARS = "".join(_CN_DIGIT) + "".join(k for k in _CN_SMALL if not k.isascii()) + "".join(
    k for k in _CN_BIG if not k.isascii()
)

_AMOUNT_PREFIX = re.compile(r"^(?:人民币|RMB|rmb|CNY|cny|¥|￥)\s*")
_ARABIC = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_YUAN_WORDS = ("元钱", "块钱", "元", "圆", "块", "yuan", "RMB", "rmb")
_APPROX = ("多", "余", "来")


def _tokens(num: str) -> list[tuple[str, object]]:
    """Split the numeric part of an amount into numbers, zeros and scale words."""
    out: list[tuple[str, object]] = []
    i, n = 0, len(num)
    while i < n:
        ch = num[i]
        if ch.isdigit() and ch.isascii():
            m = _ARABIC.match(num, i)
            assert m is not None
            text = m.group(0)
            digits = text.replace(",", "")
            # exact either way; a whole number as an int (Fraction arithmetic is the slow part)
            value = Fraction(digits) if "." in digits else int(digits)
            single = len(text) == 1
            out.append(("num", (value, single)))
            i = m.end()
        elif ch in ("零", "〇", "○"):
            out.append(("zero", None))
            i += 1
        elif ch in _CN_DIGIT:
            out.append(("num", (_CN_DIGIT[ch], True)))
            i += 1
        elif ch in _CN_SMALL:
            out.append(("small", _CN_SMALL[ch]))
            i += 1
        elif ch in _CN_BIG:
            out.append(("big", _CN_BIG[ch]))
            i += 1
        else:
            raise AmountError(f"unexpected character {ch!r} in amount {num!r}")
    return out


def _eval_numeral(num: str) -> Fraction | int:
    """Value of a numeral in yuan: ``"7万2千"`` → 72000, ``"一万五"`` → 15000.

    Follows the spoken grammar: scale words multiply what precedes them, 万 and 亿
    close a group, 零 marks a skipped place, and a lone digit after the last scale
    word is one place lower (``一万五`` is 15000, ``三千五`` is 3500), as people say it.
    """
    toks = _tokens(num)
    if not toks:
        raise AmountError("amount has no number")
    # Exact values: ints, or Fractions once a decimal is read.
    total: Fraction | int = 0  # groups closed by 亿
    wan: Fraction | int = 0  # the group closed by 万 within the current 亿 group
    sec: Fraction | int = 0  # below 万
    cur: Fraction | int | None = None
    cur_single = False
    after_zero = False
    last_scale: int | None = None
    last_small: int | None = None  # within the current section, to reject "五十三百"
    group_open = False  # something since the last 万/亿
    for kind, val in toks:
        if kind == "num":
            if cur is not None:
                raise AmountError(f"two numbers in a row in {num!r}")
            cur, cur_single = val  # type: ignore[misc]
            group_open = True
        elif kind == "zero":
            if cur is not None:
                raise AmountError(f"misplaced 零 in {num!r}")
            after_zero = True
        elif kind == "small":
            unit = int(val)  # type: ignore[arg-type]
            if cur is None:
                if unit == 10 and last_scale is None or (unit == 10 and after_zero):
                    cur = 1
                else:
                    raise AmountError(f"{num!r}: scale word without a number")
            if last_small is not None and unit >= last_small:
                raise AmountError(f"{num!r}: scale words out of order")
            sec += cur * unit
            cur, after_zero, last_scale, last_small = None, False, unit, unit
            group_open = True
        else:  # big
            unit = int(val)  # type: ignore[arg-type]
            part = sec + (cur or 0)
            if not group_open and not (unit == 10**8 and wan):
                raise AmountError(f"{num!r}: scale word without a number")
            if unit == 10**4:
                if wan:
                    raise AmountError(f"{num!r}: 万 twice in one group")
                wan = part * unit
            else:
                total = (total + wan + part) * unit
                wan = 0
            sec, cur, after_zero, last_scale, last_small, group_open = (
                0, None, False, unit, None, False)
    if cur is not None:
        if cur_single and not after_zero and last_scale is not None and last_scale >= 100:
            sec += cur * (last_scale // 10)
        else:
            sec += cur
    return total + wan + sec


def parse_cn_amount(text: str) -> int:
    """Parse an amount as a Chinese report writes it and return fen.

    Accepts ``12,800元``, ``5,000.50元``, ``9.9万``, ``7万2千元``, ``二十三万五千元``,
    ``人民币叁拾伍万元整``, ``¥1,280.00``, ``3万多元`` (the round part: "more than"
    cannot be known), ``12元5角3分``, ``5k`` and ``2w``. Raises :class:`AmountError`
    for anything else, for zero, for fractions of a fen and above :data:`MAX_FEN`.
    """
    if not isinstance(text, str):
        raise AmountError(f"amount must be text, got {type(text).__name__}")
    return _cn_amount(text)


@lru_cache(maxsize=8192)
def _cn_amount(text: str) -> int:
    """:func:`parse_cn_amount` of text, remembered (the same sums recur across reports
    and sheet rows)."""
    plain = _PLAIN_AMOUNT.fullmatch(text)
    if plain is not None:  # the commonest spelling ("123150元", "9.9万"): what the grammar gives it
        whole, frac, wan = plain.group("int", "frac", "wan")
        value = int(whole.replace(",", "")) * 100 + int((frac or "").ljust(2, "0"))
        if wan:
            value *= 10**4
    else:
        value = _parse_cn_fen(text)
    if value <= 0:
        raise AmountError(f"amount must be positive: {text!r}")
    if value > MAX_FEN:
        raise AmountError(f"amount is implausibly large (over {MAX_FEN // 100} yuan): {text!r}")
    return value


#: Arabic digits (thousands separated or not, at most two decimals), 万 or not, a yuan
#: word or not, and nothing else: the amounts the grammar of :func:`_parse_cn_fen` reads
#: as the number itself (times 10^4 for 万), always a whole number of fen.
_PLAIN_AMOUNT = re.compile(r"(?P<int>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<frac>[0-9]{1,2}))?(?P<wan>万)?"
                           r"(?:元钱|块钱|元|圆|块|yuan|RMB|rmb)?")


def _parse_cn_fen(text: str) -> int:
    """:func:`parse_cn_amount` by the grammar, before the range checks (whole fen only)."""
    s = re.sub(r"\s+", "", text)
    s = _AMOUNT_PREFIX.sub("", s)
    if s.endswith("整") or s.endswith("正"):
        s = s[:-1]
    # Trailing 角 / 分 after the yuan word: 12元5角3分, 伍元叁角.
    jiao: Fraction | int = 0
    fen_part: Fraction | int = 0
    # (ASCII digits only, as everywhere in the grammar: "\d" would take "٣" too)
    m = re.search(r"(?:元|圆|块|^)(?:(?P<j>[0-9零〇一二两三四五六七八九壹贰叁肆伍陆柒捌玖])[角毛])?"
                  r"(?:零?(?P<f>[0-9一二两三四五六七八九壹贰叁肆伍陆柒捌玖])分)?$", s)
    if m and (m.group("j") or m.group("f")):
        if m.group("j"):
            jiao = Fraction(_digit_value(m.group("j")), 10)
        if m.group("f"):
            fen_part = Fraction(_digit_value(m.group("f")), 100)
        s = s[: m.start()]
    for word in _YUAN_WORDS:
        if s.endswith(word):
            s = s[: -len(word)]
            break
    for word in _APPROX:
        if s.endswith(word) and len(s) > 1:
            s = s[:-1]
            break
    if not s and not (jiao or fen_part):
        raise AmountError(f"no number in amount {text!r}")
    yuan = (_eval_numeral(s) if s else 0) + jiao + fen_part
    fen = yuan * 100
    if fen.denominator != 1:
        raise AmountError(f"amount has a fraction of a fen: {text!r}")
    return int(fen)


def _digit_value(ch: str) -> int:
    return int(ch) if ch.isascii() else _CN_DIGIT[ch]


_LOWER = "零一二三四五六七八九"
_UPPER = "零壹贰叁肆伍陆柒捌玖"


def _four(n: int, digits: str, units: tuple[str, str, str]) -> str:
    """Write 0 < n < 10000 with 零 for skipped places (``1005`` → 一千零五)."""
    out = []
    places = [(1000, units[2]), (100, units[1]), (10, units[0]), (1, "")]
    zero_pending = False
    started = False
    for value, unit in places:
        d = (n // value) % 10
        if d == 0:
            if started:
                zero_pending = True
            continue
        if zero_pending:
            out.append(digits[0])
            zero_pending = False
        out.append(digits[d] + unit)
        started = True
    return "".join(out)


def format_fen_chinese(fen: int, *, upper: bool = False) -> str:
    """Write fen in Chinese numerals: ``23500000`` → ``二十三万五千元`` (``upper``:
    the financial form, ``叁拾伍万元整``), so amounts can be printed on the forms
    banks expect and tested against :func:`parse_cn_amount`."""
    if not isinstance(fen, int) or fen <= 0:
        raise AmountError(f"fen must be a positive int, got {fen!r}")
    digits = _UPPER if upper else _LOWER
    units = ("拾", "佰", "仟") if upper else ("十", "百", "千")
    yuan, rest = divmod(fen, 100)
    jiao, fen_digit = divmod(rest, 10)

    def groups(n: int) -> str:
        # n < 10**16: split into 亿 part (itself written with 万) and the rest.
        parts = []
        yi, below = divmod(n, 10**8)
        if yi:
            parts.append(groups(yi) + "亿")
        wan, one = divmod(below, 10**4)
        if wan:
            if yi and wan < 1000:
                parts.append(digits[0])
            parts.append(_four(wan, digits, units) + "万")
        if one:
            if (yi or wan) and one < 1000:
                parts.append(digits[0])
            parts.append(_four(one, digits, units))
        return "".join(parts)

    out = ""
    if yuan:
        written = groups(yuan)
        if not upper and written.startswith("一十"):
            written = written[1:]
        out = written + "元"
    if jiao:
        out += digits[jiao] + "角"
    elif fen_digit and yuan:
        out += digits[0]
    if fen_digit:
        out += digits[fen_digit] + "分"
    elif upper:
        out += "整"
    return out
