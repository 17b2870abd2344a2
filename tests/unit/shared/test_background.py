"""A background loop wakes for what happens during its round, not only during its pause."""

from __future__ import annotations

import asyncio

from shared.background import BackgroundLoop

HOUR = 3600.0


async def test_a_stop_during_a_round_ends_the_loop_after_that_round() -> None:
    in_round, finished = asyncio.Event(), []

    async def slow_round() -> bool:
        in_round.set()
        await asyncio.sleep(0.2)
        finished.append(True)
        return False

    loop = BackgroundLoop("slow", slow_round, HOUR)
    await loop.start()
    await in_round.wait()
    # it used to pause for its interval after the round, and stop waited out its timeout
    await asyncio.wait_for(loop.stop(timeout_s=HOUR), 5)
    assert finished == [True]  # the round in progress was let finish, not cancelled


async def test_a_notify_during_a_round_runs_the_next_round_at_once() -> None:
    rounds: list[int] = []
    second = asyncio.Event()
    loop: BackgroundLoop

    async def round_() -> bool:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            loop.notify()  # a write lands while the round runs
            await asyncio.sleep(0.05)
        else:
            second.set()
        return False

    loop = BackgroundLoop("notified", round_, HOUR)
    await loop.start()
    try:
        await asyncio.wait_for(second.wait(), 5)  # not after the hour's interval
    finally:
        await loop.stop()
    assert rounds[:2] == [0, 1]


async def test_a_failed_round_waits_its_pause_even_when_notified() -> None:
    attempts: list[float] = []
    clock = asyncio.get_running_loop().time
    loop: BackgroundLoop

    async def failing() -> bool:
        attempts.append(clock())
        loop.notify()
        raise RuntimeError("the store is away")

    loop = BackgroundLoop("failing", failing, HOUR, error_pause_s=0.2)
    await loop.start()
    await asyncio.sleep(0.5)
    await asyncio.wait_for(loop.stop(timeout_s=HOUR), 5)  # a stop ends the error pause too
    assert 2 <= len(attempts) <= 4  # every 0.2 s, not as fast as notifications come
