"""Report texts as they reach a centre: a victim's own words, an officer's summary, a
110 call-taker's note.

Each voice writes the same facts differently — phones as ``+852 6543 2109`` or
``170-1234-5678``, cards in groups of four or run together, amounts as ``12,800元``,
``9.9万元`` or ``人民币叁拾伍万元整`` — because that is what intake's extractors meet.
Every identifier written into a text is also recorded (normalised, in the order it was
written), so the report's ``identifiers`` are exactly what its text says.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from fanzha.money import format_fen_chinese

CST = timezone(timedelta(hours=8))


@dataclass
class Payment:
    ts: int
    amount: int  # fen
    account: str
    bank: str  # institution name
    holder: str
    is_payment_account: bool


@dataclass
class Story:
    """The facts of one report, ready to be written in a voice."""

    scam_type: str
    victim_name: str
    male: bool
    age: int
    address: str
    received_at: int
    payments: list[Payment]
    rebates: list[int]  # fen
    contacts: dict[str, list[str]]  # kind -> values, as used on this victim
    ip: str | None = None
    den: str = ""
    noise: list[tuple[str, str]] = field(default_factory=list)


class _Writer:
    def __init__(self, r: random.Random) -> None:
        self.r = r
        self.ids: dict[tuple[str, str], None] = {}

    def note(self, kind: str, value: str) -> None:
        self.ids[(kind, value)] = None

    # -- identifiers, each written one of the ways people write them
    def phone(self, e164: str) -> str:
        self.note("phone", e164)
        r = self.r
        if e164.startswith("+86"):
            n = e164[3:]
            return r.choice((n, f"{n[:3]} {n[3:7]} {n[7:]}", f"{n[:3]}-{n[3:7]}-{n[7:]}", f"+86 {n}", e164))
        for cc in ("852", "855", "856", "971", "63", "95", "84", "60"):
            if e164[1:].startswith(cc):
                rest = e164[1 + len(cc):]
                break
        else:
            cc, rest = e164[1:3], e164[3:]
        mid = len(rest) // 2
        return r.choice((e164, f"+{cc} {rest[:mid]} {rest[mid:]}", f"00{cc}-{rest}", f"+{cc}-{rest}"))

    def card(self, number: str, is_payment_account: bool) -> str:
        if is_payment_account and number.startswith("2088"):
            self.note("alipay", number)
            return number
        self.note("bank_card", number)
        if self.r.random() < 0.35:
            return " ".join(number[i:i + 4] for i in range(0, len(number), 4))
        return number

    def qq(self, v: str) -> str:
        self.note("qq", v)
        return self.r.choice((f"QQ号{v}", f"QQ：{v}", f"QQ {v}", f"qq号码{v}"))

    def wechat(self, v: str) -> str:
        self.note("wechat", v)
        return self.r.choice((f"微信号{v}", f"微信：{v}", f"微信({v})"))

    def url(self, v: str) -> str:
        self.note("url", v)
        return v

    def domain(self, v: str) -> str:
        self.note("domain", v)
        return v

    def app(self, v: str) -> str:
        self.note("app", v)
        return f"“{v}”"

    def ip(self, v: str) -> str:
        self.note("ip", v)
        return v

    # -- amounts and times
    def amount(self, fen: int) -> str:
        r = self.r
        yuan, rest = divmod(fen, 100)
        if rest:
            return r.choice((f"{yuan}.{rest:02d}元", f"{yuan:,}.{rest:02d}元"))
        forms = [f"{yuan}元", f"{yuan:,}元", f"{yuan:,}元"]
        if yuan >= 10000 and yuan % 1000 == 0:
            w, k = divmod(yuan, 10000)
            forms += [f"{w}.{k // 1000}万元" if k else f"{w}万元"] * 2
        if yuan >= 100:
            forms.append(format_fen_chinese(fen))
            forms.append("人民币" + format_fen_chinese(fen, upper=True))
        return r.choice(forms)

    def when(self, ts: int, *, formal: bool) -> str:
        t = datetime.fromtimestamp(ts, CST)
        if formal:
            return self.r.choice((f"{t.year}年{t.month}月{t.day}日{t.hour}时{t.minute:02d}分许",
                                  f"{t.month}月{t.day}日{t.hour}时许"))
        h = t.hour
        part = "凌晨" if h < 6 else "上午" if h < 12 else "中午" if h < 13 else "下午" if h < 18 else "晚上"
        h12 = h if h <= 12 else h - 12
        return self.r.choice((f"{part}{h12}点多", f"{t.month}月{t.day}日{part}{h12}点{t.minute}分左右",
                              f"{t.hour}:{t.minute:02d}"))


# The pretext of each scam, as a victim tells it (first person) and as an officer
# writes it (third person). ``{c}`` is the contact (phone, QQ, WeChat), ``{s}`` the
# site, ``{a}`` the app; the writer fills in whatever this gang used.
_HOOKS: dict[str, tuple[str, str]] = {
    "order_brushing": (
        "我在抖音上看到兼职刷单的广告，加了对方{c}，被拉进一个任务群，对方让我下载{a}做任务",
        "报警人在网上看到兼职刷单广告，添加对方{c}后被拉入任务群，按要求下载{a}做“点赞、刷单”任务"),
    "investment": (
        "我在网上认识了一个自称投资导师的人，{c}，他拉我进了炒股群，让我在网站{s}上开户投资，说稳赚不赔",
        "报警人经网友介绍添加自称“投资导师”的{c}，被拉入股票交流群，在对方提供的网站{s}注册账户进行“投资”"),
    "loan": (
        "我接到一个电话{c}，问我要不要贷款，让我下载{a}申请，后来说我银行卡号填错了账户被冻结，要交解冻金",
        "报警人接到推销贷款电话{c}，按对方要求下载{a}申请贷款，后对方以“银行卡号填错、账户冻结”为由要求缴纳解冻金、保证金"),
    "customer_service": (
        "我接到一个自称京东客服的电话{c}，说我开通了百万保障服务，不关闭的话每月要扣费还会影响征信",
        "报警人接到自称“京东金融客服”的电话{c}，称其开通的京东白条存在违规额度，需注销否则影响征信，并诱导其下载屏幕共享软件"),
    "police_impersonation": (
        "我接到一个电话{c}，对方说是公安局的，说我涉嫌一起洗钱案，要我把钱转到安全账户配合调查，还让我上网站{s}看通缉令",
        "报警人接到自称“公安局民警”的电话{c}，称其涉嫌洗钱犯罪，要求其登录网站{s}查看“通缉令”，并将资金转入“安全账户”进行资金清查"),
    "credit_report": (
        "我接到一个电话{c}，对方自称是金融监管部门的，说我大学时开过校园贷，征信有问题要帮我消除",
        "报警人接到自称“银保监会工作人员”的电话{c}，称其征信存在不良记录需要消除，诱导其在多个平台贷款后转入指定账户"),
    "acquaintance_impersonation": (
        "我们老板的QQ加了我，{c}，说在外面开会不方便接电话，让我先给合作方转一笔货款",
        "报警人被冒充公司领导的{c}添加为好友，对方以急需向合作方支付货款为由，要求其转账"),
    "game_trade": (
        "我在游戏里卖装备，买家{c}让我去交易平台{s}，说我的账户被冻结要交保证金才能提现",
        "报警人在网络游戏中出售账号，买家{c}引导其登录交易网站{s}，以“账户冻结、需缴纳保证金”为由要求其转账"),
    "romance": (
        "我在交友软件上认识了一个网友，加了{c}，聊了一段时间后他带我在{s}上玩，说有漏洞稳赚",
        "报警人在婚恋交友软件上结识网友，添加对方{c}，被诱导在网站{s}上充值“投资”"),
    "shopping": (
        "我在朋友圈看到有人低价卖手机，加了{c}，付款后对方就把我拉黑了",
        "报警人在朋友圈看到低价出售电子产品的信息，添加对方{c}私下交易，付款后被对方拉黑"),
    "other_fraud": (
        "我接到一个电话{c}，说是快递员，说我的快递丢了要给我理赔，让我按他说的操作",
        "报警人接到自称快递员的电话{c}，称其快递丢失需理赔，按对方指引操作后被骗"),
}

_NOT_FRAUD = (
    ("报警人称其在{place}附近丢失钱包一个，内有身份证及银行卡若干，暂无财产损失。", False),
    ("报警人称其母亲向陌生账户转账，怀疑被骗。经民警核实，系其母亲向亲戚归还借款，非诈骗。", False),
    ("报警人称网购衣服后与商家发生退款纠纷，商家电话{phone}，经民警协调双方已达成一致，非诈骗警情。", True),
    ("报警人称接到陌生电话{phone}，怀疑是诈骗电话，未转账。经核实系快递员正常联系派件，非诈骗。", True),
    ("报警人称其朋友借钱不还，电话{phone}已无法接通，系民事借贷纠纷，告知其向法院起诉。", True),
)


def _contact(w: _Writer, contacts: dict[str, list[str]]) -> str:
    """The way the fraudster reached the victim, written from whatever was used."""
    parts = []
    for p in contacts.get("phone", []):
        parts.append(w.phone(p))
    for q in contacts.get("qq", []):
        parts.append(w.qq(q))
    for x in contacts.get("wechat", []):
        parts.append(w.wechat(x))
    if not parts:
        return "（号码不详）"
    return "、".join(parts)


def _site(w: _Writer, contacts: dict[str, list[str]]) -> str:
    if contacts.get("url"):
        return w.url(contacts["url"][0])
    if contacts.get("domain"):
        return w.domain(contacts["domain"][0])
    return "（网址已被对方删除）"


def _app(w: _Writer, contacts: dict[str, list[str]]) -> str:
    return w.app(contacts["app"][0]) if contacts.get("app") else "一款APP"


def write(r: random.Random, story: Story, voice: str) -> tuple[str, list[dict[str, str]]]:
    """The report text of ``story`` in ``voice`` (victim / officer / call_taker) and the
    identifiers it contains, normalised, in the order written."""
    w = _Writer(r)
    if story.scam_type == "not_fraud":
        return _not_fraud(w, story)
    total = sum(p.amount for p in story.payments)
    first_person, third_person = _HOOKS[story.scam_type]
    if voice == "victim":
        text = _victim(w, story, first_person, total)
    elif voice == "officer":
        text = _officer(w, story, third_person, total)
    else:
        text = _call_taker(w, story, total)
    return text, [{"kind": k, "value": v} for k, v in w.ids]


def _fill(w: _Writer, template: str, story: Story) -> str:
    out = template
    if "{c}" in out:
        out = out.replace("{c}", _contact(w, story.contacts))
    if "{s}" in out:
        out = out.replace("{s}", _site(w, story.contacts))
    if "{a}" in out:
        out = out.replace("{a}", _app(w, story.contacts))
    return out


def _victim(w: _Writer, s: Story, hook: str, total: int) -> str:
    r = w.r
    start = w.when(s.payments[0].ts, formal=False)
    head = r.choice((f"我叫{s.victim_name}，住在{s.address}。", f"我是{s.victim_name}，", ""))
    parts = [head + f"{start}，" + _fill(w, hook, s) + "。"]
    if s.rebates:
        parts.append(f"刚开始做了几单都返了钱，一共返了{w.amount(sum(s.rebates))}，后来对方说要连续做完才能提现。")
    if s.noise and r.random() < 0.6:
        kind, value = s.noise[0]
        w.note(kind, value)
        parts.append(f"对方还让我下载了{value}，说方便指导操作。" if kind == "app"
                     else f"对方来电显示的是{value}，我就信了。")
    lines = []
    for p in s.payments:
        acct = w.card(p.account, p.is_payment_account)
        noun = "账号" if p.is_payment_account else "卡号"
        where = f"{p.bank}账户{acct}" if r.random() < 0.6 else f"{p.bank}{noun}{acct}（户名{p.holder}）"
        lines.append(f"{w.when(p.ts, formal=False)}向{where}转了{w.amount(p.amount)}")
    if len(lines) == 1:
        parts.append("我按对方说的用手机银行" + lines[0] + "。")
    else:
        parts.append(f"我先后{len(lines)}次转账：" + "；".join(lines) + "。")
    parts.append(r.choice((f"总共被骗了{w.amount(total)}。", f"一共损失{w.amount(total)}，后来发现被骗了就报警了。",
                           "后来联系不上对方才知道被骗了。")))
    return "".join(parts)


def _officer(w: _Writer, s: Story, hook: str, total: int) -> str:
    r = w.r
    sex = "男" if s.male else "女"
    surname = s.victim_name[0]
    parts = [f"{w.when(s.received_at, formal=True)}，报警人{surname}某（{sex}，{s.age}岁，住{s.address}）报称：",
             f"{w.when(s.payments[0].ts, formal=True)}，" + _fill(w, hook, s) + "。"]
    if s.rebates:
        parts.append(f"期间对方先后返利{len(s.rebates)}笔共{w.amount(sum(s.rebates))}以骗取信任。")
    parts.append(f"报警人分{len(s.payments)}笔向对方指定账户转账，共计被骗{w.amount(total)}。" if len(s.payments) > 1
                 else f"报警人向对方指定账户转账{w.amount(total)}。")
    seen: dict[str, Payment] = {}
    for p in s.payments:
        seen.setdefault(p.account, p)
    parts.append("涉案账户：" + "；".join(f"{p.bank} {w.card(p.account, p.is_payment_account)}"
                                      for p in seen.values()) + "。")
    if s.noise and r.random() < 0.5:
        kind, value = s.noise[0]
        w.note(kind, value)
        parts.append(f"对方诱导其下载{value}进行屏幕共享。" if kind == "app" else f"对方冒用{value}客服号码。")
    if s.ip:
        parts.append(f"经查，对方登录IP为{w.ip(s.ip)}（{s.den}）。")
    return "".join(parts)


def _call_taker(w: _Writer, s: Story, total: int) -> str:
    r = w.r
    kinds = {"order_brushing": "刷单", "investment": "投资理财", "loan": "网贷", "customer_service": "冒充客服",
             "police_impersonation": "冒充公检法", "credit_report": "注销校园贷", "acquaintance_impersonation": "冒充领导",
             "game_trade": "游戏交易", "romance": "网络交友", "shopping": "网购", "other_fraud": "冒充快递理赔"}
    p = s.payments[-1]
    text = (f"报警人{s.victim_name}称遭遇{kinds[s.scam_type]}诈骗，被骗{w.amount(total)}，"
            f"对方{_contact(w, s.contacts)}，钱转入{p.bank}{w.card(p.account, p.is_payment_account)}。")
    if len(s.payments) > 1 and r.random() < 0.5:
        q = s.payments[0]
        text += f"另有一笔{w.amount(q.amount)}转入{q.bank}{w.card(q.account, q.is_payment_account)}。"
    return text + r.choice(("请速处置。", "报警人在家中。", f"地址：{s.address}。"))


def _not_fraud(w: _Writer, s: Story) -> tuple[str, list[dict[str, str]]]:
    template, has_phone = w.r.choice(_NOT_FRAUD)
    text = template.replace("{place}", s.address)
    if has_phone and s.contacts.get("phone"):
        text = text.replace("{phone}", w.phone(s.contacts["phone"][0]))
    else:
        text = text.replace("商家电话{phone}，", "").replace("陌生电话{phone}", "陌生电话").replace("电话{phone}", "电话")
    return text, [{"kind": k, "value": v} for k, v in w.ids]
