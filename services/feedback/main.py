"""The feedback service: Feedback requests, 360 feedback and praise, with anonymity that holds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.feedback import repository
from services.feedback.api import router as api_router
from services.feedback.config import FeedbackSettings
from services.feedback.handlers import build_router
from services.feedback.reading import FeedbackReading
from services.feedback.service import (
    FeedbackRequests,
    RequestPolicy,
)
from shared.app import Runtime, create_service_app
from shared.background import BackgroundLoop
from shared.directory import PeopleDirectory
from shared.events.topics import FEEDBACK
from shared.messaging import ConsumerRunner, OutboxRelay, ensure_topics
from shared.mongo import ensure_indexes
from shared.time import Clock, utcnow

CONSUMER_GROUP = "feedback"


def create_app(settings: FeedbackSettings | None = None, *, clock: Clock = utcnow) -> FastAPI:
    settings = settings or FeedbackSettings()

    @asynccontextmanager
    async def wiring(app: FastAPI, runtime: Runtime) -> AsyncIterator[None]:
        db = runtime.db
        await ensure_indexes(db, {**repository.indexes(), **PeopleDirectory.indexes()})
        await ensure_topics(settings, [FEEDBACK])
        requests_collection = db[repository.REQUESTS]
        praise_collection = db[repository.PRAISE]
        relays = [
            OutboxRelay(
                collection,
                runtime.producer,
                service=settings.service_name,
                poll_interval_s=settings.outbox_poll_interval_s,
            )
            for collection in (requests_collection, praise_collection)
        ]

        def notify() -> None:
            for relay in relays:
                relay.notify()

        directory = PeopleDirectory(db)
        requests_store = repository.MongoRequests(requests_collection)
        sharing = repository.MongoSharing(db)
        requests = FeedbackRequests(
            requests_store,
            sharing,
            directory,
            RequestPolicy(
                secret=settings.anonymity_secret.get_secret_value().encode(),
                default_min_responses=settings.default_min_responses,
                max_reviewers=settings.max_reviewers,
                auto_request_due_days=settings.auto_request_due_days,
            ),
            clock=clock,
            notify=notify,
        )
        reading = FeedbackReading(
            requests_store,
            repository.MongoPraise(praise_collection),
            sharing,
            directory,
            requests,
            clock=clock,
            notify=notify,
        )
        app.state.feedback_requests = requests
        app.state.feedback_reading = reading
        app.state.outbox_relays = relays

        async def expire_overdue() -> None:
            await requests.expire_overdue()

        runner = ConsumerRunner(
            settings,
            group=CONSUMER_GROUP,
            router=build_router(directory, requests),
            producer=runtime.producer,
        )
        for relay in relays:
            await relay.start()
        if settings.consume_events:
            await runner.start()
        expiry = BackgroundLoop("feedback-expiry", expire_overdue, settings.expiry_interval_s)
        await expiry.start()
        try:
            yield
        finally:
            await expiry.stop()
            if settings.consume_events:
                await runner.stop()
            for relay in relays:
                await relay.stop()

    return create_service_app(
        name="feedback",
        settings=settings,
        routers=[api_router],
        wiring=wiring,
        description="Feedback requests, 360 feedback and praise, with anonymity that holds.",
    )
