"""Amounts as Chinese reports write them, parsed to fen."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fanzha.money import MAX_FEN, AmountError, format_fen_chinese, parse_cn_amount

CASES = [
    ("12,800元", 1_280_000),
    ("9.9万", 9_900_000),
    ("7万2千元", 7_200_000),
    ("二十三万五千元", 23_500_000),
    ("人民币叁拾伍万元整", 35_000_000),
    ("5,000.50元", 500_050),
    ("¥1,280.00", 128_000),
    ("￥20000", 2_000_000),
    ("RMB 3000", 300_000),
    ("一万五", 1_500_000),
    ("三千五百元", 350_000),
    ("3万多元", 3_000_000),
    ("5000余元", 500_000),
    ("12元5角3分", 1_253),
    ("伍元叁角", 530),
    ("一千零五元", 100_500),
    ("十万零五百元", 10_050_000),
    ("1.2亿", 12_000_000_000),
    ("一亿二千万元", 12_000_000_000),
    ("2w", 2_000_000),
    ("5k", 500_000),
    ("两千块钱", 200_000),
    ("十二元", 1_200),
]


@pytest.mark.parametrize("text,fen", CASES)
def test_forms(text: str, fen: int) -> None:
    assert parse_cn_amount(text) == fen


@pytest.mark.parametrize("text", ["千万", "百万", "万一", "", "元", "一二三", "0元", "1.234元", "五十三百", "abc"])
def test_not_amounts(text: str) -> None:
    with pytest.raises(AmountError):
        parse_cn_amount(text)


def test_absurd_amount_is_a_clear_error() -> None:
    with pytest.raises(AmountError, match="implausibly large"):
        parse_cn_amount("99999999999999999元")


def test_formatting_examples() -> None:
    assert format_fen_chinese(23_500_000) == "二十三万五千元"
    assert format_fen_chinese(35_000_000, upper=True) == "叁拾伍万元整"
    assert format_fen_chinese(100_500) == "一千零五元"
    assert format_fen_chinese(1_253) == "十二元五角三分"


@settings(max_examples=400, deadline=None)
@given(st.integers(min_value=1, max_value=MAX_FEN))
def test_round_trip_chinese_numerals(fen: int) -> None:
    assert parse_cn_amount(format_fen_chinese(fen)) == fen
    assert parse_cn_amount("人民币" + format_fen_chinese(fen, upper=True)) == fen


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=MAX_FEN))
def test_round_trip_arabic_with_separators(fen: int) -> None:
    yuan, rest = divmod(fen, 100)
    assert parse_cn_amount(f"{yuan:,}.{rest:02d}元") == fen


def _by_the_grammar(text: str) -> tuple[str, object]:
    """parse_cn_amount's answer (fen, or the error's message) read by the grammar alone."""
    from fanzha.money import _parse_cn_fen

    try:
        value = _parse_cn_fen(text)
    except AmountError as err:
        return ("error", str(err))
    if value <= 0:
        return ("error", f"amount must be positive: {text!r}")
    if value > MAX_FEN:
        return ("error", f"amount is implausibly large (over {MAX_FEN // 100} yuan): {text!r}")
    return ("fen", value)


def _answer(text: str) -> tuple[str, object]:
    try:
        return ("fen", parse_cn_amount(text))
    except AmountError as err:
        return ("error", str(err))


_AMOUNT_PIECES = list("0123456789,.万元块圆角分整多 ") + ["元钱", "块钱", "yuan", "RMB", "rmb", "000", ",000", "w", "千", "¥", "٣"]


@settings(max_examples=500, deadline=None)
@example("٣角")   # a non-ASCII digit before 角: refused, as the grammar refuses it elsewhere (was a KeyError)
@example("5元٣分")
@given(st.lists(st.sampled_from(_AMOUNT_PIECES), min_size=1, max_size=12).map("".join)
       | st.from_regex(r"[0-9]{1,20}(\.[0-9]{1,3})?万?(元|块|yuan)?", fullmatch=True)
       | st.from_regex(r"[0-9]{1,3}(,[0-9]{3}){0,5}(\.[0-9]{1,2})?万?元?", fullmatch=True))
def test_plain_amounts_are_read_as_the_grammar_reads_them(text: str) -> None:
    assert _answer(text) == _by_the_grammar(text)
