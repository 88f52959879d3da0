"""Identifiers and amounts out of a free-text report.

A report arrives as whatever the victim, the officer or the 110 operator typed:
full-width digits, phone numbers split by spaces, cards in groups of four, websites
written "www点abc点com" to slip past filters, and money as ``9.9万`` or
``叁拾伍万元整``. The centre needs every phone, card, account, URL and sum in a
canonical form at once, because each one is a query or a stop-payment to send.

The pass is ordered so that one span of text yields one identifier: e-mails first
(their domains are not websites), then URLs and IPs, then the accounts named by a
keyword (QQ, WeChat, Alipay), then runs of digits (ID numbers, cards, phones), and
amounts last, over the text with every identifier blanked out so that a card number
never becomes a sum of money. Dates, times and order numbers carry no money marker
and are therefore never amounts.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import phonenumbers

from fanzha.errors import InputError
from fanzha.intake import bins
from fanzha.money import AmountError, format_fen
from fanzha.money import parse_cn_amount

#: A report longer than this is not a report (a pasted log, a file sent by mistake).
MAX_TEXT_CHARS = 200_000

#: Output keys, in the order FORMATS.md gives them, then the ones fanzha adds.
FIELDS = ("phones", "bank_cards", "urls", "qq", "wechat", "ips", "emails", "id_numbers", "amounts")
EXTRA_FIELDS = ("alipay", "qq_groups", "card_banks", "other_currency_amounts", "warnings")

_MASK = "\x01"

# --- normalisation ---------------------------------------------------------------

# Full-width ASCII to ASCII, except the Chinese comma (，), which separates clauses
# and must not turn into a thousands separator.
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F) if cp != 0xFF0C}
_FULLWIDTH.update({0x3000: 0x20, 0x2013: 0x2D, 0x2014: 0x2D, 0x2212: 0x2D, 0xFE63: 0x2D,
                   0x00A0: 0x20, 0x0000: 0x20, 0x2009: 0x20, 0x200B: None, 0xFEFF: None})
_AREA_PARENS = re.compile(r"[(（]\s*(0\d{2,3})\s*[)）]\s*")
_INTL_PARENS = re.compile(r"(\+\s?\d{1,3})\s*[(（]\s*(\d{1,4})\s*[)）]\s*")
_KEYWORD_GLUE = re.compile(r"(?i)(?=[qvwtpm])(?<![A-Za-z])(qq|vx|wx|tel|phone|mobile|wechat|weixin)(?=\d)")
# What the keyword substitution needs in the text before it can change anything (a quick
# look that spares the full pass over most reports). Every keyword ends in an ASCII letter.
_LETTER_DIGIT = re.compile(r"[A-Za-z]\d")


def char_table(table: dict[int, int | None]) -> dict[str, str]:
    """A :meth:`str.translate` table as the :func:`translate_sparse` table it is: each
    character to what it becomes (``""`` for one deleted)."""
    return {chr(cp): "" if to is None else chr(to) for cp, to in table.items()}


def char_class(table: dict[int, int | None]) -> re.Pattern[str]:
    """A pattern matching any one character of a :meth:`str.translate` table (the
    ``chars`` of :func:`translate_sparse`)."""
    return re.compile("[" + "".join(re.escape(chr(cp)) for cp in sorted(table)) + "]")


def translate_sparse(text: str, chars: re.Pattern[str], table: dict[str, str]) -> str:
    """``text.translate`` of a table (as :func:`char_table` gives it) whose characters are
    few in a text and none of which becomes another one's key; ``chars`` matches any one of
    them. Each character the text holds is replaced everywhere by one :meth:`str.replace`:
    :meth:`str.translate` looks every character of the text up in the table, which costs
    more than finding and replacing the few there are."""
    for ch in set(chars.findall(text)):
        text = text.replace(ch, table[ch])
    return text


_FULLWIDTH_CHAR = char_class(_FULLWIDTH)
_FULLWIDTH_CHARS = char_table(_FULLWIDTH)


def normalise(text: str) -> str:
    """Full-width forms to ASCII and ``(023)6396…`` to ``023-6396…``; keeps every
    character's meaning so that later passes need one spelling of each symbol."""
    t = translate_sparse(text, _FULLWIDTH_CHAR, _FULLWIDTH_CHARS)
    if "(" in t:
        t = _AREA_PARENS.sub(r"\1-", t)
        t = _INTL_PARENS.sub(r"\1 \2 ", t)
    return _KEYWORD_GLUE.sub(r"\1 ", t) if _LETTER_DIGIT.search(t) else t


