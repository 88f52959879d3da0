"""Reference data the whole platform shares: the city's police units and the institutions.

The store seeds its tables from here, intake routes a report's address to the station
that owns the street, and the gateway addresses banks, payment companies and operators
by these codes. The city is Xiamen (厦门市公安局, six district branches, their
stations and the streets and communities each station is responsible for — 分片包干).
The institutions are the ones a Chinese anti-fraud centre deals with: the national
commercial banks stationed in the centre, local banks, third-party payment companies,
the basic operators and the virtual (MVNO) operators.

Codes are stable: other records point at them. Add entries; never renumber.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

# ---------------------------------------------------------------------------
# Police units
# ---------------------------------------------------------------------------

CITY = "厦门市"

#: Districts of Xiamen with their administrative codes (used as unit codes).
DISTRICTS: dict[str, str] = {
    "思明区": "350203",
    "海沧区": "350205",
    "湖里区": "350206",
    "集美区": "350211",
    "同安区": "350212",
    "翔安区": "350213",
}

#: Resident population in thousands (7th census, rounded): where citizens live.
DISTRICT_POPULATION: dict[str, int] = {
    "思明区": 1073, "海沧区": 582, "湖里区": 1036, "集美区": 1036, "同安区": 856, "翔安区": 571,
}

UNIT_KINDS = ("city", "district", "station")


@dataclass(frozen=True)
class Unit:
    """A police unit: the city bureau, a district branch (分局) or a station (派出所).

    ``districts`` are the districts the unit answers for as a whole; ``zones`` are the
    streets, towns and communities a station owns inside its district, so an address
    naming one of them is routed to that station.
    """

    code: str
    name: str
    kind: str
    parent_code: str | None
    districts: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()


# district -> [(station name, zones)] ; zone names are unique within a district and none
# is a substring of another there, so the longest-match router is never ambiguous.
_STATIONS: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "思明区": [
        ("中华派出所", ("中华街道", "中山社区", "镇海社区")),
        ("厦港派出所", ("厦港街道", "沙坡尾社区", "蜂巢山社区")),
        ("鹭江派出所", ("鹭江街道", "鼓浪屿街道", "升平社区")),
        ("梧村派出所", ("梧村街道", "开元街道", "金榜社区")),
        ("筼筜派出所", ("筼筜街道", "湖滨社区", "南湖社区")),
        ("莲前派出所", ("莲前街道", "前埔社区", "瑞景社区")),
        ("嘉莲派出所", ("嘉莲街道", "莲秀社区")),
        ("滨海派出所", ("滨海街道", "曾厝垵社区", "黄厝社区")),
    ],
    "湖里区": [
        ("湖里派出所", ("湖里街道", "东渡社区")),
        ("殿前派出所", ("殿前街道", "高殿社区")),
        ("禾山派出所", ("禾山街道", "枋湖社区")),
        ("江头派出所", ("江头街道", "吕厝社区")),
        ("金山派出所", ("金山街道", "五缘湾社区")),
        ("高崎派出所", ("高崎社区", "机场片区")),
    ],
    "集美区": [
        ("集美派出所", ("集美街道", "集美学村")),
        ("侨英派出所", ("侨英街道",)),
        ("杏林派出所", ("杏林街道", "锦园社区")),
        ("杏滨派出所", ("杏滨街道",)),
        ("后溪派出所", ("后溪镇",)),
        ("灌口派出所", ("灌口镇",)),
    ],
    "海沧区": [
        ("海沧派出所", ("海沧街道", "海虹社区")),
        ("新阳派出所", ("新阳街道",)),
        ("嵩屿派出所", ("嵩屿街道", "未来海岸社区")),
        ("东孚派出所", ("东孚街道",)),
    ],
    "同安区": [
        ("大同派出所", ("大同街道",)),
        ("祥平派出所", ("祥平街道",)),
        ("西柯派出所", ("西柯街道",)),
        ("新民派出所", ("新民镇",)),
        ("洪塘派出所", ("洪塘镇",)),
        ("五显派出所", ("五显镇",)),
        ("汀溪派出所", ("汀溪镇",)),
        ("莲花派出所", ("莲花镇",)),
    ],
    "翔安区": [
        ("新店派出所", ("新店街道",)),
        ("马巷派出所", ("马巷街道",)),
        ("新圩派出所", ("新圩镇",)),
        ("内厝派出所", ("内厝镇",)),
        ("大嶝派出所", ("大嶝街道",)),
        ("香山派出所", ("香山街道",)),
        ("金海派出所", ("金海街道",)),
    ],
}

CITY_UNIT_CODE = "350200"


def _build_units() -> tuple[Unit, ...]:
    units = [Unit(CITY_UNIT_CODE, "厦门市公安局", "city", None, tuple(DISTRICTS))]
    for district, dcode in DISTRICTS.items():
        units.append(Unit(dcode, f"厦门市公安局{district[:-1]}分局", "district", CITY_UNIT_CODE, (district,)))
    for district, dcode in DISTRICTS.items():
        for i, (name, zones) in enumerate(_STATIONS[district], start=1):
            units.append(Unit(f"{dcode}-{i:02d}", f"{district[:-1]}分局{name}", "station", dcode,
                              (district,), zones))
    return tuple(units)


#: Every unit, parents before children (the store relies on that order).
UNITS: tuple[Unit, ...] = _build_units()
UNITS_BY_CODE: dict[str, Unit] = {u.code: u for u in UNITS}


def unit_zones(unit: Unit) -> list[tuple[str, str]]:
    """``(district, zone)`` pairs a unit answers for; zone ``""`` means the whole district.

    Stations own named zones in their district; branches and the city bureau own whole
    districts, which is where a report goes when its address names no zone.
    """
    if unit.kind == "station":
        return [(unit.districts[0], z) for z in unit.zones]
    return [(d, "") for d in unit.districts]


def stations(district: str | None = None) -> list[Unit]:
    """The stations, optionally of one district, in code order."""
    return [u for u in UNITS if u.kind == "station" and (district is None or u.districts[0] == district)]


def station_for(district: str, address: str) -> Unit | None:
    """The station whose zone the address names (longest zone name wins), or ``None``."""
    best: tuple[int, Unit] | None = None
    for u in stations(district):
        for z in u.zones:
            if z in address and (best is None or len(z) > best[0]):
                best = (len(z), u)
    return best[1] if best else None


# ---------------------------------------------------------------------------
# Institutions
# ---------------------------------------------------------------------------

INSTITUTION_KINDS = ("national_bank", "local_bank", "payment", "basic_operator", "virtual_operator")


@dataclass(frozen=True)
class Institution:
    """A bank, payment company or telecom operator the centre sends requests to.

    ``bins`` (banks): 6-digit card prefixes, used to tell the issuer from a card number.
    ``card_length``: the length of the debit cards the simulator issues (16 or 19).
    ``account_prefix`` (payment companies): how their user account numbers begin.
    ``number_prefixes`` (operators): the mobile number blocks they hold, without +86.
    ``hotline``: the customer-service number fraudsters like to spoof.
    """

    code: str
    name: str
    kind: str
    bins: tuple[str, ...] = ()
    card_length: int = 19
    account_prefix: str = ""
    number_prefixes: tuple[str, ...] = ()
    hotline: str = ""
    host: str = ""  # virtual operators: the basic operator whose network they resell
    aliases: tuple[str, ...] = field(default=())


def _nb(code: str, name: str, bins: str, hotline: str, length: int = 19, aliases: tuple[str, ...] = ()) -> Institution:
    return Institution(code, name, "national_bank", tuple(bins.split()), length, hotline=hotline, aliases=aliases)


def _lb(code: str, name: str, bins: str, length: int = 19, hotline: str = "") -> Institution:
    return Institution(code, name, "local_bank", tuple(bins.split()), length, hotline=hotline)


def _pay(code: str, name: str, prefix: str, hotline: str = "") -> Institution:
    return Institution(code, name, "payment", account_prefix=prefix, hotline=hotline)


def _vno(code: str, name: str, prefixes: str, host: str) -> Institution:
    return Institution(code, name, "virtual_operator", number_prefixes=tuple(prefixes.split()), host=host)


_NATIONAL = [
    _nb("ICBC", "中国工商银行", "622202 622208 621226 621225 622230 622235", "95588", aliases=("工商银行", "工行")),
    _nb("ABC", "中国农业银行", "622848 622845 622846 622847 622849 623052", "95599", aliases=("农业银行", "农行")),
    _nb("BOC", "中国银行", "621661 621662 621663 621665 621666 621667", "95566", aliases=("中行",)),
    _nb("CCB", "中国建设银行", "621700 436742 622700 622280 436745 621284", "95533", aliases=("建设银行", "建行")),
    _nb("BOCOM", "交通银行", "622262 622260 622261 601428 621069 621436", "95559", aliases=("交行",)),
    _nb("PSBC", "中国邮政储蓄银行", "621799 621098 622150 622151 622188 621095", "95580", aliases=("邮储银行",)),
    _nb("CMB", "招商银行", "622588 621483 621485 621486 622575 622576", "95555", 16, aliases=("招行",)),
    _nb("CITIC", "中信银行", "621768 621771 622690 622691 622692 622696", "95558", 16),
    _nb("CEB", "中国光大银行", "622660 622661 622662 622663 622664 620518", "95595", 16, aliases=("光大银行",)),
    _nb("HXB", "华夏银行", "622630 622631 622632 622633 621222 623020", "95577"),
    _nb("CMBC", "中国民生银行", "622622 622615 622617 622618 622619 621691", "95568", aliases=("民生银行",)),
    _nb("GDB", "广发银行", "622568 621462 622556 622557 622558 622559", "95508", 16),
    _nb("PAB", "平安银行", "622155 622156 622157 622986 622989 621626", "95511", 16),
    _nb("SPDB", "上海浦东发展银行", "622521 622522 622523 621792 621793 621795", "95528", 16, aliases=("浦发银行",)),
    _nb("CIB", "兴业银行", "622908 622909 622901 622902 622922 438588", "95561"),
    _nb("CZB", "浙商银行", "621268 622309 623169", "95527"),
    _nb("CBHB", "渤海银行", "622884 621453 623152", "95541"),
    _nb("HFB", "恒丰银行", "623131 622384 621220", "95395"),
]

_LOCAL = [
    _lb("XMBANK", "厦门银行", "623177 622392 621521", hotline="4008588888"),
    _lb("XIB", "厦门国际银行", "623139 622370 621592"),
    _lb("FJHXB", "福建海峡银行", "622367 623132"),
    _lb("XMRCB", "厦门农村商业银行", "623198 621371 622361"),
    _lb("FJNX", "福建省农村信用社联合社", "621260 622127 623036"),
    _lb("QZBANK", "泉州银行", "623133 622386"),
    _lb("BOB", "北京银行", "602969 621468 623111"),
    _lb("BOSC", "上海银行", "622892 621050 623185"),
    _lb("JSBANK", "江苏银行", "622173 621076 621578"),
    _lb("NJCB", "南京银行", "622303 621259"),
    _lb("NBCB", "宁波银行", "622282 623075"),
    _lb("HZBANK", "杭州银行", "621652 623078"),
    _lb("HSBANK", "徽商银行", "622877 621775"),
    _lb("GZCB", "广州银行", "622467 621417"),
    _lb("DGB", "东莞银行", "622333 621439"),
    _lb("CQBANK", "重庆银行", "622134 621232"),
    _lb("CQRCB", "重庆农村商业银行", "621528 623125"),
    _lb("CDBANK", "成都银行", "622135 621276"),
    _lb("CSCB", "长沙银行", "622368 621437"),
    _lb("BOTJ", "天津银行", "622163 621293"),
    _lb("HBCB", "河北银行", "622960 621309"),
    _lb("HRBB", "哈尔滨银行", "622425 621577"),
    _lb("SJBANK", "盛京银行", "622178 621247"),
    _lb("SRCB", "上海农村商业银行", "622478 621495"),
    _lb("BJRCB", "北京农村商业银行", "621067 622138"),
    _lb("GRCB", "广州农村商业银行", "622439 621526"),
    _lb("ZJTLCB", "浙江泰隆商业银行", "622287 621228"),
    _lb("CZCB", "浙江稠州商业银行", "622288 621346"),
    _lb("WEBANK", "深圳前海微众银行", "623650 621398"),
    _lb("MYBANK", "浙江网商银行", "623655 621389"),
    _lb("CRBANK", "珠海华润银行", "622363 621413"),
    _lb("LZBANK", "兰州银行", "622139 621242"),
    _lb("GYCB", "贵阳银行", "622133 621590"),
    _lb("XMJMVB", "厦门集美北银村镇银行", "623192"),
    _lb("XMTAVB", "厦门同安农银村镇银行", "623193"),
    _lb("XMXAVB", "厦门翔安民生村镇银行", "623194"),
]

_PAYMENT = [
    _pay("ALIPAY", "支付宝", "2088", "95188"),
    _pay("TENPAY", "财付通", "3001", "95017"),
    _pay("UNIONPAY", "中国银联", "3002", "95516"),
    _pay("CHINABANK", "网银在线", "3003"),
    _pay("LAKALA", "拉卡拉支付", "3004"),
    _pay("BILL99", "快钱支付", "3005"),
    _pay("YEEPAY", "易宝支付", "3006"),
    _pay("ALLINPAY", "通联支付", "3007"),
    _pay("CHINAPNR", "汇付天下", "3008"),
    _pay("LIANLIAN", "连连支付", "3009"),
    _pay("UMPAY", "联动优势", "3010"),
    _pay("BAOFOO", "宝付支付", "3011"),
    _pay("SHENGPAY", "盛付通", "3012"),
    _pay("YSEPAY", "银盛支付", "3013"),
    _pay("SANDPAY", "杉德支付", "3014"),
    _pay("FUIOU", "富友支付", "3015"),
    _pay("HELIPAY", "合利宝", "3016"),
    _pay("BESTPAY", "翼支付", "3017"),
    _pay("CMPAY", "和包支付", "3018"),
    _pay("WOPAY", "联通支付", "3019"),
    _pay("SUNINGPAY", "易付宝", "3020"),
    _pay("DOUYINPAY", "抖音支付", "3021"),
    _pay("MEITUANPAY", "美团支付", "3022"),
    _pay("JOINPAY", "汇聚支付", "3023"),
    _pay("HEEPAY", "汇付宝", "3024"),
    _pay("GOPAY", "国付宝", "3025"),
    _pay("VBILL", "随行付", "3026"),
    _pay("LESHUA", "乐刷", "3027"),
    _pay("CHINAUMS", "银联商务", "3028"),
    _pay("EPAY163", "网易支付", "3029"),
]

_BASIC = [
    Institution("CMCC", "中国移动", "basic_operator", hotline="10086", number_prefixes=tuple(
        "134 135 136 137 138 139 147 150 151 152 157 158 159 178 182 183 184 187 188 195 198".split())),
    Institution("CUCC", "中国联通", "basic_operator", hotline="10010", number_prefixes=tuple(
        "130 131 132 145 155 156 166 175 176 185 186 196".split())),
    Institution("CTCC", "中国电信", "basic_operator", hotline="10000", number_prefixes=tuple(
        "133 149 153 173 177 180 181 189 190 191 193 199".split())),
    Institution("CBN", "中国广电", "basic_operator", hotline="10099", number_prefixes=("192",)),
]

# Virtual operators hold blocks inside 170/171 and 162/165/167, resold on a host's network.
_VIRTUAL = [
    _vno("SNAIL", "蜗牛移动", "1700 1710", "CTCC"),
    _vno("YUANTEL", "远特通信", "1701 1711", "CTCC"),
    _vno("SHARE", "分享通信", "1702 1620", "CTCC"),
    _vno("JDTEL", "京东通信", "1703 1650", "CMCC"),
    _vno("ALITEL", "阿里通信", "1705 1651", "CMCC"),
    _vno("XIAOMI", "小米移动", "1706 1652", "CMCC"),
    _vno("SUNINGTEL", "苏宁互联", "1704 1712", "CUCC"),
    _vno("GOMETEL", "国美极信", "1707 1713", "CUCC"),
    _vno("LENOVOTEL", "联想懂的通信", "1708 1670", "CUCC"),
    _vno("LEYU", "乐语通信", "1709 1714", "CUCC"),
    _vno("HUAJI", "话机世界", "1715 1671", "CUCC"),
    _vno("HNATEL", "海航通信", "1716 1621", "CTCC"),
]

#: Every institution, in a stable order.
INSTITUTIONS: tuple[Institution, ...] = tuple(_NATIONAL + _LOCAL + _PAYMENT + _BASIC + _VIRTUAL)
INSTITUTIONS_BY_CODE: dict[str, Institution] = {i.code: i for i in INSTITUTIONS}
BANKS: tuple[Institution, ...] = tuple(i for i in INSTITUTIONS if i.kind in ("national_bank", "local_bank"))
PAYMENTS: tuple[Institution, ...] = tuple(i for i in INSTITUTIONS if i.kind == "payment")
OPERATORS: tuple[Institution, ...] = tuple(i for i in INSTITUTIONS if i.kind.endswith("operator"))


@lru_cache(maxsize=1)
def _bin_table() -> dict[str, str]:
    return {b: i.code for i in BANKS for b in i.bins}


def bin_lookup(card: str) -> str | None:
    """The code of the bank that issued ``card`` (digits), by longest matching prefix."""
    table = _bin_table()
    for n in range(min(len(card), 8), 3, -1):
        hit = table.get(card[:n])
        if hit is not None:
            return hit
    return None


@lru_cache(maxsize=1)
def _number_table() -> dict[str, str]:
    return {p: i.code for i in OPERATORS for p in i.number_prefixes}


def operator_lookup(phone: str) -> str | None:
    """The operator holding a mainland mobile number (E.164 ``+86…`` or 11 digits)."""
    national = phone[3:] if phone.startswith("+86") else phone
    if len(national) != 11 or not national.isdigit():
        return None
    table = _number_table()
    return table.get(national[:4]) or table.get(national[:3])


def account_institution(account: str) -> str | None:
    """The institution of an account number: payment-company prefix, else card BIN."""
    for p in PAYMENTS:
        if len(account) == 16 and account.startswith(p.account_prefix):
            return p.code
    return bin_lookup(account)


# ---------------------------------------------------------------------------
# Card numbers
# ---------------------------------------------------------------------------


def luhn_check_digit(payload: str) -> str:
    """The digit that makes ``payload + digit`` pass the Luhn check (ISO/IEC 7812)."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = ord(ch) - 48
        if i % 2 == 0:  # doubled: these become the odd positions once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def luhn_ok(card: str) -> bool:
    """Whether ``card`` (digits only) passes the Luhn check, as every bank card must."""
    if len(card) < 2 or not card.isdigit():
        return False
    return luhn_check_digit(card[:-1]) == card[-1]


