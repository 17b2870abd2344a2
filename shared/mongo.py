"""The document store through PyMongo's async API, created in lifespan, never at import."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, cast

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, PyMongoError

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
    """Create every index the service needs; each carries ``tenant`` first (DESIGN §5), except
    the outbox relay's, which serve every tenant."""
    for collection, models in indexes.items():
        # one index per command: FerretDB 1.24 drops the connection when one createIndexes
        # names several indexes that already exist (every restart of a service)
        for model in models:
            await db[collection].create_indexes([model])


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


DUPLICATE_KEY = 11000


async def insert_missing(collection: AsyncCollection[Document], docs: Sequence[Document]) -> int:
    """Insert, in one unordered round trip, the documents whose unique keys are not stored yet;
    return how many were inserted. A duplicate key (a redelivery, a retry) is skipped; any
    other write error raises."""
    if not docs:
        return 0
    try:
        result = await collection.insert_many(list(docs), ordered=False)
        return len(result.inserted_ids)
    except BulkWriteError as exc:
        if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
            raise
        return int(exc.details.get("nInserted", 0))


# --------------------------------------------------------------------------- FerretDB writes

_WRITES = frozenset(
    {
        "insert_one",
        "insert_many",
        "update_one",
        "update_many",
        "replace_one",
        "delete_one",
        "delete_many",
        "find_one_and_update",
        "find_one_and_replace",
        "find_one_and_delete",
        "bulk_write",
    }
)
_LOCKS: dict[tuple[str, str], asyncio.Lock] = {}


class SerializedCollection:
    """A collection whose writes run one at a time in this process; reads pass through.

    FerretDB 1.24 applies an update by reading the document, changing it and writing it back, so
    two updates of one document that interleave lose one (measured: 100 concurrent ``$inc`` left
    11; of 50 version-guarded updates 16 "won" and the version moved by 6). That breaks the
    outbox relay's ``$pullAll`` next to a state change, ``applied`` guards and optimistic
    concurrency. SQLite serializes FerretDB's writes anyway, so one lock per collection costs
    little. It holds within one process only: on such a store run one replica per service.
    MongoDB (Compose, Kubernetes) and the local FerretDB on PostgreSQL (built with
    ``deploy/local/ferretdb.patch``, which compares and swaps) update atomically and need none
    of this.
    """

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection
        key = (collection.database.name, collection.name)
        self._lock = _LOCKS.setdefault(key, asyncio.Lock())

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._collection, name)
        if name not in _WRITES:
            return attribute

        async def serialized(*args: Any, **kwargs: Any) -> Any:
            async with self._lock:
                return await attribute(*args, **kwargs)

        return serialized


class SerializedDatabase:
    """A database whose collections are :class:`SerializedCollection`."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    def __getitem__(self, name: str) -> AsyncCollection[Document]:
        return cast(AsyncCollection[Document], SerializedCollection(self._db[name]))

    def get_collection(self, name: str, **kwargs: Any) -> AsyncCollection[Document]:
        return cast(
            AsyncCollection[Document], SerializedCollection(self._db.get_collection(name, **kwargs))
        )

    def __getattr__(self, name: str) -> Any:
        # ``db.goals`` is a collection too: serialize it like ``db["goals"]``, or a write through
        # attribute access would slip past the lock
        attr = getattr(self._db, name)
        if isinstance(attr, AsyncCollection):
            return cast(AsyncCollection[Document], SerializedCollection(attr))
        return attr


async def updates_may_be_lost(client: AsyncMongoClient[Document]) -> bool:
    """Is this a FerretDB whose concurrent updates of one document can overwrite each other?

    The local scripts build FerretDB with ``deploy/local/ferretdb.patch``, whose PostgreSQL
    backend compares and swaps every update and says so in ``buildInfo``
    (``ferretdbFeatures.compareAndSwapUpdates``); upstream FerretDB and its SQLite backend do not.
    """
    try:
        info = await client.admin.command("buildInfo")
    except PyMongoError:
        return True  # unknown: serializing is the safe choice
    if "ferretdbVersion" not in info:
        return False  # MongoDB
    return not info.get("ferretdbFeatures", {}).get("compareAndSwapUpdates", False)


async def open_database(
    client: AsyncMongoClient[Document], name: str, serialize_writes: str = "auto"
) -> AsyncDatabase[Document]:
    """The service's database; writes serialized in this process when the store may lose
    concurrent updates (``auto``: upstream FerretDB, or ours on SQLite) or when asked (``on``)."""
    db = client[name]
    wanted = serialize_writes == "on" or (
        serialize_writes == "auto" and await updates_may_be_lost(client)
    )
    return cast(AsyncDatabase[Document], SerializedDatabase(db)) if wanted else db
