"""The feedback service: Feedback requests, 360 feedback and praise, with anonymity that holds."""

from __future__ import annotations

from fastapi import FastAPI

from services.feedback import repository
from services.feedback.api import router
from services.feedback.config import FeedbackSettings
from services.feedback.handlers import build_router
from services.feedback.privacy import FeedbackPersonalData
from services.feedback.reading import FeedbackReading
from services.feedback.scheduler import RequestScheduler
from services.feedback.service import FeedbackRequests, RequestPolicy
from shared.app import Lifecycle, create_service_app
from shared.directory import PeopleDirectory
from shared.erasure import data_router, register_erasure
from shared.events.topics import FEEDBACK, PRIVACY
from shared.time import Clock, utcnow


def create_app(settings: FeedbackSettings | None = None, *, clock: Clock = utcnow) -> FastAPI:
    settings = settings or FeedbackSettings()
    policy = RequestPolicy(
        secret=settings.anonymity_secret.get_secret_value().encode(),
        default_min_responses=settings.default_min_responses,
        max_reviewers=settings.max_reviewers,
        auto_request_due_days=settings.auto_request_due_days,
    )

    async def wiring(service: Lifecycle) -> None:
        requests_store = repository.MongoRequests(service.db)
        praise_store = repository.MongoPraise(service.db)
        sharing = repository.MongoSharing(service.db)
        directory = PeopleDirectory(service.db)
        notify = service.relay(requests_store, praise_store).notify
        requests = FeedbackRequests(
            requests_store, sharing, directory, policy, clock=clock, notify=notify
        )
        reading = FeedbackReading(
            requests_store, praise_store, sharing, directory, requests, clock=clock, notify=notify
        )
        personal_data = FeedbackPersonalData(service.db)
        subscriptions = build_router(directory, requests)
        register_erasure(
            subscriptions,
            service="feedback",
            data=personal_data,
            publisher=service.producer,
            directory=directory,
        )
        service.consume(subscriptions, group="feedback")
        service.run(
            RequestScheduler(
                requests,
                repository.MongoLeases(service.db),
                clock=clock,
                interval_s=settings.expiry_interval_s,
                lease_ttl_s=settings.scheduler_lease_ttl_s,
            )
        )
        service.provide(
            feedback_requests=requests, feedback_reading=reading, personal_data=personal_data
        )

    return create_service_app(
        name="feedback",
        settings=settings,
        routers=[router, data_router("feedback")],
        indexes={**repository.indexes(), **PeopleDirectory.indexes()},
        topics=[FEEDBACK, PRIVACY],
        wiring=wiring,
        description="Feedback requests, 360 feedback and praise, with anonymity that holds.",
    )
