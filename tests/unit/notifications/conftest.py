"""One notifications service over fakes and a frozen clock: the real handlers, rules and worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from services.notifications.config import NotificationsSettings
from services.notifications.handlers import build_router
from services.notifications.inbox import InboxHub
from services.notifications.preferences import PreferenceCenter
from services.notifications.service import Notifier
from services.notifications.ssrf import UrlGuard
from services.notifications.subscriptions import WebhookSubscription
from services.notifications.worker import Dispatcher
from shared.events import new_event
from shared.events.envelope import Envelope, EventPayload
from shared.messaging import Router
from tests.doubles import InMemoryBroker, SettableClock
from tests.unit.notifications.fakes import (
    FakeBindings,
    FakeDeliveries,
    FakeDirectory,
    FakeEmail,
    FakeErased,
    FakeHttp,
    FakeNotifications,
    FakePreferences,
    FakeSettled,
    FakeSubscriptions,
)

START = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)  # a Tuesday, 09:00 in Paris
TENANT = "acme"


@dataclass
class World:
    clock: SettableClock
    settings: NotificationsSettings
    directory: FakeDirectory
    notifications: FakeNotifications
    deliveries: FakeDeliveries
    preferences: FakePreferences
    bindings: FakeBindings
    subscriptions: FakeSubscriptions
    settled: FakeSettled
    erased: FakeErased
    email: FakeEmail
    http: FakeHttp
    notifier: Notifier
    dispatcher: Dispatcher
    center: PreferenceCenter
    router: Router
    broker: InMemoryBroker

    async def receive(self, payload: EventPayload, *, subject: str = "s", **kw: Any) -> Envelope:
        """The event as the consumer would hand it over (redeliver by passing the envelope)."""
        event = new_event(payload, tenant=TENANT, subject=subject, source="tests", **kw)
        await self.deliver(event)
        return event

    async def deliver(self, event: Envelope) -> None:
        await self.broker.publish(event)
        await self.broker.deliver(self.router)

    def person(self, person_id: str, **fields: Any) -> str:
        self.directory.add(TENANT, person_id, **fields)
        return person_id

    async def subscribe(
        self, sub_id: str, event_types: list[str], *, secret: str = "whsec_x", active: bool = True
    ) -> None:
        """A webhook subscription of the tenant to these types, at its own URL."""
        await self.subscriptions.add(
            WebhookSubscription(
                id=sub_id,
                tenant=TENANT,
                url=f"https://hooks.example.com/{sub_id}",
                event_types=event_types,
                description=None,
                secret=secret,
                created_at=START,
                active=active,
            )
        )


class FakeTrail:
    """The audit trail's own outbox: what it was given to record."""

    def __init__(self) -> None:
        self.recorded: list[Envelope] = []

    async def record(self, event: Envelope) -> None:
        self.recorded.append(event)


async def allow_all(host: str, port: int) -> list[str]:
    return ["93.184.215.14"]  # every name is public here: the guard has its own tests


@pytest.fixture
def world() -> World:
    clock = SettableClock(START)
    settings = NotificationsSettings(
        retry_schedule_s=[0, 5, 300], max_retry_after_s=600, daily_cap=3
    )
    directory, notifications = FakeDirectory(), FakeNotifications()
    deliveries, preferences = FakeDeliveries(), FakePreferences()
    bindings, subscriptions = FakeBindings(), FakeSubscriptions()
    email, http = FakeEmail(settings), FakeHttp()
    settled, erased = FakeSettled(), FakeErased()
    notifier = Notifier(
        notifications=notifications,
        deliveries=deliveries,
        preferences=preferences,
        bindings=bindings,
        subscriptions=subscriptions,
        directory=directory,
        settled=settled,
        erased=erased,
        clock=clock,
        hub=InboxHub(),
        service="tests",
    )
    dispatcher = Dispatcher(
        settings,
        deliveries=deliveries,
        preferences=preferences,
        subscriptions=subscriptions,
        directory=directory,
        settled=settled,
        clock=clock,
        email=email,
        http=http,  # type: ignore[arg-type]
    )
    center = PreferenceCenter(
        preferences=preferences,
        notifications=notifications,
        deliveries=deliveries,
        subscriptions=subscriptions,
        guard=UrlGuard([], resolver=allow_all),
        clock=clock,
        trail=FakeTrail(),  # type: ignore[arg-type]
    )
    router = build_router(directory, notifier)  # type: ignore[arg-type]
    return World(
        clock,
        settings,
        directory,
        notifications,
        deliveries,
        preferences,
        bindings,
        subscriptions,
        settled,
        erased,
        email,
        http,
        notifier,
        dispatcher,
        center,
        router,
        InMemoryBroker(),
    )
