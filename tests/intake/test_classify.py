"""The scam-type classifier: shipped model loads fast and generalises to held-out text."""

from __future__ import annotations

import importlib
import json
import re
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.errors import InputError
from fanzha.intake.classify import (
    _BREAKS,
    _LEX_RE,
    _NOT_BREAK,
    SCAM_TYPES,
    Classifier,
    _fold,
    _LazyOffsets,
    classify,
    classify_many,
    default_classifier,
    lexicon_hits,
    normalise,
    normalise_with_offsets,
)
from fanzha.intake.train import (
    TRAINED_BATCHES,
    evaluate,
    expected_calibration_error,
    read_batches,
    read_corpus,
)

ROOT = Path(__file__).resolve().parents[2]

#: Held-out macro-F1 floors the shipped model must keep: regression guards, not targets. Since the model is trained
#: on the hand-written batches 1-7 too (see corpus/README.md), their figures say only that the fit took; how the
#: procedure generalises is measured by leave-one-batch-out (``python -m fanzha.intake.train --lobo``) and by the
#: newest, sealed batch (numbered above ``TRAINED_BATCHES``), when there is one.
HELDOUT_MACRO_F1_FLOOR = 0.95
BATCH3_MACRO_F1_FLOOR = 0.95
TRAINED_BATCH_MACRO_F1_FLOOR = 0.95
#: The newest batch, never trained on: a floor below every honest figure so far (0.81-0.88) and a calibration
#: ceiling above every one so far (0.095-0.142), so that only a model clearly worse than those fails.
SEALED_MACRO_F1_FLOOR = 0.78
SEALED_ECE_CEILING = 0.16


def _model_bytes() -> bytes:
    return resources.files("fanzha.intake").joinpath("data", "classifier.npz").read_bytes()


def test_model_is_small_and_loads() -> None:
    """How long loading takes is measured by benchmarks/bench_classify.py (target < 1 s)."""
    data = _model_bytes()
    assert len(data) < 2 * 1024 * 1024
    model = Classifier.load(data)
    assert model.classes == list(SCAM_TYPES)
    assert model.predict("接到自称公安局的电话，说我涉嫌洗钱").scam_type == "police_impersonation"


def test_saved_model_gives_the_same_answers(tmp_path: Path) -> None:
    """Saving quantises the weights; reloading what was saved changes no answer."""
    model = Classifier.load(_model_bytes())
    model.save(tmp_path / "m.npz")
    again = Classifier.load(tmp_path / "m.npz")
    texts, _ = read_corpus(ROOT / "corpus" / "heldout.jsonl", batch=1)
    assert [model.predict_index(t) for t in texts] == [again.predict_index(t) for t in texts]


def test_heldout_macro_f1() -> None:
    texts, labels = read_corpus(ROOT / "corpus" / "heldout.jsonl")
    result = evaluate(Classifier.load(_model_bytes()), texts, labels)
    assert result["macro_f1"] >= HELDOUT_MACRO_F1_FLOOR, result["macro_f1"]


def test_batch3_macro_f1() -> None:
    batches = read_batches(ROOT / "corpus" / "heldout.jsonl")
    texts, labels = batches[3]
    assert len(texts) >= 120 and all(labels.count(c) >= 10 for c in SCAM_TYPES)
    result = evaluate(Classifier.load(_model_bytes()), texts, labels)
    assert result["macro_f1"] >= BATCH3_MACRO_F1_FLOOR, result["macro_f1"]


@pytest.mark.parametrize("batch", [4, 5, 6, 7])
def test_trained_batches_macro_f1(batch: int) -> None:
    batches = read_batches(ROOT / "corpus" / "heldout.jsonl")
    texts, labels = batches[batch]
    assert len(texts) >= 150 and all(labels.count(c) >= 12 for c in SCAM_TYPES)
    result = evaluate(Classifier.load(_model_bytes()), texts, labels)
    assert result["macro_f1"] >= TRAINED_BATCH_MACRO_F1_FLOOR, result["macro_f1"]


