"""Extraction skips a pass when the text lacks what that pass needs to match: each quick
look must be a necessary condition of its pattern, so skipping never loses a find."""

from __future__ import annotations

import importlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.money import AmountError
from fanzha.money import parse_cn_amount as money_parse_cn_amount

ex = importlib.import_module("fanzha.intake.extract")  # the package's ``extract`` is the function

_PIECES = list("qQvVwWxX扣企鹅信微加+支付宝@./:()（）点 　０１２３４5678913-_tel") + [" dot ", "[.]", "【点】", "{.}", "。", " . ",
    "qq", "QQ", "扣扣", "企鹅号", "微信", "v信", "VX", "wx", "wechat", "weixin", "wxid_", "加v", "+v",
    "支付宝", "tel", "Phone", "mobile", "http://", "hxxps : //", "ftp://", "www.", ".com", ".cn", "点com",
    "(023)", "（0592）", "+86(10)", "13912345678", "6222025260181590832", "1.2.3.4", "a@b.cn", "12,800元"]
_TEXT = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=30).map("".join)


def _needs(text: str) -> dict[str, bool]:
    t = ex.normalise(text)
    u = ex._WRITTEN_DOT.sub(lambda m: "\x00" * (len(m.group(0)) - 1) + ".", t)
    return {
        "email": ex._EMAIL.search(t) is None or "@" in t,
        "scheme": ex._URL_SCHEME.search(u) is None or "//" in u,
        "ip_url": ex._IP_URL.search(u) is None or "." in u,
        "host": ex._URL_HOST.search(u) is None or "." in u,
        "ip": ex._IP.search(t) is None or "." in t,
        "alipay": ex._ALIPAY.search(t) is None or "支付宝" in t,
        "qq": ex._QQ.search(t) is None or ex._QQ_HINT.search(t) is not None,
        "wechat": ex._WECHAT.search(t) is None or ex._WECHAT_HINT.search(t) is not None,
        "wxid": ex._WXID.search(t) is None or "wxid_" in t,
    }


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_every_skipped_pass_could_not_have_matched(text: str) -> None:
    assert all(_needs(text).values()), _needs(text)


@settings(max_examples=300, deadline=None)
@given(_TEXT | st.text(max_size=40))
def test_normalise_is_every_substitution_applied(text: str) -> None:
    t = text.translate(ex._FULLWIDTH)
    t = ex._AREA_PARENS.sub(r"\1-", t)
    t = ex._INTL_PARENS.sub(r"\1 \2 ", t)
    assert ex.normalise(text) == ex._KEYWORD_GLUE.sub(r"\1 ", t)


@pytest.mark.parametrize("amount", ["5万", "12,800元", "叁拾伍万元整", "3万多元", "0元", "九千亿亿元", "元"])
def test_remembered_amounts_are_the_amounts(amount: str) -> None:
    for _ in range(2):  # the second answer comes from memory
        try:
            want = money_parse_cn_amount(amount)
        except AmountError as err:
            with pytest.raises(AmountError, match=str(err)[:20]):
                ex.parse_cn_amount(amount)
        else:
            assert ex.parse_cn_amount(amount) == want


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30) | st.sampled_from(["Ã©Ã¨Ã§Ã", "\ufffd\ufffd\ufffd", "ÃÃÃÃ中", "abc"]))
def test_mis_decoded_check_is_the_character_count(text: str) -> None:
    bad = text.count("\ufffd") >= 3
    mojibake = sum(1 for ch in text if "\x80" <= ch <= "\xff")
    has_cjk = any("\u4e00" <= ch <= "\u9fff" for ch in text)
    refused = bad or (mojibake >= 4 and not has_cjk and mojibake * 5 >= len(text.strip()))
    if not text.strip():
        return
    try:
        ex.check_text(text)
    except Exception as err:  # noqa: BLE001 - which refusal is what is checked
        assert refused and "mis-decoded" in str(err)
    else:
        assert not refused


