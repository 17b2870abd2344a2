"""TtlCache: hits from memory, one load per miss, a bounded wait on a miss, stale on reload."""

from __future__ import annotations

import asyncio

import pytest

from shared.cache import TtlCache


class Loader:
    def __init__(self, delay: float = 0.0, name: str = "value") -> None:
        self.delay = delay
        self.name = name
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        await asyncio.sleep(self.delay)
        return f"{self.name} {self.calls}"


async def test_concurrent_misses_share_one_load_and_later_gets_are_hits() -> None:
    cache: TtlCache[str, str] = TtlCache(ttl=60)
    load = Loader(delay=0.01)

    first = await asyncio.gather(*(cache.get("k", load) for _ in range(5)))
    again = await cache.get("k", load)

    assert first == ["value 1"] * 5
    assert again == "value 1"
    assert load.calls == 1


async def test_a_miss_waits_at_most_wait_s_and_its_load_goes_on_for_the_next_get() -> None:
    cache: TtlCache[str, str] = TtlCache(ttl=60, wait_s=0.01)
    load = Loader(delay=0.1)

    with pytest.raises(TimeoutError):
        await cache.get("k", load)
    await asyncio.sleep(0.15)  # the load finished behind the timed-out get

    assert await cache.get("k", load) == "value 1"
    assert load.calls == 1


async def test_a_hit_is_answered_even_when_a_load_would_take_longer_than_wait_s() -> None:
    cache: TtlCache[str, str] = TtlCache(ttl=60, wait_s=0.01)
    assert await cache.get("k", Loader()) == "value 1"

    # a hit sets no timer and calls no loader
    assert await cache.get("k", Loader(delay=1.0)) == "value 1"


async def test_an_expired_value_is_served_while_one_reload_runs() -> None:
    cache: TtlCache[str, str] = TtlCache(ttl=0.01)
    load = Loader()
    assert await cache.get("k", load) == "value 1"
    await asyncio.sleep(0.02)
    slow = Loader(delay=0.05, name="reloaded")

    stale = await asyncio.gather(*(cache.get("k", slow) for _ in range(3)))
    await asyncio.sleep(0.1)

    assert stale == ["value 1"] * 3
    assert slow.calls == 1
    assert await cache.get("k", slow) == "reloaded 1"
