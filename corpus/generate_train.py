"""Write ``corpus/train.jsonl``: the training part of the scam-type corpus.

Every text is composed from phrases written for this project: for each scam type, the
steps a real case goes through (how contact began, the hook, what the victim was told
to do, how the money left, how it ended) in a victim's words, plus the fraudster's own
messages. A text is one path through those steps, told in one of several voices (the
victim, an officer's summary, a 110 operator's note), with identifiers and amounts
filled in. ``not_fraud`` holds what a centre also receives and must not call fraud:
bank and delivery notices, the police's own anti-fraud warnings, and reports of lost
wallets, accidents and disputes.

The held-out part (``heldout.jsonl``) is not produced here: it was written separately,
text by text, with its own wording, so that it measures how the model does on phrasing
it has never seen.

Run: ``python corpus/generate_train.py`` (deterministic: the seed is fixed).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from fanzha.money import format_fen_chinese  # noqa: E402

SEED = 20240503
PER_CLASS = 360

R = random.Random(SEED)

# --- slot fillers ------------------------------------------------------------------

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任卢姚沈钟姜崔谭陆范汪廖石金贾夏韦付方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺毛郝顾龚邵万覃武钱戴严莫孔向常"
CITIES = ["重庆", "厦门", "成都", "广州", "上海", "北京", "杭州", "武汉", "西安", "南京", "长沙", "郑州", "昆明", "福州", "泉州", "深圳", "哈尔滨", "南宁", "贵阳", "合肥"]
DISTRICTS = ["思明区", "湖里区", "渝中区", "江北区", "南岸区", "沙坪坝区", "九龙坡区", "集美区", "海沧区", "同安区", "翔安区", "渝北区", "巴南区", "北碚区"]
APPS = ["云享", "汇金宝", "星火任务", "速达", "优品汇", "聚财通", "金牛", "鑫盛", "盈客", "易赚", "环球汇", "恒达", "天天兼职", "乐购", "好运来", "瑞银国际", "博远", "嘉信", "万利", "顺发"]
PLATFORMS = ["淘宝", "京东", "拼多多", "抖音", "快手", "唯品会", "美团", "闲鱼", "苏宁", "小红书"]
LOAN_BRANDS = ["京东金条", "借呗", "微粒贷", "美团借钱", "360借条", "花呗", "度小满", "招联金融", "分期乐"]
PRODUCTS = ["iPhone 15", "笔记本电脑", "羽绒服", "奶粉", "茅台酒", "名牌包", "电动车", "空调", "化妆品", "手表", "相机", "Switch游戏机", "演唱会门票", "宠物狗", "二手车", "冰箱"]
GAMES = ["王者荣耀", "和平精英", "原神", "梦幻西游", "英雄联盟", "第五人格", "逆水寒", "我的世界", "蛋仔派对", "穿越火线"]
DATING = ["探探", "陌陌", "Soul", "世纪佳缘", "珍爱网", "百合网", "抖音", "微信附近的人", "一个婚恋网站", "一个交友APP"]
RELATIVES = ["表哥", "表姐", "舅舅", "侄子", "外甥", "老同学", "大学室友", "老战友", "堂弟", "小姨"]
BOSS = ["张总", "李总", "王局", "刘主任", "陈董", "黄经理", "赵书记", "公司老板", "单位领导", "校长"]
AGENCIES = ["公安局", "刑侦支队", "经侦大队", "检察院", "法院", "国家安全局", "网警", "禁毒支队"]
TLDS = ["com", "cn", "top", "xyz", "vip", "cc", "net", "co", "shop", "club"]
WORDS = ["task", "vip", "pay", "app", "jd", "tb", "kefu", "loan", "gold", "coin", "win", "fx", "money", "service", "help", "touzi", "daikuan", "game", "shop", "love"]


def name() -> str:
    return R.choice(SURNAMES) + R.choice(["某", "某某", "先生", "女士", "某某"])


def phone() -> str:
    p = R.choice(["13", "15", "17", "18", "19"]) + str(R.randint(0, 9)) + "".join(R.choice("0123456789") for _ in range(8))
    style = R.random()
    if style < 0.15:
        return f"{p[:3]} {p[3:7]} {p[7:]}"
    if style < 0.25:
        return f"{p[:3]}-{p[3:7]}-{p[7:]}"
    if style < 0.35:
        return R.choice(["+852 ", "+63 ", "+855 ", "00852"]) + "".join(R.choice("0123456789") for _ in range(8))
    if style < 0.4:
        return "400-" + "".join(R.choice("0123456789") for _ in range(3)) + "-" + "".join(R.choice("0123456789") for _ in range(4))
    return p


def qq() -> str:
    return str(R.randint(10000, 3999999999))


def wx() -> str:
    return R.choice(["wxid_", "", "", "vip", "kf", "ls"]) + "".join(R.choice("abcdefghjkmnpqrstuvwxyz0123456789_") for _ in range(R.randint(6, 12)))


def url() -> str:
    host = R.choice(WORDS) + R.choice(["", str(R.randint(1, 999)), "-" + R.choice(WORDS)]) + "." + R.choice(TLDS)
    style = R.random()
    if style < 0.4:
        return "http://" + R.choice(["www.", "m.", "", "h5."]) + host + R.choice(["", "/", "/index.html", "/reg?code=" + str(R.randint(1000, 9999))])
    if style < 0.6:
        return "www." + host
    if style < 0.75:
        return host.replace(".", R.choice(["点", "。", "[.]"]))
    return f"{R.randint(1, 223)}.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(1, 254)}:{R.choice([80, 8080, 8888, 443])}"


def card() -> str:
    return R.choice(["6222", "6228", "6217", "6214", "6226", "6230"]) + "".join(R.choice("0123456789") for _ in range(15))


def amount(lo: int = 200, hi: int = 500000) -> str:
    yuan = R.randint(lo, hi)
    if R.random() < 0.6:
        yuan = round(yuan, -R.randint(1, max(1, len(str(yuan)) - 2)))
    yuan = max(yuan, 1)
    style = R.random()
    if style < 0.35:
        return f"{yuan}元"
    if style < 0.5:
        return f"{yuan:,}元"
    if style < 0.65 and yuan >= 10000:
        w = yuan / 10000
        return (f"{w:.1f}".rstrip("0").rstrip(".") + R.choice(["万", "万元", "万余元", "万多"]))
    if style < 0.75:
        return format_fen_chinese(yuan * 100)
    if style < 0.8:
        return "人民币" + format_fen_chinese(yuan * 100, upper=True)
    if style < 0.9:
        return f"{yuan}块"
    return f"¥{yuan}"


def date() -> str:
    return R.choice([f"{R.randint(2022, 2025)}年{R.randint(1, 12)}月{R.randint(1, 28)}日", f"{R.randint(1, 12)}月{R.randint(1, 28)}日",
                     "昨天", "前天", "今天上午", "上周", "本月初", f"{R.randint(1, 12)}月中旬", "近日", "上个月"])


def time() -> str:
    return R.choice(["上午", "下午", "晚上", "中午", "凌晨"]) + R.choice([f"{R.randint(1, 12)}点", f"{R.randint(1, 12)}时许", f"{R.randint(1, 12)}点多", ""])


SLOTS = {
    "name": name, "phone": phone, "qq": qq, "wx": wx, "url": url, "card": card,
    "amount": amount, "small": lambda: amount(10, 900), "big": lambda: amount(50000, 2000000),
    "app": lambda: R.choice(APPS), "platform": lambda: R.choice(PLATFORMS), "loanbrand": lambda: R.choice(LOAN_BRANDS),
    "product": lambda: R.choice(PRODUCTS), "game": lambda: R.choice(GAMES), "dating": lambda: R.choice(DATING),
    "relative": lambda: R.choice(RELATIVES), "boss": lambda: R.choice(BOSS), "agency": lambda: R.choice(AGENCIES),
    "city": lambda: R.choice(CITIES), "district": lambda: R.choice(DISTRICTS), "date": date, "time": time,
    "n": lambda: R.choice(["2", "3", "4", "5", "6", "7", "8", "十几", "两", "三", "五", "多"]),
    "pct": lambda: R.choice(["5%", "8%", "10%", "15%", "20%", "30%", "百分之十"]),
}


def fill(template: str) -> str:
    out = template
    while "{" in out:
        start = out.index("{")
        end = out.index("}", start)
        key = out[start + 1:end]
        out = out[:start] + SLOTS[key]() + out[end + 1:]
    return out


# --- the scam types: steps in the victim's words, and the fraudster's messages ----

STORIES: dict[str, dict[str, list[str]]] = {
    "order_brushing": {
        "contact": ["我在抖音上刷到一条招兼职的视频", "我被人拉进了一个QQ群，群里天天发做任务赚钱的截图", "我收到一条短信，说招聘网络兼职日结工资",
                    "我在小红书看到宝妈在家兼职的帖子", "有个陌生人加我微信，说可以帮商家点赞赚零花钱", "我在招聘网站投了简历，一个自称人事的人联系我",
                    "我在朋友圈看到有人晒兼职收入", "一个网友推荐我做线上兼职", "我收到一个快递，里面有张卡片写着扫码领红包", "我在贴吧看到招打字员的广告"],
        "hook": ["对方让我给抖音视频点赞关注，每单给{small}佣金，前几单确实返了钱", "说是帮网店刷单提升信誉，先垫付货款，完成后返还本金加佣金",
                 "让我下载一个叫{app}的APP接任务", "说做完一组任务就能拿{pct}的返利", "接待员说先做几个免费体验单，佣金秒到账",
                 "派单员说这是福利单，佣金是平时的好几倍", "对方让我关注公众号领任务，截图发给接待员结算", "说在家动动手指每天能赚两三百"],
        "action": ["后来任务金额越来越大，对方说我操作超时卡单了，要继续做单才能解冻", "做到第四单要求垫付{amount}，说三连单完成后一起返还",
                   "提现的时候系统提示账户异常，客服说要交信誉分修复费", "对方说我刷单操作失误数据异常，要再充钱才能提现",
                   "导师说必须完成连单任务，中途放弃本金就不退", "接待员说我的任务出错了，需要做一单补单才能把钱取出来"],
        "money": ["我先后向对方提供的账户转账{n}次，共计{amount}", "我通过手机银行转了{amount}", "我用微信扫码付了{amount}", "我分{n}笔转了{amount}到对方卡号{card}"],
        "end": ["之后对方把我拉黑了，群也解散了", "到现在本金和佣金都没有返还", "后来发现根本提不了现，才知道被骗了", "对方又让我继续充值，我才反应过来是诈骗"],
    },
    "investment": {
        "contact": ["我在直播间听财经老师讲课", "一个网友拉我一起做区块链挖矿", "有人推荐我买数字藏品", "我在相亲网站认识的人说他懂博彩平台的数据规律", "我在网上认识了一个自称投资导师的人", "我被拉进一个股票交流群，群里的老师每天免费荐股", "我在婚恋网站认识一个男的，聊了一个多月后他说他舅舅在证券公司上班",
                    "有人打电话说可以免费进群学炒股", "我在短视频平台看到一个数字货币投资的广告", "朋友介绍我加了一个理财顾问的微信",
                    "一个网友经常给我晒他炒外汇赚的钱", "我被拉进一个养老投资项目的群", "我接到电话推荐一款理财产品"],
         "hook": ["说有机构专用的打新通道，中签率百分之百", "说可以买打折的大宗交易股票", "说做量化对冲，保本保息", "说藏品一周能涨三倍", "对方推荐我在{app}平台投资虚拟币，说平台有漏洞稳赚不赔", "老师说有原始股内部认购名额，上市后能翻十倍", "他说先小额试试水，结果几天就赚了几百还能提现",
                 "说平台每天收益{pct}，由专业团队操盘", "说有内幕消息，跟着买某只股票一定涨停", "让我在{app}上买黄金期货，保证收益",
                 "说现在是抄底的好机会，投得越多赚得越多", "让我下载{app}炒外汇，说有导师带单"],
        "action": ["我陆续加仓，平台上显示已经盈利近百万", "想提现的时候客服说要先交{pct}的个人所得税", "提现时提示账户涉嫌洗钱被冻结，要交保证金解冻",
                   "导师说我操作违规，要缴纳罚金才能出金", "平台说我的账户资金达到一定额度才能提现，让我继续充值", "客服说提现要先交{amount}的手续费"],
        "money": ["我前后往平台充值{n}次，共{big}", "我把积蓄{big}都投了进去", "我按要求转了{big}到对方指定账户", "我贷款加上存款一共投入{big}"],
        "end": ["后来平台打不开了，导师也联系不上", "到现在一分钱都没取出来", "群里的人全部消失，才发现被骗", "APP登不上去了，客服也不回消息"],
    },
    "loan": {
        "contact": ["我征信不好银行贷不出来，有个中介说能帮我包装资料", "我在网上看到企业经营贷的广告", "我手机上收到备用金待领取的短信", "我接到电话问我需不需要贷款", "我在网上搜贷款，下载了一个叫{app}的APP", "我收到短信说无抵押低息贷款当天放款", "我急需用钱，在朋友圈看到一个贷款广告",
                    "我在网上找人代办信用卡", "一个自称银行信贷员的人加我微信", "我在网页上填了贷款申请"],
        "hook": ["客服说我的资质审核通过了，可以贷{big}", "填完资料后客服说我银行卡号填错了，贷款资金被冻结", "对方要求先交会员费才能放款",
                 "说要先刷银行流水证明还款能力", "说我的征信分不够，要交保证金提高信用分", "说可以办大额信用卡，额度五万起",
                 "说放款前要交一笔验资金，放款后一起退还", "说我的贷款已经批下来了，但需要先缴纳工本费"],
        "action": ["我按要求转了{amount}解冻费，对方又说要交保险费", "交完保证金后对方又说要交个人所得税", "对方又以账户异常为由让我继续转钱",
                   "说办卡要先交{amount}的办卡费", "我交了手续费之后，对方说流水不够，还要再转"],
        "money": ["我前后一共转给对方{amount}", "我先后{n}次转账共计{amount}", "我向对方提供的账户{card}转了{amount}", "我通过支付宝转了{amount}"],
        "end": ["贷款一直没下来，对方也不接电话了", "对方把我拉黑了，一分钱贷款都没拿到", "我才意识到遇到了贷款诈骗", "APP也打不开了"],
    },
    "customer_service": {
        "contact": ["我接到自称{platform}客服的电话", "我接到一个自称快递公司理赔员的电话，说我的快递丢了", "对方能准确说出我的订单号和收货地址",
                    "我收到短信说我买的商品有质量问题要给我退款", "一个自称航空公司客服的人说我的航班取消了", "我接到电话说我开通了{platform}的会员服务",
                    "我在{platform}买东西后接到一个陌生电话"],
        "hook": ["对方说我买的{product}检测出质量问题，要给我三倍理赔", "说我误开通了百万保障服务，每月会自动扣费，要帮我取消", "说快递在运输途中丢失，可以给我理赔",
                 "说航班取消可以办理改签补偿", "说我的店铺资质有问题，要保证金才能继续经营", "说我被误设为代理商，不取消每月扣{small}",
                 "说要帮我关闭直播会员自动续费", "说要帮我办理退款，需要先验证账户"],
        "action": ["让我下载会议软件开启屏幕共享，按他的指示操作", "让我在支付宝备用金和借呗里把钱借出来，再转到指定账户验证流水", "让我把钱转到理赔专用账户",
                   "说要验证我的还款能力，让我从几个贷款平台借款", "让我扫二维码进入退款页面输入银行卡和验证码", "让我把验证码报给他"],
        "money": ["我先后转了{amount}", "银行卡里的{amount}被转走了", "我按照他说的转了{n}笔共{amount}", "我向对方账户转账{amount}"],
        "end": ["后来对方就联系不上了，我才发现被骗", "退款根本没有到账", "打官方客服电话才知道根本没有这回事", "对方说钱会原路退回，但一直没退"],
    },
    "police_impersonation": {
        "contact": ["我接到一个自称{city}{agency}民警的电话", "我接到电话说我的医保卡在外地违规消费，随后被转接到公安局", "一个自称通信管理局的人说我的手机号涉嫌发送诈骗短信",
                    "对方自称是{agency}的，说我涉嫌一起洗钱案", "有人自称快递公司说我寄的包裹里有违禁品，然后转给了警察", "我接到一个座机电话，对方说是{city}公安局的",
                    "一个自称社保局的工作人员打电话说我的社保卡异常"],
        "hook": ["对方说我的身份信息被冒用办了银行卡，涉嫌洗钱", "让我加QQ看通缉令，上面有我的照片和身份证号", "说要对我的资金进行清查，让我把钱转到国家安全账户",
                 "要我保密，不准告诉任何人，否则影响办案", "说我涉嫌一起跨国贩毒案，要冻结我所有的财产", "说我要配合调查，否则马上会被逮捕",
                 "说我的银行卡被犯罪分子用来转移赃款"],
        "action": ["让我下载视频会议软件，单独在酒店房间接受调查", "让我把名下所有存款转到指定账户，说核查后会退还", "要求我交保证金证明自己清白",
                   "让我把银行卡里的钱集中到一张卡上方便监管", "警官在视频里穿着制服，还给我看了工作证"],
        "money": ["我按要求转了{big}", "我把存款{big}全部转到了所谓的安全账户", "我前后转了{n}次共{big}", "我向对方账户{card}转账{big}"],
        "end": ["后来对方再也联系不上了", "我跟家人说起，家人说是诈骗，我才报警", "到银行转账时被柜员提醒可能是诈骗，但钱已经转走了一部分", "之后打110核实，才知道公安不会这样办案"],
    },
    "credit_report": {
        "contact": ["我想买房，银行说我征信有逾期", "我收到短信说我名下有未结清的校园借贷", "对方准确报出我的姓名和身份证号，说我读书时开过白条", "我接到自称{loanbrand}客服的电话", "我收到短信说我的学生贷账户还没有注销", "对方说我上大学时开通过校园贷账户", "一个自称银保监会工作人员的人打电话给我",
                    "我接到电话说我的征信有问题"],
        "hook": ["说国家要清理校园贷，不注销会影响个人征信", "说我的{loanbrand}额度异常，会影响征信", "说可以帮我修复征信，消除逾期记录",
                 "说要把借出来的钱转到指定账户清空额度，否则征信有污点", "说我的账户不符合监管要求需要关闭，否则影响买房贷款", "说我有一笔逾期贷款要上征信黑名单"],
        "action": ["让我在几个贷款平台借款，然后转给他们消额度", "我先后从借呗、微粒贷借出钱转到对方账户", "让我下载会议软件共享屏幕，教我操作注销",
                   "说注销后借出的钱会全部退回"],
        "money": ["一共转了{amount}", "我借出来{amount}都转给了对方", "我向对方转账{n}次共{amount}"],
        "end": ["事后发现征信根本没问题，钱也没退回来", "我现在还背着几万贷款", "打官方电话核实才知道被骗了"],
    },
    "acquaintance_impersonation": {
        "contact": ["工作群里的总经理私聊我", "有人冒充我在国外读书的孩子加我微信", "一个自称我大学导师的人给我发短信", "财务群里老板让我处理一笔款子", "微信上有个头像和名字都是我们{boss}的人加我", "我收到{boss}的QQ消息，让我加他新微信", "我的{relative}在QQ上找我", "我接到一个电话，对方让我猜猜他是谁",
                    "我收到{relative}的微信消息，说他换了新号", "一个自称我孩子班主任的人加我微信", "公司群里{boss}发消息找我"],
        "hook": ["对方说在外面开会不方便接电话，有个合作方要付款，让我先从公司账户转{big}", "说他出了车祸急需手术费", "说孩子在学校受伤住院了，让我打钱给医院",
                 "说要给领导送礼，让我帮忙先垫付", "说他在外地被人扣了，急需用钱", "说明天就还，先借{amount}周转一下", "说是要交学费，让我转到老师账户"],
        "action": ["我没有打电话核实就转了钱", "我看头像和说话语气都很像，就没怀疑", "对方催得很急，说马上要用"],
        "money": ["我向对方提供的账户{card}转了{amount}", "我转了{amount}过去", "我分两次一共转了{amount}"],
        "end": ["后来打电话问本人，才知道根本没这回事", "第二天见到{boss}说起，才知道被冒充了", "对方又要钱时我起了疑心，打电话核实才发现被骗"],
    },
    "game_trade": {
        "contact": ["我在游戏里认识一个玩家说可以低价代充点券", "孩子用平板玩游戏时被陌生玩家加了QQ", "我在二手账号交易APP上买了一个号", "我在{game}里有人要高价收我的账号", "我在贴吧看到有人低价卖{game}的装备", "我想买游戏币，有人私聊说他那里便宜", "我孩子玩{game}时被人加好友说可以免费领皮肤",
                    "我在游戏交易群里认识一个卖家", "我想找人代练{game}上段位"],
        "hook": ["对方让我在一个游戏交易平台上交易，网址{url}", "交易时平台提示我的账户被冻结，要交保证金解冻", "说要先交押金才能过户账号",
                 "说孩子领皮肤要先验证家长账户", "说我的提现账户填错了，要交费修改", "说代练要先付定金"],
        "action": ["我转了{amount}后对方又说要交激活费", "孩子用我的手机扫码转了{amount}", "客服说要再交{small}解冻"],
        "money": ["前后一共转了{amount}", "我通过微信转了{amount}", "我向对方账户转了{amount}"],
        "end": ["后来账号也没拿到，对方把我拉黑了", "装备根本没有到账", "平台网站打不开了"],
    },
    "romance": {
        "contact": ["我和一个网上认识的女友聊了半年一直没见面", "我在社交软件上认识一个外籍军医", "我在网上和一个女子视频聊天", "我在{dating}上认识一个网友", "我在{dating}上认识了一个自称军官的男人", "我在{dating}认识一个女孩，聊得很投机", "我在网上认识一个自称海外医生的男人",
                    "我在游戏里认识一个女网友，后来加了微信"],
        "hook": ["她以母亲住院、弟弟上学、房租到期为由多次找我借钱", "对方诱导我脱衣服，说已经录屏了", "说要寄一箱美元给我当婚前财产", "对方很快就和我确定了恋爱关系，每天叫我老婆", "说要来看我，但机票钱不够", "说她妈妈生病住院急需手术费", "说给我寄了礼物，包裹被海关扣了要交关税",
                 "和我视频裸聊后，对方威胁要把录像发给我的亲友", "说他在国外维和，要我帮忙交退役手续费", "说要和我结婚，让我先出彩礼钱"],
        "action": ["我心疼她就转了钱", "交了关税后又说还要交罚款", "对方一直找借口不见面", "我怕视频被传出去，就按他说的转了钱"],
        "money": ["我前后给对方转了{amount}", "我先后{n}次给她转账{amount}", "我转了{amount}到对方指定的账户"],
        "end": ["后来对方把我拉黑了", "我才发现照片都是网上盗的", "对方又要钱，我不给就消失了"],
    },
    "shopping": {
        "contact": ["我在网上订月子中心的套餐", "我在网上找人做公司网站", "我在微商那里订了一批口罩", "我看到一个低价茅台的广告", "我在闲鱼上看到一个很便宜的{product}", "我在朋友圈看到有人低价卖{product}", "我在网上找人代购{product}", "我想买演唱会门票，一个黄牛说有票",
                    "我在网上看中一只宠物狗", "我在一个购物网站{url}上买东西"],
        "hook": ["对方让我脱离平台私下交易", "说要先付全款才发货", "付款后说要交运费险和检疫费", "说是海外直邮，要先交关税",
                 "说货已经发了，要我再补{small}的保价费", "说是内部员工价，只能微信转账"],
        "action": ["付了钱之后对方不发货还拉黑我", "收到的是假货，联系卖家已经联系不上", "对方又让我交各种费用"],
        "money": ["我一共付了{amount}", "我转账{amount}给卖家", "我通过微信付了{amount}"],
        "end": ["货一直没收到", "对方已经注销账号了", "网站也打不开了"],
    },
    "other_fraud": {
        "contact": ["我接到电话说我的ETC认证过期了", "有人说能帮孩子走关系进重点学校", "我在网上找换汇的人换美元", "我在网上看到有人高价回收旧手机", "我在网上看到一个给病重孩子捐款的求助", "我在网上玩百家乐和时时彩", "一个自称武警后勤的人来饭店订餐", "我收到短信说我中奖了", "一个自称部队采购员的人打电话说要订购物资", "我在招聘网站应聘，对方让我交培训费", "有人说可以帮忙办驾照不用考试",
                    "我在网上看到一个网络赌博平台", "我接到电话说我中了节目的幸运观众大奖", "有人冒充明星工作室说粉丝可以领福利",
                    "一个自称慈善机构的人让我捐款", "我在网上看到一个能办低价机票的人"],
        "hook": ["领奖需要先交个人所得税和手续费", "说重新认证要填银行卡号和验证码", "说要先交赞助费和打点费", "说汇率比银行优惠，先把人民币转过去", "说检测有问题，要我付检测费和运费才退回手机", "说孩子急需治疗费，捐得越多越好", "说有内部规律稳赢，让我加大下注", "说要帮忙从指定供应商采购特供酒", "采购员让我帮他从指定厂家代购一批物资，说回头一起结账", "说交了服装费和培训费就可以上岗",
                 "说办证要先交材料费", "平台先让我赢了几把，然后让我加大投注", "说要先交公证费才能领奖", "说捐款可以抵税还能抽奖"],
        "action": ["我交了钱之后对方又要保证金", "我按要求转了钱，厂家就联系不上了", "对方又以各种理由让我交钱", "后来输光了，平台也不给提现"],
        "money": ["我一共转了{amount}", "先后交了{amount}", "我往平台充值了{amount}"],
        "end": ["之后再也联系不上对方", "奖品一直没有收到", "工作也没有安排", "证也没办下来"],
    },
}

SMS: dict[str, list[str]] = {
    "order_brushing": ["【兼职】在家动动手指，点赞关注日赚300+，加微信{wx}", "诚招网络兼职，时间自由，一单一结，佣金{pct}，详询QQ{qq}",
                       "宝妈学生党福利：帮商家做任务，垫付后立即返还本金+佣金，下载{app}注册", "亲，您的任务还差最后一单即可提现，请尽快完成连单任务，否则账户冻结",
                       "招聘打字员、点赞员，无需经验，手机就能做，日结{small}，联系{phone}", "接待员：第一单是体验单，佣金马上到账，第二单开始垫付金额{amount}",
                       "您已被选为优质推手，完成三单任务即可获得{amount}奖励，任务链接{url}", "兼职刷单不收任何费用，一天两小时，月入过万，扫码进群"],
    "investment": ["【证券内参】尊敬的投资者，您已获得内部牛股推荐资格，添加老师微信{wx}免费领取", "跟着老师炒股，月收益30%不是梦，进群：{url}",
                   "数字货币量化交易，稳赚不赔，日收益{pct}，注册链接{url}", "本周三只涨停牛股免费送，名额有限，加QQ{qq}", "原始股内部认购，上市翻倍，详询{phone}",
                   "导师带单外汇黄金，收益可观，充值越多返利越高，平台{app}", "亲爱的，这个平台我自己一直在做，你先投{amount}试试，赚了随时提"],
    "loan": ["【金融服务】您有一笔{big}额度待领取，年化利率低至3.6%，无需抵押，点击{url}立即申请", "急用钱？凭身份证即可贷款，当天到账，详询{phone}",
             "代办大额信用卡，黑户白户均可，包下卡，QQ{qq}", "您的贷款已审批通过，因银行卡号填写错误资金被冻结，请缴纳{amount}解冻金", "无视征信，秒批秒到，最高可借{big}，下载{app}",
             "尊敬的客户，放款前需验证您的还款能力，请转入{amount}至指定账户，放款后一并退还"],
    "customer_service": ["【快递通知】您的快递因破损丢失，请联系理赔专员{phone}办理退款", "【{platform}客服】您好，您购买的商品存在质量问题，为您办理双倍退款，请添加客服QQ{qq}",
                         "尊敬的用户，您的百万保障服务即将开通，每月扣费800元，如需取消请致电{phone}", "您的航班因故取消，请联系{phone}办理改签，每人补偿300元",
                         "您好，这边是{platform}售后，您的订单异常需要退款，请点击{url}填写银行卡信息", "您的店铺保证金不足将被冻结，请联系客服{phone}处理"],
    "police_impersonation": ["【{city}公安】你涉嫌一宗洗钱案件，请于今日内联系{phone}配合调查，否则冻结名下资产", "您的医保卡存在违规使用，即将被冻结，请致电{phone}核实",
                             "这里是{city}{agency}，你的身份证涉嫌一起经济案件，请立即回电", "你名下的银行卡涉嫌洗钱，根据规定需将资金转入安全账户接受审查",
                             "通缉令已下发，你若不配合调查将被立即逮捕，请添加办案民警QQ{qq}"],
    "credit_report": ["【金融监管】您的校园贷账户未注销，将严重影响个人征信，请于今日内联系{phone}处理", "征信修复、逾期消除、内部渠道，加微信{wx}",
                      "您的{loanbrand}账户不符合监管要求需关闭，否则影响征信，详询{phone}", "您有一笔学生贷逾期，将被纳入征信黑名单，请尽快联系客服注销",
                      "征信花了？网贷黑了？专业征信修复，先办事后收费，QQ{qq}"],
    "acquaintance_impersonation": ["我是{boss}，你现在方便吗？加一下我这个新微信，有事安排你", "妈，我手机掉水里了，这是我新号，急需交学费{amount}，先打到这个卡{card}",
                                   "老同学，我在外地出了点事，能不能先借我{amount}，明天就还", "小刘，我在开会不方便接电话，你先给这个账户转{big}，合同的事我回头跟你说",
                                   "猜猜我是谁？连我的声音都听不出来了？", "家长您好，我是班主任，本学期资料费{small}请转到这个账户"],
    "game_trade": ["出售{game}满级号，价格美丽，走平台交易，加QQ{qq}", "恭喜您获得{game}限定皮肤，点击{url}领取", "游戏代练、代充五折，包安全，详询微信{wx}",
                   "您的{game}账号交易资金已冻结，请缴纳{small}保证金解冻", "收购{game}账号，高价回收，当场结算，平台链接{url}"],
    "romance": ["亲爱的，我妈妈住院了急需手术费，你先借我{amount}好吗？", "宝贝，我给你寄的包裹在海关被扣了，需要交清关费，帮我付一下", "不想视频被发给你家人朋友，就转{amount}到这个账户",
                "老公，我好想你，等我攒够机票钱就去找你，你能先帮我出一点吗", "我在叙利亚维和，退役需要交手续费，等我回国我们就结婚"],
    "shopping": ["原装正品{product}，全网最低价，仅限今天，加微信{wx}", "演唱会内场票，原价转让，先付款后发票，QQ{qq}", "低价出售二手{product}，九成新，同城可送，先付定金",
                 "海外代购{product}，比专柜便宜一半，全款后发货", "清仓特价{product}，扫码下单{url}"],
    "other_fraud": ["恭喜您被抽中为幸运观众，获得二等奖现金{big}及笔记本电脑一台，详情登录{url}", "【部队采购】采购一批矿泉水和床上用品，请联系王采购{phone}",
                    "无需考试直接拿证，驾照学历包过，详询{phone}", "充值送彩金，百家乐、体育博彩，稳赢不输，网址{url}", "明星粉丝见面会门票免费抽取，需交{small}报名费",
                    "高薪招聘海外客服，月薪三万，包吃住，需先交服装费"],
}

NOT_FRAUD: list[str] = [
    # bank, payment and operator notices
    "【工商银行】您尾号{tail}卡{mmdd}{hhmm}支出(消费){small}，余额{amount}。", "【招商银行】您账户{tail}于{mmdd}收到工资{amount}，余额{amount}。",
    "【建设银行】您的信用卡本期账单{amount}，到期还款日{mmdd}，请按时还款。", "【农业银行】您尾号{tail}账户{mmdd}{hhmm}完成转账交易人民币{amount}，余额{amount}。",
    "【中国移动】您本月话费账单{small}，截至目前余额{small}，感谢使用。", "【支付宝】验证码{code}，5分钟内有效，切勿告诉他人。",
    "【微信支付】你已成功支付{small}给美团外卖。", "【交通银行】尊敬的客户，您的信用卡可申请账单分期，详询官方客服95559。",
    "【12306】订单E{code}，您已购买{mmdd}G{train}次车票，请凭身份证检票乘车。", "【美团】外卖红包已到账，满30减10，有效期至{mmdd}。",
    "【国家电网】您本月电费{small}已扣费成功。", "【京东】您的订单已出库，预计明天送达，请保持电话畅通。",
    # delivery
    "【菜鸟驿站】您的包裹已到{district}某小区驿站，取件码{code}，请及时领取。", "【顺丰速运】您的快件SF{code}{code}已签收，感谢使用顺丰。",
    "【中通快递】快递员正在派送您的包裹，联系电话{phone}。", "【丰巢】您的快递已存入丰巢柜，取件码{code}。",
    # police and government anti-fraud warnings
    "【国家反诈中心】公检法机关不会通过电话办案，更没有安全账户，凡是要求转账的都是诈骗！", "【{city}公安】刷单就是诈骗，凡是先垫付的网络兼职都是诈骗，请勿轻信。",
    "反诈提醒：不要点击陌生链接，不要下载陌生APP，不要向陌生人转账，如遇可疑情况请拨打96110。", "警方提示：近期冒充电商客服诈骗高发，退款理赔请通过官方平台办理。",
    "【{city}反诈中心】您好，您可能正在遭遇诈骗，请立即停止转账，如有疑问请拨打110。", "【反诈宣传】投资理财要选择正规渠道，高收益稳赚不赔的都是诈骗。",
    "【公安提醒】凡是自称领导、熟人要求转账的，务必电话或当面核实。", "【反诈预警】注销校园贷、修复征信都是诈骗话术，征信无法人为修复。",
    "国家反诈中心提醒您：网络交友要谨慎，谈钱就要小心，对方让你投资、借钱的都是诈骗。", "社区民警今天到小区开展反诈宣传，讲解了刷单、冒充客服、虚假贷款等常见骗局。",
    "{city}警方破获一起电信网络诈骗案，抓获犯罪嫌疑人{n}名，为群众挽回损失{big}。", "民警提醒：游戏装备交易请走官方平台，切勿私下交易。",
    "【96110】您好，我们是{city}反诈中心，近期冒充公检法诈骗高发，请提高警惕，保护好自己的财产。",
    # everyday messages and chats
    "妈，我周末回家吃饭，你不用准备太多。", "明天下午三点开会，请各部门负责人准时参加。", "你的快递我帮你拿了，放在门口了。", "今晚加班，晚饭不用等我了。",
    "老王，上次借你的{small}我微信转你了，查收一下。", "周六同学聚会，每人AA{small}，转给班长就行。", "孩子学校通知下周一家长会，记得请假。",
    "房租{amount}已经转给房东了，收据在抽屉里。", "小区物业通知：明天上午九点到十二点停水，请提前储水。",
    # reports that are not fraud
    "报警人{name}称其钱包在公交车上丢失，内有现金{small}和身份证、银行卡，请求帮助寻找。", "{date}{time}，{district}某路口发生两车刮擦事故，无人员受伤，双方对责任有争议。",
    "报警人称邻居家装修噪音太大，影响休息，请求民警协调。", "报警人{name}称其停放在楼下的电动车被盗，价值约{amount}。",
    "报警人称其母亲（70岁）早上出门买菜至今未归，手机打不通。", "报警人称在某餐厅吃饭后身体不适，与店家发生纠纷。",
    "报警人{name}称其在商场购买的{product}有质量问题，商家拒绝退货，双方发生争执。", "报警人称朋友借了他{amount}一年多没还，现在不接电话，咨询如何起诉。",
    "报警人称其手机在地铁上被偷，手机里有微信和支付宝，已挂失。", "报警人称有人在小区乱停车堵住了出口。",
    "报警人{name}称其在网上买的衣服尺码不对，申请退货后商家已退款{small}，现在咨询其他问题。", "报警人称其银行卡被吞卡，银行已处理，来电告知情况。",
    "事主称其在自动取款机取款时忘记取回卡片，已联系银行挂失，卡内资金未发生变动。", "报警人称与出租车司机因车费{small}发生争执。",
    "报警人{name}称其接到陌生电话自称客服，其识破后挂断，未转账，特来电反映该号码{phone}。", "群众来电称收到可疑短信，未点击链接，咨询是否为诈骗，经核实为正规银行通知。",
    "我今天收到一个说我中奖的短信，我没理它，直接删了，想问一下这个号码要不要举报。", "我刚刚在ATM机上取钱，卡被吞了，银行说明天来取，不知道要不要报警。",
    "我的身份证丢了，在哪里补办？需要先报警吗？", "我在小区门口把一个老人的车刮了，已经协商赔了{small}。",
]
NF_SLOTS = {"tail": lambda: str(R.randint(1000, 9999)), "mmdd": lambda: f"{R.randint(1, 12):02d}月{R.randint(1, 28):02d}日",
            "hhmm": lambda: f"{R.randint(0, 23):02d}:{R.randint(0, 59):02d}", "code": lambda: str(R.randint(100000, 999999)),
            "train": lambda: str(R.randint(100, 9999))}
SLOTS.update(NF_SLOTS)

# --- voices ------------------------------------------------------------------------

OFFICER_OPEN = ["{date}{time}，报警人{name}报称：", "{date}，事主{name}到{district}派出所报案称：", "受害人{name}（{age}岁）报称，", "据报警人{name}陈述，",
                "110接警：报警人称，", "{district}派出所接报：", "{date}{time}，{name}来所报称，", "接群众报警，", "事主{name}电话报警称，"]
OFFICER_CLOSE = ["", "", "请求警方帮助追回损失。", "现已报案。", "经初步核实，符合电信网络诈骗特征。", "民警已开展止付工作。", "报警人要求立案。", "案件正在进一步调查中。"]
VICTIM_OPEN = ["", "", "", "你好，我想报警，", "警察同志，", "我要报案，", "{date}{time}，", "事情是这样的，", "求助！"]
VICTIM_CLOSE = ["", "", "请帮我追回钱。", "怎么办啊？", "我该怎么办？", "希望警察帮帮我。", "这是不是被骗了？", "现在非常后悔。"]
SLOTS["age"] = lambda: str(R.randint(18, 78))


def third_person(text: str) -> str:
    return text.replace("我们", "他们").replace("我的", "其").replace("我", "其")


def story(kind: str) -> str:
    parts = STORIES[kind]
    steps = [R.choice(parts["contact"])]
    steps += R.sample(parts["hook"], k=R.choice([1, 1, 2]))
    if R.random() < 0.75:
        steps.append(R.choice(parts["action"]))
    if R.random() < 0.85:
        steps.append(R.choice(parts["money"]))
    if R.random() < 0.7:
        steps.append(R.choice(parts["end"]))
    if R.random() < 0.25:  # a short account: contact, one hook, money
        steps = steps[:2] + steps[-1:]
    body = "，".join(fill(s) for s in steps) + "。"
    voice = R.random()
    if voice < 0.45:
        return fill(R.choice(VICTIM_OPEN)) + body + fill(R.choice(VICTIM_CLOSE))
    if voice < 0.85:
        return fill(R.choice(OFFICER_OPEN)) + third_person(body) + R.choice(OFFICER_CLOSE)
    # a 110 operator's note: terse, clause by clause
    return "警情：" + "；".join(third_person(fill(s)) for s in steps[:3]) + "。"


def message(kind: str) -> str:
    text = fill(R.choice(SMS[kind]))
    if R.random() < 0.3:  # forwarded by a victim or read into a report
        text = R.choice(["我收到这样一条短信：", "对方发来消息：“", "报警人提供对方聊天记录：", "短信内容："]) + text
        if "“" in text and "”" not in text:
            text += "”"
    return text


NF_STORIES = [
    "我的钱包在{district}的公交车上丢了，里面有现金{small}和身份证、银行卡", "我停在楼下的电动车被偷了，车值{amount}",
    "我家老人早上出门买菜到现在还没回来，手机也打不通", "我开车在路口和一辆出租车刮擦了，没人受伤，但对方不肯走保险",
    "楼上邻居装修天天噪音到半夜，沟通了几次都没用", "我在商场买的{product}有质量问题，商家不给退，还和我吵起来了",
    "我朋友借了我{amount}一年多了不还，现在电话也不接", "我的手机在地铁上被人偷了，已经挂失了银行卡",
    "我在ATM机取钱的时候卡被吞了，银行说明天来取", "我在餐厅吃饭和邻桌的人发生口角，对方推了我一下",
    "我接到一个自称客服的陌生电话，我觉得不对劲就挂了，没有转账，想反映一下这个号码{phone}", "我收到一条说我中奖的短信，没有点链接，想问问要不要举报",
    "我在网上买的衣服尺码不对，商家已经给我退款{small}了，但是运费没退", "有人在我们小区门口乱停车，把出口堵住了",
    "我和出租车司机因为车费{small}吵起来了", "我在路边捡到一个钱包，里面有身份证和{small}现金，想交给派出所",
    "我前夫已经三个月没给孩子抚养费了，一共{amount}，想问怎么处理", "我家的狗走丢了，是一只白色的泰迪",
    "我的身份证丢了，想问补办之前要不要先报警", "有人在网上骂我，还把我的照片发到群里",
    "我们公司员工和客户因为货款{amount}起了纠纷，想咨询是不是民事纠纷", "我给装修公司付了{amount}，工期拖了两个月，想投诉",
    "银行柜员提醒我可能遇到诈骗，我及时停止了转账，钱没有损失", "我在小区门口不小心把一个老人的车刮了，已经协商赔了{small}",
]


def not_fraud() -> str:
    if R.random() < 0.4:  # a non-fraud report, in the same voices as the fraud reports
        body = fill(R.choice(NF_STORIES)) + "。"
        voice = R.random()
        if voice < 0.45:
            return fill(R.choice(VICTIM_OPEN)) + body + fill(R.choice(["", "", "请帮帮我。", "怎么办？", "麻烦民警处理一下。"]))
        if voice < 0.85:
            return fill(R.choice(OFFICER_OPEN)) + third_person(body) + R.choice(["", "", "民警已到场处理。", "已登记。", "经核实不属于诈骗。", "已调解。"])
        return "警情：" + third_person(body)
    text = fill(R.choice(NOT_FRAUD))
    if R.random() < 0.15:
        text = R.choice(["", "转发：", "收到一条短信："]) + text
    return text


def main() -> None:
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    for kind in STORIES:
        made = 0
        while made < PER_CLASS:
            text = message(kind) if R.random() < 0.3 else story(kind)
            if text in seen:
                continue
            seen.add(text)
            rows.append({"text": text, "scam_type": kind})
            made += 1
    made = 0
    while made < PER_CLASS:
        text = not_fraud()
        if text in seen:
            continue
        seen.add(text)
        rows.append({"text": text, "scam_type": "not_fraud"})
        made += 1
    R.shuffle(rows)
    out = Path(__file__).with_name("train.jsonl")
    with out.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} texts to {out}")


if __name__ == "__main__":
    main()
