"""Single-document updates stay atomic through the service database, also on FerretDB."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from shared.config import CommonSettings
from shared.errors import VersionConflict
from shared.mongo import open_database, update_versioned
from tests.support import isolated_settings

pytestmark = pytest.mark.integration


async def test_concurrent_updates_of_one_document_are_never_lost() -> None:
    settings = isolated_settings(CommonSettings, service_name="mongo-test")
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    try:
        db = await open_database(client, settings.mongodb_database)
        counters = db["counters"]
        await counters.insert_one({"_id": "c", "tenant": "acme", "n": 0, "version": 0})

        await asyncio.gather(
            *[counters.update_one({"_id": "c"}, {"$inc": {"n": 1}}) for _ in range(100)]
        )
        doc = await counters.find_one({"_id": "c"})
        assert doc is not None
        assert doc["n"] == 100

        async def guarded_bump() -> bool:
            current = await counters.find_one({"_id": "c"})
            assert current is not None
            try:
                await update_versioned(
                    counters, {"_id": "c"}, current["version"], {"$inc": {"n": 1}}
                )
            except VersionConflict:
                return False
            return True

        winners = sum(await asyncio.gather(*[guarded_bump() for _ in range(30)]))
        doc = await counters.find_one({"_id": "c"})
        assert doc is not None
        assert doc["version"] == winners  # every "win" really happened, none twice
        assert doc["n"] == 100 + winners
    finally:
        await client.drop_database(settings.mongodb_database)
        await client.close()
