"""Preferences people respect (quiet hours, digests, caps, locks), the inbox API and its stream."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import orjson
import pytest
import uvicorn

from shared.events.feedback import FeedbackRequested, FeedbackSubmitted
from shared.events.goals import GoalMilestoneReached, GoalReviewDue
from tests.integration.notifications.conftest import START, Service
from tests.integration.notifications.receivers import SmtpSink, text_part
from tests.support import after_sentinel, eventually, unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


def milestone(tenant: str, owner: str, goal: str, title: str = "Strengthen data analysis"):
    return GoalMilestoneReached(
        goal_id=goal,
        tenant=tenant,
        owner_id=owner,
        title=title,
        horizon="short_term",
        status="active",
        progress=0.25,
        milestone="0.25",
    )


async def sentinel_email(service: Service, smtp: SmtpSink, tenant: str) -> None:
    """An immediate email to someone else, due now: the one worker claims deliveries in due order
    and finishes each before the next, so once it is out, every delivery claimed before it was
    processed and every one due before it (and not held) was sent."""
    who = unique("sen")
    address = await service.person(tenant, who, tz="UTC")
    await after_sentinel(
        lambda: service.publish(milestone(tenant, who, "sg"), tenant=tenant, subject=who),
        lambda: smtp.to(address),
    )


async def put_prefs(service: Service, tenant: str, sub: str, body: dict) -> httpx.Response:
    return await service.client.put("/v1/preferences", json=body, headers=service.auth(tenant, sub))


async def statuses(service: Service, tenant: str, event_id: str, channel: str) -> list[str]:
    rows = await service.deliveries(tenant, event_id)
    return [r["status"] for r in rows if r["channel"] == channel]


async def test_quiet_hours_in_the_persons_time_zone_hold_the_email_until_they_end(
    service: Service, smtp: SmtpSink
) -> None:
    service.clock.set(START)  # 08:00 UTC is 09:00 in Paris
    tenant = unique("t")
    address = await service.person(tenant, "qia", tz="Europe/Paris")
    r = await put_prefs(service, tenant, "qia", {"quiet_hours": {"start": "22:00", "end": "10:00"}})
    assert r.status_code == 200, r.text

    event = await service.publish(milestone(tenant, "qia", "g1"), tenant=tenant, subject="g1")

    await eventually(lambda: service.inbox(tenant, "qia"))  # the inbox is not held back
    rows = await eventually(lambda: _deferred(service, tenant, event.id))
    assert rows[0]["due_at"].startswith("2026-03-10T09:00:00")  # 10:00 in Paris
    await sentinel_email(service, smtp, tenant)  # claimed after the held one: it was processed
    assert smtp.to(address) == []

    service.clock.advance(timedelta(hours=1, minutes=5))

    await eventually(lambda: smtp.to(address))
    await eventually(lambda: _status_is(service, tenant, event.id, "delivered"))


async def _deferred(service: Service, tenant: str, event_id: str) -> list[dict]:
    rows = await service.deliveries(tenant, event_id)
    return [
        r
        for r in rows
        if r["channel"] == "email" and r["status"] == "pending" and "quiet" in (r["reason"] or "")
    ]


async def test_categories_set_to_digest_arrive_together_at_the_local_digest_time(
    service: Service, smtp: SmtpSink
) -> None:
    service.clock.set(START)
    tenant = unique("t")
    address = await service.person(tenant, "dan", tz="UTC")
    r = await put_prefs(
        service,
        tenant,
        "dan",
        {"channels": {"celebration": {"email": "digest"}}, "digest_time": "12:00"},
    )
    assert r.status_code == 200, r.text
    first = await service.publish(
        milestone(tenant, "dan", "g1", "Lead a launch"), tenant=tenant, subject="g1"
    )
    second = await service.publish(
        milestone(tenant, "dan", "g2", "Become a thought leader"), tenant=tenant, subject="g2"
    )
    for event in (first, second):
        await eventually(lambda e=event: _status_is(service, tenant, e.id, "digest"))
    await service.app.state.dispatcher.assemble_digests()  # a digest pass with both items waiting
    service.clock.advance(timedelta(minutes=1))  # the sentinel is due after any digest it opened
    await sentinel_email(service, smtp, tenant)
    assert smtp.to(address) == []

    service.clock.set(START + timedelta(hours=4, minutes=30))  # 12:30

    [digest] = await eventually(lambda: smtp.to(address))
    body = text_part(digest)
    assert "Lead a launch" in body
    assert "Become a thought leader" in body
    assert digest["Subject"] == "Your Northstar digest: 2 updates"
    for event in (first, second):
        await eventually(lambda e=event: _status_is(service, tenant, e.id, "digested"))
    await service.app.state.dispatcher.assemble_digests()  # another pass: no second digest today
    service.clock.advance(timedelta(minutes=1))
    await sentinel_email(service, smtp, tenant)
    assert len(smtp.to(address)) == 1


async def _status_is(service: Service, tenant: str, event_id: str, status: str) -> bool:
    return await statuses(service, tenant, event_id, "email") == [status]


async def test_the_daily_cap_sends_the_excess_to_the_digest(
    service: Service, smtp: SmtpSink
) -> None:
    service.clock.set(START)
    tenant = unique("t")
    address = await service.person(tenant, "cap")
    events = [
        await service.publish(
            GoalReviewDue(
                goal_id=f"g{n}",
                tenant=tenant,
                owner_id="cap",
                title=f"Goal {n}",
                horizon="short_term",
                status="active",
                reason="cadence",
                due_on=START.date(),
            ),
            tenant=tenant,
            subject=f"g{n}",
        )
        for n in range(4)
    ]

    async def settled() -> list[str] | None:
        found = [s for e in events for s in await statuses(service, tenant, e.id, "email")]
        return found if sorted(found) == ["delivered"] * 3 + ["digest"] else None

    await eventually(settled)
    assert len(smtp.to(address)) == service.settings.daily_cap == 3


async def test_a_feedback_reminder_is_dropped_once_the_reviewer_has_answered(
    service: Service, smtp: SmtpSink
) -> None:
    service.clock.set(START)
    tenant = unique("t")
    address = await service.person(tenant, "rev", tz="UTC")
    await put_prefs(service, tenant, "rev", {"quiet_hours": {"start": "07:00", "end": "09:00"}})
    requested = await service.publish(
        FeedbackRequested(
            request_id="fr1",
            tenant=tenant,
            subject_id="sam",
            requester_id="sam",
            reviewer_id="rev",
            relationship="peer",
        ),
        tenant=tenant,
        subject="fr1",
    )
    await eventually(lambda: _deferred(service, tenant, requested.id))

    await service.publish(
        FeedbackSubmitted(
            request_id="fr1",
            tenant=tenant,
            subject_id="sam",
            requester_id="sam",
            anonymous=False,
            reviewer_id="rev",
        ),
        tenant=tenant,
        subject="fr1",
    )
    await eventually(lambda: _status_is(service, tenant, requested.id, "suppressed"))
    service.clock.advance(timedelta(hours=2))  # quiet hours over: the reminder was due at 09:00
    await sentinel_email(service, smtp, tenant)  # due at 10:00, after the reminder

    assert smtp.to(address) == []
    [row] = [r for r in await service.deliveries(tenant, requested.id) if r["channel"] == "email"]
    assert row["reason"] == "the reviewer already answered"


async def test_inbox_pages_with_cursors_and_tracks_seen_read_and_archived(
    service: Service,
) -> None:
    tenant = unique("t")
    await service.person(tenant, "ina", email=False)
    for n in range(3):
        await service.publish(milestone(tenant, "ina", f"g{n}"), tenant=tenant, subject=f"g{n}")
    await eventually(lambda: _count(service, tenant, "ina", 3))

    first = await service.inbox(tenant, "ina", limit=2)
    second = await service.inbox(tenant, "ina", limit=2, cursor=first["next_cursor"])
    assert len(first["items"]) == 2
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None
    ids = [i["id"] for i in first["items"] + second["items"]]
    assert len(set(ids)) == 3
    assert (first["unread_count"], first["unseen_count"]) == (3, 3)

    headers = service.auth(tenant, "ina")
    read = await service.client.post(f"/v1/inbox/{ids[0]}/read", headers=headers)
    assert read.json()["read"] is True
    assert [i["id"] for i in (await service.inbox(tenant, "ina", unread=True))["items"]] == ids[1:]
    seen = await service.client.post("/v1/inbox/seen", headers=headers)
    assert seen.json() == {"updated": 2}
    counts = (await service.client.get("/v1/inbox/count", headers=headers)).json()
    assert counts == {"unread": 2, "unseen": 0}

    archived = await service.client.post(f"/v1/inbox/{ids[1]}/archive", headers=headers)
    assert archived.status_code == 200
    assert ids[1] not in [i["id"] for i in (await service.inbox(tenant, "ina"))["items"]]
    assert [i["id"] for i in (await service.inbox(tenant, "ina", archived=True))["items"]] == [
        ids[1]
    ]
    done = await service.client.post("/v1/inbox/read-all", headers=headers)
    assert done.json() == {"updated": 1}
    assert (await service.inbox(tenant, "ina"))["unread_count"] == 0

    someone_else = await service.client.post(
        f"/v1/inbox/{ids[2]}/read", headers=service.auth(tenant, "eve")
    )
    other_tenant = await service.client.post(
        f"/v1/inbox/{ids[2]}/read", headers=service.auth(unique("t"), "ina")
    )
    assert someone_else.status_code == other_tenant.status_code == 404
    bad_cursor = await service.client.get("/v1/inbox", params={"cursor": "nope"}, headers=headers)
    assert bad_cursor.status_code == 422


async def _count(service: Service, tenant: str, sub: str, n: int) -> bool:
    return len((await service.inbox(tenant, sub, limit=50))["items"]) == n


async def test_why_explains_the_event_rule_and_preference_decisions(service: Service) -> None:
    tenant = unique("t")
    await service.person(tenant, "wes")
    await service.person(tenant, "val", manager="wes")
    event = await service.publish(milestone(tenant, "val", "g1"), tenant=tenant, subject="g1")
    [item] = await eventually(lambda: _items(service, tenant, "wes"))

    r = await service.client.get(
        f"/v1/notifications/{item['id']}/why", headers=service.auth(tenant, "wes")
    )
    assert r.status_code == 200, r.text
    why = r.json()
    assert why["event"]["id"] == event.id
    assert why["rule"]["name"] == "northstar.goal.milestone_reached.v1"
    assert why["recipient_reason"] == "manager"
    assert {d["channel"]: d["setting"] for d in why["decisions"]} == {
        "inbox": "on",
        "email": "on",
        "slack": "off",
    }
    assert [d["channel"] for d in why["deliveries"]] == ["email"]
    stranger = await service.client.get(
        f"/v1/notifications/{item['id']}/why", headers=service.auth(tenant, "val")
    )
    assert stranger.status_code == 404


async def _items(service: Service, tenant: str, sub: str) -> list:
    return list((await service.inbox(tenant, sub))["items"])


async def test_locked_tenant_defaults_apply_and_cannot_be_overridden(service: Service) -> None:
    tenant = unique("t")
    admin = service.auth(tenant, "boss", "admin")
    r = await service.client.put(
        "/v1/preferences/defaults",
        json={"channels": {"celebration": {"email": "off"}}, "locked": ["celebration"]},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    refused = await put_prefs(
        service, tenant, "ana", {"channels": {"celebration": {"email": "on"}}}
    )
    assert refused.status_code == 403
    prefs = (
        await service.client.get("/v1/preferences", headers=service.auth(tenant, "ana"))
    ).json()
    assert prefs["channels"]["celebration"]["email"] == "off"
    assert prefs["locked"] == ["celebration"]
    not_admin = await service.client.put(
        "/v1/preferences/defaults", json={}, headers=service.auth(tenant, "ana")
    )
    assert not_admin.status_code == 403
    bad_zone = await put_prefs(service, tenant, "ana", {"time_zone": "Mars/Olympus"})
    assert bad_zone.status_code == 422
    assert bad_zone.json()["field"] == "time_zone"  # a form shows it next to that input


async def next_item(lines: AsyncIterator[str]) -> dict[str, str]:
    """The fields of the stream's next item (comments and ``retry`` skipped)."""
    got: dict[str, str] = {}
    while "data" not in got:
        line = await asyncio.wait_for(anext(lines), 10)
        if ":" in line and not line.startswith(":") and not line.startswith("retry:"):
            name, _, value = line.partition(": ")
            got[name] = value
    return got


