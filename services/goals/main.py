"""The goals service: Career goals, key results that move with KPIs, milestones and reviews."""

from __future__ import annotations

from fastapi import FastAPI

from services.goals.config import GoalsSettings
from shared.app import create_service_app


def create_app(settings: GoalsSettings | None = None) -> FastAPI:
    settings = settings or GoalsSettings()
    return create_service_app(
        name="goals",
        settings=settings,
        description="Career goals, key results that move with KPIs, milestones and reviews.",
    )
