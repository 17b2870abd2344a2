"""The document store through PyMongo's async API, created in lifespan, never at import."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from shared.config import CommonSettings
from shared.errors import VersionConflict

Document = dict[str, Any]


def create_client(settings: CommonSettings) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(
        settings.mongodb_uri,
        tz_aware=True,
        serverSelectionTimeoutMS=3000,
        connectTimeoutMS=3000,
        appname=f"northstar-{settings.service_name}",
    )


async def ensure_indexes(
    db: AsyncDatabase[Document], indexes: Mapping[str, Sequence[IndexModel]]
) -> None:
    """Create every index the service needs; each carries ``tenant`` first (DESIGN §5)."""
    for collection, models in indexes.items():
        if models:
            await db[collection].create_indexes(list(models))


async def ping(db: AsyncDatabase[Document]) -> bool:
    try:
        await db.command("ping")
    except PyMongoError:
        return False
    return True


async def update_versioned(
    collection: AsyncCollection[Document],
    filter_: Document,
    expected_version: int,
    update: Document,
) -> None:
    """Apply ``update`` only if the document still has ``expected_version``; bump the version.

    A lost race raises VersionConflict: 409 for a user, a retry for a consumer.
    """
    update = dict(update)
    update["$inc"] = {**update.get("$inc", {}), "version": 1}
    result = await collection.update_one({**filter_, "version": expected_version}, update)
    if result.matched_count == 0:
        raise VersionConflict("the resource was changed by someone else; reload it and try again")