async def test_the_sse_stream_pushes_new_inbox_items_and_resumes_after_the_last_one(
    service: Service,
) -> None:
    tenant = unique("t")
    await service.person(tenant, "sse", email=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            service.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
        )
    )
    serving = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            async with http.stream(
                "GET", "/v1/inbox/stream", headers=service.auth(tenant, "sse")
            ) as stream:
                assert stream.headers["content-type"].startswith("text/event-stream")
                lines = stream.aiter_lines()
                assert [await anext(lines) for _ in range(3)] == ["retry: 1000", "", ": keep-alive"]
                event = await service.publish(
                    milestone(tenant, "sse", "g1"), tenant=tenant, subject="g1"
                )
                first = await next_item(lines)
            assert first["event"] == "notification"
            assert orjson.loads(first["data"])["event_id"] == event.id
            # while no stream is open, two more items land; a reconnect names the last one it got
            missed = [
                await service.publish(milestone(tenant, "sse", g), tenant=tenant, subject=g)
                for g in ("g2", "g3")
            ]

            async def all_three_stored() -> bool:
                return len((await service.inbox(tenant, "sse"))["items"]) == 3

            await eventually(all_three_stored)
            resumed = {**service.auth(tenant, "sse"), "Last-Event-ID": first["id"]}
            async with http.stream("GET", "/v1/inbox/stream", headers=resumed) as stream:
                lines = stream.aiter_lines()
                got = [await next_item(lines), await next_item(lines)]
            # both missed items, the first not again; the two events are about two goals, so
            # they can be consumed in one fetch from two partitions at once and stored in
            # either order (the stream follows the order they were stored in)
            assert sorted(orjson.loads(g["data"])["event_id"] for g in got) == sorted(
                e.id for e in missed
            )
    finally:
        server.should_exit = True
        await serving


