"""The inbox stream on a replica that did not write the items: what its polls of the store find."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.notifications.inbox import POLL_OVERLAP, POLL_PAGE, Inbox, InboxHub
from services.notifications.notification import Notification
from tests.doubles import SettableClock
from tests.unit.notifications.conftest import START, TENANT


@dataclass
class OtherReplicasInbox:
    """The store as other replicas fill it (this replica's hub never hears of these items)."""

    items: list[Notification] = field(default_factory=list)
    polls: list[datetime] = field(default_factory=list)  # the ``since`` of each poll

    def write(self, item_id: str, created_at: datetime) -> None:
        self.items.append(
            Notification(
                id=item_id,
                tenant=TENANT,
                recipient_id="ana",
                recipient_reason="owner",
                event=None,  # type: ignore[arg-type]  # the stream never reads it
                rule=None,  # type: ignore[arg-type]
                title=item_id,
                summary="",
                data={},
                ref=None,
                decisions=[],
                in_inbox=True,
                created_at=created_at,
            )
        )

    async def inbox_item(
        self, tenant: str, person_id: str, notification_id: str
    ) -> Notification | None:
        return next((i for i in self.items if i.id == notification_id), None)

    async def inbox_since(
        self, tenant: str, person_id: str, since: datetime, limit: int = 100
    ) -> list[Notification]:
        self.polls.append(since)
        found = [i for i in self.items if i.created_at >= since and i.recipient_id == person_id]
        return sorted(found, key=lambda i: i.created_at)[:limit]


async def streamed(stream: AsyncIterator[Notification | None], polls: int) -> list[str]:
    """The ids the stream yields over its next ``polls`` polls (keep-alives skipped)."""
    ids: list[str] = []
    for _ in range(polls):
        item = await anext(stream)
        if item is not None:
            ids.append(item.id)
    return ids


def opened(
    store: OtherReplicasInbox,
    clock: SettableClock,
    *,
    lifetime_s: float = 3600,
    last_event_id: str | None = None,
) -> AsyncIterator[Notification | None]:
    inbox = Inbox(store, InboxHub(), clock)  # type: ignore[arg-type]
    return inbox.stream(
        TENANT,
        "ana",
        poll_s=0.001,
        keepalive_s=3600,
        lifetime_s=lifetime_s,
        last_event_id=last_event_id,
    )


async def test_more_items_than_a_poll_reads_all_reach_the_stream_once() -> None:
    clock, store = SettableClock(START), OtherReplicasInbox()
    stream = opened(store, clock)
    assert await anext(stream) is None  # the stream is open
    many = POLL_PAGE * 2 + 50
    for n in range(many):
        store.write(f"n{n:03}", START + timedelta(milliseconds=n))
    clock.advance(timedelta(seconds=1))
    got = await asyncio.wait_for(streamed(stream, many), 10)
    assert got == [f"n{n:03}" for n in range(many)]


async def test_each_poll_reads_a_window_not_the_history_and_late_writes_still_arrive() -> None:
    clock, store = SettableClock(START), OtherReplicasInbox()
    stream = opened(store, clock)
    assert await anext(stream) is None
    for minute in range(1, 61):  # an hour of items, one a minute, each streamed as it lands
        clock.advance(timedelta(minutes=1))
        store.write(f"m{minute}", clock.now)
        assert await asyncio.wait_for(streamed(stream, 1), 10) == [f"m{minute}"]
    # the poll after an hour looks back the overlap, not to the stream's opening
    assert store.polls[-1] >= clock.now - timedelta(minutes=1) - POLL_OVERLAP
    # stored after a later poll, dated before it (another replica's clock, a slow write)
    store.write("late", clock.now - POLL_OVERLAP / 2)
    clock.advance(timedelta(seconds=1))
    assert await asyncio.wait_for(streamed(stream, 1), 10) == ["late"]


async def test_a_busy_hub_does_not_keep_the_stream_from_polling_the_store() -> None:
    # items this replica writes keep arriving through the hub faster than the poll interval;
    # one written by another replica is found all the same
    clock, store, hub = SettableClock(START), OtherReplicasInbox(), InboxHub()
    stream = Inbox(store, hub, clock).stream(  # type: ignore[arg-type]
        TENANT, "ana", poll_s=0.05, keepalive_s=3600, lifetime_s=3600
    )
    assert await anext(stream) is None
    local = OtherReplicasInbox()

    async def busy() -> None:
        for n in range(10_000):
            local.write(f"here{n}", clock.now)
            hub.publish(TENANT, "ana", local.items[-1])
            await asyncio.sleep(0.001)

    publishing = asyncio.create_task(busy())
    try:
        store.write("elsewhere", clock.now)

        async def until_elsewhere() -> None:
            while (item := await anext(stream)) is None or item.id != "elsewhere":
                pass

        await asyncio.wait_for(until_elsewhere(), 5)
    finally:
        publishing.cancel()


async def test_the_stream_ends_after_its_lifetime_however_busy() -> None:
    clock, store = SettableClock(START), OtherReplicasInbox()
    stream = opened(store, clock, lifetime_s=0.2)
    assert await anext(stream) is None
    store.write("x0", clock.now)

    async def drained() -> int:
        count = 0
        async for _ in stream:
            count += 1
            store.write(f"x{count}", clock.now)  # a new item every poll keeps it busy
        return count

    assert await asyncio.wait_for(drained(), 5) > 10  # it streamed, and then it ended


async def test_a_reconnect_with_the_last_id_gets_what_landed_since_and_nothing_before() -> None:
    clock, store = SettableClock(START), OtherReplicasInbox()
    for n in range(5):
        store.write(f"seen{n}", START + timedelta(seconds=n))
    # away for an hour; two items landed meanwhile (one at the very time of the last seen)
    store.write("same-time", START + timedelta(seconds=4))
    store.write("meanwhile", START + timedelta(minutes=30))
    clock.advance(timedelta(hours=1))
    stream = opened(store, clock, last_event_id="seen4")
    assert await anext(stream) is None
    assert await asyncio.wait_for(streamed(stream, 2), 5) == ["same-time", "meanwhile"]
    # a new stream with an id that is not the person's item starts from now
    fresh = opened(store, clock, last_event_id="not-an-item")
    assert await anext(fresh) is None
    store.write("next", clock.now)
    clock.advance(timedelta(seconds=1))
    assert await asyncio.wait_for(streamed(fresh, 1), 5) == ["next"]
