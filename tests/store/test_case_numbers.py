"""Case numbers: ``FZ`` + the Shanghai date + the day's six-digit sequence."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import delete

from fanzha.store import services
from fanzha.store.db import transaction
from fanzha.store.models import Case

DAYS = [date(2024, 4, 30), date(2024, 5, 1), date(2024, 5, 2), date(2024, 12, 31), date(2025, 1, 1)]


def _expected(numbers: set[str], day: date) -> str:
    prefix = f"FZ{day:%Y%m%d}"
    mine = [int(n[len(prefix):]) for n in numbers if n.startswith(prefix)]
    return f"{prefix}{max(mine, default=0) + 1:06d}"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(numbers=st.sets(st.tuples(st.sampled_from(DAYS), st.integers(1, 999_999)), max_size=12),
       day=st.sampled_from(DAYS), hour=st.integers(0, 23))
def test_the_next_number_follows_the_days_last(sessions, numbers, day, hour):
    """Only the day's own numbers count, whatever other days hold, and the day is
    Shanghai's: 16:00 UTC is the next morning there."""
    written = {f"FZ{d:%Y%m%d}{n:06d}" for d, n in numbers}
    try:
        with transaction(sessions) as s:
            s.add_all(Case(case_no=no) for no in written)
        at = datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc)
        local = (at + timedelta(hours=8)).date()
        with transaction(sessions) as s:
            assert services.next_case_no(s, at) == _expected(written, local)
    finally:
        with transaction(sessions) as s:
            s.execute(delete(Case))
