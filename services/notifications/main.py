"""The notifications service: inbox, email, Slack and signed webhooks, with preferences."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from services.notifications.api import router
from services.notifications.channels import EmailSender, HttpSender
from services.notifications.config import NotificationsSettings
from services.notifications.handlers import build_router
from services.notifications.inbox import Inbox, InboxHub
from services.notifications.preferences import PreferenceCenter
from services.notifications.privacy import (
    RETENTION_INDEXES,
    NotificationsPersonalData,
    retention_purges,
)
from services.notifications.service import Notifier
from services.notifications.ssrf import UrlGuard
from services.notifications.stores import NotificationStores
from services.notifications.worker import Dispatcher
from shared.app import Lifecycle, create_service_app
from shared.audit import AuditTrail
from shared.background import BackgroundLoop
from shared.erasure import data_router, register_erasure
from shared.events import topics
from shared.retention import RetentionJob, RetentionSettings, retention_router, with_indexes
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
        stores, hub = NotificationStores.of(service.db, clock), InboxHub(clock)
        # what other replicas write reaches this replica's open streams
        service.run(
            BackgroundLoop(
                "inbox-poll", partial(hub.poll, stores.notifications), settings.sse_poll_interval_s
            )
        )
        email, http = EmailSender(settings), HttpSender(settings, guard)
        service.on_stop(http.close)
        trail = AuditTrail(service.db)
        notify = service.relay(
            stores.deliveries, stores.subscriptions, stores.preferences, trail
        ).notify
        dispatcher = Dispatcher.of(settings, stores, clock, email=email, http=http, notify=notify)
        service.run(dispatcher)
        notifier = Notifier.of(settings, stores, clock, hub=hub, notify=dispatcher.notify)
        personal_data = NotificationsPersonalData(service.db, stores.directory)
        subscriptions = build_router(stores.directory, notifier)
        register_erasure(
            subscriptions,
            service="notifications",
            data=personal_data,
            publisher=service.producer,
            directory=stores.directory,
            erased=stores.erased,
        )
        service.consume(subscriptions, group="notifications")
        if settings.retention_enabled:
            service.run(
                RetentionJob(
                    service.db,
                    retention_purges(service.db),
                    service="notifications",
                    clock=clock,
                    interval_s=settings.retention_interval_s,
                )
            )
        service.provide(
            retention=RetentionSettings(service.db),
            inbox=Inbox(stores.notifications, hub, clock),
            preferences=PreferenceCenter.of(stores, guard, clock, trail=trail, notify=notify),
            dispatcher=dispatcher,
            personal_data=personal_data,
        )

    return create_service_app(
        name="notifications",
        settings=settings,
        routers=[
            router,
            data_router("notifications"),
            retention_router(["inbox items", "deliveries"]),
        ],
        indexes=with_indexes(
            {**NotificationStores.indexes(), **AuditTrail.indexes()}, RETENTION_INDEXES
        ),
        topics=[topics.NOTIFICATIONS, topics.AUDIT, topics.PRIVACY],
        wiring=wiring,
        description="Fan-out to inbox, email, Slack and signed webhooks, with preferences.",
    )
