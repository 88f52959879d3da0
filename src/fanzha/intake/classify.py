"""Which kind of scam a report describes.

Reports reach the centre in every voice — a victim's account, an officer's summary,
the fraudster's own SMS pasted in — and the words that matter are short phrases
("安全账户", "刷单", "解冻费"), written without spaces. So the model reads overlapping
character n-grams (1 to 4 characters), plus a few features from a small hand-written
lexicon of scam cues (:data:`LEXICON`): one feature per category saying "some cue of
this kind is here", so that a cue the training corpus never paired with a given
wording still counts. It is a linear model (softmax over one weight per feature and
class, fitted as described in :mod:`fanzha.intake.train`): small enough to ship in the
repository, fast enough for every report, and explainable — the evidence returned is
the cue phrases and stretches of the text that pushed hardest towards the answer,
quoted as written. :func:`classify_many` scores a batch of reports at once.

``not_fraud`` is a class like the others, trained on what must not be called fraud:
bank and delivery notices, the police's own anti-fraud warnings (full of fraud words)
and reports of lost wallets and traffic accidents. But absence of cues is not evidence
of no fraud: when the text carries fraud signals (scam cues, money lost or sent) and no
sign of being a notice, a warning, a non-fraud incident or a refusal, ``not_fraud`` has
to win by a clear probability (``nf_threshold``) or the best fraud type is returned.

``confidence`` is the probability of the returned type after temperature scaling
(the temperature is fitted by the training command on hand-written texts, each scored by a
model not trained on it).
"""

from __future__ import annotations

import bisect
import io
import itertools
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from fanzha.intake.extract import char_class, char_table, check_text, translate_sparse
from fanzha.scam_types import SCAM_TYPES  # the order is the model's column order

NGRAM_SIZES = (1, 2, 3, 4)
MODEL_FILE = "classifier.npz"

_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20
_FULLWIDTH_CHAR = char_class(_FULLWIDTH)
_FULLWIDTH_CHARS = char_table(_FULLWIDTH)
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
_LATIN = re.compile(r"[a-z]+")
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """One spelling for what means the same to the model: full-width to ASCII, lower
    case, every number to ``0`` and every Latin word to ``a`` (amounts, phone numbers
    and app names change from report to report; that a number is there does not)."""
    return _normalise_folded(_fold(text))


def _fold(text: str) -> str:
    """The first step of :func:`normalise`: full-width to ASCII, lower case (what evidence
    positions are counted in, too)."""
    return translate_sparse(text, _FULLWIDTH_CHAR, _FULLWIDTH_CHARS).lower()


def _normalise_folded(t: str) -> str:
    """:func:`normalise` of a text already :func:`_fold`-ed."""
    t = _DIGITS.sub("0", t)
    t = _LATIN.sub(lambda m: m.group(0) if m.group(0) in _KEEP_LATIN else "a", t)
    return _SPACE.sub(" ", t)


_KEEP_LATIN = frozenset({"qq", "vx", "wx", "app", "vip", "usdt", "etc", "atm", "pos", "ip", "sms", "id", "u"}) | frozenset(
    # English words that reports and chats mix into Chinese ("客服说要refund"): kept as
    # words, since each says which kind of scam it is about (or that none is).
    """account transfer withdraw refund part time job commission task order invest investment stock stocks crypto
    bitcoin btc eth profit platform trading trade loan credit limit fee fees deposit tax customs code link verify
    boss manager game skin skins item items gold dating online boyfriend girlfriend baby honey love seller ship
    shipping package police warrant arrest money laundering safe record cancel prize lottery win scam scammer
    frozen unfreeze customer service meeting salary bank card refund insurance ticket tickets shop""".split())


def ngrams(text: str) -> list[tuple[str, int]]:
    """Character n-grams of the normalised text with their start offsets."""
    out = []
    n_chars = len(text)
    for n in NGRAM_SIZES:
        for i in range(n_chars - n + 1):
            out.append((text[i:i + n], i))
    return out


# --- the lexicon ---------------------------------------------------------------------
#
# Written by hand from how these scams are known to work (not learnt, not copied from
# any data set), in normalised spelling (lower case; Latin words other than those in
# _KEEP_LATIN would read as "a", so none is used). Each category's cues fire one
# feature "§<code>" (and "§§<code>" for two or more distinct cues); the groups under
# NOT_FRAUD_EVIDENCE are the signs that a text is *not* a fraud report, and
# FRAUD_SIGNAL the signs that money was lost or demanded.

