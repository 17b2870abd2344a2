"""Fixtures of the integration tests that drive the messaging layer directly.

``producer`` and ``db`` use the requesting module's own ``settings`` fixture (its topic prefix
and database).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.config import CommonSettings
from shared.events import topics
from shared.messaging import EventProducer, ensure_topics


@pytest.fixture
async def producer(settings: CommonSettings) -> AsyncIterator[EventProducer]:
    await ensure_topics(settings, topics.ALL, with_dlq=topics.ALL)
    producer = EventProducer(settings)
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture
async def db(settings: CommonSettings) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri, tz_aware=True)
    yield client[settings.mongodb_database]
    await client.drop_database(settings.mongodb_database)
    await client.close()
