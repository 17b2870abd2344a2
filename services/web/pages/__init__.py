"""The web app's pages, one module per area; each area adds its router to ROUTERS (one line)."""

from __future__ import annotations

from fastapi import APIRouter

from services.web.pages import (
    admin_api_keys,
    admin_audit,
    admin_integrations,
    admin_people,
    admin_reports,
    admin_reviews,
    auth,
    dashboard,
    feedback,
    feedback_ask,
    goals,
    growth,
    inbox,
    live,
    preferences,
    reviews,
    skills,
    team,
)

ROUTERS: list[APIRouter] = [
    auth.router,
    live.router,
    dashboard.router,
    goals.router,
    inbox.router,
    preferences.router,
    feedback.router,
    feedback_ask.router,
    skills.router,
    team.router,
    admin_people.router,
    admin_integrations.router,
    admin_api_keys.router,
    growth.router,
    reviews.router,
    admin_reviews.router,
    admin_reports.router,
    admin_audit.router,
]
