"""The notifications service: inbox, email, Slack and signed webhooks, with preferences."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.notifications.api import router as api_router
from services.notifications.channels import EmailSender, HttpSender
from services.notifications.clock import Clock, utc_now
from services.notifications.config import NotificationsSettings
from services.notifications.deliveries import DeliveryRepository
from services.notifications.handlers import build_router
from services.notifications.inbox import Inbox, InboxHub
from services.notifications.preferences import PreferenceCenter
from services.notifications.repository import (
    GoalBindings,
    NotificationRepository,
    PreferenceRepository,
)
from services.notifications.service import Notifier
from services.notifications.ssrf import UrlGuard
from services.notifications.subscriptions import SubscriptionRepository
from services.notifications.worker import Dispatcher
from shared.app import Runtime, create_service_app
from shared.directory import PeopleDirectory
from shared.events import topics
from shared.messaging import ConsumerRunner, OutboxRelay, ensure_topics
from shared.mongo import ensure_indexes


def create_app(
    settings: NotificationsSettings | None = None,
    *,
    clock: Clock | None = None,
    guard: UrlGuard | None = None,
) -> FastAPI:
    settings = settings or NotificationsSettings()
    clock = clock or utc_now
    guard = guard or UrlGuard(settings.outbound_allow_list)

    @asynccontextmanager
    async def wiring(app: FastAPI, runtime: Runtime) -> AsyncIterator[None]:
        db = runtime.db
        notifications, deliveries = NotificationRepository(db), DeliveryRepository(db)
        preferences, subscriptions = PreferenceRepository(db), SubscriptionRepository(db)
        bindings = GoalBindings(db)
        directory = PeopleDirectory(db)
        await ensure_indexes(
            db,
            {
                **notifications.indexes(),
                **deliveries.indexes(),
                **preferences.indexes(),
                **subscriptions.indexes(),
                **bindings.indexes(),
                **PeopleDirectory.indexes(),
            },
        )
        await ensure_topics(settings, [topics.NOTIFICATIONS])
        hub = InboxHub()
        http = HttpSender(settings, guard)
        relay = OutboxRelay(
            deliveries.outbox,
            runtime.producer,
            service=settings.service_name,
            poll_interval_s=settings.outbox_poll_interval_s,
        )
        dispatcher = Dispatcher(
            settings,
            deliveries=deliveries,
            preferences=preferences,
            subscriptions=subscriptions,
            directory=directory,
            clock=clock,
            email=EmailSender(settings),
            http=http,
            on_events=relay.notify,
        )
        notifier = Notifier(
            notifications=notifications,
            deliveries=deliveries,
            preferences=preferences,
            bindings=bindings,
            subscriptions=subscriptions,
            directory=directory,
            clock=clock,
            hub=hub,
            service=settings.service_name,
            wake=dispatcher.notify,
        )
        consumer = ConsumerRunner(
            settings,
            group="notifications",
            router=build_router(directory, notifier),
            producer=runtime.producer,
        )
        app.state.inbox = Inbox(notifications, hub, clock)
        app.state.preferences = PreferenceCenter(
            preferences=preferences,
            notifications=notifications,
            deliveries=deliveries,
            subscriptions=subscriptions,
            guard=guard,
            clock=clock,
        )
        app.state.notifier = notifier
        app.state.dispatcher = dispatcher
        app.state.clock = clock
        await relay.start()
        await dispatcher.start()
        await consumer.start()
        try:
            yield
        finally:
            await consumer.stop()
            await dispatcher.stop()
            await relay.stop()
            await http.close()

    return create_service_app(
        name="notifications",
        settings=settings,
        routers=[api_router],
        wiring=wiring,
        description="Fan-out to inbox, email, Slack and signed webhooks, with preferences.",
    )
