"""Phone numbers to E.164, service numbers to their national key, bad ones refused."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.errors import InputError
from fanzha.intercept.errors import InvalidPhone
from fanzha.intercept.phones import (
    _mainland_mobile,
    key_to_phone,
    looks_like_phone,
    normalize_phone,
    parse_phone,
    phone_batch,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("13912345678", "+8613912345678"),
    ("139-1234-5678", "+8613912345678"),
    ("+86 139 1234 5678", "+8613912345678"),
    ("008613912345678", "+8613912345678"),
    ("86 13912345678", "+8613912345678"),
    ("+8613912345678", "+8613912345678"),
    ("010-12345678", "+861012345678"),           # Beijing landline
    ("023 6386 1234", "+862363861234"),          # Chongqing landline
    ("+852 6543 2109", "+85265432109"),          # Hong Kong mobile
    ("+1 650-253-0000", "+16502530000"),
    ("+39 06 1234 5678", "+390612345678"),       # Italian leading zero kept
    ("+63 917 123 4567", "+639171234567"),       # Philippines mobile
])
def test_e164(text, expected):
    assert normalize_phone(text) == expected
    p = parse_phone(text)
    assert not p.service and key_to_phone(p.key) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("95588", "95588;phone-context=+86"),         # ICBC
    ("+8695588", "95588;phone-context=+86"),      # same line, written internationally
    ("95588;phone-context=+86", "95588;phone-context=+86"),
    ("96110", "96110;phone-context=+86"),         # anti-fraud warning line
    ("95105588", "95105588;phone-context=+86"),   # 8-digit 95 number
    ("400-812-3123", "4008123123;phone-context=+86"),
    ("+86 400 812 3123", "4008123123;phone-context=+86"),
    ("800 810 1234", "8008101234;phone-context=+86"),
    ("110", "110;phone-context=+86"),
    ("12345", "12345;phone-context=+86"),
    ("10086", "10086;phone-context=+86"),
])
def test_service_numbers_keep_national_form(text, expected):
    p = parse_phone(text)
    assert p.service and p.value == expected
    assert p.key < 0 and key_to_phone(p.key) == expected


def test_keys_are_distinct_across_kinds():
    keys = {parse_phone(t).key for t in ["95588", "955880", "+8695588", "13912345678",
                                         "+85265432109", "4008123123"]}
    assert len(keys) == 5  # 95588 and +8695588 are one number


@pytest.mark.parametrize("bad", ["", "abc", "1391234567", "111", "+86 154 1234 5678",
                                 "+999 1234", "1" * 60, "139123456789"])
def test_invalid_numbers_are_clear_errors(bad):
    with pytest.raises(InvalidPhone) as e:
        parse_phone(bad)
    assert isinstance(e.value, InputError)
    assert "phone" in str(e.value)


def test_not_text():
    with pytest.raises(InvalidPhone):
        parse_phone(13912345678)  # type: ignore[arg-type]


def test_looks_like_phone():
    assert looks_like_phone("+86 139-1234-5678") and looks_like_phone("95588")
    assert not looks_like_phone("evil.com") and not looks_like_phone("1.2.3.4")
    assert not looks_like_phone("http://3279880203/")


@settings(max_examples=400, deadline=None)
@given(st.from_regex(r"1[0-9]{10}", fullmatch=True))
def test_bare_mobile_shortcut_agrees_with_the_pattern_and_the_library(text):
    """Eleven bare digits take a shortcut; the spelled-out forms take the pattern."""
    national = _mainland_mobile(text)
    assert national == _mainland_mobile("+86 " + text) == _mainland_mobile("0086" + text)
    if national is not None:
        num = phonenumbers.parse(text, "CN")
        assert national == text and phonenumbers.is_valid_number(num)
        assert parse_phone(text).value == phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
        keys, _, errors = phone_batch([text])
        assert keys.tolist() == [int("86" + text)] and errors == {}


_spellings = st.one_of(
    st.from_regex(r"1[0-9]{10}", fullmatch=True),
    st.from_regex(r"(\+86|0086)? ?1[0-9]{2}[ -]?[0-9]{4}[ -]?[0-9]{4}", fullmatch=True),
    st.sampled_from(["95588", "110", "400-812-3123", "+852 6543 2109", "010-12345678", "nope", "",
                     " 13912345678", "１３９１２３４５６７８", "139123456789", "+1 650-253-0000"]),
    st.text(alphabet="0123456789+- ", max_size=16),
    st.none(), st.integers(),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_spellings, max_size=12))
def test_batch_agrees_with_parse_phone(texts):
    """The batch (bare mobiles keyed by numpy, the rest parsed) answers as parse_phone."""
    keys, values, errors = phone_batch(texts, values=True)
    assert len(keys) == len(values) == len(texts)
    for i, text in enumerate(texts):
        try:
            p = parse_phone(text)
        except InvalidPhone as err:
            assert i in errors and str(errors[i]) == str(err)
            assert keys[i] == 0 and values[i] is None
        else:
            assert i not in errors and (int(keys[i]), values[i]) == (p.key, p.value)
