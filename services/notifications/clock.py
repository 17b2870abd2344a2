"""The notion of "now" used for scheduling (quiet hours, digests, retries): a function, as in
every service, so tests pass their own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)