def _without_lookahead(rx):
    """The pattern without its opening lookahead (the quick look at the first character)."""
    head = "(?i)" if rx.pattern.startswith("(?i)") else ""
    body = rx.pattern[len(head):]
    assert body.startswith(("(?=[", "(?=\\d)"))
    return ex.re.compile(head + body[body.index(")") + 1:], rx.flags)


_LOOKAHEAD_PATTERNS = ["_WRITTEN_DOT", "_URL_SCHEME", "_URL_HOST", "_IP", "_IP_URL", "_RUN", "_QQ", "_WECHAT"]


@settings(max_examples=300, deadline=None)
@given(_TEXT | st.text(max_size=40))
def test_a_patterns_opening_lookahead_changes_no_match(text: str) -> None:
    t = ex.normalise(text)
    u = ex._WRITTEN_DOT.sub(lambda m: "\x00" * (len(m.group(0)) - 1) + ".", t)
    for name in _LOOKAHEAD_PATTERNS:
        rx = getattr(ex, name)
        plain = _without_lookahead(rx)
        for s in (t, u, text):
            assert [m.group(0, *rx.groupindex) for m in rx.finditer(s)] == \
                [m.group(0, *plain.groupindex) for m in plain.finditer(s)], (name, s)


def _luhn_digit_by_digit(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


@settings(max_examples=500, deadline=None)
@given(st.text("0123456789", max_size=24) | st.text("0123456789٣x", max_size=8))
def test_luhn_by_bytes_is_luhn_digit_by_digit(digits: str) -> None:
    """ASCII digits: the rule as written digit by digit; anything else is no card."""
    from fanzha.intake import bins

    card = digits.isascii() and digits.isdigit()
    assert bins.luhn_ok(digits) == (card and _luhn_digit_by_digit(digits))


_FULLWIDTH_PIECES = st.sampled_from(
    [chr(cp) for cp in ex._FULLWIDTH] + list("，。中文abc 123\x00\u200b\ufeff-") + ["\uff10\uff11", "（０２３）"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_FULLWIDTH_PIECES, max_size=40).map("".join) | st.text(max_size=40))
def test_sparse_translation_is_translation(text: str) -> None:
    assert ex.translate_sparse(text, ex._FULLWIDTH_CHAR, ex._FULLWIDTH_CHARS) == text.translate(ex._FULLWIDTH)


def test_sparse_translation_table_maps_into_no_key() -> None:
    """What translate_sparse needs of its table: a replacement is never replaced again."""
    assert not {ch for to in ex._FULLWIDTH_CHARS.values() for ch in to} & set(ex._FULLWIDTH_CHARS)
    assert {ch for ch in map(chr, range(0x10000)) if ex._FULLWIDTH_CHAR.fullmatch(ch)} == set(ex._FULLWIDTH_CHARS)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_keyword_glue_lookahead_changes_no_match(text: str) -> None:
    plain = re.compile(r"(?i)(?<![A-Za-z])(qq|vx|wx|tel|phone|mobile|wechat|weixin)(?=\d)")
    t = text.translate(ex._FULLWIDTH)
    assert [m.span() for m in ex._KEYWORD_GLUE.finditer(t)] == [m.span() for m in plain.finditer(t)]


_LIST_PIECES = st.sampled_from(["5000", "8,000", "1.5", "三万", "两千", "12w", "、", "，", ",", "和", "及", "与", "跟",
                                " ", "\n", "\t", "元", "转账", "了", "\x01", "分三次", "k"])


@settings(max_examples=500, deadline=None)
@given(st.lists(_LIST_PIECES, max_size=30).map("".join) | st.text(max_size=30))
def test_list_before_is_the_search(window: str) -> None:
    """The quick look before the search for a list of numbers loses no list."""
    plain = re.compile(r"(?:(?P<n>" + ex._NUMPART + r")\s*(?:、|，|,|和|及|与|跟)\s*)+$")
    got, want = ex._list_before(window), plain.search(window)
    assert (got and (got.span(), got.group(0))) == (want and (want.span(), want.group(0)))
