"""The delivery worker's rules on a frozen clock: quiet hours, the daily cap, retries, giving up,
digests, webhooks; each outcome with the event it records. Fakes only, no servers.
"""

from __future__ import annotations

from datetime import time, timedelta

from services.notifications.delivery import (
    DELIVERED,
    DIGEST,
    DIGESTED,
    FAILED,
    PENDING,
    SUPPRESSED,
    SendResult,
)
from services.notifications.domain import Preferences, QuietHours
from shared.events.kpi import KpiStale
from shared.events.notifications import NotificationDelivered, NotificationFailed
from shared.tracing import continued_span, trace_id_of
from tests.unit.notifications.conftest import START, TENANT, World
from tests.unit.notifications.test_rules import milestone, request

PARIS = "Europe/Paris"


def outcomes(world: World) -> list[tuple[str, str]]:
    return [(e.type.split(".")[2], e.data["channel"]) for e in world.deliveries.published]


async def test_a_delivered_email_records_its_attempt_and_notification_delivered(
    world: World,
) -> None:
    world.person("ada")
    event = await world.receive(milestone())
    assert await world.dispatcher.run_once() == 1
    [mail] = world.email.sent
    assert (mail["To"], mail["Subject"]) == ("ada@acme.test", "Milestone reached: Ship the launch")
    [email] = world.deliveries.of("ada")
    assert (email.status, email.delivered_at, email.attempt_count) == (DELIVERED, START, 1)
    [delivered] = world.deliveries.published
    assert delivered.type == NotificationDelivered.event_type
    assert delivered.data["event_id"] == event.id
    assert delivered.data["recipient_id"] == "ada"
    assert delivered.data["attempts"] == 1
    assert await world.dispatcher.run_once() == 0  # nothing is sent twice


async def test_emails_link_to_the_web_app_page_of_their_goal_or_feedback_request(
    world: World,
) -> None:
    world.person("ada")
    world.person("rex")
    await world.receive(milestone(goal_id="g/1"))
    await world.receive(request(reviewer="rex", request_id="r1"))
    await world.dispatcher.run_once()
    await world.dispatcher.run_once()
    bodies = {str(m["To"]): str(m.get_body(("plain",)).get_content()) for m in world.email.sent}
    # the web app (port 8000) by default, not the notifications API
    assert "Open it in Northstar: http://127.0.0.1:8000/goals/g%2F1\n" in bodies["ada@acme.test"]
    assert "http://127.0.0.1:8000/feedback/requests/r1\n" in bodies["rex@acme.test"]
    assert "preferences: http://127.0.0.1:8000/preferences" in bodies["ada@acme.test"]
    [inbox_item] = world.notifications.of("rex")
    assert inbox_item.page == "/feedback/requests/r1"


async def test_quiet_hours_defer_the_email_to_their_local_end(world: World) -> None:
    world.person("ada", time_zone=PARIS)
    quiet = Preferences(quiet_hours=QuietHours(time(8, 30), time(12, 0)))
    await world.preferences.save(TENANT, "ada", quiet)
    await world.receive(milestone())  # 09:00 in Paris
    await world.dispatcher.run_once()
    [email] = world.deliveries.of("ada")
    assert (email.status, email.due_at) == (PENDING, START + timedelta(hours=3))
    assert email.reason == "quiet hours: waits until 2026-03-10T11:00:00+00:00"
    assert world.email.sent == []
    world.clock.advance(timedelta(hours=3))
    await world.dispatcher.run_once()
    assert len(world.email.sent) == 1


async def test_past_the_daily_cap_the_rest_waits_for_the_digest(world: World) -> None:
    world.person("ada")
    for n in range(4):  # the cap is 3 immediate sends per local day
        await world.receive(milestone(goal_id=f"g{n}"))
    await world.dispatcher.run_once()
    statuses = sorted(d.status for d in world.deliveries.of("ada"))
    assert statuses == [DELIVERED, DELIVERED, DELIVERED, DIGEST]
    capped = next(d for d in world.deliveries.of("ada") if d.status == DIGEST)
    assert capped.reason == "daily cap of 3 reached: digest"
    assert len(world.email.sent) == 3


async def test_failures_retry_on_the_schedule_then_give_up_with_notification_failed(
    world: World,
) -> None:
    world.person("ada")
    await world.receive(milestone())
    world.email.answers = [SendResult(False, error="try later")] * 3  # schedule: 0, 5, 300 s
    await world.dispatcher.run_once()
    [email] = world.deliveries.of("ada")
    assert (email.status, email.due_at, email.last_error) == (
        PENDING,
        START + timedelta(seconds=5),
        "try later",
    )
    await world.dispatcher.run_once()
    assert len(world.email.sent) == 1  # not due yet
    world.clock.advance(timedelta(seconds=5))
    await world.dispatcher.run_once()
    world.clock.advance(timedelta(seconds=300))
    await world.dispatcher.run_once()
    [email] = world.deliveries.of("ada")
    assert (email.status, email.attempt_count) == (FAILED, 3)
    assert [a.n for a in email.attempts] == [1, 2, 3]
    [failed] = world.deliveries.published
    assert failed.type == NotificationFailed.event_type
    assert (failed.data["attempts"], failed.data["error"]) == (3, "try later")


