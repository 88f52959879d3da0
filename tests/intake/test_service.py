"""Filing reports into the store: one case per report, follow-ups, routing, emergencies."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from fanzha.errors import InputError
from fanzha.intake.service import Incoming, file_report
from fanzha.store.db import transaction
from fanzha.store.models import Case, Identifier, Institution, Order, Report, Unit, UnitZone

AT = datetime(2024, 5, 1, 2, 0, tzinfo=timezone.utc)
CARD = "6222021001115555556"  # an ICBC BIN, Luhn-valid
TEXT = f"受害人称被冒充客服诈骗，通过手机银行向对方账户{CARD}转账5万元。"


@pytest.fixture
def city(sessions):
    with transaction(sessions) as s:
        city = Unit(code="350200", name="厦门市公安局", kind="city")
        siming = Unit(code="350203", name="思明分局", kind="district", parent=city,
                      zones=[UnitZone(district="思明区", zone="")])
        Unit(code="350203-01", name="中华派出所", kind="station", parent=siming,
             zones=[UnitZone(district="思明区", zone="中华街道")])
        s.add_all([city, Institution(code="ICBC", name="中国工商银行", kind="national_bank")])
    return sessions


def _file(sessions, **kw):
    args = dict(received_at=AT, text=TEXT, source="110", district="思明区", address="中华街道大同路")
    args.update(kw)
    with transaction(sessions) as s:
        f = file_report(s, Incoming(**args), actor="110")
        return f.case.case_no, f.outcome, f.orders


def _count(sessions, model, *where):
    with sessions() as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_report_is_read_routed_and_timed(city):
    no, outcome, orders = _file(city)
    assert outcome == "opened" and orders == 0  # no payment time given: no emergency
    with city() as s:
        case = s.execute(select(Case).where(Case.case_no == no)).scalar_one()
        assert case.unit.code == "350203-01"
        assert case.loss_fen == 5_000_000
        assert ("bank_card", CARD) in {(i.kind, i.value) for i in case.reports[0].identifiers}
        kinds = [e.kind for e in case.events]
        assert kinds[0] == "filed" and "routed" in kinds


def test_same_report_twice_is_one_case(city):
    a = _file(city, external_id="110-1")
    b = _file(city, external_id="110-1")
    c = _file(city, received_at=AT + timedelta(seconds=20), text=TEXT.replace("，", "， "), caller="")
    assert a[0] == b[0] == c[0] and b[1] == c[1] == "duplicate"
    assert _count(city, Case) == 1 and _count(city, Report) == 1


def test_follow_up_call_joins_the_open_case(city):
    first = _file(city, caller="+8613912345678")
    again = _file(city, caller="+8613912345678", received_at=AT + timedelta(hours=3),
                  text="我刚才报过警，补充一下：又转了2万元。", loss_fen=7_000_000)
    assert again[0] == first[0] and again[1] == "follow_up"
    assert _count(city, Case) == 1 and _count(city, Report) == 2
    with city() as s:
        assert s.execute(select(Case)).scalar_one().loss_fen == 7_000_000


def test_big_case_goes_one_level_up(city):
    no, *_ = _file(city, loss_fen=150_000_000)
    with city() as s:
        case = s.execute(select(Case).where(Case.case_no == no)).scalar_one()
        assert case.escalated_to.code == "350203"
        assert any(e.kind == "escalated" for e in case.events)


def test_recent_payment_starts_the_chase_once(city):
    no, _, orders = _file(city, paid_at=AT - timedelta(minutes=20), external_id="110-9")
    assert orders == 2  # transaction details + stop-payment at the card's bank
    assert _count(city, Order) == 2
    stop = None
    with city() as s:
        stop = s.execute(select(Order).where(Order.kind == "stop_payment")).scalar_one()
        assert stop.amount_fen == 5_000_000 and stop.target == CARD and stop.institution.code == "ICBC"
        assert s.execute(select(Case)).scalar_one().emergency
    _file(city, paid_at=AT - timedelta(minutes=20), external_id="110-9")  # the feed sends it again
    assert _count(city, Order) == 2


def test_old_payment_is_not_an_emergency(city):
    _, _, orders = _file(city, paid_at=AT - timedelta(days=5))
    assert orders == 0


@pytest.mark.parametrize("bad, field", [({"received_at": datetime(2024, 5, 1)}, "received_at"),
                                        ({"text": "  "}, "text"),
                                        ({"identifiers": [("telepathy", "x")]}, "identifiers[0].kind"),
                                        ({"identifiers": [("phone", "+86 139")]}, "identifiers[0].value")])
def test_bad_reports_change_nothing(city, bad, field):
    with pytest.raises(InputError) as e:
        _file(city, **bad)
    assert e.value.field == field
    assert _count(city, Case) == 0


def test_identifiers_are_stored_in_the_spelling_linking_compares(city):
    _file(city, identifiers=[("bank_card", CARD[:4] + " " + CARD[4:8] + " " + CARD[8:])])
    with city() as s:
        assert CARD in {i.value for i in s.execute(select(Identifier)).scalars()}
