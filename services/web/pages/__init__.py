"""The web app's pages, one module per area; each area adds its router to ROUTERS (one line)."""

from __future__ import annotations

from fastapi import APIRouter

from services.web.pages import admin_reviews, auth, dashboard, goals, growth, live, reviews

ROUTERS: list[APIRouter] = [
    auth.router,
    live.router,
    dashboard.router,
    goals.router,
    growth.router,
    reviews.router,
    admin_reviews.router,
]
