"""The load bench's tenant, created through the public APIs as an HR system and admins would."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from tests.bench.load.plan import TARGET, Population


class SetUpFailed(Exception):
    pass


@dataclass
class Tenant:
    name: str
    urls: dict[str, str]
    http: httpx.AsyncClient
    person_ids: list[str] = field(default_factory=list)  # by Person.index
    goal_ids: list[str] = field(default_factory=list)  # by GoalPlan.index
    sources: list[tuple[str, str]] = field(default_factory=list)  # (id, secret)
    hr: dict[str, str] = field(default_factory=dict)

    def bearer(self, sub: str, *roles: str) -> dict[str, str]:
        from shared.auth import issue_local_token
        from shared.config import CommonSettings

        token = issue_local_token(CommonSettings(), tenant=self.name, sub=sub, roles=list(roles))
        return {"Authorization": f"Bearer {token}"}

    async def call(
        self, method: str, url: str, headers: dict[str, str], expect: int, **kw: Any
    ) -> Any:
        response = await self.http.request(method, url, headers=headers, **kw)
        if response.status_code != expect:
            raise SetUpFailed(f"{method} {url} answered {response.status_code}: {response.text}")
        return response.json() if response.content else None


async def eventually(what: str, check: Callable[[], Awaitable[Any]], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = await check()
        except (SetUpFailed, httpx.HTTPError) as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        await asyncio.sleep(0.5)
    raise SetUpFailed(f"timed out waiting for {what} (last: {last!r})"[:400])


async def bounded_gather(calls: Iterable[Callable[[], Awaitable[Any]]], limit: int) -> list[Any]:
    """Run the calls with at most ``limit`` in flight (the set-up is not what is measured)."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await call()

    return list(await asyncio.gather(*(one(c) for c in calls)))


async def import_people(t: Tenant, population: Population, timeout: float) -> None:
    """The org chart as one HRIS export (``POST /v1/imports``), then the ids it was given."""
    people = t.urls["people"]
    rows = [
        {
            "employee_id": p.external_id,
            "email": p.email,
            "first_name": "Load",
            "last_name": p.external_id,
            "job_title": "Manager" if p.manager in (None, 0) else "Product Manager",
            "department": "Product",
            "manager_id": population.people[p.manager].external_id if p.manager is not None else "",
        }
        for p in population.people
    ]
    # the import creates people one by one: give it the set-up's time, not a request's
    body = {"format": "json", "rows": rows}
    await t.call("POST", f"{people}/v1/imports", t.hr, 200, json=body, timeout=timeout)
    by_external: dict[str, str] = {}
    cursor: str | None = None
    for _ in range(len(rows) // 200 + 2):
        params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = await t.call("GET", f"{people}/v1/people", t.hr, 200, params=params)
        by_external.update({i["external_id"]: i["id"] for i in page["items"]})
        cursor = page.get("next_cursor")
        if not cursor:
            break
    missing = [p.external_id for p in population.people if p.external_id not in by_external]
    if missing:
        raise SetUpFailed(f"the import did not create {len(missing)} people, e.g. {missing[:3]}")
    t.person_ids = [by_external[p.external_id] for p in population.people]


async def pair_mentors(t: Tenant, population: Population) -> None:
    url = f"{t.urls['people']}/v1/mentorships"

    def pair(mentor: int, mentee: int) -> Callable[[], Awaitable[Any]]:
        body = {"mentor_id": t.person_ids[mentor], "mentee_id": t.person_ids[mentee]}
        return lambda: t.call("POST", url, t.hr, 201, json=body)

    pairs = [(p.mentor, p.index) for p in population.people if p.mentor is not None]
    await bounded_gather((pair(m, i) for m, i in pairs), 4)


async def connect_sources(t: Tenant, count: int, *, emails: bool) -> None:
    admin = t.bearer("load-bench-admin", "admin")
    if not emails:
        # the SMTP sink is not what is measured: celebrations go to inboxes only
        await t.call(
            "PUT",
            f"{t.urls['notifications']}/v1/preferences/defaults",
            admin,
            200,
            json={"channels": {"celebration": {"email": "off", "slack": "off"}}, "locked": []},
        )
    for n in range(count):
        source = await t.call(
            "POST",
            f"{t.urls['kpi_ingest']}/v1/sources",
            admin,
            201,
            json={"name": f"analytics {n}", "format": "generic", "mapping": {}},
        )
        t.sources.append((str(source["id"]), str(source["secret"])))


async def wait_for_projections(t: Tenant, population: Population, timeout: float) -> None:
    """Notifications and goals learn people and managers from events: wait for both."""
    last = population.people[-1]
    assert last.manager is not None
    me = t.bearer(t.person_ids[last.index], "employee")
    notifications = t.urls["notifications"]

    async def welcomed() -> bool:
        page = await t.call("GET", f"{notifications}/v1/inbox", me, 200)
        return any(i["category"] == "welcome" for i in page["items"])

    await eventually("notifications to know the last person", welcomed, timeout)
    viewer = t.bearer(t.person_ids[last.manager], "employee")
    url = f"{t.urls['goals']}/v1/people/{t.person_ids[last.index]}/goals/summary"

    async def sees() -> bool:
        return (await t.http.get(url, headers=viewer)).status_code == 200

    # mentorships have no such probe: the bench waits for every consumer's lag to reach 0
    # before its first step, which covers them
    await eventually("goals to know the last manager", sees, timeout)


async def create_goals(t: Tenant, population: Population) -> None:
    """Every goal created by HR for its owner, each key result bound to its own series."""
    url = f"{t.urls['goals']}/v1/goals"
    due = str(date.today() + timedelta(days=180))
    start = str(date.today())

    def create(g: int) -> Callable[[], Awaitable[Any]]:
        plan = population.goals[g]
        body = {
            "title": f"Load goal {g}",
            "horizon": "short_term" if g % 3 else "long_term",
            "category": "outcome",
            "owner_id": t.person_ids[plan.owner],
            "status": "active",
            "start_date": start,
            "due_date": due,
            "key_results": [
                {
                    "title": f"{b.metric} of {b.product} in {b.region}",
                    "start": 0,
                    "target": TARGET,
                    "current": round(TARGET * plan.phase, 6),
                    "unit": "%",
                    "source": {
                        "kpi": {"metric": b.metric, "filters": b.filters, "aggregation": "latest"}
                    },
                }
                for b in plan.bindings
            ],
        }
        return lambda: t.call("POST", url, t.hr, 201, json=body)

    created = await bounded_gather((create(g) for g in range(len(population.goals))), 8)
    t.goal_ids = [str(c["id"]) for c in created]


async def set_up(
    t: Tenant, population: Population, *, sources: int, emails: bool, timeout: float
) -> None:
    t.hr = t.bearer("load-bench-hr", "hr_admin")
    began = time.monotonic()

    def done(what: str) -> None:
        print(f"load:   {what} ({time.monotonic() - began:.0f} s)", flush=True)

    await import_people(t, population, timeout)
    done(f"{len(population.people)} people imported")
    await pair_mentors(t, population)
    done("mentors paired")
    await connect_sources(t, sources, emails=emails)
    await wait_for_projections(t, population, timeout)
    done("sources connected; goals and notifications know the org chart")
    await create_goals(t, population)
    done(f"{len(population.goals)} goals created")