async def test_a_delivery_held_by_a_crashed_worker_is_sent_once_its_lease_expires(
    service: Service, smtp: SmtpSink
) -> None:
    service.clock.set(START)
    tenant = unique("t")
    live = await service.person(tenant, "liv")
    dead = await service.person(tenant, "ded")
    now = service.clock.now()

    def held(person: str, lease_until) -> dict:
        return {
            "_id": unique("d"),
            "tenant": tenant,
            "event_id": unique("e"),
            "event_type": "northstar.goal.achieved.v1",
            "notification_id": None,
            "recipient_id": person,
            "channel": "email",
            "kind": "notification",
            "category": "celebration",
            "status": "sending",  # claimed, then the worker died
            "lease_until": lease_until,
            "reason": "test",
            "due_at": now,
            "digest_id": None,
            "ref": None,
            "title": f"Held for {person}",
            "summary": "x",
            "attempts": [],
            "attempt_count": 0,
            "created_at": now,
            "updated_at": now,
        }

    await service.db["deliveries"].insert_many(
        [held("ded", now - timedelta(seconds=1)), held("liv", now + timedelta(minutes=5))]
    )
    service.app.state.dispatcher.notify()

    [mail] = await eventually(lambda: smtp.to(dead))
    assert mail["Subject"] == "Held for ded"
    service.clock.advance(timedelta(seconds=1))  # the sentinel is due after both, leases unexpired
    await sentinel_email(service, smtp, tenant)
    assert smtp.to(live) == []  # its worker may still be sending: not taken over
    assert len(smtp.to(dead)) == 1
