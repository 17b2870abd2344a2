"""The org-chart walks every service shares: up the management chain, down the reports."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from shared.orgchart import management_chain, reports

# person -> manager
CHART: dict[str, str | None] = {"pm": "vp", "vp": "ceo", "ceo": None, "eng": "ceo", "intern": "pm"}


async def manager_of(person_id: str) -> str | None:
    return CHART.get(person_id)


@dataclass(frozen=True)
class Member:
    id: str


def reports_in(
    chart: dict[str, str | None],
) -> tuple[Callable[[list[str]], Awaitable[list[Member]]], list[list[str]]]:
    asked: list[list[str]] = []

    async def reports_of(managers: list[str]) -> list[Member]:
        asked.append(list(managers))
        return [Member(p) for p, m in chart.items() if m in managers]

    return reports_of, asked


async def test_the_chain_lists_managers_nearest_first() -> None:
    assert await management_chain("intern", manager_of) == ["pm", "vp", "ceo"]
    assert await management_chain("ceo", manager_of) == []
    assert await management_chain("unknown", manager_of) == []


async def test_the_chain_stops_at_a_cycle_and_at_its_limit() -> None:
    looped: dict[str, str | None] = {"a": "b", "b": "c", "c": "a"}

    async def looped_manager(person_id: str) -> str | None:
        return looped.get(person_id)

    assert await management_chain("a", looped_manager) == ["b", "c"]
    assert await management_chain("intern", manager_of, limit=2) == ["pm", "vp"]


async def test_reports_walk_level_by_level_or_stop_at_the_direct_ones() -> None:
    reports_of, asked = reports_in(CHART)
    everyone = await reports("ceo", reports_of)
    assert sorted(m.id for m in everyone) == ["eng", "intern", "pm", "vp"]
    assert asked == [["ceo"], ["vp", "eng"], ["pm"], ["intern"]]
    direct = await reports("ceo", reports_in(CHART)[0], all_levels=False)
    assert sorted(m.id for m in direct) == ["eng", "vp"]


async def test_reports_walk_a_cycle_once_and_stop_at_the_limit() -> None:
    reports_of, _ = reports_in({"a": "b", "b": "a", "c": "a"})
    assert sorted(m.id for m in await reports("a", reports_of)) == ["b", "c"]
    wide: dict[str, str | None] = {f"p{i}": "boss" for i in range(5)}
    wide["deep"] = "p0"
    reports_of, asked = reports_in(wide)
    assert len(await reports("boss", reports_of, limit=3)) == 5  # the first level is whole
    assert len(asked) == 1
