"""One writer at a time per goal document, in this process.

FerretDB 1.24 applies an update by reading the document, changing it and writing it back; two
updates of one document that interleave lose one of them (measured here: 200 concurrent ``$inc``
of one field left it at 4, and version-guarded updates both "won"). That would let the outbox
relay's ``$pullAll`` undo a goal's progress, or a check-in and a KPI update both pass the version
check. Every write to the goals collection — the service's and its outbox relay's — goes through
this wrapper, which holds a lock per document id (writes without an ``_id`` take a shared one).
Several replicas would still race on FerretDB; MongoDB has no such problem. See docs/goals.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from shared.mongo import Document

_ANY = "\x00any-document"


class SerializedCollection:
    """A collection whose single-document writes hold a per-document lock; reads pass through."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)

    @asynccontextmanager
    async def _holding(self, filter_or_doc: Document) -> AsyncIterator[None]:
        doc_id = filter_or_doc.get("_id")
        key = doc_id if isinstance(doc_id, str) else _ANY
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                del self._locks[key]

    async def update_one(self, filter_: Document, *args: Any, **kwargs: Any) -> Any:
        async with self._holding(filter_):
            return await self._collection.update_one(filter_, *args, **kwargs)

    async def insert_one(self, document: Document, *args: Any, **kwargs: Any) -> Any:
        async with self._holding(document):
            return await self._collection.insert_one(document, *args, **kwargs)

    async def find_one_and_update(self, filter_: Document, *args: Any, **kwargs: Any) -> Any:
        async with self._holding(filter_):
            return await self._collection.find_one_and_update(filter_, *args, **kwargs)