# --- e-mails, URLs, IPs ----------------------------------------------------------

_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![A-Za-z0-9])")

_TLDS = (
    "com|net|org|cn|top|xyz|vip|cc|co|io|me|info|biz|app|shop|site|online|club|ltd|tk|ml|ga|cf|gq|"
    "wang|ren|ink|work|fun|live|store|tech|pro|asia|hk|tw|mo|jp|kr|sg|my|ph|kh|vn|th|la|mm|in|uk|us|"
    "ru|de|fr|au|ca|icu|link|life|world|space|website|cloud|group|today|news|one|win|bid|loan|men|"
    "date|mobi|tv|so|red|cyou|buzz|bar|rest|fit|hair|beauty|lol|vin|cash|finance|money|gold|plus|"
    "bet|game|games|tips|help|email|host|press|best|run|sbs|skin|quest|uno|pw|ws|ai|gov|edu"
)
# Written-out dots ("点", "[.]", "(点)", " dot ", "。") between the parts of a host name.
# Replaced by "." padded with NULs so the text keeps its length and positions.
_WRITTEN_DOT = re.compile(
    r"(?=[\s点點。\[(（【{.])(?<=[A-Za-z0-9])\s*(?:点|點|。|\[\s*(?:\.|点|dot)\s*\]|\(\s*(?:\.|点|dot)\s*\)|（\s*(?:\.|点)\s*）|"
    r"【\s*(?:\.|点)\s*】|\{\s*\.\s*\}|\s+dot\s+|\s+\.\s*|\.\s+)\s*(?=[A-Za-z0-9])", re.I)
_URL_CHARS = r"[^\s<>\"'\u3000-\u303f\u4e00-\u9fff\uff00-\uffef，。；！？、）》】\x01]"
# A pattern that opens with a lookahead naming every character a match can start with lets
# the scan pass over every other position at once (see _AMOUNT below).
_URL_SCHEME = re.compile(r"(?i)(?=[hf])(?<![A-Za-z])(?:https?|hxxps?|ftp)\s*:\s*//" + _URL_CHARS + "+")
_LABEL = r"[A-Za-z0-9\x00](?:[A-Za-z0-9\-\x00]*[A-Za-z0-9\x00])?"
_URL_HOST = re.compile(
    r"(?i)(?=[A-Za-z0-9\x00])(?<![A-Za-z0-9@.\-_/\x00])(?:" + _LABEL + r"\.)+(?:" + _TLDS + r")(?![A-Za-z0-9\-\x00])"
    r"(?::\d{1,5})?(?:[/?#]" + _URL_CHARS + "*)?")
_IPV4 = r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IP = re.compile(r"(?=\d)(?<![\d.])" + _IPV4 + r"(?!\.?\d)")
_IP_URL = re.compile(r"(?=\d)(?<![\d.])" + _IPV4 + r"(?::\d{1,5}(?:[/?#]" + _URL_CHARS + r"*)?|[/?#]" + _URL_CHARS + "*)")
_TRAILING = ".,;:!?)]}'\"-_"


def _clean_url(raw: str) -> str | None:
    u = raw.replace("\x00", "").rstrip(_TRAILING)
    m = re.match(r"(?i)(hxxps?|https?|ftp)\s*:\s*//", u)
    if m:
        scheme = m.group(1).lower().replace("hxxp", "http")
        rest = u[m.end():]
    else:
        scheme, rest = "http", u
    cut = len(rest)
    for sep in "/?#":
        i = rest.find(sep)
        if i != -1:
            cut = min(cut, i)
    host, tail = rest[:cut], rest[cut:]
    if not host or "." not in host and not host.startswith("["):
        return None
    return f"{scheme}://{host.lower()}{tail}"