LEXICON: dict[str, tuple[str, ...]] = {
    "order_brushing": ("刷单", "垫付", "垫资", "佣金", "返佣", "兼职", "做任务", "接任务", "派单", "接单", "接待员", "点赞", "关注任务",
                       "卡单", "连单", "补单", "任务单", "日结", "一单一结", "动动手指", "在家就能", "宝妈", "冲销量", "刷信誉", "做单",
                       "体验单", "福利单", "任务冻结", "返本金", "commission", "part-time", "part time", "task"),
    "investment": ("投资", "理财", "炒股", "股票", "荐股", "带单", "收益", "盈利", "出金", "入金", "提币", "虚拟币", "数字货币",
                   "外汇", "期货", "原始股", "打新", "分红", "翻倍", "稳赚", "保本", "年化", "加仓", "基金", "涨停", "牛股",
                   "操盘", "投资群", "导师", "券商", "挖矿", "币", "usdt", "藏品", "回报率", "上市", "invest",
                   "stock", "crypto", "bitcoin", "trading", "profit"),
    "loan": ("贷款", "借款", "网贷", "放款", "下款", "放贷", "解冻金", "验资", "刷流水", "还款能力", "无抵押", "低息", "办卡",
             "信用卡额度", "代办信用卡", "大额信用卡", "工本费", "包装资料", "额度已", "审批通过", "审核通过", "贷款额度", "黑户",
             "秒批", "不看征信", "无视征信", "借钱", "loan", "授信"),
    "customer_service": ("客服", "退款", "理赔", "赔付", "售后", "订单", "质量问题", "百万保障", "自动续费", "扣费", "屏幕共享",
                         "共享屏幕", "会议软件", "备用金", "航班", "改签", "召回", "退货", "快递丢", "代理商", "店铺", "保证金不足",
                         "收货地址", "订单号", "会员服务", "退费", "refund", "customer service"),
    "police_impersonation": ("公安", "警察", "民警", "警官", "检察院", "检察官", "法院", "公检法", "洗钱", "通缉", "逮捕", "安全账户",
                             "清查", "配合调查", "涉案", "办案", "医保卡", "传票", "冻结你", "拘留", "国家安全", "专案", "刑侦",
                             "经侦", "保密", "非法集资", "监管账户", "资金核查", "犯罪", "police", "warrant",
                             "arrest", "money laundering", "safe account"),
    "credit_report": ("征信", "校园贷", "学生贷", "注销", "逾期", "信用记录", "信用报告", "黑名单", "银保监", "金融监管", "清空额度",
                      "消额度", "修复征信", "不良记录", "影响征信", "白条", "花呗", "借呗", "微粒贷", "关闭账户", "征信中心",
                      "credit record"),
    "acquaintance_impersonation": ("领导", "老板", "总经理", "董事长", "书记", "局长", "主任", "老总", "新微信", "换号", "新号",
                                   "猜猜我是谁", "班主任", "辅导员", "周转", "冒充", "头像", "表哥", "表姐", "舅舅", "老同学", "亲戚",
                                   "财务", "出纳", "公司账户", "对公", "急用钱", "借我", "你先帮我", "不方便接电话", "开会",
                                   "boss"),
    "game_trade": ("游戏", "账号", "装备", "皮肤", "点券", "代充", "代练", "游戏币", "金币", "买号", "卖号", "交易平台", "段位",
                   "玩家", "过户", "充值", "手游", "区服", "满级", "上分", "game", "skin"),
    "romance": ("网恋", "交友", "婚恋", "相亲", "恋爱", "男朋友", "女朋友", "男友", "女友", "老公", "老婆", "宝贝", "亲爱的",
                "结婚", "见面", "裸聊", "视频聊天", "录屏", "军医", "军官", "维和", "清关", "彩礼", "网友", "爱你", "想你",
                "online dating", "baby", "honey", "girlfriend", "boyfriend"),
    "shopping": ("购买", "卖家", "发货", "收货", "货款", "定金", "全款", "代购", "低价", "二手", "私下交易", "脱离平台", "假货",
                 "门票", "宠物", "运费", "包邮", "正品", "下单", "付款", "商品", "预订", "订金", "不发货", "没收到货",
                 "seller", "shipping"),
    "other_fraud": ("中奖", "奖金", "领奖", "幸运观众", "etc", "认证", "采购", "部队", "武警", "军人", "换汇", "赌", "博彩",
                    "百家乐", "下注", "捐款", "慈善", "办证", "驾照", "培训费", "服装费", "招聘", "回收", "体检费", "手续费",
                    "公证费", "保健", "收藏", "prize", "lottery"),
}

