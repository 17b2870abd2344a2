"""The reviews service: career ladders, gap analysis, review cycles, calibration and release."""

from __future__ import annotations

from fastapi import FastAPI

from services.reviews import growth_api
from services.reviews.api import router
from services.reviews.common import ReviewStore
from services.reviews.config import ReviewsSettings
from services.reviews.evidence import EvidenceRecords
from services.reviews.growth import CareerService
from services.reviews.handlers import build_router
from services.reviews.intake import EvidenceIntake
from services.reviews.privacy import ReviewsPersonalData
from services.reviews.repository import ReviewRepository, indexes
from services.reviews.scheduler import ReminderScheduler
from services.reviews.service import Policy, ReviewService
from shared.app import Lifecycle, create_service_app
from shared.directory import PeopleDirectory
from shared.erasure import ErasedPeople, data_router, register_erasure
from shared.events import topics
from shared.time import Clock, utcnow


def create_app(settings: ReviewsSettings | None = None, *, clock: Clock = utcnow) -> FastAPI:
    settings = settings or ReviewsSettings()
    policy = Policy(
        rating_scale=settings.rating_scale,
        anonymous_peer_minimum=settings.anonymous_peer_minimum,
        max_peers=settings.max_peers,
        max_population=settings.max_population,
        reminder_lead_days=settings.reminder_lead_days,
    )

    async def wiring(service: Lifecycle) -> None:
        repo = ReviewRepository(service.db)
        evidence = EvidenceRecords(service.db)
        directory = PeopleDirectory(service.db)
        outbox = service.relay(repo)
        store = ReviewStore(repo, directory, notify=outbox.notify, clock=clock)
        career = CareerService(store, evidence)
        reviews = ReviewService(store, career, evidence, policy)
        erased = ErasedPeople(service.db, clock)
        intake = EvidenceIntake(evidence, erased)
        personal_data = ReviewsPersonalData(service.db)
        subscriptions = build_router(directory, intake, career)
        register_erasure(
            subscriptions,
            service="reviews",
            data=personal_data,
            publisher=service.producer,
            directory=directory,
            erased=erased,
        )
        service.consume(subscriptions, group=settings.consumer_group)
        if settings.scheduler_enabled:
            service.run(
                ReminderScheduler(
                    reviews,
                    interval_s=settings.scheduler_interval_s,
                    lease_ttl_s=settings.scheduler_lease_ttl_s,
                )
            )
        service.provide(reviews=reviews, career=career, personal_data=personal_data)

    return create_service_app(
        name="reviews",
        settings=settings,
        routers=[router, growth_api.router, data_router("reviews")],
        indexes=indexes(),
        topics=[topics.REVIEWS, topics.AUDIT, topics.PRIVACY],
        wiring=wiring,
        description="Career ladders, gap analysis, review cycles, calibration and release.",
    )
