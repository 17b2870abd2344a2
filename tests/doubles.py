"""Test doubles: an in-memory broker (same envelopes and routers, no Kafka), a settable clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from shared.events.envelope import Envelope
from shared.messaging.consumer import Router


class InMemoryBroker:
    """Records what is published; ``deliver`` runs routers over it like a consumer would."""

    def __init__(self) -> None:
        self.published: list[Envelope] = []
        self._delivered: dict[int, int] = {}

    async def publish(self, envelope: Envelope, topic: str | None = None) -> None:
        self.published.append(envelope)

    async def publish_many(self, envelopes: Sequence[Envelope], topic: str | None = None) -> None:
        self.published.extend(envelopes)

    def of_type(self, event_type: str) -> list[Envelope]:
        return [e for e in self.published if e.type == event_type]

    async def deliver(self, router: Router) -> int:
        """Dispatch every event this router has not seen yet, in publish order."""
        start = self._delivered.get(id(router), 0)
        count = 0
        while start < len(self.published):
            envelope = self.published[start]
            start += 1
            self._delivered[id(router)] = start
            if await router.dispatch(envelope):
                count += 1
        return count


@dataclass
class SettableClock:
    """A ``shared.time.Clock`` that stands still until a test sets or advances it."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta

    def today(self) -> date:
        return self.now.date()


class AdjustableClock:
    """Real time plus an offset a test moves (time still flows, so retries and leases run)."""

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
