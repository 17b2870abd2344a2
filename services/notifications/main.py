"""The notifications service: inbox, email, Slack and signed webhooks, with preferences."""

from __future__ import annotations

from fastapi import FastAPI

from services.notifications.config import NotificationsSettings
from shared.app import create_service_app


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    return create_service_app(
        name="notifications",
        settings=settings,
        description="Fan-out to inbox, email, Slack and signed webhooks, with preferences.",
    )
