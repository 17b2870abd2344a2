"""``/preferences``: which notifications reach me where, quiet hours in my time zone, my digest."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.web.client import Api, ApiProblem
from services.web.people_view import person_or_none
from services.web.security import CurrentSession
from services.web.sessions import Session
from services.web.templating import ApiDep, page

router = APIRouter(include_in_schema=False)

CATEGORIES = {
    "celebration": ("Celebrations", "a milestone reached or a goal achieved"),
    "review_due": ("Reviews due", "a goal is due for its regular review"),
    "at_risk": ("Goals at risk", "progress is behind the time elapsed"),
    "feedback_requested": ("Feedback requested", "someone asks for your feedback"),
    "feedback_received": ("Feedback received", "feedback you asked for arrived"),
    "kpi_alert": ("KPI alerts", "a bound KPI crossed a threshold or went quiet"),
    "welcome": ("Welcome", "your first steps in Northstar"),
}
CHANNELS = {"inbox": "Inbox", "email": "Email", "slack": "Slack"}
SETTINGS = {"on": "Right away", "digest": "Daily digest", "off": "Off"}
# the inbox is the record itself: it has nothing to gather into a digest
INBOX_SETTINGS = {"on": "On", "off": "Off"}


@lru_cache(maxsize=1)
def time_zones() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))


def _values(prefs: dict[str, Any]) -> dict[str, str]:
    values = {
        f"{category}.{channel}": setting
        for category, row in prefs["channels"].items()
        for channel, setting in row.items()
    }
    quiet = prefs.get("quiet_hours")
    values |= {
        "quiet_enabled": "on" if quiet else "",
        "quiet_start": (quiet["start"] if quiet else "22:00")[:5],
        "quiet_end": (quiet["end"] if quiet else "07:00")[:5],
        "digest_time": str(prefs.get("digest_time") or "09:00")[:5],
        "time_zone": prefs.get("time_zone") or "",
        "slack_webhook_url": prefs.get("slack_webhook_url") or "",
    }
    return values


def preferences_body(values: dict[str, str], current: dict[str, Any]) -> dict[str, Any]:
    """The PUT body: a cell becomes the person's own choice only when they set it before or
    changed it now, so untouched cells keep following the organisation's defaults."""
    locked = set(current.get("locked", []))
    channels: dict[str, dict[str, str]] = {}
    for category in CATEGORIES:
        if category in locked:
            continue
        for channel in CHANNELS:
            chosen = values.get(f"{category}.{channel}")
            if not chosen:
                continue
            explicit = current.get("explicit", {}).get(category, {}).get(channel)
            effective = current.get("channels", {}).get(category, {}).get(channel)
            if explicit is not None or chosen != effective:
                channels.setdefault(category, {})[channel] = chosen
    quiet = None
    if values.get("quiet_enabled"):
        quiet = {"start": values.get("quiet_start") or "", "end": values.get("quiet_end") or ""}
    return {
        "channels": channels,
        "quiet_hours": quiet,
        "digest_time": values.get("digest_time") or "09:00",
        "time_zone": values.get("time_zone") or None,
        "slack_webhook_url": values.get("slack_webhook_url") or None,
    }


def _form_errors(problem: ApiProblem) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name, message in problem.fields.items():
        # the API's names (quiet_hours.start, channels.x.email) as the form's inputs
        name = name.replace("quiet_hours.", "quiet_").removeprefix("channels.")
        errors[name] = message
    if not errors:
        errors[""] = problem.detail
    return errors


async def _form(
    request: Request,
    session: Session,
    api: Api,
    *,
    prefs: dict[str, Any],
    values: dict[str, str],
    errors: dict[str, str],
    saved: bool = False,
    status_code: int = 200,
) -> Response:
    me = await person_or_none(api, session, session.person_id)
    context = {
        "prefs": prefs,
        "values": values,
        "errors": errors,
        "saved": saved,
        "categories": CATEGORIES,
        "channels": CHANNELS,
        "settings": SETTINGS,
        "inbox_settings": INBOX_SETTINGS,
        "locked": set(prefs.get("locked", [])),
        "time_zones": time_zones(),
        "profile_time_zone": (me or {}).get("time_zone"),
    }
    return await page(
        request,
        "preferences/preferences.html",
        context,
        session=session,
        status_code=status_code,
        title="Notification preferences",
    )


@router.get("/preferences")
async def preferences(
    request: Request, session: CurrentSession, api: ApiDep, saved: bool = False
) -> Response:
    """The category x channel matrix, quiet hours, time zone, digest time and Slack URL."""
    prefs = await api.get("notifications", "/v1/preferences", session)
    return await _form(
        request, session, api, prefs=prefs, values=_values(prefs), errors={}, saved=saved
    )


@router.post("/preferences")
async def save_preferences(request: Request, session: CurrentSession, api: ApiDep) -> Response:
    """Save; a refused value is shown next to its input with everything typed kept."""
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    current = await api.get("notifications", "/v1/preferences", session)
    try:
        await api.put(
            "notifications", "/v1/preferences", session, preferences_body(values, current)
        )
    except ApiProblem as problem:
        if problem.status not in (400, 403, 409, 422):
            raise
        return await _form(
            request,
            session,
            api,
            prefs=current,
            values=values,
            errors=_form_errors(problem),
            status_code=422 if problem.status != 403 else 403,
        )
    return RedirectResponse("/preferences?saved=true", status_code=303)