def test_newest_sealed_batch_macro_f1_and_calibration() -> None:
    """The newest batch, if one newer than the training batches is present (never trained on, never used for a
    setting)."""
    batches = read_batches(ROOT / "corpus" / "heldout.jsonl")
    sealed = [b for b in batches if b > max(TRAINED_BATCHES)]
    if not sealed:
        pytest.skip("no batch newer than the training batches yet")
    texts, labels = batches[max(sealed)]
    model = Classifier.load(_model_bytes())
    result = evaluate(model, texts, labels)
    assert result["macro_f1"] >= SEALED_MACRO_F1_FLOOR, result["macro_f1"]
    assert expected_calibration_error(model, texts, labels) <= SEALED_ECE_CEILING


def test_train_and_heldout_do_not_overlap() -> None:
    train, _ = read_corpus(ROOT / "corpus" / "train.jsonl")
    heldout, _ = read_corpus(ROOT / "corpus" / "heldout.jsonl")
    assert not set(train) & set(heldout)


@pytest.mark.parametrize("text,code", [
    ("接到自称公安局民警的电话，说我名下银行卡涉嫌洗钱，要求我把存款转到安全账户接受清查", "police_impersonation"),
    ("在家兼职做点赞任务，前几单返了佣金，后来要求垫付才能提现，说我卡单了", "order_brushing"),
    ("【国家反诈中心】公检法机关不会让你转账到安全账户，凡是要求转账的都是诈骗", "not_fraud"),
    ("【工商银行】您尾号1234卡06月01日支出(消费)58.00元，余额2,000.00元。", "not_fraud"),
    ("报警人称其钱包在公交车上丢失，内有现金300元和身份证", "not_fraud"),
])
def test_examples(text: str, code: str) -> None:
    assert classify(text).scam_type == code


@pytest.mark.parametrize("text,code", [
    ("客服打电话说我买的东西有问题要给我refund，让我开共享屏幕，卡里的钱就被转走了", "customer_service"),
    ("经审理查明：被告人以注销校园贷账户、避免影响征信为由，诱骗被害人在多个平台借款后转入其控制的账户。", "credit_report"),
    ("俺在网上整了个贷款，人家说俺流水不够，非得先打两万验资才放款，打了以后人就没影了", "loan"),
    ("喂警察同志我那个在群里跟着老师炒股充了十几万现在提不出来了", "investment"),
    ("问：对方怎么联系你的？答：一个自称我们公司老板的人加我微信，让我先给合作方转一笔款。", "acquaintance_impersonation"),
    ("明天的meeting改到十点，记得带上report，谢谢", "not_fraud"),
])
def test_other_voices(text: str, code: str) -> None:
    """A judgment, a 问/答 record, a voice transcript, dialect, English mixed in."""
    assert classify(text).scam_type == code


@pytest.mark.parametrize("text", [
    "【国家反诈中心】提醒您：刷单返利、网络兼职先垫付的都是诈骗，请勿轻信，如有疑问请拨打96110。",
    "【{city}公安】凡是自称公检法、要求你把钱转到“安全账户”的都是诈骗，请立即挂断电话！".replace("{city}", "思明"),
    # Long a known weakness (found after batch 3 was scored, never trained away): a terse warning that lists one scam
    # type's cues, with few warning words. Read right by the model trained on the generated corpus alone (which holds
    # warnings that tell a scam's own facts; this text is not among them); wrong again since the hand-written
    # batches, full of reports built on these very cues, are trained on (see corpus/README.md).
    pytest.param("警方提示：注销校园贷、修复征信都是诈骗话术，不要在网贷平台借款转给陌生人。",
                 marks=pytest.mark.xfail(reason="known weakness: a terse warning made of one type's cues", strict=False)),
    "【招商银行】风险提示：凡是自称客服要您开启屏幕共享、办理退款理赔的都是骗局，请通过官方渠道核实。",
    "【建设银行】您尾号4821的账户06月03日14:22转入人民币12,000.00元，余额15,302.44元。",
    "【农业银行】您的信用卡本期账单3,210.50元，到期还款日07月08日，请按时还款。",
])
def test_police_warnings_and_bank_notices_are_not_fraud(text: str) -> None:
    out = classify(text)
    assert out.scam_type == "not_fraud", (text, out)
    for phrase in out.evidence:
        assert phrase in text


