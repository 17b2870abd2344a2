"""The in-app inbox: pages, counts, seen/read/archived, and live updates for the SSE stream."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from shared.errors import NotFound
from shared.pagination import InvalidCursor, decode_cursor, encode_cursor

if TYPE_CHECKING:
    from services.notifications.notification import Notification
    from services.notifications.repository import NotificationRepository
    from shared.time import Clock

# A poll of the store looks this far back before the time of the poll before it: an item another
# replica writes is stored a little after its ``created_at`` (that replica's clock, the write's
# latency), and is still found. Older items were found by an earlier poll, so each poll reads a
# window of the inbox, not everything since the stream opened.
POLL_OVERLAP = timedelta(seconds=30)
# items a poll reads at most; a full page is followed from its last item by the next poll
POLL_PAGE = 100


class InboxHub:
    """Wakes this replica's open SSE streams when an item lands (others poll the store)."""

    def __init__(self) -> None:
        self._listeners: dict[tuple[str, str], set[asyncio.Queue[Notification]]] = defaultdict(set)

    def publish(self, tenant: str, person_id: str, item: Notification) -> None:
        for queue in self._listeners.get((tenant, person_id), ()):
            queue.put_nowait(item)

    def listen(self, tenant: str, person_id: str) -> asyncio.Queue[Notification]:
        queue: asyncio.Queue[Notification] = asyncio.Queue()
        self._listeners[(tenant, person_id)].add(queue)
        return queue

    def forget(self, tenant: str, person_id: str, queue: asyncio.Queue[Notification]) -> None:
        listeners = self._listeners.get((tenant, person_id))
        if listeners is not None:
            listeners.discard(queue)
            if not listeners:
                del self._listeners[(tenant, person_id)]


class Inbox:
    def __init__(self, notifications: NotificationRepository, hub: InboxHub, clock: Clock) -> None:
        self._notifications = notifications
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
    ) -> tuple[list[Notification], str | None]:
        position = decode_cursor(cursor)
        after = None
        if position is not None:
            try:
                after = (datetime.fromisoformat(position["t"]), str(position["i"]))
            except (KeyError, ValueError, TypeError):
                raise InvalidCursor("the cursor is not one this API returned") from None
        items = await self._notifications.inbox_page(
            tenant, person_id, unread=unread, archived=archived, after=after, limit=limit + 1
        )
        next_cursor = None
        if len(items) > limit:
            items = items[:limit]
            last = items[-1]
            next_cursor = encode_cursor({"t": last.created_at.isoformat(), "i": last.id})
        return items, next_cursor

    async def counts(self, tenant: str, person_id: str) -> tuple[int, int]:
        return await self._notifications.inbox_counts(tenant, person_id)

    async def mark(
        self, tenant: str, person_id: str, item_id: str, action: Literal["read", "archive"]
    ) -> Notification:
        item = await self._notifications.inbox_item(tenant, person_id, item_id)
        if item is None:
            raise NotFound(f"no inbox item {item_id}")
        if action == "read":
            item.mark_read(self._clock())
        else:
            item.archive(self._clock())
        await self._notifications.save_marks(item)
        return item

    async def read_all(self, tenant: str, person_id: str) -> int:
        return await self._notifications.read_all(tenant, person_id, self._clock())

    async def see_all(self, tenant: str, person_id: str) -> int:
        return await self._notifications.see_all(tenant, person_id, self._clock())

    async def stream(
        self,
        tenant: str,
        person_id: str,
        *,
        poll_s: float,
        keepalive_s: float,
        lifetime_s: float,
        last_event_id: str | None = None,
    ) -> AsyncIterator[Notification | None]:
        """New inbox items as they land; None now and then as a keep-alive.

        What this replica writes comes through the hub at once; the store is polled every
        ``poll_s`` for what other replicas wrote, however busy the hub keeps the stream. The
        stream ends after ``lifetime_s``: the client reconnects with the last item's id
        (``Last-Event-ID``) and the new stream starts right after that item."""
        queue = self._hub.listen(tenant, person_id)
        sent: dict[str, datetime] = {}  # id: created_at, of what a poll may return again
        since = self._clock() - timedelta(seconds=1)
        loop = asyncio.get_running_loop()
        next_poll = loop.time() + poll_s
        ends = loop.time() + lifetime_s
        idle = 0.0
        try:
            last = await self._resumed_after(tenant, person_id, last_event_id)
            if last is not None:
                since, sent[last.id] = last.created_at, last.created_at
                next_poll = loop.time()  # what landed while the client was away, at once
            yield None
            while loop.time() < ends:
                polled_at = None
                try:
                    wait = max(0.0, min(next_poll, ends) - loop.time())
                    items = [await asyncio.wait_for(queue.get(), wait)]
                except TimeoutError:
                    if loop.time() >= ends:
                        break
                    polled_at = self._clock()
                    items = await self._notifications.inbox_since(
                        tenant, person_id, since, limit=POLL_PAGE
                    )
                    next_poll = loop.time() + poll_s
                fresh = [i for i in items if i.id not in sent and i.in_inbox]
                for item in fresh:
                    sent[item.id] = item.created_at
                if polled_at is not None:
                    # the next poll's window; what it cannot return again is forgotten
                    if len(items) == POLL_PAGE:
                        since = max(since, items[-1].created_at)
                    else:
                        since = max(since, polled_at - POLL_OVERLAP)
                    sent = {i: at for i, at in sent.items() if at >= since}
                for item in fresh:
                    yield item
                if fresh:
                    idle = 0.0
                elif polled_at is not None:
                    idle += poll_s
                    if idle >= keepalive_s:
                        idle = 0.0
                        yield None
        finally:
            self._hub.forget(tenant, person_id, queue)

    async def _resumed_after(
        self, tenant: str, person_id: str, last_event_id: str | None
    ) -> Notification | None:
        """The item a reconnecting client saw last; None (start from now) if it is not one of
        the person's inbox items, e.g. deleted by retention since."""
        if not last_event_id:
            return None
        return await self._notifications.inbox_item(tenant, person_id, last_event_id)
