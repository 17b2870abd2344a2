"""One writer at a time per collection, in this process.

FerretDB 1.24 applies an update by reading the document, changing it and writing it back, and
two updates of one document that interleave can lose one of them (seen here: the outbox relay's
``$pullAll`` wrote back a stale copy and undid an answer saved a moment before). Every write of
the service and of its outbox relays to a collection goes through one lock, so they never
interleave within a replica. Several replicas would still race: see docs/feedback.md.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from shared.mongo import Document


class SerializedCollection:
    """A collection whose writes hold one lock; reads pass straight through."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection
        self.lock = asyncio.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)

    async def update_one(self, *args: Any, **kwargs: Any) -> Any:
        async with self.lock:
            return await self._collection.update_one(*args, **kwargs)

    async def insert_one(self, *args: Any, **kwargs: Any) -> Any:
        async with self.lock:
            return await self._collection.insert_one(*args, **kwargs)
