"""The feedback service: Feedback requests, 360 feedback and praise, with anonymity that holds."""

from __future__ import annotations

from fastapi import FastAPI

from services.feedback.config import FeedbackSettings
from shared.app import create_service_app


def create_app(settings: FeedbackSettings | None = None) -> FastAPI:
    settings = settings or FeedbackSettings()
    return create_service_app(
        name="feedback",
        settings=settings,
        description="Feedback requests, 360 feedback and praise, with anonymity that holds.",
    )