async def test_retry_after_is_honoured_up_to_its_ceiling(world: World) -> None:
    world.person("ada")
    await world.receive(milestone())
    world.email.answers = [SendResult(False, error="busy", retry_after=3600)]
    await world.dispatcher.run_once()
    [email] = world.deliveries.of("ada")
    assert email.due_at == START + timedelta(seconds=600)  # max_retry_after_s


async def test_a_permanent_refusal_gives_up_at_once(world: World) -> None:
    world.person("ada")
    await world.receive(milestone())
    world.email.answers = [SendResult(False, status_code=550, error="no such user", permanent=True)]
    await world.dispatcher.run_once()
    [email] = world.deliveries.of("ada")
    assert (email.status, email.attempt_count) == (FAILED, 1)
    assert outcomes(world) == [("failed", "email")]


async def test_a_recipient_who_lost_their_address_fails_without_an_attempt(
    world: World,
) -> None:
    world.person("ada")
    await world.receive(milestone())
    world.person("ada", email=None)  # changed before the worker came by
    await world.dispatcher.run_once()
    [email] = world.deliveries.of("ada")
    assert (email.status, email.attempt_count, email.last_error) == (
        FAILED,
        0,
        "the recipient has no active email",
    )
    assert world.deliveries.published[0].data["attempts"] == 0


async def test_the_digest_goes_out_once_at_the_local_digest_time(world: World) -> None:
    world.person("ada", time_zone=PARIS)
    await world.preferences.save(TENANT, "ada", Preferences(digest_time=time(10, 0)))
    await world.bindings.save(TENANT, "g1", "ada", "active", ["adoption"])
    await world.receive(
        KpiStale(tenant=TENANT, metric="adoption", expected_every_s=60), subject="adoption"
    )
    assert await world.dispatcher.assemble_digests() == 0  # 09:00 in Paris: not yet
    assert await world.dispatcher.run_once() == 0  # the item waits, nothing is sent alone
    world.clock.advance(timedelta(hours=1))
    assert await world.dispatcher.assemble_digests() == 1
    await world.dispatcher.run_once()
    [mail] = world.email.sent
    assert mail["Subject"] == "Your Northstar digest: 1 update"
    # a KPI has no page of its own: the item links to the inbox
    assert "http://127.0.0.1:8000/inbox" in str(mail.get_body(("html",)).get_content())
    kinds = {d.kind: d.status for d in world.deliveries.of("ada")}
    assert kinds == {"notification": DIGESTED, "digest": DELIVERED}
    assert await world.dispatcher.assemble_digests() == 0  # today's went out


async def test_a_webhook_answered_410_is_not_retried_and_its_subscription_stops(
    world: World,
) -> None:
    await world.subscribe(
        "s1", ["northstar.goal.*"], secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    )
    await world.receive(milestone())
    world.http.answers = [SendResult(False, 410, "the receiver answered 410 Gone", gone=True)]
    await world.dispatcher.run_once()
    [(url, _, headers)] = world.http.posts
    assert url == "https://hooks.example.com/s1"
    assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= set(headers)
    [hook] = world.deliveries.of("s1")
    assert hook.status == FAILED
    sub = await world.subscriptions.get(TENANT, "s1")
    assert sub is not None
    assert (sub.active, sub.disabled_reason) == (False, "the receiver answered 410 Gone")
    # a later event for a disabled subscription is not queued; a queued one is dropped
    sub.active = True
    await world.receive(milestone(goal_id="g2"))
    sub.active = False
    await world.dispatcher.run_once()
    assert sorted(d.status for d in world.deliveries.of("s1")) == [FAILED, SUPPRESSED]


async def test_a_delivery_continues_the_trace_of_the_event_that_caused_it(world: World) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    await world.subscribe(
        "s1", ["northstar.goal.*"], secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    )
    # as the consumer runner hands it over: inside a span continuing the event's trace
    with continued_span("consume", f"00-{trace_id}-00f067aa0ba902b7-01"):
        await world.receive(milestone())
    assert await world.dispatcher.run_once() == 1  # later, in the worker, outside any span
    [(_, _, headers)] = world.http.posts
    assert trace_id_of(headers["traceparent"]) == trace_id
    [delivered] = world.deliveries.published
    assert delivered.type == NotificationDelivered.event_type
    assert trace_id_of(delivered.traceparent) == trace_id
