"""Identifier and amount extraction: each form, the checks, and the labelled set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fanzha.errors import InputError
from fanzha.intake.bins import issuer, luhn_ok
from fanzha.intake.extract import FIELDS, extract, id_number_ok

GOLD = Path(__file__).with_name("data") / "extract_gold.jsonl"
GOLD_FIELDS = FIELDS + ("alipay", "qq_groups")


@pytest.mark.parametrize("text,e164", [
    ("电话13912345678", "+8613912345678"),
    ("电话139 1234 5678", "+8613912345678"),
    ("电话139-1234-5678", "+8613912345678"),
    ("+86 139 1234 5678", "+8613912345678"),
    ("0086 13912345678", "+8613912345678"),
    ("座机(023)63961234", "+862363961234"),
    ("座机023-6396 1234", "+862363961234"),
    ("热线400-812-3123", "+864008123123"),
    ("拨打95588", "+8695588"),
    ("香港+852 6543 2109", "+85265432109"),
    ("菲律宾+63 917 123 4567", "+639171234567"),
    ("柬埔寨+855 12 345 678", "+85512345678"),
    ("美国+1 (202) 555-0147", "+12025550147"),
    ("全角１３９１２３４５６７８", "+8613912345678"),
])
def test_phone_forms(text: str, e164: str) -> None:
    assert extract(text).phones == [e164]


def test_two_phones_side_by_side() -> None:
    assert extract("号码13912345678 13812345678").phones == ["+8613912345678", "+8613812345678"]


def test_luhn() -> None:
    assert luhn_ok("6222025260181590832")
    assert not luhn_ok("6222025260181590833")


@pytest.mark.parametrize("text", ["卡号6222025260181590832", "卡号6222 0252 6018 1590 832", "卡号6222-0252-6018-1590-832"])
def test_card_forms(text: str) -> None:
    out = extract(text)
    assert out.bank_cards == ["6222025260181590832"]
    assert out.card_banks[0]["bank_code"] == "ICBC"


def test_card_failing_luhn_is_not_a_card() -> None:
    assert extract("卡号6222025260181590833").bank_cards == []


def test_issuer_table_longest_prefix() -> None:
    hit = issuer("6228480166131860917")
    assert hit is not None and hit.bank_code == "ABC"
    assert issuer("1234567890123456") is None


@pytest.mark.parametrize("value,ok", [
    ("350203198807159175", True),
    ("35020619930409684X", True),
    ("35020619930409684x", True),
    ("350203198807151234", False),  # wrong check digit
    ("350203198813159175", False),  # no 13th month
    ("000203198807159175", False),
])
def test_id_checksum(value: str, ok: bool) -> None:
    assert id_number_ok(value.upper()) is ok


def test_id_number_never_a_card() -> None:
    # valid ID, and (by chance) also Luhn-valid: still an ID, never a card
    out = extract("身份证350203198807159175，卡350203198807151234")
    assert out.id_numbers == ["350203198807159175"]
    assert out.bank_cards == []
    assert extract("身份证号35020619930409684X").id_numbers == ["35020619930409684X"]


def test_urls() -> None:
    out = extract("访问 www点Fake-JD点com 和 HTTPS://Pay.Example.CN/Path?a=B 以及 abc123[.]top/x")
    assert out.urls == ["http://www.fake-jd.com", "https://pay.example.cn/Path?a=B", "http://abc123.top/x"]


def test_email_domain_is_not_a_url() -> None:
    out = extract("邮箱 Zhang.San@Example.com")
    assert out.emails == ["zhang.san@example.com"] and out.urls == []


def test_accounts_by_keyword() -> None:
    out = extract("QQ：2890145567，微信号 wxid_k8s9d0fj2，vx:lucky_girl_520，支付宝账号 pay_me@163.com")
    assert out.qq == ["2890145567"]
    assert out.wechat == ["wxid_k8s9d0fj2", "lucky_girl_520"]
    assert out.alipay == ["pay_me@163.com"]


def test_ips() -> None:
    assert extract("IP 103.215.44.12 和 8.8.8.8，版本号 999.1.1.1 不是").ips == ["103.215.44.12", "8.8.8.8"]


@pytest.mark.parametrize("text,amounts", [
    ("转账12,800元，又转了9.9万，共计损失人民币叁拾伍万元整", ["12800.00", "99000.00", "350000.00"]),
    ("7万2千元、二十三万五千元和5,000.50元", ["72000.00", "235000.00", "5000.50"]),
    ("分三次转账5000、8000、12000元", ["5000.00", "8000.00", "12000.00"]),
    ("转了45万，后来又转了450000元", ["450000.00", "450000.00"]),
])
def test_amounts(text: str, amounts: list[str]) -> None:
    assert extract(text).amounts == amounts


@pytest.mark.parametrize("text", [
    "2024年5月3日14:30", "2024-05-03 09:15:00", "2024.05.03", "下午3点30分", "5月3日", "15时20分",
    "订单号2024051512345678901", "单号：SF1234567890123", "3栋2单元501室", "排名第3名，10万粉丝，3万人",
    "收益率30%", "千万不要转账", "关闭百万保障", "我们一块去", "通话时长15分钟", "尾号1234",
])
def test_never_amounts(text: str) -> None:
    assert extract(text).amounts == []


def test_absurd_amount_is_reported_not_used() -> None:
    out = extract("被骗99999999999999999元")
    assert out.amounts == [] and "implausibly large" in out.warnings[0]


def test_foreign_currency_kept_apart() -> None:
    out = extract("充值了5000USDT，又换了300美元")
    assert out.amounts == []
    assert out.other_currency_amounts == [{"amount": "5000.00", "currency": "USDT"},
                                          {"amount": "300.00", "currency": "USD"}]


@pytest.mark.parametrize("bad", ["", "   \n", "x" * 200_001, "\ufffd\ufffd\ufffd\ufffd", "Ã¦Â\x88Â\x91Ã¨Â¢Â«Ã©Âª"])
def test_bad_input_is_a_clear_error(bad: str) -> None:
    with pytest.raises(InputError):
        extract(bad)


def test_output_keys_in_contract_order() -> None:
    assert list(extract("无").as_dict())[:9] == list(FIELDS)


def test_labelled_set_precision_recall() -> None:
    """Precision and recall per field over the labelled set, each at least 0.95."""
    tp = {f: 0 for f in GOLD_FIELDS}
    fp = dict(tp)
    fn = dict(tp)
    rows = [json.loads(line) for line in GOLD.read_text("utf-8").splitlines() if line.strip()]
    assert len(rows) >= 50
    for row in rows:
        got = extract(row["text"]).as_dict()
        for f in GOLD_FIELDS:
            if f == "amounts":  # a multiset: the same sum mentioned twice counts twice
                want, have = list(row[f]), list(got[f])
                hit = 0
                for v in have:
                    if v in want:
                        want.remove(v)
                        hit += 1
                tp[f] += hit
                fp[f] += len(have) - hit
                fn[f] += len(want)
            else:
                want_s, have_s = set(row[f]), set(got[f])
                tp[f] += len(want_s & have_s)
                fp[f] += len(have_s - want_s)
                fn[f] += len(want_s - have_s)
    for f in GOLD_FIELDS:
        if tp[f] + fp[f] + fn[f] == 0:
            continue
        precision = tp[f] / (tp[f] + fp[f]) if tp[f] + fp[f] else 1.0
        recall = tp[f] / (tp[f] + fn[f]) if tp[f] + fn[f] else 1.0
        assert precision >= 0.95, (f, precision)
        assert recall >= 0.95, (f, recall)