NOT_FRAUD_EVIDENCE: dict[str, tuple[str, ...]] = {
    # the police's and banks' own warnings
    "warn": ("提醒", "提示", "反诈", "谨防", "警惕", "切勿", "请勿", "都是诈骗", "是诈骗", "凡是", "一律", "不听不信",
             "提高警惕", "防范", "宣传", "劝阻", "骗局", "守护", "不会要求", "不会通过", "破获", "抓获", "挽回"),
    # account, delivery and service notices
    "notice": ("余额", "验证码", "取件码", "已签收", "账单", "还款日", "扣费成功", "退订", "已到账", "收到工资", "已发货",
               "已出库", "派送", "驿站", "丰巢", "流量", "话费", "套餐", "已确认", "可用额度", "到期", "已扣缴", "如非本人操作"),
    # no money went
    "noloss": ("未转账", "没有转账", "没转账", "没有损失", "未受损失", "无损失", "未造成损失", "及时停止", "没理", "没有点",
               "未点击", "挂断", "挂了", "识破", "没有上当", "撤销报警", "没转", "没有转", "拦住了", "拉黑了对方", "没点"),
    # incidents that are not fraud
    "incident": ("丢失", "丢了", "遗失", "落在", "被盗", "被偷", "偷了", "小偷", "走失", "没回家", "未归", "纠纷", "争执",
                 "吵", "口角", "打架", "推了", "刮擦", "事故", "撞", "噪音", "扰民", "调解", "挂失", "拖欠", "押金",
                 "抚养费", "捡到", "拾到", "盗窃", "划了", "砸", "停车", "装修", "受伤", "摔"),
}

FRAUD_SIGNAL: tuple[str, ...] = ("被骗", "骗了", "骗走", "骗取", "转账", "转了", "汇款", "损失", "失联", "拉黑", "删了",
                                 "联系不上", "不回", "提不了", "取不出", "无法提现", "冻结", "共计", "转到", "打到", "转入",
                                 "转给", "指定账户", "充值", "交了", "付了", "先交", "要交", "缴纳", "转走", "被扣",
                                 "扣款", "没收到", "不见了", "找不到", "转咗", "骗", "scam", "transfer", "索要")

LEX_VALUE = 0.35  #: the value of a lexicon feature (n-gram features are 1/sqrt(n) each)

_LEX_GROUPS: list[tuple[str, tuple[str, ...]]] = (
    [(f"§{code}", cues) for code, cues in LEXICON.items()]
    + [(f"§nf:{g}", cues) for g, cues in NOT_FRAUD_EVIDENCE.items()]
    + [("§fraud", FRAUD_SIGNAL)]
)
_LEX_RE = [(name, re.compile("|".join(re.escape(c) for c in sorted(cues, key=len, reverse=True)))) for name, cues in _LEX_GROUPS]


def lexicon_hits(norm: str) -> dict[str, list[tuple[int, int]]]:
    """For each lexicon group present in normalised text: the (start, end) of each hit."""
    out: dict[str, list[tuple[int, int]]] = {}
    for name, rx in _LEX_RE:
        first = rx.search(norm)  # most groups are absent: one search says so
        if first is not None:
            out[name] = [first.span(), *[m.span() for m in rx.finditer(norm, first.end())]]
    return out


def lexicon_features(hits: dict[str, list[tuple[int, int]]], norm: str) -> list[str]:
    """Names of the lexicon features a text fires."""
    feats = []
    for name, spans in hits.items():
        feats.append(name)
        if len({norm[a:b] for a, b in spans}) >= 2:
            feats.append("§" + name)
    if norm.lstrip().startswith("【"):
        feats.append("§sender")
    return feats


@dataclass(frozen=True)
class Classification:
    scam_type: str
    label: str
    confidence: float
    evidence: list[str]

    def as_dict(self) -> dict[str, object]:
        return {"scam_type": self.scam_type, "label": self.label,
                "confidence": self.confidence, "evidence": self.evidence}


