"""The one time module: aware UTC instants, whatever the store hands back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from shared.time import Clock, as_utc, utcnow
from tests.doubles import SettableClock


def test_a_naive_datetime_read_from_the_store_is_taken_as_utc() -> None:
    assert as_utc(datetime(2026, 1, 2, 3, 4)) == datetime(2026, 1, 2, 3, 4, tzinfo=UTC)


def test_an_aware_datetime_and_a_missing_one_pass_through() -> None:
    paris = datetime(2026, 1, 2, 3, 4, tzinfo=timezone(timedelta(hours=1)))
    assert as_utc(paris) is paris
    assert as_utc(None) is None


def test_utcnow_and_the_settable_clock_are_both_clocks() -> None:
    fake = SettableClock(datetime(2026, 1, 2, tzinfo=UTC))
    clocks: list[Clock] = [utcnow, fake]
    fake.advance(timedelta(days=1))
    assert clocks[1]() == datetime(2026, 1, 3, tzinfo=UTC)
    assert clocks[0]().tzinfo is UTC
