"""The in-app inbox: pages, counts, seen/read/archived, and live updates for the SSE stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol

from shared.errors import NotFound
from shared.pagination import InvalidCursor, decode_cursor, encode_cursor
from shared.time import Clock, utcnow

if TYPE_CHECKING:
    from services.notifications.notification import Notification
    from services.notifications.repository import NotificationRepository

# A poll of the store looks this far back before the time of the poll before it: an item another
# replica writes is stored a little after its ``created_at`` (that replica's clock, the write's
# latency), and is still found. Older items were found by an earlier poll, so each poll reads a
# window of the inbox, not everything since the streams opened.
POLL_OVERLAP = timedelta(seconds=30)
# items a poll reads at most for one tenant; a full page is followed from its last item at once
POLL_PAGE = 500
# items a reconnecting stream reads at a time to catch up from its ``Last-Event-ID``
CATCH_UP_PAGE = 100


class InboxStore(Protocol):
    async def inbox_since(
        self, tenant: str, person_ids: Collection[str], since: datetime, limit: int
    ) -> list[Notification]: ...


@dataclass
class _Tenant:
    """The streams open on this replica for one tenant, and what its polls have passed on:
    items from ``since``, by id."""

    since: datetime
    listeners: dict[str, set[asyncio.Queue[Notification]]] = field(default_factory=dict)
    passed: dict[str, datetime] = field(default_factory=dict)


class InboxHub:
    """This replica's open SSE streams, and what reaches them.

    An item this replica writes reaches its recipient's streams at once (:meth:`publish`). What
    other replicas write is found by :meth:`poll`: one query of the store a tenant for every
    stream open on this replica, not one a stream, so an open page costs the store nothing
    while it waits (a thousand of them cost one query every ``SSE_POLL_INTERVAL_S``).
    """

    def __init__(self, clock: Clock = utcnow) -> None:
        self._clock = clock
        self._tenants: dict[str, _Tenant] = {}  # the tenants with an open stream

    def publish(self, tenant: str, person_id: str, item: Notification) -> None:
        """Pass an inbox item on to the person's open streams, once whoever finds it."""
        streams = self._tenants.get(tenant)
        queues = streams.listeners.get(person_id) if streams else None
        if streams is None or not queues or not item.in_inbox or item.id in streams.passed:
            return
        streams.passed[item.id] = item.created_at
        for queue in queues:
            queue.put_nowait(item)

    def listen(self, tenant: str, person_id: str) -> asyncio.Queue[Notification]:
        queue: asyncio.Queue[Notification] = asyncio.Queue()
        streams = self._tenants.get(tenant)
        if streams is None:
            # other replicas' items from (about) now on; a stream drops what predates it
            streams = self._tenants[tenant] = _Tenant(since=self._clock() - timedelta(seconds=1))
        streams.listeners.setdefault(person_id, set()).add(queue)
        return queue

    def forget(self, tenant: str, person_id: str, queue: asyncio.Queue[Notification]) -> None:
        streams = self._tenants.get(tenant)
        if streams is None:
            return
        queues = streams.listeners.get(person_id, set())
        queues.discard(queue)
        if not queues:
            streams.listeners.pop(person_id, None)
        if not streams.listeners:
            del self._tenants[tenant]

    async def poll(self, store: InboxStore) -> bool:
        """One round: what other replicas wrote for anyone listening here since the last round.

        True when a tenant's page was full (the next round follows from its last item at once).
        """
        more = False
        for tenant, streams in list(self._tenants.items()):
            polled_at = self._clock()
            items = await store.inbox_since(
                tenant, sorted(streams.listeners), streams.since, limit=POLL_PAGE
            )
            for item in items:
                self.publish(tenant, item.recipient_id, item)
            if self._tenants.get(tenant) is not streams:
                continue  # every stream of the tenant closed meanwhile
            if len(items) < POLL_PAGE:
                streams.since = max(streams.since, polled_at - POLL_OVERLAP)
            elif items[-1].created_at > streams.since:
                streams.since, more = items[-1].created_at, True
            # what a poll can no longer return is forgotten
            streams.passed = {i: at for i, at in streams.passed.items() if at >= streams.since}
        return more


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
        keepalive_s: float,
        lifetime_s: float,
        last_event_id: str | None = None,
    ) -> AsyncIterator[Notification | None]:
        """New inbox items as they land; None at the start and after ``keepalive_s`` of quiet.

        Items come through the hub (this replica's writes at once, the others' by the hub's
        poll). The stream ends after ``lifetime_s``: the client reconnects with the last item's
        id (``Last-Event-ID``) and the new stream first sends what landed after that item."""
        queue = self._hub.listen(tenant, person_id)
        loop = asyncio.get_running_loop()
        ends = loop.time() + lifetime_s
        try:
            after, caught_up = self._clock() - timedelta(seconds=1), set[str]()
            last = await self._resumed_after(tenant, person_id, last_event_id)
            yield None
            if last is not None:
                after = last.created_at
                async for item in self._landed_after(tenant, person_id, last):
                    caught_up.add(item.id)
                    yield item
            while (left := ends - loop.time()) > 0:
                try:
                    item = await asyncio.wait_for(queue.get(), min(left, keepalive_s))
                except TimeoutError:
                    if loop.time() < ends:
                        yield None
                    continue
                # the hub's poll reads a window that may predate this stream
                if item.created_at >= after and item.id not in caught_up:
                    yield item
        finally:
            self._hub.forget(tenant, person_id, queue)

    async def _landed_after(
        self, tenant: str, person_id: str, last: Notification
    ) -> AsyncIterator[Notification]:
        """The person's inbox items stored after ``last``, oldest first, page by page."""
        since, seen = last.created_at, {last.id}
        while True:
            items = await self._notifications.inbox_since(
                tenant, [person_id], since, limit=CATCH_UP_PAGE
            )
            for item in items:
                if item.id not in seen:
                    seen.add(item.id)
                    yield item
            if len(items) < CATCH_UP_PAGE or items[-1].created_at == since:
                return
            since = items[-1].created_at

    async def _resumed_after(
        self, tenant: str, person_id: str, last_event_id: str | None
    ) -> Notification | None:
        """The item a reconnecting client saw last; None (start from now) if it is not one of
        the person's inbox items, e.g. deleted by retention since."""
        if not last_event_id:
            return None
        return await self._notifications.inbox_item(tenant, person_id, last_event_id)