def make_card(bank_code: str, body: int, *, bin_index: int = 0, length: int | None = None) -> str:
    """A valid card number of ``bank_code``: BIN + ``body`` digits + Luhn check digit.

    ``body`` is the account part as an integer (zero-padded to fit); ``length`` defaults
    to the bank's ``card_length``.
    """
    inst = INSTITUTIONS_BY_CODE[bank_code]
    if not inst.bins:
        raise ValueError(f"{bank_code} issues no cards")
    n = length or inst.card_length
    if n not in (16, 19):
        raise ValueError("card numbers here are 16 or 19 digits")
    bin_ = inst.bins[bin_index % len(inst.bins)]
    width = n - len(bin_) - 1
    if not 0 <= body < 10**width:
        raise ValueError(f"body must have at most {width} digits")
    payload = f"{bin_}{body:0{width}d}"
    return payload + luhn_check_digit(payload)


# ---------------------------------------------------------------------------
# Values too common to link on
# ---------------------------------------------------------------------------

#: Identifiers that appear in reports of unrelated gangs because everybody mentions
#: them: hotlines fraudsters spoof, the big apps, screen-sharing tools and shorteners.
#: Reports carry them as written in FORMATS.md (phones that are service numbers as
#: dialled). Linking must not join reports on these alone.
COMMON_NOISE: tuple[tuple[str, str], ...] = (
    ("phone", "95588"), ("phone", "95533"), ("phone", "95599"), ("phone", "95566"),
    ("phone", "95188"), ("phone", "95017"), ("phone", "95118"), ("phone", "96110"),
    ("app", "支付宝"), ("app", "微信"), ("app", "QQ"), ("app", "抖音"), ("app", "云闪付"),
    ("app", "向日葵"), ("app", "ToDesk"), ("app", "腾讯会议"), ("app", "Zoom"),
    ("domain", "t.cn"), ("domain", "dwz.cn"),
)