def test_fraud_signals_without_no_fraud_evidence_are_not_called_not_fraud() -> None:
    text = "对方说是银行的，让我把钱转到他们给的账户，我转了两万，现在联系不上了"
    assert classify(text).scam_type != "not_fraud"


def test_output_shape() -> None:
    out = classify("客服说我开通了百万保障每月扣费，让我屏幕共享后从借呗借钱转到指定账户").as_dict()
    assert list(out) == ["scam_type", "label", "confidence", "evidence"]
    assert out["label"] == SCAM_TYPES[out["scam_type"]]
    assert 0.0 < out["confidence"] <= 1.0
    assert all(isinstance(e, str) and e for e in out["evidence"])


@pytest.mark.parametrize("text", [
    "对方自称公安局，说我涉嫌洗钱，让我把钱转到安全账户",
    "ＱＱ上有个自称“李总”的人，让我从公司账户转８万元给合作方，账号6222 0202 1234 5678",
    "【工商银行】您尾号1234卡06月01日支出(消费)58.00元，余额2,000.00元。",
    "我在Soul上认识的女朋友说她妈妈住院了，我转了她3000块钱",
])
def test_evidence_is_quoted_from_the_text(text: str) -> None:
    out = classify(text)
    assert out.evidence
    for phrase in out.evidence:
        assert phrase in text, (phrase, text)


def test_confidence_is_a_probability_in_every_decision() -> None:
    for line in (ROOT / "corpus" / "heldout.jsonl").read_text("utf-8").splitlines()[:80]:
        out = classify(json.loads(line)["text"])
        assert 0.0 < out.confidence <= 1.0


def test_both_normalisations_agree() -> None:
    for line in (ROOT / "corpus" / "heldout.jsonl").read_text("utf-8").splitlines()[:60]:
        text = json.loads(line)["text"]
        assert normalise(text) == normalise_with_offsets(text)[0]


def test_empty_text_is_refused() -> None:
    with pytest.raises(InputError):
        classify("  ")


def test_classify_many_is_classify_for_each_text_in_order() -> None:
    texts = [json.loads(line)["text"] for line in (ROOT / "corpus" / "heldout.jsonl").read_text("utf-8").splitlines()[:40]]
    assert classify_many(texts) == [classify(t) for t in texts]
    assert classify_many([]) == []


def test_classify_many_names_the_bad_text_and_scores_none() -> None:
    with pytest.raises(InputError, match=r"texts\[2\]"):
        classify_many(["对方自称公安局，让我转账到安全账户", "【工商银行】您尾号1234卡支出58.00元", "   "])


_REPORTISH = st.text(alphabet=st.sampled_from(list("转账公安客服刷单贷款征信老板游戏宝贝购买中奖余额验证码的了我他说要元0123456789，。！abcQQ【】 ")),
                     min_size=1, max_size=120).filter(str.strip)


@settings(max_examples=60, deadline=None)
@given(st.lists(_REPORTISH, min_size=1, max_size=6))
def test_any_text_gets_one_valid_answer_quoting_itself(texts: list[str]) -> None:
    outs = classify_many(texts)
    assert len(outs) == len(texts)
    for text, out in zip(texts, outs):
        assert out.scam_type in SCAM_TYPES and out.label == SCAM_TYPES[out.scam_type]
        assert 0.0 < out.confidence <= 1.0
        assert all(phrase and phrase in text for phrase in out.evidence)
        assert out == classify(text)


