"""Which kind of scam a report describes.

Reports reach the centre in every voice — a victim's account, an officer's summary,
the fraudster's own SMS pasted in — and the words that matter are short phrases
("安全账户", "刷单", "解冻费"), written without spaces. So the model reads overlapping
character n-grams (1 to 4 characters) rather than words, and is a plain multinomial
logistic regression: small enough to ship in the repository, fast enough for every
report, and explainable — the evidence returned is the stretch of the text whose
n-grams pushed hardest towards the answer.

``not_fraud`` is a class like the others, trained on what must not be called fraud:
bank and delivery notices, the police's own anti-fraud warnings (full of fraud words)
and reports of lost wallets and traffic accidents.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from fanzha.intake.extract import check_text

#: Codes and labels, as FORMATS.md gives them; the order is the model's column order.
SCAM_TYPES: dict[str, str] = {
    "order_brushing": "刷单返利类",
    "investment": "虚假网络投资理财类",
    "loan": "虚假网络贷款类（贷款、代办信用卡）",
    "customer_service": "冒充电商物流客服类",
    "police_impersonation": "冒充公检法及政府机关类",
    "credit_report": "虚假征信类",
    "acquaintance_impersonation": "冒充领导、熟人类",
    "game_trade": "网络游戏产品虚假交易类",
    "romance": "网络婚恋、交友类",
    "shopping": "虚假购物、服务类",
    "other_fraud": "其他诈骗",
    "not_fraud": "非诈骗",
}

NGRAM_SIZES = (1, 2, 3, 4)
MODEL_FILE = "classifier.npz"

_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
_LATIN = re.compile(r"[a-z]+")
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """One spelling for what means the same to the model: full-width to ASCII, lower
    case, every number to ``0`` and every Latin word to ``a`` (amounts, phone numbers
    and app names change from report to report; that a number is there does not)."""
    t = text.translate(_FULLWIDTH).lower()
    t = _DIGITS.sub("0", t)
    t = _LATIN.sub(lambda m: m.group(0) if m.group(0) in _KEEP_LATIN else "a", t)
    return _SPACE.sub(" ", t)


_KEEP_LATIN = frozenset({"qq", "vx", "wx", "app", "vip", "usdt", "etc", "atm", "pos", "ip", "sms", "id", "u"})


def ngrams(text: str) -> list[tuple[str, int]]:
    """Character n-grams of the normalised text with their start offsets."""
    out = []
    n_chars = len(text)
    for n in NGRAM_SIZES:
        for i in range(n_chars - n + 1):
            out.append((text[i:i + n], i))
    return out


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
    """A trained model: vocabulary, weights (features × classes) and biases."""

    def __init__(self, vocab: list[str], weights: np.ndarray, bias: np.ndarray, classes: list[str]):
        self.index = {g: i for i, g in enumerate(vocab)}
        self.weights = weights.astype(np.float32)
        self.bias = bias.astype(np.float32)
        self.classes = classes

    # -- persistence -------------------------------------------------------------
    def save(self, path: Path) -> None:
        vocab = sorted(self.index, key=self.index.__getitem__)
        np.savez_compressed(
            path,
            vocab=np.frombuffer("\n".join(vocab).encode("utf-8"), dtype=np.uint8),
            weights=self.weights.astype(np.float16),
            bias=self.bias,
            classes=np.frombuffer("\n".join(self.classes).encode("utf-8"), dtype=np.uint8),
        )

    @classmethod
    def load(cls, data: bytes | Path) -> Classifier:
        source = io.BytesIO(data) if isinstance(data, bytes) else data
        with np.load(source) as z:
            vocab = z["vocab"].tobytes().decode("utf-8").split("\n")
            classes = z["classes"].tobytes().decode("utf-8").split("\n")
            return cls(vocab, z["weights"], z["bias"], classes)

    # -- prediction --------------------------------------------------------------
    def features(self, text: str) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
        """Feature indices (each once) and, for evidence, (index, start, length) of
        every occurrence."""
        norm = normalise(text)
        occurrences = []
        seen: dict[int, None] = {}
        index = self.index
        for gram, start in ngrams(norm):
            i = index.get(gram)
            if i is not None:
                occurrences.append((i, start, len(gram)))
                seen[i] = None
        return np.fromiter(seen, dtype=np.int64, count=len(seen)), occurrences

    def scores(self, idx: np.ndarray) -> np.ndarray:
        if len(idx) == 0:
            return self.bias.copy()
        return self.weights[idx].sum(axis=0) / np.sqrt(len(idx)) + self.bias

    def predict(self, text: str, *, evidence: int = 3) -> Classification:
        check_text(text)
        idx, occurrences = self.features(text)
        logits = self.scores(idx)
        p = np.exp(logits - logits.max())
        p /= p.sum()
        best = int(p.argmax())
        code = self.classes[best]
        return Classification(code, SCAM_TYPES[code], round(float(p[best]), 4),
                              self._evidence(text, best, occurrences, evidence))

    def _evidence(self, text: str, cls: int, occurrences: list[tuple[int, int, int]], k: int) -> list[str]:
        """The stretches of the text that pushed most towards class ``cls``: each
        character scores the weight its n-grams give ``cls`` over the runner-up class;
        runs of positive characters are candidate phrases, ranked by their total, and
        quoted from the original text."""
        norm, starts, ends = normalise_with_offsets(text)
        per_char = np.zeros(len(norm), dtype=np.float32)
        others = [c for c in range(len(self.classes)) if c != cls]
        w = self.weights
        for i, start, length in occurrences:
            row = w[i]
            gain = float(row[cls] - row[others].max())
            if gain > 0:
                per_char[start:start + length] += gain / length
        if not per_char.size or per_char.max() <= 0:
            return []
        threshold = 0.2 * float(per_char.max())
        spans = []
        i, n = 0, len(norm)
        while i < n:
            if per_char[i] > threshold and norm[i] not in _BREAKS:
                j = i
                while j < n and per_char[j] > threshold and norm[j] not in _BREAKS:
                    j += 1
                if j - i >= 2:
                    spans.append((float(per_char[i:j].sum()), i, j))
                i = j
            else:
                i += 1
        spans.sort(key=lambda s: -s[0])
        out: list[str] = []
        for _, a, b in spans:
            phrase = text[starts[a]:ends[b - 1]].strip()
            if phrase and phrase not in out and not phrase.isdigit():
                out.append(phrase[:16])
            if len(out) == k:
                break
        return out


_BREAKS = frozenset("，。,.！？!?；;：: 、“”\"'（）()【】[]《》-—…~")


def normalise_with_offsets(text: str) -> tuple[str, list[int], list[int]]:
    """:func:`normalise`, with each output character's span in the original text (so
    evidence is quoted as written, numbers and names included)."""
    t = text.translate(_FULLWIDTH).lower()
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for m in _TOKEN.finditer(t):
        tok = m.group(0)
        if tok[0].isdigit():
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


@lru_cache(maxsize=1)
def default_classifier() -> Classifier:
    """The model shipped with fanzha (``data/classifier.npz``), loaded once."""
    data = resources.files("fanzha.intake").joinpath("data", MODEL_FILE).read_bytes()
    return Classifier.load(data)


def classify(text: str) -> Classification:
    """The scam type of one report, with confidence and the phrases that decided it."""
    return default_classifier().predict(text)
