"""The notifications service: inbox, email, Slack and signed webhooks, with preferences."""

from __future__ import annotations

from fastapi import FastAPI

from services.notifications.api import router
from services.notifications.channels import EmailSender, HttpSender
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
from shared.app import Lifecycle, create_service_app
from shared.directory import PeopleDirectory
from shared.events import topics
from shared.time import Clock, utcnow


def create_app(
    settings: NotificationsSettings | None = None,
    *,
    clock: Clock | None = None,
    guard: UrlGuard | None = None,
) -> FastAPI:
    settings = settings or NotificationsSettings()
    clock = clock or utcnow
    guard = guard or UrlGuard(settings.outbound_allow_list)

    async def wiring(service: Lifecycle) -> None:
        db = service.db
        notifications, deliveries = NotificationRepository(db), DeliveryRepository(db)
        preferences, subscriptions = PreferenceRepository(db), SubscriptionRepository(db)
        directory, hub = PeopleDirectory(db), InboxHub()
        email, http = EmailSender(settings), HttpSender(settings, guard)
        service.on_stop(http.close)
        notify = service.relay(deliveries).notify
        dispatcher = Dispatcher(
            settings,
            deliveries=deliveries,
            preferences=preferences,
            subscriptions=subscriptions,
            directory=directory,
            clock=clock,
            email=email,
            http=http,
            notify=notify,
        )
        service.run(dispatcher)
        notifier = Notifier(
            notifications=notifications,
            deliveries=deliveries,
            preferences=preferences,
            bindings=GoalBindings(db),
            subscriptions=subscriptions,
            directory=directory,
            clock=clock,
            hub=hub,
            service=settings.service_name,
            notify=dispatcher.notify,
        )
        service.consume(build_router(directory, notifier), group="notifications")
        service.provide(
            inbox=Inbox(notifications, hub, clock),
            preferences=PreferenceCenter(
                preferences=preferences,
                notifications=notifications,
                deliveries=deliveries,
                subscriptions=subscriptions,
                guard=guard,
                clock=clock,
            ),
            dispatcher=dispatcher,
        )

    return create_service_app(
        name="notifications",
        settings=settings,
        routers=[router],
        indexes={
            **NotificationRepository.indexes(),
            **DeliveryRepository.indexes(),
            **PreferenceRepository.indexes(),
            **SubscriptionRepository.indexes(),
            **GoalBindings.indexes(),
            **PeopleDirectory.indexes(),
        },
        topics=[topics.NOTIFICATIONS],
        wiring=wiring,
        description="Fan-out to inbox, email, Slack and signed webhooks, with preferences.",
    )
