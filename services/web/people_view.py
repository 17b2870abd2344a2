"""What several pages show of people and skills: names for ids, the career guide's skill names."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from services.web.client import Api, ApiProblem
from services.web.sessions import Session

# the guide's six skills, in its order; a tenant's own skills show their id humanized
SKILLS: dict[str, str] = {
    "communication": "Communication & interpersonal",
    "data_analysis": "Data analysis & decision making",
    "leadership": "Leadership & project management",
    "customer_centric": "Market & customer-centric mindset",
    "industry_knowledge": "Industry & technology knowledge",
    "ux_design": "UX design",
}
# more distinct people than this on one page are looked up as one directory page instead
MAX_LOOKUPS = 30


def skill_name(skill: str) -> str:
    return SKILLS.get(skill) or skill.replace("_", " ").capitalize()


def display_name(person: dict[str, Any]) -> str:
    return str(person.get("display_name") or person.get("user_name") or person.get("id", ""))


async def person_or_none(api: Api, session: Session, person_id: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = await api.get("people", f"/v1/people/{person_id}", session)
    except ApiProblem:
        return None
    return found


async def names(api: Api, session: Session, ids: Iterable[str | None]) -> dict[str, str]:
    """Display names by person id; an id the directory does not answer for shows as itself."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    if len(wanted) > MAX_LOOKUPS:
        try:
            found = await api.get("people", "/v1/people", session, limit=200)
            known = {p["id"]: display_name(p) for p in found.get("items", [])}
        except ApiProblem:
            known = {}
        return {i: known.get(i, i) for i in wanted}
    people = await asyncio.gather(*(person_or_none(api, session, i) for i in wanted))
    return {i: display_name(p) if p else i for i, p in zip(wanted, people, strict=True)}
