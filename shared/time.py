"""The one notion of "now": aware UTC datetimes, and a clock use cases take so tests can move it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol, overload


class Clock(Protocol):
    """Called for the current instant: ``utcnow`` in production, a settable fake in tests."""

    def __call__(self) -> datetime: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """A datetime read back from the store (naive, in UTC) made aware again."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
