"""Admission, the shared rate limit and the signature check, without servers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.errors import DuplicateKeyError

from services.kpi_ingest.admission import Admission, SharedRateLimit
from services.kpi_ingest.signing import SignatureCheck, StaleSignature
from shared.errors import TooManyRequests, Unauthorized, Unavailable
from shared.webhooks import new_secret, signed_headers


class FakeLeases:
    """The rate-lease collection: inserts by _id, like the store's primary key."""

    def __init__(self) -> None:
        self.ids: set[str] = set()

    async def insert_one(self, doc: dict[str, Any]) -> None:
        if doc["_id"] in self.ids:
            raise DuplicateKeyError("duplicate _id")
        self.ids.add(doc["_id"])


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_admission_refuses_past_its_bound_and_frees_slots() -> None:
    admission = Admission(max_requests=2, max_bytes=100)

    async with admission.slot(10), admission.slot(10):
        with pytest.raises(Unavailable) as refused:
            async with admission.slot(1):
                pass
        assert refused.value.retry_after == 1
    async with admission.slot(500):  # alone, any size gets in
        with pytest.raises(Unavailable):
            async with admission.slot(1):
                pass
    assert (admission.requests, admission.bytes) == (0, 0)


async def test_replicas_share_one_windows_budget_through_leases() -> None:
    leases, clock = FakeLeases(), Clock(1_000_000.0)
    one = SharedRateLimit(leases, rate=10, burst=20, clock=clock)
    two = SharedRateLimit(leases, rate=10, burst=20, clock=clock)
    assert (one.window_s, one.lease) == (2.0, 2)

    granted, waits = 0, set()
    for _ in range(15):
        for limiter in (one, two):
            try:
                await limiter.take("src_1")
                granted += 1
            except TooManyRequests as exc:
                waits.add(exc.retry_after)

    assert granted == 20
    assert waits == {2}  # the rest of the window
    assert len(leases.ids) == 10  # one store write per lease, not per request
    clock.now += 2.0  # the next window
    await one.take("src_1")
    await two.take("src_1")


def test_signature_age_is_judged_at_arrival() -> None:
    secret, body = new_secret(), b'{"datapoints": []}'
    signed_at = datetime.now(UTC) - timedelta(minutes=10)
    headers = signed_headers(secret, body, msg_id="msg_1", at=signed_at)
    check = SignatureCheck()

    arrived_in_time = signed_at + timedelta(seconds=30)
    assert check.standard(body, headers, [secret], arrived_in_time) == "msg_1"
    with pytest.raises(StaleSignature) as stale:
        check.standard(body, headers, [secret])
    assert stale.value.webhook_id == "msg_1"
    with pytest.raises(Unauthorized) as forged:
        check.standard(body, headers, [new_secret()], arrived_in_time)
    assert not isinstance(forged.value, StaleSignature)


async def test_the_next_windows_lease_is_claimed_before_the_turn() -> None:
    leases, clock = FakeLeases(), Clock(1_000_001.5)  # half a second before a turn
    limiter = SharedRateLimit(leases, rate=10, burst=20, clock=clock)

    await limiter.take("src_1")
    await asyncio.sleep(0)  # let the claims ahead run
    await asyncio.sleep(0)

    assert "src_1:500001:0" in leases.ids  # the next window's first lease, already held
    clock.now += 0.6
    claimed = len(leases.ids)
    await limiter.take("src_1")
    assert len(leases.ids) == claimed  # served from the lease claimed ahead


async def test_a_replica_claims_the_next_window_ahead_once_leaving_the_rest_to_others() -> None:
    leases, clock = FakeLeases(), Clock(1_000_001.5)  # half a second before a turn
    busy = SharedRateLimit(leases, rate=10, burst=20, clock=clock)
    other = SharedRateLimit(leases, rate=10, burst=20, clock=clock)

    for _ in range(8):  # requests all through the lead time
        await busy.take("src_1")
        await asyncio.sleep(0)
        clock.now += 0.05
    assert sorted(i for i in leases.ids if i.startswith("src_1:500001:")) == ["src_1:500001:0"]
    clock.now = 1_000_002.1  # the next window: the other replica gets its share
    for _ in range(10):
        await other.take("src_1")


class SlowLeases(FakeLeases):
    def __init__(self) -> None:
        super().__init__()
        self.open = asyncio.Event()

    async def insert_one(self, doc: dict[str, Any]) -> None:
        await self.open.wait()
        await super().insert_one(doc)


async def test_a_slow_store_costs_precision_not_a_stalled_request() -> None:
    leases = SlowLeases()
    limiter = SharedRateLimit(leases, rate=10, burst=20, max_wait_s=0.01, clock=lambda: 1e6)

    await limiter.take("src_1")  # the claim hangs: the request passes on credit
    await limiter.take("src_1")
    leases.open.set()
    await limiter.take("src_1")  # waits for the claim, which pays the credit back

    assert leases.ids == {"src_1:500000:0", "src_1:500000:1"}
