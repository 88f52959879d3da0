"""People and places of the synthetic city: names, ID numbers, addresses, phones.

Everything draws from a numpy ``Generator`` handed in, so a world is a function of its
seed. Names follow southern-Fujian surname frequencies (陈, 林, 黄 lead in Xiamen);
ID numbers are valid 18-digit resident IDs (GB 11643, ISO 7064 MOD 11-2 check) so the
platform's extractors and validators meet realistic values.
"""

from __future__ import annotations

import numpy as np

from fanzha.sim import catalog

# Surnames with rough weights for Xiamen (southern Fujian has its own ranking).
_SURNAMES = (
    "陈林黄张吴李王郑刘杨蔡许洪苏庄曾谢叶周徐柯郭邱何卢傅施江游颜"
    "朱高方彭肖罗胡孙赵马梁宋唐韩冯董程魏潘杜袁范戴钟姚沈余邓丁蒋"
)
_SURNAME_W = np.array([60, 55, 40, 30, 28, 27, 26, 22, 20, 16, 15, 15, 13, 12, 11, 11, 10, 10, 9, 9,
                       8, 8, 8, 7, 7, 7, 6, 6, 6, 5] + [4] * 30, dtype=np.float64)
_SURNAME_W /= _SURNAME_W.sum()

_GIVEN_M = "伟强磊军勇杰涛斌鹏辉明超建华志国文俊毅峰浩宇翔龙海波晨阳泽凯诚"
_GIVEN_F = "芳娜敏静丽艳秀娟霞燕玲婷雪慧颖琳洁晶莹红梅兰琴怡欣悦萍雅倩婉"
_GIVEN_ANY = "子一嘉思佳雨梓晓文欣新家立德清舒"

# Roads and estates that name no zone: an address routes by its zone, never by these.
_ROADS = ("文化路", "育才路", "和平路", "新华路", "光明路", "建设路", "友谊路", "兴隆路", "东风路",
          "工业路", "学府路", "长青路", "福山路", "盛光路", "泰和路", "裕兴路", "金尚路", "仙岳路",
          "吕岭路", "环岛路", "天成路", "同集路", "翔安南路", "马青路", "兴港路", "角海路")
_ESTATES = ("阳光花园", "金色家园", "海景公寓", "翠苑小区", "锦绣华庭", "书香苑", "滨江名城",
            "世纪新城", "丽景花园", "明珠广场", "和谐家园", "绿苑新村", "学苑小区", "天湖城")

# Where mules come from: provinces other than Fujian (region codes of the ID number).
_MULE_REGIONS = ("360102", "430104", "450103", "510107", "440106", "522601", "420106",
                 "411302", "341302", "530102", "350583", "350628")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_char(first17: str) -> str:
    """The 18th character of a resident ID number (ISO 7064 MOD 11-2)."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS)) % 11]


def names(rng: np.random.Generator, n: int, male: np.ndarray) -> list[str]:
    """``n`` Chinese names; ``male`` is a boolean array choosing the given-name pool."""
    sur = rng.choice(len(_SURNAMES), size=n, p=_SURNAME_W)
    two = rng.random(n) < 0.7
    a = rng.integers(0, 1 << 30, size=n)
    b = rng.integers(0, 1 << 30, size=n)
    out = []
    for i in range(n):
        pool = _GIVEN_M if male[i] else _GIVEN_F
        g = pool[a[i] % len(pool)]
        if two[i]:
            g = (_GIVEN_ANY[b[i] % len(_GIVEN_ANY)] + g) if b[i] & 1 else (g + pool[b[i] % len(pool)])
        out.append(_SURNAMES[sur[i]] + g)
    return out


def id_numbers(rng: np.random.Generator, regions: list[str], male: np.ndarray, birth_year: np.ndarray) -> list[str]:
    """Valid 18-digit resident ID numbers: region, birth date, sequence (odd = male), check."""
    n = len(regions)
    month = rng.integers(1, 13, size=n)
    day = rng.integers(1, 29, size=n)
    seq = rng.integers(0, 500, size=n) * 2 + male.astype(np.int64)
    out = []
    for i in range(n):
        body = f"{regions[i]}{birth_year[i]:04d}{month[i]:02d}{day[i]:02d}{seq[i]:03d}"
        out.append(body + id_check_char(body))
    return out


def addresses(rng: np.random.Generator, district_idx: np.ndarray) -> tuple[list[str], list[str]]:
    """An address in a zone of each person's district, and the code of the station owning it."""
    districts = list(catalog.DISTRICTS)
    zone_tables = []
    for d in districts:
        zs = [(z, u.code) for u in catalog.stations(d) for z in u.zones]
        zone_tables.append(zs)
    n = len(district_idx)
    pick = rng.integers(0, 1 << 30, size=n)
    road = rng.integers(0, len(_ROADS), size=n)
    estate = rng.integers(0, len(_ESTATES), size=n)
    num = rng.integers(1, 400, size=n)
    room = rng.integers(1, 33, size=n) * 100 + rng.integers(1, 9, size=n)
    style = rng.integers(0, 3, size=n)
    out, units = [], []
    for i in range(n):
        d = districts[district_idx[i]]
        zone, unit = zone_tables[district_idx[i]][pick[i] % len(zone_tables[district_idx[i]])]
        if style[i] == 0:
            tail = f"{_ROADS[road[i]]}{num[i]}号"
        elif style[i] == 1:
            tail = f"{_ROADS[road[i]]}{num[i]}号{_ESTATES[estate[i]]}{room[i]}室"
        else:
            tail = f"{_ESTATES[estate[i]]}{num[i] % 30 + 1}号楼{room[i]}室"
        out.append(f"{catalog.CITY}{d}{zone}{tail}")
        units.append(unit)
    return out, units