# --- digits: ID numbers, cards, phones --------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_number_ok(s: str) -> bool:
    """A resident ID number: 18 characters, a plausible birth date, the ISO 7064
    MOD 11-2 check character (``X`` for 10)."""
    if len(s) != 18 or not s[:17].isdigit() or s[0] not in "12345678":
        return False
    try:
        born = date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return False
    if not date(1900, 1, 1) <= born <= date.today():
        return False
    total = sum(int(c) * w for c, w in zip(s[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == s[17].upper()


def _looks_like_id(s: str) -> bool:
    """Region code and a birth date where an ID number has them, whatever the check digit."""
    if s[0] not in "12345678":
        return False
    try:
        date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return False
    return 1900 <= int(s[6:10]) <= date.today().year


_RUN = re.compile(r"(?=[+\d])(?<![A-Za-z0-9_.\x00])(?:\+\s?)?\d(?:[ \-]{1,2}\d|\d)*(?:[Xx](?![A-Za-z0-9]))?(?![\d.]\d)")
_GROUP_SPLIT = re.compile(r"([ \-]+)")
_ORDER_WORDS = re.compile(r"订单|单号|流水|交易号|编号|运单|快递|工单|批次|合同|序列号|IMEI|imei|回执|凭证|商户号|案件号|账单|会员号|学号|工号")
_CARD_WORDS = re.compile(r"卡|账号|帐号|账户|帐户|户名")
_PHONE_CONTEXT = re.compile(r"电话|致电|拨打|热线|客服|来电|号码|回拨|打给|打了|短信|官方")
_MONEY_AFTER = re.compile(r"\s*(?:多|余)?\s*(?:元|块|圆|万|千|百|亿|w|W|k|K|美元|港币)")


def _last(regex: re.Pattern[str], window: str) -> int:
    pos = -1
    for m in regex.finditer(window):
        pos = m.end()
    return pos


@lru_cache(maxsize=8192)
def _phone(number: str, region: str | None) -> str | None:
    """A number in E.164, or ``None`` when it is no valid number (remembered: the same
    numbers come back in report after report, and parsing one is the dearest step here)."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    ok = phonenumbers.is_valid_number(parsed) or (
        region is None and phonenumbers.is_possible_number(parsed) and parsed.country_code != 86)
    if not ok:
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


_NOT_DIGIT_OR_X = re.compile(r"[^\dXx]")
_NOT_DIGIT = re.compile(r"\D")


def _identify(token: str, before: str, after: str) -> tuple[str, str] | None:
    """What one run of digits is, given the text just before and after it."""
    plus = token.startswith("+")
    digits = _NOT_DIGIT_OR_X.sub("", token)
    n = len(digits)
    if digits[-1] in "Xx":
        return ("id_number", digits.upper()) if id_number_ok(digits.upper()) else None
    if plus:
        e164 = _phone("+" + digits, None)
        return ("phone", e164) if e164 else None
    if digits.startswith("00") and n >= 10:
        e164 = _phone("+" + digits[2:], None)
        return ("phone", e164) if e164 else None
    order_at = _last(_ORDER_WORDS, before)
    if n == 18 and _looks_like_id(digits):
        # Chinese cards are 16 or 19 digits; an 18-digit number with a birth date in
        # the ID's place is an ID number, or a mistyped one, never a card.
        return ("id_number", digits) if id_number_ok(digits) else None
    if 16 <= n <= 19 and digits[0] in "34569" and bins.luhn_ok(digits):
        if order_at == -1 or _last(_CARD_WORDS, before) > order_at:
            return ("bank_card", digits)
        return None
    if order_at != -1 and order_at > len(before) - 8:
        return None
    if n == 11 and digits[0] == "1" and digits[1] in "3456789":
        e164 = _phone(digits, "CN")
        return ("phone", e164) if e164 else None
    if n == 13 and digits.startswith("861") and digits[3] in "3456789":
        e164 = _phone("+" + digits, None)
        return ("phone", e164) if e164 else None
    if digits[0] == "0" and 10 <= n <= 12:
        e164 = _phone(digits, "CN")
        return ("phone", e164) if e164 else None
    if n == 10 and digits[:3] in ("400", "800"):
        e164 = _phone(digits, "CN")
        return ("phone", e164) if e164 else None
    if n == 5 and (digits.startswith("95") or digits.startswith("96") or digits[:2] in ("10", "12")):
        if _MONEY_AFTER.match(after):
            return None
        if digits.startswith("95") or _PHONE_CONTEXT.search(before[-8:]):
            return ("phone", "+86" + digits)
    return None


def _split_points(token: str) -> list[tuple[int, int]]:
    """Places where a run of digits may be two numbers written side by side: a gap
    next to a group of seven or more digits (never inside a card's groups of four)."""
    parts = _GROUP_SPLIT.split(token)
    points = []
    pos = 0
    for i in range(0, len(parts) - 2, 2):
        left, gap, right = parts[i], parts[i + 1], parts[i + 2]
        pos += len(left)
        if len(_NOT_DIGIT.sub("", left)) >= 7 or len(_NOT_DIGIT.sub("", right)) >= 7 or len(gap) >= 2:
            points.append((pos, pos + len(gap)))
        pos += len(gap)
    return points


# --- keyword accounts -------------------------------------------------------------

_QQ = re.compile(r"(?i)(?=[q扣企])(?<![A-Za-z])(?:qq|扣扣|企鹅号?)\s*(?P<grp>群)?\s*(?:号码|号|账号|帐号|群号)?\s*(?:[:：]|是|为)?\s*"
                 r"(?P<n>[1-9]\d{4,10})(?!\d)")
_QQ_MORE = re.compile(r"\s*(?:[、,，/]|和|或|及|还有)\s*(?:qq\s*)?(?P<n>[1-9]\d{4,10})(?!\d)", re.I)
_WECHAT = re.compile(
    r"(?i)(?=[微薇威维徽vw加+])(?:微信|薇信|威信|维信|徽信|v信|(?<![A-Za-z])(?:vx|wx|wechat|weixin)|加\s?v|\+\s?v(?![A-Za-z]))\s*"
    r"(?:号码|号|账号|帐号|id)?\s*(?:[:：]|是|为)?\s*[“\"'「『]?"
    r"(?P<id>[A-Za-z][-_A-Za-z0-9]{5,19}|1[3-9]\d{9}|[1-9]\d{4,10})"
    r"(?![-_A-Za-z0-9@\d]|\.[A-Za-z0-9]|\s*(?:元|块|万|千|w|W))")
_WXID = re.compile(r"(?<![A-Za-z0-9_])wxid_[A-Za-z0-9_]{4,30}")
_ALIPAY = re.compile(r"支付宝\s*(?:账号|账户|帐号|帐户|号)?\s*(?:[:：]|是|为)?\s*"
                     r"(?P<a>[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}|1[3-9]\d[ \-]?\d{4}[ \-]?\d{4}(?!\d))")
_NOT_WECHAT = {"number", "account", "wechat", "weixin"}
# A character every match of _QQ (扣扣, 企鹅, qq) and of _WECHAT (…信, v…, w…) contains.
_QQ_HINT = re.compile("[qQ扣企]")
_WECHAT_HINT = re.compile("[信vVwW]")


# --- amounts ----------------------------------------------------------------------

_CN_NUM = "零〇一二两三四五六七八九十百千万亿壹贰叁肆伍陆柒捌玖拾佰仟萬億兩貳陸"
# Digit runs are possessive (``\d++``): the repeated group must never try the ways of
# splitting one run of digits, which is exponential when the match fails.
_NUMPART = (r"(?:(?:(?:\d{1,3}(?:,\d{3})+(?![\d,])|\d++)(?:\.\d++)?(?:[kKwW](?![A-Za-z]))?)|[" + _CN_NUM + r"])+")
# The lookahead names every character a match can start with (a prefix's first or a
# number's), so the scan skips every other position at once instead of trying the pattern there.
_AMOUNT = re.compile(
    r"(?=[人RrC¥￥\d" + _CN_NUM + r"])"
    r"(?P<pre>(?:人民币|RMB|rmb|CNY|¥|￥)\s*)?(?P<num>" + _NUMPART + r")(?P<approx>多|余|来)?\s*"
    r"(?P<unit>元钱|块钱|元|圆|块|yuan|RMB|rmb)?"
    r"(?P<tail>(?:[\d零一二两三四五六七八九壹贰叁肆伍陆柒捌玖][角毛])?(?:零?[\d一二两三四五六七八九壹贰叁肆伍陆柒捌玖]分)?)"
    r"(?P<zheng>整)?")
_FOREIGN = re.compile(r"\s*(?P<cur>美元|美金|港币|港元|澳元|欧元|日元|英镑|泰铢|USDT|usdt|USD|HKD|U(?![A-Za-z]))")
_FOREIGN_CODE = {"美元": "USD", "美金": "USD", "USD": "USD", "港币": "HKD", "港元": "HKD", "HKD": "HKD",
                 "澳元": "AUD", "欧元": "EUR", "日元": "JPY", "英镑": "GBP", "泰铢": "THB",
                 "USDT": "USDT", "usdt": "USDT", "U": "USDT"}
_MONEY_CONTEXT = re.compile(
    r"转账|转了|转给|转入|转出|汇款|汇了|汇入|打款|打了|付款|付了|支付|充值|充了|损失|被骗|骗走|骗了|共计|合计|总计|累计|"
    r"一共|投入|投了|投资|借|贷|还款|提现|取现|取款|存入|缴纳|交了|金额|余额|额度|收益|本金|保证金|手续费|服务费|解冻|"
    r"费用|价格|售价|赚|亏|赔|退款|返利|返还|返现|佣金|工资|月薪|年薪|押金|定金|订金|资金|钱|款|收到|到账|扣|垫付|价值|"
    r"花了|骗|拿走|给了|给他|给对方|损|欠|要")
_VERB_BEFORE = re.compile(
    r"(?:转账|转了|转给[^\s，。,]{0,6}?|转入|汇款|汇了|打款|打了|付款|付了|支付了?|充值了?|充了|损失了?|被骗了?|骗走了?|"
    r"骗了|共计|合计|总计|累计|一共|金额[:：为是]?|又转了?|投入了?|缴纳了?|交了|垫付了?|提现)\s*$")
_COUNTER_AFTER = re.compile(
    r"\s*(?:多|余)?\s*(?:人|名|次|个|条|粉|份|单|步|公里|米|字|张|件|股|倍|年|月|天|日|号|公斤|吨|斤|台|辆|部|位|户|家|票|"
    r"分钟|小时|秒|平|亩|册|%|％|点|时|:|：|笔|期|岁|遍|页|楼|层|克|G|g|M|m|K|k|T|元/|万人|多人)")


@dataclass
class Extraction:
    """Everything read out of one report, in output order."""

    phones: list[str] = field(default_factory=list)
    bank_cards: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    qq: list[str] = field(default_factory=list)
    wechat: list[str] = field(default_factory=list)
    ips: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    id_numbers: list[str] = field(default_factory=list)
    amounts: list[str] = field(default_factory=list)
    alipay: list[str] = field(default_factory=list)
    qq_groups: list[str] = field(default_factory=list)
    card_banks: list[dict[str, str | None]] = field(default_factory=list)
    other_currency_amounts: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, kind: str, value: str) -> None:
        values: list[str] = getattr(self, kind)
        if value not in values:
            values.append(value)

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in FIELDS + EXTRA_FIELDS}


def check_text(text: object, *, where: str = "text") -> str:
    """Refuse what is not a report: not text, empty, too long, or mis-decoded."""
    if not isinstance(text, str):
        raise InputError(f"{where} must be a string, got {type(text).__name__}", field="text")
    if not text.strip():
        raise InputError(f"{where} is empty", field="text")
    if len(text) > MAX_TEXT_CHARS:
        raise InputError(f"{where} is {len(text):,} characters; a report may be at most "
                         f"{MAX_TEXT_CHARS:,}", field="text")
    bad = text.count("\ufffd")
    if bad >= 3 or (_CJK.search(text) is None and (mojibake := len(_LATIN1.findall(text))) >= 4
                    and mojibake * 5 >= len(text.strip())):
        raise InputError(f"{where} looks mis-decoded (wrong encoding?): "
                         "decode the bytes as UTF-8, or GB18030 for GBK files", field="text")
    return text


_CJK = re.compile("[\u4e00-\u9fff]")
_LATIN1 = re.compile("[\x80-\xff]")


def _mask(text: str, start: int, end: int) -> str:
    """``text`` with ``text[start:end]`` blanked out (each character by one _MASK)."""
    return text[:start] + _MASK * (end - start) + text[end:]


def extract(text: str) -> Extraction:
    """Read every identifier and amount out of ``text`` (see the module docstring)."""
    check_text(text)
    out = Extraction()
    t = normalise(text)
    masked = t  # t with every identifier found so far blanked out

    # 1. E-mails; a numeric QQ mailbox also gives the QQ number.
    for m in _EMAIL.finditer(t) if "@" in t else ():
        email = m.group(0).lower()
        out.add("emails", email)
        local, _, domain = email.partition("@")
        if domain in ("qq.com", "vip.qq.com", "foxmail.com") and local.isdigit() and 5 <= len(local) <= 11:
            out.add("qq", local)
        masked = _mask(masked, m.start(), m.end())

    # 2. URLs, over a copy where written-out dots are real dots (same length).
    u = _WRITTEN_DOT.sub(lambda m: "\x00" * (len(m.group(0)) - 1) + ".", masked)
    u_masked = u  # each pattern reads u with what the ones before it found blanked out
    found: list[tuple[int, str]] = []
    for regex, needs in ((_URL_SCHEME, "//"), (_IP_URL, "."), (_URL_HOST, ".")):
        if needs not in u:
            continue
        for m in regex.finditer(u_masked):
            url = _clean_url(m.group(0))
            if url:
                found.append((m.start(), url))
            u_masked = _mask(u_masked, m.start(), m.end())
            masked = _mask(masked, m.start(), m.end())
    for _, url in sorted(found):
        out.add("urls", url)

    # 3. IPs (also those inside URLs: a den's server is an IP whichever way it is written).
    for m in _IP.finditer(t) if "." in t else ():
        try:
            ip = str(ipaddress.ip_address(m.group(0)))
        except ValueError:
            continue
        out.add("ips", ip)
        masked = _mask(masked, m.start(), m.end())

    # 4. Accounts named by a keyword.
    for m in _ALIPAY.finditer(t) if "支付宝" in t else ():
        out.add("alipay", re.sub(r"[ \-]", "", m.group("a")).lower())
    for m in _QQ.finditer(t) if _QQ_HINT.search(t) else ():
        kind = "qq_groups" if m.group("grp") or "群" in m.group(0) else "qq"
        out.add(kind, m.group("n"))
        masked = _mask(masked, m.start("n"), m.end("n"))
        pos = m.end()
        while (more := _QQ_MORE.match(t, pos)) is not None:
            out.add(kind, more.group("n"))
            masked = _mask(masked, more.start("n"), more.end("n"))
            pos = more.end()
    for m in _WECHAT.finditer(t) if _WECHAT_HINT.search(t) else ():
        wid = m.group("id")
        if wid.lower() not in _NOT_WECHAT:
            out.add("wechat", wid)
        if not wid[0].isdigit():
            masked = _mask(masked, m.start("id"), m.end("id"))
    for m in _WXID.finditer(t) if "wxid_" in t else ():
        out.add("wechat", m.group(0))
        masked = _mask(masked, m.start(), m.end())

    # 5. Runs of digits: ID numbers, cards, phones.
    mt = masked
    for m in _RUN.finditer(mt):
        token = m.group(0).rstrip(" -")
        if sum(map(str.isdigit, token)) < 5:
            continue
        start = m.start()
        before = mt[max(0, start - 16):start]
        after = mt[m.end():m.end() + 4]
        hit = _identify(token, before, after)
        if hit:
            _record(out, hit)
            masked = _mask(masked, start, m.end())
            continue
        # Perhaps two numbers side by side: try the pieces between the gaps.
        points = _split_points(token)
        if not points:
            continue
        bounds = [0] + [p for pair in points for p in pair] + [len(token)]
        pieces = [(bounds[i], bounds[i + 1]) for i in range(0, len(bounds), 2)]
        i = 0
        while i < len(pieces):
            for j in range(len(pieces), i, -1):
                a, b = pieces[i][0], pieces[j - 1][1]
                piece_before = mt[max(0, start + a - 16):start + a]
                hit = _identify(token[a:b], piece_before, mt[start + b:start + b + 4])
                if hit:
                    _record(out, hit)
                    masked = _mask(masked, start + a, start + b)
                    i = j
                    break
            else:
                i += 1

    # 6. Amounts, over the text with every identifier blanked.
    _amounts(masked, out)
    return out


def _record(out: Extraction, hit: tuple[str, str]) -> None:
    kind, value = hit
    if kind == "phone":
        out.add("phones", value)
    elif kind == "bank_card":
        if value not in out.bank_cards:
            issuer = bins.issuer(value)
            out.card_banks.append({
                "card": value,
                "bank_code": issuer.bank_code if issuer else None,
                "bank": issuer.bank_name if issuer else None,
                "scheme": bins.scheme(value),
            })
        out.add("bank_cards", value)
    else:
        out.add("id_numbers", value)


_BIG_UNIT = re.compile(r"[万亿萬億wW]")
_LIST_SEPARATORS = "、，,和及与跟"
_LIST_BEFORE = re.compile(r"(?:(?P<n>" + _NUMPART + r")\s*[" + _LIST_SEPARATORS + r"]\s*)+$")


def _list_before(window: str) -> re.Match[str] | None:
    """The list of bare numbers that ``window`` ends with (``5000、8000、``), if any.
    Such a list ends in a separator and whitespace, so a window whose last other
    character is no separator is answered without the search (which tries every start
    in the window)."""
    rest = window.rstrip()
    if not rest or rest[-1] not in _LIST_SEPARATORS:
        return None
    return _LIST_BEFORE.search(window)


def _amounts(mt: str, out: Extraction) -> None:
    hits: list[tuple[int, int]] = []  # (position, fen)
    taken: set[int] = set()
    for m in _AMOUNT.finditer(mt):
        num, pre, unit, approx = m.group("num", "pre", "unit", "approx")
        is_arabic = num[0].isdigit()
        if not is_arabic and not any(c.isdigit() or c in _CN_NUM for c in num):
            continue
        foreign = None if unit or pre else _FOREIGN.match(mt, m.end("approx") if approx else m.end("num"))
        if foreign:
            try:
                fen = parse_cn_amount(num)
            except AmountError:
                continue
            out.other_currency_amounts.append({"amount": format_fen(fen),
                                               "currency": _FOREIGN_CODE[foreign.group("cur")]})
            continue
        if unit == "块" and not is_arabic and num in "一二两三四五六七八九":
            continue  # 一块 is "together", 三块蛋糕 is cake
        if unit and unit.lower() == "rmb" and not is_arabic:
            continue
        # A bare number (most are dates, times and counts) is rejected by its cheapest test first.
        if pre or unit:
            accepted = True
        elif _BIG_UNIT.search(num) and not (num[0] in "万亿" or num[-1] in "wW" and not is_arabic):
            accepted = (not _COUNTER_AFTER.match(mt[m.end():m.end() + 6])
                        and bool(_MONEY_CONTEXT.search(mt[max(0, m.start() - 12):m.start()])))
        elif is_arabic and (whole := num.replace(",", "").split(".")[0]).isdigit():
            accepted = (len(whole) <= 8 and not _COUNTER_AFTER.match(mt[m.end():m.end() + 6])
                        and bool(_VERB_BEFORE.search(mt[max(0, m.start() - 12):m.start()])))
        else:
            accepted = False
        if not accepted:
            continue
        span_text = mt[m.start():m.end()]
        try:
            fen = parse_cn_amount(span_text)
        except AmountError as err:
            if "implausibly large" in str(err):
                out.warnings.append(f"amount ignored: {err}")
            continue
        hits.append((m.start(), fen))
        taken.add(m.start())
        # "分三次转账5000、8000、12000元": earlier bare numbers share this unit.
        if unit and not pre:
            window_start = max(0, m.start() - 80)
            lst = _list_before(mt[window_start:m.start()])
            if lst:
                for n in re.finditer(_NUMPART, lst.group(0)):
                    pos = window_start + lst.start() + n.start()
                    if pos in taken or any(abs(pos - p) < len(n.group(0)) for p, _ in hits):
                        continue
                    try:
                        hits.append((pos, parse_cn_amount(n.group(0) + unit)))
                        taken.add(pos)
                    except AmountError:
                        pass
    for _, fen in sorted(hits):
        out.amounts.append(format_fen(fen))