class Classifier:
    """A trained model: vocabulary (n-grams and lexicon features), weights (features ×
    classes), biases, and the decision settings (``temperature``, ``nf_threshold``)."""

    def __init__(self, vocab: list[str], weights: np.ndarray, bias: np.ndarray, classes: list[str], *,
                 temperature: float = 1.0, nf_threshold: float = 0.0):
        self.index = {g: i for i, g in enumerate(vocab)}
        self.weights = weights.astype(np.float32)
        self.bias = bias.astype(np.float32)
        self.classes = classes
        self.temperature = float(temperature)
        self.nf_threshold = float(nf_threshold)
        self.nf = classes.index("not_fraud")
        self.is_lex = np.zeros(len(vocab), bool)
        for g, i in self.index.items():
            if g.startswith("§"):
                self.is_lex[i] = True

    # -- persistence -------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Weights as int8 with one scale per class (what the answers need, in a quarter
        of float32's room)."""
        vocab = sorted(self.index, key=self.index.__getitem__)
        scale = np.abs(self.weights).max(axis=0) / 127.0
        scale[scale == 0] = 1.0
        np.savez_compressed(
            path,
            vocab=np.frombuffer("\n".join(vocab).encode("utf-8"), dtype=np.uint8),
            weights=np.round(self.weights / scale).astype(np.int8),
            scale=scale.astype(np.float32),
            bias=self.bias,
            classes=np.frombuffer("\n".join(self.classes).encode("utf-8"), dtype=np.uint8),
            settings=np.asarray([self.temperature, self.nf_threshold], np.float32),
        )

    @classmethod
    def load(cls, data: bytes | Path) -> Classifier:
        source = io.BytesIO(data) if isinstance(data, bytes) else data
        with np.load(source) as z:
            vocab = z["vocab"].tobytes().decode("utf-8").split("\n")
            classes = z["classes"].tobytes().decode("utf-8").split("\n")
            settings = z["settings"] if "settings" in z.files else np.asarray([1.0, 0.0])
            weights = z["weights"].astype(np.float32)
            if "scale" in z.files:  # int8 weights; older files hold float16 ones
                weights *= z["scale"]
            return cls(vocab, weights, z["bias"], classes,
                       temperature=float(settings[0]), nf_threshold=float(settings[1]))

    # -- prediction --------------------------------------------------------------
    def features(self, text: str) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
        """Feature indices (each once; n-grams first, then lexicon features) and, for
        evidence, (index, start, length) of every n-gram occurrence."""
        idx, (ids, starts, lengths, _), _ = self._features(text)
        return idx, list(zip(ids.tolist(), starts.tolist(), lengths.tolist()))

    def _features(self, text: str) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray, str],
                                            dict[str, list[tuple[int, int]]]]:
        """Feature indices, the n-gram occurrences as three arrays (index, start, length)
        with the normalised text they index, and the lexicon hits. Every n-gram of the text is looked up in one pass; the
        features are listed in the order they first occur (the order they are summed in)."""
        norm = normalise(text)
        return self._features_of(norm, self._lookup_ngrams(norm))

    def _features_many(self, folded: list[str]) -> list[tuple]:
        """:meth:`_features` of many texts, given :func:`_fold`-ed, their n-grams looked up
        all at once."""
        norms = [_normalise_folded(f) for f in folded]
        return [self._features_of(norm, found) for norm, found in zip(norms, self._lookup_ngrams_many(norms))]

    def _features_of(self, norm: str, found: np.ndarray) -> tuple:
        """:meth:`_features` of a normalised text, its n-grams already looked up (``found``)."""
        n_chars = len(norm)
        at = np.flatnonzero(found >= 0)
        ids = found[at]
        starts, lengths = _ngram_grid(n_chars)
        seen = dict.fromkeys(ids.tolist())
        hits = lexicon_hits(norm)
        for name in lexicon_features(hits, norm):
            i = self.index.get(name)
            if i is not None:
                seen[i] = None
        return np.fromiter(seen, dtype=np.int64, count=len(seen)), (ids, starts[at], lengths[at], norm), hits

    def _lookup_ngrams(self, norm: str) -> np.ndarray:
        """The vocabulary index of every n-gram of ``norm`` (-1 when it has none), in the
        order :func:`ngrams` lists them (see :meth:`_lookup_ngrams_many`)."""
        return self._lookup_ngrams_many([norm])[0]

    def _lookup_ngrams_many(self, norms: list[str]) -> list[np.ndarray]:
        """:meth:`_lookup_ngrams` of each text. Each n-gram is read as a number (its
        characters' ranks in the vocabulary's alphabet, in base ``len(alphabet) + 1``) and
        looked up in the sorted numbers of the vocabulary; the n-grams of all the texts
        are read from their concatenation and looked up at once. An n-gram with a
        character outside the alphabet is in no vocabulary."""
        table = self._ngram_table()
        if not norms:
            return []
        if table is None:
            out = []
            for norm in norms:
                grams = [g for g, _ in ngrams(norm)]
                out.append(np.fromiter(map(self.index.get, grams, itertools.repeat(-1)), np.int64, len(grams)))
            return out
        ranks, base, keys, rows = table
        whole = "".join(norms)
        total = len(whole)
        points = np.frombuffer(whole.encode("utf-32-le", "surrogatepass"), np.uint32)
        code = ranks[np.minimum(points, len(ranks) - 1)]
        outside = np.concatenate([[0], np.cumsum(code == 0)])
        parts = []  # per size: the number of every n-gram of the concatenation, by start
        for n in NGRAM_SIZES:
            m = max(total - n + 1, 0)
            key = code[:m].copy()
            for j in range(1, n):
                key = key * base + code[j:j + m]
            key[outside[n:n + m] != outside[:m]] = -1
            parts.append(key)
        # Each text's own n-grams (none across two texts), size by size, texts in order.
        lengths = np.fromiter(map(len, norms), np.int64, len(norms))
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        first = np.cumsum([0] + [len(k) for k in parts])[:-1]  # where each size begins in the concatenated parts
        sizes = np.asarray(NGRAM_SIZES, np.int64)
        counts = np.maximum(lengths[:, None] - sizes[None, :] + 1, 0)  # text × size
        begin = (first[None, :] + starts[:, None]).ravel()
        flat = counts.ravel()
        total_grams = int(flat.sum())
        pick = np.repeat(begin - np.concatenate([[0], np.cumsum(flat)[:-1]]), flat) + np.arange(total_grams)
        # A batch's texts share most of their n-grams: each distinct one is looked up once.
        key, again = np.unique(np.concatenate(parts)[pick], return_inverse=True)
        at = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
        found = np.where(keys[at] == key, rows[at], -1)[again.reshape(-1)]
        return np.split(found, np.cumsum(counts.sum(axis=1))[:-1])

    def _ngram_table(self) -> tuple[np.ndarray, int, np.ndarray, np.ndarray] | None:
        """For :meth:`_lookup_ngrams`: each code point's rank in the alphabet (0 outside
        it), the base, and the vocabulary's n-grams as sorted numbers with their indices.
        ``None`` when the numbers would not fit in 63 bits (the lookup is then by name)."""
        if not hasattr(self, "_ngram_numbers"):
            grams = [(g, i) for g, i in self.index.items() if 0 < len(g) <= max(NGRAM_SIZES)]
            alphabet = sorted({ch for g, _ in grams for ch in g})
            base = len(alphabet) + 1
            table = None
            if grams and base ** max(NGRAM_SIZES) < 2 ** 63:
                ranks = np.zeros(ord(alphabet[-1]) + 2, np.int64)
                ranks[[ord(ch) for ch in alphabet]] = np.arange(1, base)
                by_size: dict[int, list[tuple[str, int]]] = {}
                for g, i in grams:
                    by_size.setdefault(len(g), []).append((g, i))
                keys, rows = [], []
                for n, same in by_size.items():  # the grams of one length as a matrix of characters
                    points = np.frombuffer("".join(g for g, _ in same).encode("utf-32-le", "surrogatepass"),
                                           np.uint32).reshape(-1, n)
                    key = np.zeros(len(same), np.int64)
                    for j in range(n):
                        key = key * base + ranks[points[:, j]]
                    keys.append(key)
                    rows.append(np.fromiter((i for _, i in same), np.int64, len(same)))
                keys, rows = np.concatenate(keys), np.concatenate(rows)
                order = np.argsort(keys)
                table = (ranks, base, keys[order], rows[order])
            self._ngram_numbers = table
        return self._ngram_numbers

    def prepare(self) -> Classifier:
        """Build the tables prediction builds on first use now (before worker processes
        are forked, so that they share them rather than each build its own)."""
        self._ngram_table()
        self._gains()
        return self

    def values(self, idx: np.ndarray) -> np.ndarray:
        """The value of each feature in ``idx`` for one text: 1/sqrt(number of n-grams)
        for an n-gram, :data:`LEX_VALUE` for a lexicon feature."""
        lex = self.is_lex[idx]
        n_grams = int(len(idx) - lex.sum())
        return np.where(lex, np.float32(LEX_VALUE), np.float32(1.0 / np.sqrt(n_grams) if n_grams else 0.0))

    def scores(self, idx: np.ndarray) -> np.ndarray:
        """Logits of one text from its feature indices."""
        if len(idx) == 0:
            return self.bias.copy()
        return self.bias + self.values(idx) @ self.weights[idx]

    def scores_many(self, idxs: list[np.ndarray]) -> np.ndarray:
        """Logits of many texts (one row each), summed in one pass over all their features."""
        out = np.tile(self.bias, (len(idxs), 1))
        lengths = np.asarray([len(i) for i in idxs], np.int64)
        rows = np.flatnonzero(lengths)
        if len(rows):
            cols = np.concatenate([idxs[r] for r in rows])
            starts = np.r_[0, np.cumsum(lengths[rows])[:-1]]
            # :meth:`values` of every row at once (the same numbers, row by row)
            lex = self.is_lex[cols]
            n_grams = lengths[rows] - np.add.reduceat(lex.astype(np.int64), starts)
            per_gram = np.zeros(len(rows))
            some = n_grams > 0
            per_gram[some] = 1.0 / np.sqrt(n_grams[some].astype(np.float64))
            vals = np.where(lex, np.float32(LEX_VALUE), np.repeat(per_gram.astype(np.float32), lengths[rows]))
            out[rows] += np.add.reduceat(self.weights[cols] * vals[:, None], starts, axis=0)
        return out

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Softmax at the fitted temperature, of one row of logits or of each row."""
        z = logits / self.temperature
        p = np.exp(z - z.max(axis=-1, keepdims=True))
        return p / p.sum(axis=-1, keepdims=True)

    def decide(self, p: np.ndarray, hits: dict[str, list[tuple[int, int]]]) -> int:
        """The class to return: the most probable one, except that ``not_fraud`` needs
        evidence of no fraud when the text carries fraud signals."""
        best = int(p.argmax())
        if best != self.nf:
            return best
        has_nf_evidence = any(name.startswith("§nf:") for name in hits)
        has_fraud_signal = "§fraud" in hits
        if has_nf_evidence or not has_fraud_signal or p[self.nf] >= self.nf_threshold:
            return best
        q = p.copy()
        q[self.nf] = -1.0
        return int(q.argmax())

    def predict_index(self, text: str) -> int:
        idx, _, hits = self._features(text)
        return self.decide(self.probabilities(self.scores(idx)), hits)

    def predict(self, text: str, *, evidence: int = 3) -> Classification:
        return self.predict_many([text], evidence=evidence, where="text")[0]

    def predict_many(self, texts: list[str], *, evidence: int = 3, where: str = "texts") -> list[Classification]:
        """:meth:`predict` for many texts, scored in one product. A text that is not a
        report (empty, too long, mis-decoded) is refused before anything is scored,
        its position named (``texts[3]``)."""
        texts = list(texts)
        for n, text in enumerate(texts):
            check_text(text, where=where if where == "text" else f"{where}[{n}]")
        folded = [_fold(t) for t in texts]
        parts = self._features_many(folded)
        probs = self.probabilities(self.scores_many([idx for idx, _, _ in parts])) if parts else []
        best = [self.decide(p, hits) for (_, _, hits), p in zip(parts, probs)]
        candidates = self._candidates_many(best, [occurrences for _, occurrences, _ in parts],
                                           [hits for _, _, hits in parts])
        out = []
        for text, fold, p, cls, spans in zip(texts, folded, probs, best, candidates):
            code = self.classes[cls]
            out.append(Classification(code, SCAM_TYPES[code], round(float(p[cls]), 4),
                                      self._evidence(text, fold, spans, evidence)))
        return out

    def _gains(self) -> np.ndarray:
        """For every feature and class: its weight for the class over its best weight
        for any other class (what an n-gram adds to the case for that class)."""
        gains = getattr(self, "_gain_table", None)
        if gains is None:
            top = np.sort(self.weights, axis=1)
            best = self.weights.argmax(axis=1)
            cols = np.arange(self.weights.shape[1])
            others = np.where(cols[None, :] == best[:, None], top[:, -2:-1], top[:, -1:])
            gains = self._gain_table = self.weights - others
        return gains

    def _candidates_many(self, classes: list[int], occurrences: list[tuple],
                         hits: list[dict[str, list[tuple[int, int]]]]) -> list[list[tuple[float, int, int]]]:
        """For each text (its n-gram ``occurrences`` as :meth:`_features` gives them, its
        lexicon ``hits``) and its class: the candidate phrases of :meth:`_evidence`,
        (total, start, end) in the normalised text, strongest first. The texts are scored
        together, a few at a time (:data:`_GRID_CELLS`), as the rows of one grid."""
        out: list[list[tuple[float, int, int]]] = []
        group: list[int] = []
        widest = 0
        for j, occ in enumerate(occurrences):
            n = len(occ[3])
            if group and (len(group) + 1) * max(widest, n) > _GRID_CELLS:
                out += self._candidates_group([classes[i] for i in group], [occurrences[i] for i in group],
                                              [hits[i] for i in group])
                group, widest = [], 0
            group.append(j)
            widest = max(widest, n)
        if group:
            out += self._candidates_group([classes[i] for i in group], [occurrences[i] for i in group],
                                          [hits[i] for i in group])
        return out

    def _candidates_group(self, classes: list[int], occurrences: list[tuple],
                          hits: list[dict[str, list[tuple[int, int]]]]) -> list[list[tuple[float, int, int]]]:
        """:meth:`_candidates_many` of a few texts, one row of a grid each. Every step
        computes, row by row, what it computes for one text alone: each bin of the count
        belongs to one text and receives its additions in that text's order (starts, then
        ends); a running sum along a row adds in order; the cells past a text's end are
        zero, so no row's maximum and no run of strong characters changes."""
        n_texts = len(occurrences)
        norms = [occ[3] for occ in occurrences]
        lengths = np.fromiter(map(len, norms), np.int64, n_texts)
        counts = np.fromiter((len(occ[0]) for occ in occurrences), np.int64, n_texts)
        widest = int(lengths.max()) if n_texts else 0
        if widest == 0:
            return [[] for _ in occurrences]
        # each n-gram spreads its gain for its text's class over its characters (a difference array)
        base = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]]).astype(np.int64)  # text j: bins base[j]…+lengths[j]
        ids = np.concatenate([occ[0] for occ in occurrences]).astype(np.int64, copy=False)
        at = np.concatenate([occ[1] for occ in occurrences]).astype(np.int64, copy=False)
        length = np.concatenate([occ[2] for occ in occurrences]).astype(np.int64, copy=False)
        gain = self._gains()[ids, np.repeat(np.asarray(classes, np.int64), counts)]
        keep = gain > 0
        length_kept = length[keep]
        at_kept = at[keep] + np.repeat(base, counts)[keep]
        share = gain[keep] / length_kept
        diff = np.bincount(np.concatenate([at_kept, at_kept + length_kept]),
                           np.concatenate([share, -share]), minlength=int((lengths + 1).sum()))
        rows = np.repeat(np.arange(n_texts), lengths)
        first = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        cols = np.arange(int(lengths.sum())) - np.repeat(first, lengths)
        grid = np.zeros((n_texts, widest))
        grid[rows, cols] = diff[np.repeat(base, lengths) + cols]
        scores = np.cumsum(grid, axis=1).astype(np.float32)
        scores[np.abs(scores) < 1e-6] = 0.0
        scores[np.arange(widest)[None, :] >= lengths[:, None]] = 0.0  # past each text's end
        # the lexicon cues of each text's class add to their characters
        for j, (cls, found, n) in enumerate(zip(classes, hits, lengths.tolist())):
            code = self.classes[cls]
            groups = [f"§{code}"] if code != "not_fraud" else [g for g in found if g.startswith("§nf:")]
            if not any(found.get(g) for g in groups):
                continue
            per_char = scores[j, :n]
            if per_char.size and per_char.max() > 0:
                for g in groups:
                    for a, b in found.get(g, []):
                        per_char[a:b] += float(per_char.max())
        top = scores.max(axis=1)
        # candidate phrases: maximal runs of characters over 0.2 of the row's best, punctuation aside
        # (the threshold as a float32, what comparing a float32 row with a Python float uses)
        threshold = (0.2 * top.astype(np.float64)).astype(np.float32)
        points = np.frombuffer("".join(norms).encode("utf-32-le", "surrogatepass"), np.uint32)
        strong = np.zeros((n_texts, widest + 2), np.int8)
        strong[rows, cols + 1] = _NOT_BREAK[np.minimum(points, len(_NOT_BREAK) - 1)]  # (never a digit)
        strong[:, 1:-1] &= scores > threshold[:, None]
        edge_rows, edges = np.nonzero(np.diff(strong, axis=1))  # row by row: start, end, start, end…
        out: list[list[tuple[float, int, int]]] = [[] for _ in range(n_texts)]
        edge_rows, edges = edge_rows[0::2].tolist(), edges.tolist()
        for i, j in enumerate(edge_rows):
            a, b = edges[2 * i], edges[2 * i + 1]
            if b - a >= 2:
                out[j].append((float(scores[j, a:b].sum()), a, b))
        top = top.tolist()
        for j in range(n_texts):
            if top[j] <= 0:
                out[j] = []
            else:
                out[j].sort(key=lambda s: -s[0])
        return out

    def _evidence(self, text: str, folded: str, spans: list[tuple[float, int, int]], k: int) -> list[str]:
        """The stretches of the text that pushed most towards its class, quoted from the
        original text (``folded``: :func:`_fold` of it): up to ``k`` of its candidate
        ``spans`` (:meth:`_candidates_many`). Each character scores the weight its n-grams
        give the class over the runner-up class, and the class's lexicon cues found in the
        text add to their characters; runs of positive characters are the candidates,
        ranked by their total."""
        out: list[str] = []
        offsets = _LazyOffsets(folded) if spans else None
        for _, a, b in spans:
            phrase = text[offsets.span(a)[0]:offsets.span(b - 1)[1]].strip()
            if len(phrase) > 16:  # quote a window around the strongest part, still verbatim
                phrase = phrase[:16]
            if phrase and phrase not in out and not phrase.isdigit():
                out.append(phrase)
            if len(out) == k:
                break
        return out


