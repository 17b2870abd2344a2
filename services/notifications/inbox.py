"""The in-app inbox: pages, counts, seen/read/archived, and live updates for the SSE stream."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.errors import NotFound
from shared.mongo import Document
from shared.pagination import decode_cursor, encode_cursor

if TYPE_CHECKING:
    from services.notifications.clock import Clock
    from services.notifications.repository import NotificationStore


class InboxHub:
    """Wakes this replica's open SSE streams when an item lands (others poll the store)."""

    def __init__(self) -> None:
        self._listeners: dict[tuple[str, str], set[asyncio.Queue[Document]]] = defaultdict(set)

    def publish(self, tenant: str, person_id: str, item: Document) -> None:
        for queue in self._listeners.get((tenant, person_id), ()):
            queue.put_nowait(item)

    def listen(self, tenant: str, person_id: str) -> asyncio.Queue[Document]:
        queue: asyncio.Queue[Document] = asyncio.Queue()
        self._listeners[(tenant, person_id)].add(queue)
        return queue

    def forget(self, tenant: str, person_id: str, queue: asyncio.Queue[Document]) -> None:
        listeners = self._listeners.get((tenant, person_id))
        if listeners is not None:
            listeners.discard(queue)
            if not listeners:
                del self._listeners[(tenant, person_id)]


class Inbox:
    def __init__(self, store: NotificationStore, hub: InboxHub, clock: Clock) -> None:
        self._store = store
        self._hub = hub
        self._clock = clock

    async def page(
        self,
        tenant: str,
        person_id: str,
        *,
        unread: bool,
        archived: bool,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[Document], str | None]:
        position = decode_cursor(cursor)
        after = None
        if position is not None:
            try:
                after = (datetime.fromisoformat(position["t"]), str(position["i"]))
            except (KeyError, ValueError, TypeError):
                from shared.errors import InvalidInput

                raise InvalidInput("the cursor is not one this API returned") from None
        docs = await self._store.inbox_page(
            tenant, person_id, unread=unread, archived=archived, after=after, limit=limit + 1
        )
        next_cursor = None
        if len(docs) > limit:
            docs = docs[:limit]
            last = docs[-1]
            next_cursor = encode_cursor({"t": last["created_at"].isoformat(), "i": last["_id"]})
        return docs, next_cursor

    async def counts(self, tenant: str, person_id: str) -> tuple[int, int]:
        return await self._store.inbox_counts(tenant, person_id)

    async def mark(self, tenant: str, person_id: str, item_id: str, action: str) -> Document:
        now = self._clock.now()
        fields: dict[str, Any] = {
            "read": {"read_at": now, "seen_at": now},
            "archive": {"archived_at": now, "seen_at": now},
        }[action]
        doc = await self._store.mark(tenant, person_id, item_id, fields)
        if doc is None:
            raise NotFound(f"no inbox item {item_id}")
        return doc

    async def mark_all(self, tenant: str, person_id: str, field: str) -> int:
        return await self._store.mark_all(tenant, person_id, field, self._clock.now())

    async def stream(
        self, tenant: str, person_id: str, *, poll_s: float, keepalive_s: float
    ) -> AsyncIterator[Document | None]:
        """New inbox items as they land; None now and then as a keep-alive."""
        queue = self._hub.listen(tenant, person_id)
        sent: set[str] = set()
        since = self._clock.now() - timedelta(seconds=1)
        idle = 0.0
        try:
            yield None
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), poll_s)
                    items = [item]
                except TimeoutError:
                    # another replica may have written it: look in the store too
                    items = await self._store.inbox_since(tenant, person_id, since)
                fresh = [i for i in items if i["_id"] not in sent and i.get("in_inbox", True)]
                for item in fresh:
                    sent.add(item["_id"])
                    yield item
                if fresh:
                    idle = 0.0
                else:
                    idle += poll_s
                    if idle >= keepalive_s:
                        idle = 0.0
                        yield None
        finally:
            self._hub.forget(tenant, person_id, queue)