#: Report-like text with what normalisation treats specially (full-width forms, digits
#: that are not decimal, Latin words kept or not, spaces of every kind, İ that lower-cases
#: to two characters).
_PIECES = list("转账公安客服刷单贷款征信余额验证码被骗提醒，。！、“”（）【】-—…0123456789０１２Ａｑ²①abcxQKİß §\t\n\u3000.,:")
_PIECES += ["app", "refund", "VIP", "1,000.5", "安全账户", "6222 0202 1234 5678", "usdt", "  ", "qq", "1.2.3"]
_TEXT = st.lists(st.sampled_from(_PIECES), max_size=50).map("".join) | st.text(max_size=30)


@settings(max_examples=300, deadline=None)
@given(_TEXT, st.randoms(use_true_random=False))
def test_lazy_offsets_are_the_offsets(text: str, rnd) -> None:
    """Asked in any order, the lazy spans are normalise_with_offsets' spans."""
    norm, starts, ends = normalise_with_offsets(text)
    lazy = _LazyOffsets(_fold(text))
    order = list(range(len(norm)))
    rnd.shuffle(order)
    for i in order:
        assert lazy.span(i) == (starts[i], ends[i]), (text, i)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_lexicon_hits_are_every_match_of_each_group(text: str) -> None:
    norm = normalise(text)
    want = {}
    for name, rx in _LEX_RE:
        spans = [(m.start(), m.end()) for m in rx.finditer(norm)]
        if spans:
            want[name] = spans
    assert lexicon_hits(norm) == want


def test_breaks_table_is_the_break_characters() -> None:
    for cp in range(0x3100):
        not_break = bool(_NOT_BREAK[min(cp, len(_NOT_BREAK) - 1)])
        assert not_break == (chr(cp) not in _BREAKS), hex(cp)


def _scores_from_each_texts_values(model: Classifier, idxs: list) -> np.ndarray:
    """scores_many with each text's feature values from :meth:`Classifier.values`."""
    out = np.tile(model.bias, (len(idxs), 1))
    lengths = np.asarray([len(i) for i in idxs], np.int64)
    rows = np.flatnonzero(lengths)
    if len(rows):
        cols = np.concatenate([idxs[r] for r in rows])
        vals = np.concatenate([model.values(idxs[r]) for r in rows])
        starts = np.r_[0, np.cumsum(lengths[rows])[:-1]]
        out[rows] += np.add.reduceat(model.weights[cols] * vals[:, None], starts, axis=0)
    return out


@settings(max_examples=100, deadline=None)
@given(st.lists(_TEXT, max_size=8))
def test_scores_of_a_batch_use_each_texts_values(texts: list[str]) -> None:
    model = default_classifier()
    idxs = [model._features(t)[0] for t in texts if t.strip()]
    idxs.insert(len(idxs) // 2, np.zeros(0, np.int64))  # a text with no feature at all
    assert np.array_equal(model.scores_many(idxs), _scores_from_each_texts_values(model, idxs))


_cl = importlib.import_module("fanzha.intake.classify")


@settings(max_examples=300, deadline=None)
@given(_TEXT | st.lists(st.sampled_from([chr(cp) for cp in _cl._FULLWIDTH] + list("中文 aB1")), max_size=30).map("".join))
def test_folding_is_translation_and_lower_case(text: str) -> None:
    assert _fold(text) == text.translate(_cl._FULLWIDTH).lower()


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_long_runs_lookahead_changes_no_match(text: str) -> None:
    plain = re.compile(r"\d(?:[.,]?\d)+|[a-z]{2,}|\s{2,}")
    folded = _fold(text)
    assert [m.span() for m in _cl._LONG_RUNS.finditer(folded)] == [m.span() for m in plain.finditer(folded)]
