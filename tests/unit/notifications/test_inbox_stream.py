"""The inbox stream on a replica that did not write the items: what the hub's polls of the store
find, and what they cost the store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from services.notifications.inbox import POLL_OVERLAP, POLL_PAGE, Inbox, InboxHub
from services.notifications.notification import Notification
from tests.doubles import SettableClock
from tests.unit.notifications.conftest import START, TENANT


@dataclass
class OtherReplicasInbox:
    """The store as other replicas fill it (this replica's hub never hears of these items)."""

    items: list[Notification] = field(default_factory=list)
    # (tenant, people, since) of each read
    polls: list[tuple[str, list[str], datetime]] = field(default_factory=list)

    def write(
        self, item_id: str, created_at: datetime, *, to: str = "ana", tenant: str = TENANT
    ) -> Notification:
        self.items.append(
            Notification(
                id=item_id,
                tenant=tenant,
                recipient_id=to,
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
        return self.items[-1]

    async def inbox_item(
        self, tenant: str, person_id: str, notification_id: str
    ) -> Notification | None:
        return next((i for i in self.items if i.id == notification_id), None)

    async def inbox_since(
        self, tenant: str, person_ids: Collection[str], since: datetime, limit: int
    ) -> list[Notification]:
        self.polls.append((tenant, sorted(person_ids), since))
        found = [
            i
            for i in self.items
            if i.tenant == tenant and i.recipient_id in person_ids and i.created_at >= since
        ]
        return sorted(found, key=lambda i: i.created_at)[:limit]


async def streamed(stream: AsyncIterator[Notification | None], polls: int) -> list[str]:
    """The ids the stream yields over its next ``polls`` polls (keep-alives skipped)."""
    ids: list[str] = []
    for _ in range(polls):
        item = await anext(stream)
        if item is not None:
            ids.append(item.id)
    return ids


@dataclass
class Replica:
    """A replica's inbox and hub over the store, its hub polling every tick while open."""

    store: OtherReplicasInbox
    clock: SettableClock
    hub: InboxHub
    rounds: int = 0

    async def poll(self) -> None:
        """The replica's poll loop, its interval shortened to a tick."""
        while True:
            self.rounds += 1
            if not await self.hub.poll(self.store):
                await asyncio.sleep(0.001)

    def open(
        self,
        person: str = "ana",
        *,
        tenant: str = TENANT,
        lifetime_s: float = 3600,
        last_event_id: str | None = None,
    ) -> AsyncIterator[Notification | None]:
        inbox = Inbox(self.store, self.hub, self.clock)  # type: ignore[arg-type]
        return inbox.stream(
            tenant, person, keepalive_s=3600, lifetime_s=lifetime_s, last_event_id=last_event_id
        )


@pytest.fixture
async def replica() -> AsyncIterator[Replica]:
    clock = SettableClock(START)
    replica = Replica(OtherReplicasInbox(), clock, InboxHub(clock))
    polling = asyncio.create_task(replica.poll())
    yield replica
    polling.cancel()


async def test_more_items_than_a_poll_reads_all_reach_the_stream_once(replica: Replica) -> None:
    stream = replica.open()
    assert await anext(stream) is None  # the stream is open
    many = POLL_PAGE * 2 + 50
    for n in range(many):
        replica.store.write(f"n{n:04}", START + timedelta(milliseconds=n))
    replica.clock.advance(timedelta(seconds=1))
    got = await asyncio.wait_for(streamed(stream, many), 10)
    assert got == [f"n{n:04}" for n in range(many)]


async def test_each_poll_reads_a_window_not_the_history_and_late_writes_still_arrive(
    replica: Replica,
) -> None:
    clock, store = replica.clock, replica.store
    stream = replica.open()
    assert await anext(stream) is None
    for minute in range(1, 61):  # an hour of items, one a minute, each streamed as it lands
        clock.advance(timedelta(minutes=1))
        store.write(f"m{minute}", clock.now)
        assert await asyncio.wait_for(streamed(stream, 1), 10) == [f"m{minute}"]
    # the poll after an hour looks back the overlap, not to the stream's opening
    assert store.polls[-1][2] >= clock.now - timedelta(minutes=1) - POLL_OVERLAP
    # stored after a later poll, dated before it (another replica's clock, a slow write)
    store.write("late", clock.now - POLL_OVERLAP / 2)
    clock.advance(timedelta(seconds=1))
    assert await asyncio.wait_for(streamed(stream, 1), 10) == ["late"]


async def test_one_read_a_tenant_a_round_serves_every_open_stream(replica: Replica) -> None:
    # fifty people of two tenants with a page open on this replica: each round reads the store
    # once a tenant, not once a stream, and each stream gets its own person's items only
    clock, store = replica.clock, replica.store
    people = [(tenant, f"p{n}") for tenant in (TENANT, "other") for n in range(25)]
    streams = {who: replica.open(who[1], tenant=who[0]) for who in people}
    for stream in streams.values():
        assert await anext(stream) is None
    await asyncio.sleep(0.05)  # rounds run while nothing lands
    store.polls.clear()
    rounds_before = replica.rounds
    clock.advance(timedelta(seconds=1))
    for tenant, person in people:
        store.write(f"{tenant}-{person}", clock.now, to=person, tenant=tenant)
    for (tenant, person), stream in streams.items():
        assert await asyncio.wait_for(streamed(stream, 1), 5) == [f"{tenant}-{person}"]
    reads, rounds = list(store.polls), replica.rounds - rounds_before + 1
    assert {tenant for tenant, _, _ in reads} == {TENANT, "other"}
    assert all(len(read_people) == 25 for _, read_people, _ in reads)
    assert len(reads) <= 2 * rounds  # one read a tenant a round, not one a stream (50)
    for stream in streams.values():
        await stream.aclose()  # type: ignore[attr-defined]
    store.polls.clear()
    await asyncio.sleep(0.05)
    assert store.polls == []  # no open stream, no read


async def test_an_item_this_replica_wrote_reaches_the_stream_once(replica: Replica) -> None:
    # it comes through the hub at once, and the poll finds it in the store again
    clock, store = replica.clock, replica.store
    stream = replica.open()
    assert await anext(stream) is None
    replica.hub.publish(TENANT, "ana", store.write("here", clock.now))
    store.write("there", clock.now + timedelta(milliseconds=1))
    clock.advance(timedelta(seconds=1))
    assert await asyncio.wait_for(streamed(stream, 2), 5) == ["here", "there"]
    store.write("after", clock.now)
    clock.advance(timedelta(seconds=1))
    assert await asyncio.wait_for(streamed(stream, 1), 5) == ["after"]


async def test_the_stream_ends_after_its_lifetime_however_busy(replica: Replica) -> None:
    clock, store = replica.clock, replica.store
    stream = replica.open(lifetime_s=0.2)
    assert await anext(stream) is None
    store.write("x0", clock.now)

    async def drained() -> int:
        count = 0
        async for _ in stream:
            count += 1
            store.write(f"x{count}", clock.now)  # a new item every poll keeps it busy
        return count

    assert await asyncio.wait_for(drained(), 5) > 10  # it streamed, and then it ended


async def test_a_reconnect_with_the_last_id_gets_what_landed_since_and_nothing_before(
    replica: Replica,
) -> None:
    clock, store = replica.clock, replica.store
    for n in range(5):
        store.write(f"seen{n}", START + timedelta(seconds=n))
    # away for an hour; items landed meanwhile (one at the very time of the last seen), more
    # than a page of the catch-up
    store.write("same-time", START + timedelta(seconds=4))
    meanwhile = [f"meanwhile{n:03}" for n in range(150)]
    for n, item in enumerate(meanwhile):
        store.write(item, START + timedelta(minutes=30, milliseconds=n))
    clock.advance(timedelta(hours=1))
    stream = replica.open(last_event_id="seen4")
    assert await anext(stream) is None
    got = await asyncio.wait_for(streamed(stream, 151), 5)
    assert got == ["same-time", *meanwhile]
    store.write("live", clock.now)
    clock.advance(timedelta(seconds=1))
    assert await asyncio.wait_for(streamed(stream, 1), 5) == ["live"]
    # a new stream with an id that is not the person's item starts from now
    fresh = replica.open(last_event_id="not-an-item")
    assert await anext(fresh) is None
    store.write("next", clock.now)
    clock.advance(timedelta(seconds=1))
    assert await asyncio.wait_for(streamed(fresh, 1), 5) == ["next"]
