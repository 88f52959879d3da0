"""The small city the API and console tests share: a bureau, two districts with a
station each, a bank and a payment company."""

from __future__ import annotations

from fanzha.store.models import Institution, Unit, UnitZone


def make_reference(session) -> None:
    """厦门市公安局 → 思明分局 (中华派出所), 湖里分局 (湖里派出所); ICBC and ALIPAY."""
    city = Unit(code="350200", name="厦门市公安局", kind="city")
    siming = Unit(code="350203", name="思明分局", kind="district", parent=city,
                  zones=[UnitZone(district="思明区", zone="")])
    huli = Unit(code="350206", name="湖里分局", kind="district", parent=city,
                zones=[UnitZone(district="湖里区", zone="")])
    s1 = Unit(code="350203-01", name="中华派出所", kind="station", parent=siming,
              zones=[UnitZone(district="思明区", zone="中华街道")])
    s2 = Unit(code="350206-01", name="湖里派出所", kind="station", parent=huli,
              zones=[UnitZone(district="湖里区", zone="湖里街道")])
    session.add_all([city, siming, huli, s1, s2,
                     Institution(code="ICBC", name="中国工商银行", kind="national_bank"),
                     Institution(code="ALIPAY", name="支付宝", kind="payment")])
    session.flush()
