"""Walks of an org chart, up (the management chain) and down (the reports), over any store.

The people service walks its own people collection and the other services walk their
projection of it (``shared.directory``); both give these walks one lookup and get the same
answers, the same stop on a cycle and the same bound.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

MAX_CHAIN = 50  # org charts are shallow; a longer chain means bad data, not a deep company
MAX_REPORTS = 5000  # everyone below one person, enough for a large division


class Member(Protocol):
    @property
    def id(self) -> str: ...


M = TypeVar("M", bound=Member)


async def management_chain(
    person_id: str,
    manager_of: Callable[[str], Awaitable[str | None]],
    limit: int = MAX_CHAIN,
) -> list[str]:
    """The ids above a person, their manager first; stops at a cycle or after ``limit``.

    ``manager_of`` answers None for a person without a manager or an unknown person.
    """
    chain: list[str] = []
    manager = await manager_of(person_id)
    while manager and manager != person_id and manager not in chain and len(chain) < limit:
        chain.append(manager)
        manager = await manager_of(manager)
    return chain


async def reports(
    manager_id: str,
    reports_of: Callable[[list[str]], Awaitable[Sequence[M]]],
    *,
    all_levels: bool = True,
    limit: int | None = MAX_REPORTS,
) -> list[M]:
    """The people below a manager, level by level (direct reports only unless ``all_levels``).

    ``reports_of`` answers the direct reports of a list of managers; a cycle in the data is
    walked once. The walk stops at the first level that reaches ``limit`` (None: no limit).
    """
    found: list[M] = []
    seen = {manager_id}
    level = [manager_id]
    while level and (limit is None or len(found) < limit):
        below = [person for person in await reports_of(level) if person.id not in seen]
        found.extend(below)
        seen.update(person.id for person in below)
        level = [person.id for person in below] if all_levels else []
    return found
