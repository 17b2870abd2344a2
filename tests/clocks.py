"""Clocks for tests: a service takes any ``() -> datetime``; these can be moved by the test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class AdjustableClock:
    """Real time plus an offset the tests move forward (time still flows, it can also jump)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._offset = (start - datetime.now(UTC)) if start else timedelta()

    def __call__(self) -> datetime:
        return self.now()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        self._offset += delta

    def set(self, instant: datetime) -> None:
        self._offset = instant - datetime.now(UTC)


class FrozenClock:
    """Time stands still until the test moves it."""

    def __init__(self, start: datetime) -> None:
        self.instant = start

    def __call__(self) -> datetime:
        return self.instant

    def now(self) -> datetime:
        return self.instant

    def advance(self, delta: timedelta) -> None:
        self.instant += delta

    def set(self, instant: datetime) -> None:
        self.instant = instant
