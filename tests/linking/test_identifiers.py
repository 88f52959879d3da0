"""One spelling per identifier: equal values link, malformed ones are named."""

import pytest

from fanzha.linking.identifiers import IdentifierError, normalise_identifier as norm


@pytest.mark.parametrize("kind, raw, want", [
    ("phone", "139 1234 5678", "+8613912345678"),
    ("phone", "+86 139-1234-5678", "+8613912345678"),
    ("phone", "+8613912345678", "+8613912345678"),
    ("phone", "95588", "95588;phone-context=+86"),
    ("bank_card", "6222 0252-6018 1590 832", "6222025260181590832"),
    ("url", "WWW.Example.CN/task?id=8831", "http://www.example.cn/task?id=8831"),
    ("domain", "Example.CN.", "example.cn"),
    ("ip", " 103.215.44.12 ", "103.215.44.12"),
    ("ip", "2001:DB8::1", "2001:db8::1"),
    ("email", "Boss@Example.com", "boss@example.com"),
    ("qq", "2890145567", "2890145567"),
    ("wechat", "wxid_k8s9d0fj2", "wxid_k8s9d0fj2"),
    ("device", "86a3f0c2-11aa", "86A3F0C2-11AA"),
    ("app", "Com.Tencent.MM", "com.tencent.mm"),
    ("app", "支付宝", "支付宝"),
    ("alipay", "13912345678", "+8613912345678"),
    ("alipay", "Pay@Example.com", "pay@example.com"),
])
def test_normalised(kind, raw, want):
    assert norm(kind, raw) == (kind, want)


@pytest.mark.parametrize("kind, raw, field", [
    ("fax", "123", "identifiers.kind"),
    (None, "123", "identifiers.kind"),
    ("phone", 13912345678, "identifiers.value"),
    ("phone", "call me", "identifiers.value"),
    ("bank_card", "6222-abc", "identifiers.value"),
    ("ip", "300.1.1.1", "identifiers.value"),
    ("qq", "12", "identifiers.value"),
    ("email", "not-an-address", "identifiers.value"),
    ("domain", "http://x.com/a", "identifiers.value"),
    ("wechat", "", "identifiers.value"),
])
def test_malformed_values_name_the_field(kind, raw, field):
    with pytest.raises(IdentifierError) as err:
        norm(kind, raw)
    assert err.value.field == field
