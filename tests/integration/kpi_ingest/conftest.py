"""A running kpi_ingest per test module (its own topics and database on the real servers)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from fastapi import FastAPI

from services.kpi_ingest.config import KpiIngestSettings
from services.kpi_ingest.main import create_app
from tests.support import isolated_settings, running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def settings() -> KpiIngestSettings:
    return isolated_settings(KpiIngestSettings, stale_check_interval_s=0.3, rate_limit_burst=10_000)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def app(settings: KpiIngestSettings) -> FastAPI:
    return create_app(settings)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with running(app) as client:
        yield client