@lru_cache(maxsize=512)
def _ngram_grid(n_chars: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and length of every n-gram of a text of ``n_chars`` characters, in the
    order :func:`ngrams` lists them."""
    sizes = [n for n in NGRAM_SIZES if n <= n_chars]
    starts = np.concatenate([np.arange(n_chars - n + 1) for n in sizes]) if sizes else np.zeros(0, np.int64)
    lengths = np.concatenate([np.full(n_chars - n + 1, n) for n in sizes]) if sizes else np.zeros(0, np.int64)
    return starts.astype(np.int64), lengths.astype(np.int64)


#: The most cells (texts × characters) of one grid of :meth:`Classifier._candidates_many`.
_GRID_CELLS = 1 << 17

_BREAKS = frozenset("，。,.！？!?；;：: 、“”\"'（）()【】[]《》-—…~")
# _BREAKS as a table by code point (True: not a break), for a whole text at once.
_NOT_BREAK = np.ones(max(map(ord, _BREAKS)) + 2, bool)
_NOT_BREAK[[ord(c) for c in _BREAKS]] = False


class _LazyOffsets:
    """The spans :func:`normalise_with_offsets` gives, worked out only as far into the text as
    the characters asked about (evidence quotes a few phrases; the rest of the text is
    never read). Only runs of two or more characters move positions or widen a span, so
    only they are read (:data:`_LONG_RUNS`). Built on the :func:`_fold`-ed text."""

    __slots__ = ("_done", "_next", "_out_starts", "_runs", "_shift")

    def __init__(self, folded: str):
        self._next = _LONG_RUNS.finditer(folded).__next__
        self._runs: list[tuple[int, int, int]] = []  # (start, end, length of what it is written as)
        self._out_starts: list[int] = []
        self._shift = 0
        self._done = False

    def span(self, i: int) -> tuple[int, int]:
        """The (start, end) in the text of the token that normalised character ``i`` writes."""
        out_starts = self._out_starts
        while not self._done and (not out_starts or out_starts[-1] <= i):
            try:
                m = self._next()
            except StopIteration:
                self._done = True
                break
            a, b = m.span()
            tok = m.group()
            n = len(tok) if tok in _KEEP_LATIN else 1  # only a kept Latin word is written as more than one
            self._runs.append((a, b, n))
            out_starts.append(a + self._shift)
            self._shift += n - (b - a)
        k = bisect.bisect_right(out_starts, i) - 1
        if k >= 0:
            a, b, n = self._runs[k]
            start = out_starts[k]
            if i < start + n:
                return a, b
            i -= start + n - b
        return i, i + 1


def normalise_with_offsets(text: str) -> tuple[str, list[int], list[int]]:
    """:func:`normalise`, with each output character's span in the original text (so
    evidence is quoted as written, numbers and names included)."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for m in _TOKEN.finditer(_fold(text)):
        tok = m.group(0)
        if tok[0].isdecimal():  # what \d matches (not "²", which isdigit() takes for a digit)
            rep = "0"
        elif tok[0].isspace():
            rep = " "
        elif tok[0].isascii() and tok[0].isalpha():
            rep = tok if tok in _KEEP_LATIN else "a"
        else:
            rep = tok
        for ch in rep:
            out.append(ch)
            starts.append(m.start())
            ends.append(m.end())
    return "".join(out), starts, ends


_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[a-z]+|\s+|.", re.S)
#: The tokens of :data:`_TOKEN` two or more characters long that move positions or
#: widen a span (each is as long there as here: a run of digits is as long as it can be).
#: The lookahead names the characters a run can start with, so the scan passes over
#: every other position at once.
_LONG_RUNS = re.compile(r"(?=[\da-z\s])(?:\d(?:[.,]?\d)+|[a-z]{2,}|\s{2,})")


@lru_cache(maxsize=1)
def default_classifier() -> Classifier:
    """The model shipped with fanzha (``data/classifier.npz``), loaded once."""
    data = resources.files("fanzha.intake").joinpath("data", MODEL_FILE).read_bytes()
    return Classifier.load(data)


def classify(text: str) -> Classification:
    """The scam type of one report, with confidence and the phrases that decided it."""
    return default_classifier().predict(text)


def classify_many(texts: list[str]) -> list[Classification]:
    """:func:`classify` for a batch of reports (one result each, in order), scored
    together: what a bulk import calls. Raises :class:`~fanzha.errors.InputError`
    naming the first text that is not a report (``texts[i]``) before scoring any."""
    return default_classifier().predict_many(texts)
