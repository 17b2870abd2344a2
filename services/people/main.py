"""The people service: HR integration: SCIM 2.0, HRIS imports, people, org chart and mentorships."""

from __future__ import annotations

from fastapi import FastAPI

from services.people.config import PeopleSettings
from shared.app import create_service_app


def create_app(settings: PeopleSettings | None = None) -> FastAPI:
    settings = settings or PeopleSettings()
    return create_service_app(
        name="people",
        settings=settings,
        description="HR integration: SCIM 2.0, HRIS imports, people, org chart and mentorships.",
    )
