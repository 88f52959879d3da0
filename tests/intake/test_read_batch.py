"""Reading in batches answers exactly what reading one report at a time answers: the
classifier's batch path (numeric n-gram lookup, vectorised evidence) against the plain
rules it implements, and a batch of reports read at once (and in worker processes)
against each read alone."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.errors import InputError
from fanzha.intake.classify import (
    _BREAKS,
    _KEEP_LATIN,
    _FULLWIDTH,
    classify,
    classify_many,
    default_classifier,
    ngrams,
    normalise,
    normalise_with_offsets,
)
from fanzha.intake.extract import check_text
from fanzha.intake.service import Incoming, read_batch, read_many, read_report

ROOT = Path(__file__).resolve().parents[2]

#: Report-like text, with what normalisation treats specially: full-width forms, digits
#: that are not decimal (², ①), Latin words kept or not, spaces of every kind.
_PIECES = list("转账公安客服刷单贷款征信老板游戏宝贝购买中奖余额验证码的了我他说要元被骗提醒丢失，。！、“”（）【】《》-—…~"
               "0123456789０１２３ＡＢＱｑ²³①⑴abcxyzQQKİß §\t\n\u3000.,:;!?") + [
    "app", "refund", "VIP", "1,000.5", "安全账户", "屏幕共享", "6222 0202 1234 5678", "usdt"]


def _a_report(text: str) -> bool:
    """What the classifier reads at all (the refusals are tested with check_text)."""
    try:
        check_text(text)
    except InputError:
        return False
    return True


_TEXT = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=60).map("".join).filter(_a_report)


def _corpus(n: int) -> list[str]:
    lines = (ROOT / "corpus" / "heldout.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines[:n]]


# -- the plain rules the batch path implements ------------------------------------------


def _evidence_by_character(text: str, cls: int, k: int = 3) -> list[str]:
    """The evidence rule, one character and one n-gram at a time."""
    model = default_classifier()
    norm, starts, ends = normalise_with_offsets(text)
    weights = model.weights
    diff = np.zeros(len(norm) + 1, np.float64)
    plus, minus = [], []
    for gram, at in ngrams(normalise(text)):
        i = model.index.get(gram)
        if i is None:
            continue
        gain = weights[i, cls] - max(weights[i, c] for c in range(weights.shape[1]) if c != cls)
        if gain > 0:
            share = np.float64(gain) / len(gram)
            plus.append((at, share))
            minus.append((at + len(gram), -share))
    for at, v in plus + minus:
        diff[at] += v
    per_char = np.cumsum(diff[:-1]).astype(np.float32)
    per_char[np.abs(per_char) < 1e-6] = 0.0
    _, _, hits = model._features(text)
    if per_char.size and per_char.max() > 0:
        code = model.classes[cls]
        groups = [f"§{code}"] if code != "not_fraud" else [g for g in hits if g.startswith("§nf:")]
        for g in groups:
            for a, b in hits.get(g, []):
                per_char[a:b] += float(per_char.max())
    if not per_char.size or per_char.max() <= 0:
        return []
    threshold = 0.2 * float(per_char.max())
    spans, i = [], 0
    while i < len(norm):
        if per_char[i] > threshold and norm[i] not in _BREAKS:
            j = i
            while j < len(norm) and per_char[j] > threshold and norm[j] not in _BREAKS:
                j += 1
            if j - i >= 2:
                spans.append((float(per_char[i:j].sum()), i, j))
            i = j
        else:
            i += 1
    spans.sort(key=lambda s: -s[0])
    out: list[str] = []
    for _, a, b in spans:
        phrase = text[starts[a]:ends[b - 1]].strip()[:16]
        if phrase and phrase not in out and not phrase.isdigit():
            out.append(phrase)
        if len(out) == k:
            break
    return out


@settings(max_examples=200, deadline=None)
@given(_TEXT)
def test_normalising_with_offsets_is_normalising_token_by_token(text: str) -> None:
    """The text is :func:`normalise`'s, and each character comes from the token its span
    covers in the folded text (full-width to ASCII, lower case), read one token at a time."""
    norm, starts, ends = normalise_with_offsets(text)
    assert norm == normalise(text) and len(starts) == len(ends) == len(norm)
    folded = text.translate(_FULLWIDTH).lower()
    for ch, a, b in zip(norm, starts, ends):
        tok = folded[a:b]
        if re.fullmatch(r"\d+(?:[.,]\d+)*", tok):
            assert ch == "0"
        elif re.fullmatch(r"\s+", tok):
            assert ch == " "
        elif re.fullmatch(r"[a-z]+", tok):
            assert ch in (tok if tok in _KEEP_LATIN else "a")
        else:
            assert len(tok) == 1 and ch == tok


@settings(max_examples=200, deadline=None)
@given(_TEXT)
def test_ngram_lookup_is_the_vocabulary_lookup(text: str) -> None:
    model = default_classifier()
    norm = normalise(text)
    assert model._lookup_ngrams(norm).tolist() == [model.index.get(g, -1) for g, _ in ngrams(norm)]


@settings(max_examples=100, deadline=None)
@given(st.lists(_TEXT, max_size=6))
def test_ngram_lookup_of_a_batch_is_each_text_own(texts: list[str]) -> None:
    model = default_classifier()
    norms = [normalise(t) for t in texts]
    assert [f.tolist() for f in model._lookup_ngrams_many(norms)] == \
        [[model.index.get(g, -1) for g, _ in ngrams(norm)] for norm in norms]


@settings(max_examples=100, deadline=None)
@given(_TEXT)
def test_evidence_is_the_character_rule(text: str) -> None:
    model = default_classifier()
    [c] = classify_many([text])
    assert c.evidence == _evidence_by_character(text, model.classes.index(c.scam_type))


def test_evidence_on_the_corpus_is_the_character_rule() -> None:
    model = default_classifier()
    for text, c in zip(texts := _corpus(120), classify_many(texts)):
        assert c.evidence == _evidence_by_character(text, model.classes.index(c.scam_type)), text


@settings(max_examples=40, deadline=None)
@given(st.lists(_TEXT, min_size=1, max_size=12))
def test_classify_many_is_classify_of_each(texts: list[str]) -> None:
    assert classify_many(texts) == [classify(t) for t in texts]


def test_classify_many_on_the_corpus_is_classify_of_each() -> None:
    texts = _corpus(300)
    assert classify_many(texts) == [classify(t) for t in texts]


# -- reports read in batches ----------------------------------------------------------------

AT = datetime(2024, 5, 1, 2, 0, tzinfo=timezone.utc)


@st.composite
def reports(draw) -> Incoming:
    return Incoming(received_at=AT + timedelta(minutes=draw(st.integers(0, 5))),
                    text=draw(_TEXT | st.sampled_from(["  ", "对方冒充公安，让我向6212260566850009457转账5万元",
                                                       "刷单返利，QQ 1110524935，转了2万3千元"])),
                    source="110", caller=draw(st.sampled_from(["", "+8613912345678"])),
                    scam_type=draw(st.sampled_from([None, None, "investment"])),
                    loss_fen=draw(st.sampled_from([None, 0, 5_000_000])),
                    identifiers=draw(st.sampled_from([[], [("phone", "139 1234 5678")], [("telepathy", "x")]])))


def _as_tuple(r):
    return ("error", str(r), r.field) if isinstance(r, InputError) else r


def _one(inc: Incoming):
    try:
        return read_report(inc)
    except InputError as err:
        return err


@settings(max_examples=40, deadline=None)
@given(st.lists(reports(), max_size=10))
def test_reading_a_batch_is_reading_each(incs: list[Incoming]) -> None:
    alone = [_as_tuple(_one(inc)) for inc in incs]
    assert [_as_tuple(r) for r in read_batch(incs)] == alone
    assert [_as_tuple(r) for r in read_many(incs, chunksize=3)] == alone


def test_reading_in_worker_processes_is_reading_each() -> None:
    incs = [Incoming(received_at=AT, text=t, source="110") for t in _corpus(90)]
    incs[7] = Incoming(received_at=AT, text="   ", source="110")
    alone = [_as_tuple(_one(inc)) for inc in incs]
    assert [_as_tuple(r) for r in read_many(incs, processes=2, chunksize=16)] == alone


def test_worker_processes_run_below_the_filer(monkeypatch) -> None:
    """The workers read at a lower priority than the process that files what they read
    (which keeps its own): each reports the niceness it ran at."""
    import os

    from fanzha.intake import service

    monkeypatch.setattr(service, "read_batch", lambda batch: [InputError(f"nice {os.nice(0)}") for _ in batch])
    mine = os.nice(0)
    incs = [Incoming(received_at=AT, text=f"第{i}份", source="110") for i in range(6)]
    seen = {str(r) for r in read_many(incs, processes=2, chunksize=1)}
    assert seen == {f"nice {min(19, mine + service.READER_NICENESS)}"}
    assert os.nice(0) == mine


@settings(max_examples=8, deadline=None)
@given(incs=st.lists(reports(), min_size=1, max_size=12), chunksize=st.integers(1, 5), taken=st.integers(0, 12),
       caller_froze=st.booleans())
def test_worker_processes_leave_the_caller_as_it_was(incs, chunksize, taken, caller_froze) -> None:
    """Whether the caller reads every result or stops early, the workers read each
    report as it is read alone, and afterwards nothing of the call is kept and the
    caller's garbage collector is as it was (its own frozen objects still frozen)."""
    import gc
    import itertools

    from fanzha.intake import service

    alone = [_as_tuple(_one(inc)) for inc in incs]
    if caller_froze:
        gc.freeze()
    try:
        before = gc.get_freeze_count()
        results = read_many(incs, processes=2, chunksize=chunksize)
        assert gc.get_freeze_count() == before  # frozen only while the workers were forked
        got = [_as_tuple(r) for r in itertools.islice(results, taken)]
        results.close()
        assert got == alone[:taken]
        assert not service._INHERITED
        assert gc.get_freeze_count() == before
    finally:
        if caller_froze:
            gc.unfreeze()
