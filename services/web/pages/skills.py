"""``/skills``: my skill summary from feedback: a radar of the latest period against the one
before, each skill's trend, the last year by quarter, and what people wrote."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.web.client import Api
from services.web.people_view import SKILLS, names, skill_name
from services.web.security import CurrentSession
from services.web.sessions import Session
from services.web.templating import ApiDep, page

router = APIRouter(include_in_schema=False)

PERIOD_DAYS = 90  # the feedback API's default period: a quarter
TREND_WORDS = {
    "up": "Improving",
    "down": "Declining",
    "flat": "Steady",
    "new": "New this period",
    "none": "No ratings yet",
}


async def summaries(
    api: Api, session: Session, person_id: str, today: date
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The latest period and the one before it, then the two before those (one call answers two
    consecutive periods), so four quarters cost two calls."""
    span = timedelta(days=PERIOD_DAYS)
    path = f"/v1/people/{person_id}/feedback-summary"
    latest, older = await asyncio.gather(
        api.get(
            "feedback",
            path,
            session,
            **{"from": (today - span + timedelta(days=1)).isoformat(), "to": today.isoformat()},
        ),
        api.get(
            "feedback",
            path,
            session,
            **{
                "from": (today - 3 * span + timedelta(days=1)).isoformat(),
                "to": (today - 2 * span).isoformat(),
            },
        ),
    )
    return latest, older


def skill_rows(latest: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per skill: the guide's six first (even without ratings), then a tenant's own."""
    by_skill = {s["skill"]: s for s in latest["skills"]}
    order = list(SKILLS) + sorted(set(by_skill) - set(SKILLS))
    empty = {
        "mean": None,
        "count": 0,
        "previous_mean": None,
        "previous_count": 0,
        "trend": None,
        "direction": "none",
    }
    return [{"skill": s, "name": skill_name(s), **empty, **by_skill.get(s, {})} for s in order]


def chart_data(
    rows: list[dict[str, Any]], latest: dict[str, Any], older: dict[str, Any]
) -> dict[str, Any]:
    """What the two charts draw (the page's tables hold the same numbers for screen readers)."""
    by_skill_older = {s["skill"]: s for s in older["skills"]}
    periods = [
        older["previous_period"],
        older["period"],
        latest["previous_period"],
        latest["period"],
    ]
    return {
        "skills": [r["name"] for r in rows],
        "latest": [r["mean"] for r in rows],
        "previous": [r["previous_mean"] for r in rows],
        "periods": [f"{p['from']} to {p['to']}" for p in periods],
        "quarters": [
            {
                "name": r["name"],
                "means": [
                    by_skill_older.get(r["skill"], {}).get("previous_mean"),
                    by_skill_older.get(r["skill"], {}).get("mean"),
                    r["previous_mean"],
                    r["mean"],
                ],
            }
            for r in rows
        ],
    }


@router.get("/skills")
async def skills(request: Request, session: CurrentSession, api: ApiDep) -> Response:
    """My skills as feedback rates them."""
    me = session.person_id
    (latest, older), recent = await asyncio.gather(
        summaries(api, session, me, date.today()),
        api.get("feedback", f"/v1/people/{me}/feedback", session, limit=10),
    )
    rows = skill_rows(latest)
    said = [i for i in recent["items"] if i.get("comments") or i.get("ratings")]
    people = await names(api, session, [i.get("from_id") for i in said])
    context = {
        "rows": rows,
        "latest": latest,
        "chart": chart_data(rows, latest, older),
        "rated": any(r["count"] for r in rows),
        "said": said,
        "people": people,
        "trend_words": TREND_WORDS,
        "skill_name": skill_name,
    }
    return await page(request, "skills/skills.html", context, session=session, title="Your skills")
