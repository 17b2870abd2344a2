"""The inbox and preferences pages against stubbed service APIs: what they show, what they
send, and a refused form that keeps what was typed (sessions live in the real document store)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.integration.web_social.stubs import (
    Browser,
    item,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

# ---------------------------------------------------------------------------------- inbox


async def test_the_inbox_links_each_item_to_its_page_and_marks_read_in_place(web: Browser) -> None:
    web.apis.on(
        "GET",
        "/v1/inbox",
        (
            200,
            {
                "items": [
                    item("n1", "celebration", "Milestone reached: Launch", "/goals/g1"),
                    item(
                        "n2",
                        "feedback_requested",
                        "Your feedback is requested",
                        "/feedback/requests/r1",
                        read=True,
                    ),
                ],
                "next_cursor": None,
                "unread_count": 1,
                "unseen_count": 1,
            },
        ),
    )
    web.apis.on("POST", "/v1/inbox/seen", (200, {"updated": 1}))
    html = (await web.client.get("/inbox")).text
    assert 'href="/goals/g1">Milestone reached: Launch</a>' in html
    assert 'href="/feedback/requests/r1"' in html
    # new items arrive without reload; the list is fetched again after a mark read (app.js)
    assert 'hx-trigger="sse:notification, inbox:refresh"' in html
    assert html.count("Mark read<") == 1  # only the unread one
    assert web.apis.sent("POST", "/v1/inbox/seen") == [None]
    assert 'hx-get="/inbox/list"' in html
    # an older page of the unread ones fetches that page again, not the newest of all
    older = (await web.client.get("/inbox", params={"unread": "true", "cursor": "c/2=="})).text
    assert 'hx-get="/inbox/list?unread=true&amp;cursor=c%2F2%3D%3D"' in older

    web.apis.on(
        "POST",
        "/v1/inbox/n1/read",
        (200, item("n1", "celebration", "Milestone reached: Launch", "/goals/g1", read=True)),
    )
    web.apis.on("GET", "/v1/inbox/count", (200, {"unread": 0, "unseen": 0}))
    swapped = await web.client.post(
        "/inbox/n1/read", headers={"hx-request": "true", "x-csrf-token": web.session.csrf_token}
    )
    assert swapped.status_code == 200
    assert swapped.text.startswith('<li class="notice category-celebration"')
    assert "Mark read" not in swapped.text
    # the header's badge follows, out of band
    assert re.search(
        r'id="unread-badge" hx-swap-oob="innerHTML"><span class="badge-count"></span>', swapped.text
    )


async def test_mark_all_read_without_the_csrf_token_is_refused_and_sends_nothing(
    web: Browser,
) -> None:
    refused = await web.client.post("/inbox/read-all", data={})
    assert refused.status_code == 403
    web.apis.on("POST", "/v1/inbox/read-all", (200, {"updated": 3}))
    done = await web.client.post("/inbox/read-all", data=web.csrf)
    assert (done.status_code, done.headers["location"]) == (303, "/inbox")
    assert len(web.apis.sent("POST", "/v1/inbox/read-all")) == 1


# ---------------------------------------------------------------------------------- preferences


def preferences(**fields: Any) -> dict[str, Any]:
    channels = {
        c: {"inbox": "on", "email": "on", "slack": "off"}
        for c in (
            "celebration",
            "review_due",
            "at_risk",
            "feedback_requested",
            "feedback_received",
            "welcome",
        )
    }
    channels["kpi_alert"] = {"inbox": "on", "email": "digest", "slack": "off"}
    return {
        "channels": channels,
        "explicit": {"review_due": {"email": "on"}},
        "locked": ["at_risk"],
        "quiet_hours": None,
        "digest_time": "09:00:00",
        "time_zone": None,
        "slack_webhook_url": None,
        **fields,
    }


async def test_preferences_send_only_what_the_person_chose_and_keep_locked_rows_out(
    web: Browser,
) -> None:
    web.apis.on("GET", "/v1/preferences", (200, preferences()))
    web.apis.on("PUT", "/v1/preferences", (200, preferences()))
    html = (await web.client.get("/preferences")).text
    assert (
        'for="celebration-email"><span class="visually-hidden">Celebrations by </span>Email</label>'
        in html
    )
    assert 'name="at_risk.email"' not in html
    assert "set by your organisation" in html
    assert "Same as my profile" in html
    form = {
        f"{c}.{ch}": v
        for c, row in preferences()["channels"].items()
        for ch, v in row.items()
        if c != "at_risk"
    }
    form |= {
        "celebration.email": "digest",
        "quiet_enabled": "on",
        "quiet_start": "22:00",
        "quiet_end": "07:00",
        "digest_time": "08:30",
        "time_zone": "Europe/Paris",
        **web.csrf,
    }
    saved = await web.client.post("/preferences", data=form)
    assert (saved.status_code, saved.headers["location"]) == (303, "/preferences?saved=true")
    [body] = web.apis.sent("PUT", "/v1/preferences")
    # changed now or set before; untouched cells keep following the organisation's defaults
    assert body["channels"] == {"celebration": {"email": "digest"}, "review_due": {"email": "on"}}
    assert body["quiet_hours"] == {"start": "22:00", "end": "07:00"}
    assert (body["digest_time"], body["time_zone"], body["slack_webhook_url"]) == (
        "08:30",
        "Europe/Paris",
        None,
    )


async def test_a_refused_time_zone_shows_next_to_its_input_with_what_was_typed(
    web: Browser,
) -> None:
    web.apis.on("GET", "/v1/preferences", (200, preferences()))
    web.apis.on(
        "PUT",
        "/v1/preferences",
        (
            422,
            {
                "type": "/problems/invalid-input",
                "title": "The request is not valid",
                "status": 422,
                "detail": "unknown time zone 'Mars/Olympus'",
                "field": "time_zone",
            },
        ),
    )
    answer = await web.client.post(
        "/preferences",
        data={
            "time_zone": "Mars/Olympus",
            "digest_time": "07:15",
            "quiet_enabled": "on",
            "quiet_start": "21:00",
            "quiet_end": "06:00",
            **web.csrf,
        },
    )
    assert answer.status_code == 422
    assert 'id="time_zone-error">unknown time zone &#39;Mars/Olympus&#39;</p>' in answer.text
    assert '<option value="Mars/Olympus" selected>' in answer.text
    assert 'value="07:15"' in answer.text
    assert 'value="21:00"' in answer.text