def mobile_numbers(rng: np.random.Generator, n: int, *, virtual_share: float = 0.03) -> list[str]:
    """Distinct-looking mainland mobiles in E.164, spread over the operators' blocks."""
    basic = [p for i in catalog.OPERATORS if i.kind == "basic_operator" for p in i.number_prefixes]
    virtual = [p for i in catalog.OPERATORS if i.kind == "virtual_operator" for p in i.number_prefixes]
    use_v = rng.random(n) < virtual_share
    bi = rng.integers(0, len(basic), size=n)
    vi = rng.integers(0, len(virtual), size=n)
    tail = rng.integers(0, 10**8, size=n)
    out = []
    for i in range(n):
        if use_v[i]:
            p = virtual[vi[i]]
            out.append(f"+86{p}{tail[i] % 10**7:07d}")
        else:
            out.append(f"+86{basic[bi[i]]}{tail[i]:08d}")
    return out


def mule_regions(rng: np.random.Generator, n: int) -> list[str]:
    """Home regions (ID prefixes) of mule account holders, mostly from other provinces."""
    return [_MULE_REGIONS[i] for i in rng.integers(0, len(_MULE_REGIONS), size=n)]


_COMPANY_WORDS = ("鑫源", "恒通", "华信", "海达", "鹭岛", "嘉禾", "宏发", "天成", "瑞丰", "正阳", "盛世",
                  "永安", "同心", "百利", "金桥", "佳美", "荣达", "万和", "新纪元", "闽南")
_COMPANY_TRADES = ("贸易有限公司", "餐饮管理有限公司", "电子科技有限公司", "物流有限公司", "建材商行",
                   "超市", "便利店", "服装店", "水果店", "汽车服务有限公司", "装饰工程有限公司", "茶行",
                   "药房", "海鲜酒楼", "信息技术有限公司", "文化传媒有限公司")


def merchant_names(rng: np.random.Generator, n: int, district_idx: np.ndarray) -> list[str]:
    """Shop and company names; small shops carry the district, companies the city."""
    districts = list(catalog.DISTRICTS)
    w = rng.integers(0, len(_COMPANY_WORDS), size=n)
    t = rng.integers(0, len(_COMPANY_TRADES), size=n)
    out = []
    for i in range(n):
        trade = _COMPANY_TRADES[t[i]]
        if trade.endswith("公司"):
            out.append(f"厦门{_COMPANY_WORDS[w[i]]}{trade}")
        else:
            out.append(f"{districts[district_idx[i]][:-1]}{_COMPANY_WORDS[w[i]]}{trade}")
    return out
