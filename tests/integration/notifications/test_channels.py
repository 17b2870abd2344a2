"""Events in from Kafka; inbox items, real emails and signed webhooks out."""

from __future__ import annotations

from typing import Any

import pytest

from shared.events import topics
from shared.events.goals import GoalAchieved, GoalCreated, GoalMilestoneReached
from shared.events.kpi import KpiThresholdCrossed
from tests.integration.notifications.conftest import START, Service
from tests.integration.notifications.receivers import (
    SmtpSink,
    WebhookReceiver,
    has_html_part,
    text_part,
)
from tests.support import after_sentinel, eventually, published, unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


def milestone(tenant: str, owner: str, goal: str = "g1") -> GoalMilestoneReached:
    return GoalMilestoneReached(
        goal_id=goal,
        tenant=tenant,
        owner_id=owner,
        title="Learn UX design principles",
        horizon="short_term",
        status="active",
        progress=0.5,
        milestone="0.5",
        threshold=0.5,
    )


async def test_milestone_is_celebrated_in_the_inbox_and_by_email_with_owner_manager_and_mentor(
    service: Service, smtp: SmtpSink
) -> None:
    tenant = unique("t")
    mia = await service.person(tenant, "mia")
    ola = await service.person(tenant, "ola", manager="mia")
    tom = await service.person(tenant, "tom")
    await service.mentorship(tenant, "tom", "ola")

    event = await service.publish(milestone(tenant, "ola"), tenant=tenant, subject="g1")

    for address in (ola, mia, tom):
        await eventually(lambda a=address: smtp.to(a))
    for person in ("ola", "mia", "tom"):
        page = await service.inbox(tenant, person)
        assert [i["event_id"] for i in page["items"]] == [event.id]
        assert page["items"][0]["category"] == "celebration"
        assert page["unread_count"] == 1
    [mail] = smtp.to(ola)
    assert mail["Subject"] == "Milestone reached: Learn UX design principles"
    assert "reached its 0.5 milestone (50 %)" in text_part(mail)
    assert has_html_part(mail)


async def test_a_redelivered_event_sends_no_second_email_webhook_or_inbox_item(
    service: Service, smtp: SmtpSink, receiver: WebhookReceiver
) -> None:
    tenant = unique("t")
    ada = await service.person(tenant, "ada")
    sub = await _subscribe(service, receiver, tenant, "/redelivery", ["northstar.goal.*"])
    event = await service.publish(milestone(tenant, "ada"), tenant=tenant, subject="g1")
    await eventually(lambda: smtp.to(ada) and receiver.at("/redelivery"))

    await service.redeliver(event)
    await service.redeliver(event)

    # a sentinel on the same key after the redeliveries: once its email, webhook and inbox item
    # are out, the redeliveries have been handled (and would have been sent) before it
    async def sentinel() -> None:
        later = milestone(tenant, "ada").model_copy(update={"milestone": "0.75"})
        await service.publish(later, tenant=tenant, subject="g1")

    async def sentinel_delivered() -> bool:
        inbox = await service.inbox(tenant, "ada")
        return (
            len(smtp.to(ada)) >= 2
            and len(receiver.at("/redelivery")) >= 2
            and len(inbox["items"]) >= 2
        )

    await after_sentinel(sentinel, sentinel_delivered)

    assert len(smtp.to(ada)) == 2  # the first event once, and the sentinel
    assert len(receiver.at("/redelivery")) == 2
    assert len((await service.inbox(tenant, "ada"))["items"]) == 2
    rows = await service.deliveries(tenant, event.id)
    assert sorted((r["channel"], r["status"]) for r in rows) == [
        ("email", "delivered"),
        ("inbox", "delivered"),
        ("webhook", "delivered"),
    ]
    assert sub["id"] in {r["recipient_id"] for r in rows}


async def test_a_new_person_is_welcomed(service: Service, smtp: SmtpSink) -> None:
    tenant = unique("t")
    address = await service.person(tenant, "neo", created=True)
    [mail] = await eventually(lambda: smtp.to(address))
    assert mail["Subject"] == "Welcome to Northstar"
    assert (await service.inbox(tenant, "neo"))["items"][0]["category"] == "welcome"


async def _subscribe(
    service: Service, receiver: WebhookReceiver, tenant: str, path: str, types: list[str]
) -> dict:
    r = await service.client.post(
        "/v1/webhook-subscriptions",
        json={"url": receiver.url(path), "event_types": types},
        headers=service.auth(tenant, "admin", "admin"),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["secret"].startswith("whsec_")
    receiver.secrets[path] = body["secret"]
    return dict(body)


def achieved(tenant: str, owner: str, goal: str) -> GoalAchieved:
    return GoalAchieved(
        goal_id=goal,
        tenant=tenant,
        owner_id=owner,
        title="Drive a product launch",
        horizon="long_term",
        status="achieved",
        progress=1.0,
    )


async def test_webhooks_are_signed_with_standard_webhooks_and_carry_the_cloudevent(
    service: Service, receiver: WebhookReceiver
) -> None:
    tenant = unique("t")
    await _subscribe(service, receiver, tenant, "/hr", ["northstar.goal.achieved.v1"])
    event = await service.publish(achieved(tenant, "someone", "g9"), tenant=tenant, subject="g9")

    [got] = await eventually(lambda: receiver.at("/hr"))

    assert got.error is None
    assert got.verified["id"] == event.id
    assert got.verified["type"] == "northstar.goal.achieved.v1"
    assert got.verified["data"]["goal_id"] == "g9"
    assert got.headers["webhook-signature"].startswith("v1,")


async def test_webhook_retries_honour_retry_after_and_succeed(
    service: Service, receiver: WebhookReceiver
) -> None:
    tenant = unique("t")
    receiver.script["/flaky"] = [(503, {"Retry-After": "1"}), (500, {})]
    await _subscribe(service, receiver, tenant, "/flaky", ["northstar.goal.*"])
    event = await service.publish(achieved(tenant, "x", "g1"), tenant=tenant, subject="g1")

    await eventually(lambda: len(receiver.at("/flaky")) == 3)
    calls = receiver.at("/flaky")
    assert all(c.error is None for c in calls)
    assert len({c.headers["webhook-id"] for c in calls}) == 1  # one message, three attempts

    async def delivered() -> list:
        rows = await service.deliveries(tenant, event.id)
        return [r for r in rows if r["channel"] == "webhook" and r["status"] == "delivered"]

    [row] = await eventually(delivered)
    attempts = row["attempts"]
    assert [a["status_code"] for a in attempts] == [503, 500, 200]
    gap = _seconds(attempts[1]["at"]) - _seconds(attempts[0]["at"])
    assert gap >= 0.95  # Retry-After: 1 beat the 0.2 s schedule


def _seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp).timestamp()


async def _subscription(service: Service, tenant: str, sub_id: str) -> dict:
    r = await service.client.get(
        f"/v1/webhook-subscriptions/{sub_id}", headers=service.auth(tenant, "admin", "admin")
    )
    assert r.status_code == 200
    return dict(r.json())


async def test_410_disables_the_subscription_and_emits_notification_failed(
    service: Service, receiver: WebhookReceiver
) -> None:
    tenant = unique("t")
    receiver.script["/gone"] = [(410, {})]
    sub = await _subscribe(service, receiver, tenant, "/gone", ["northstar.goal.*"])
    event = await service.publish(achieved(tenant, "x", "g1"), tenant=tenant, subject="g1")

    async def disabled() -> bool:
        return not (await _subscription(service, tenant, sub["id"]))["active"]

    await eventually(disabled)
    failed = await _read_notification_events(service, tenant, "northstar.notification.failed.v1")
    assert [f["event_id"] for f in failed] == [event.id]
    assert failed[0]["subscription_id"] == sub["id"]
    assert len(receiver.at("/gone")) == 1  # never retried

    # the sentinel: a second, active subscription; once it has g2, g2's deliveries were fanned
    # out (one handler creates all of an event's deliveries)
    alive = await _subscribe(service, receiver, tenant, "/alive", ["northstar.goal.*"])
    published = []

    async def publish_g2() -> None:
        published.append(
            await service.publish(achieved(tenant, "x", "g2"), tenant=tenant, subject="g2")
        )

    await after_sentinel(publish_g2, lambda: receiver.at("/alive"))
    assert len(receiver.at("/gone")) == 1  # a disabled subscription gets nothing more
    rows = await service.deliveries(tenant, published[0].id)
    assert [r["recipient_id"] for r in rows if r["channel"] == "webhook"] == [alive["id"]]


async def test_repeated_failure_disables_the_subscription_after_the_schedule(
    service: Service, receiver: WebhookReceiver
) -> None:
    tenant = unique("t")
    receiver.script["/down"] = [(500, {})] * 10
    sub = await _subscribe(service, receiver, tenant, "/down", ["northstar.goal.*"])
    await service.publish(achieved(tenant, "x", "g1"), tenant=tenant, subject="g1")

    async def disabled() -> dict | None:
        found = await _subscription(service, tenant, sub["id"])
        return None if found["active"] else found

    found = await eventually(disabled)
    assert "keep failing" in found["disabled_reason"]
    assert len(receiver.at("/down")) == len(service.settings.retry_schedule_s)
    failed = await _read_notification_events(service, tenant, "northstar.notification.failed.v1")
    assert failed
    assert failed[0]["attempts"] == len(service.settings.retry_schedule_s)


async def _read_notification_events(service: Service, tenant: str, event_type: str) -> list:
    import orjson

    def wanted(record: Any) -> bool:
        headers = dict(record.headers)
        return headers["ce_type"].decode() == event_type and headers["ce_tenant"].decode() == tenant

    records = await published(service.app, topics.NOTIFICATIONS, bool, keep=wanted)
    return [orjson.loads(record.value) for record in records]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://127.0.0.1:1/hook",
        "http://10.1.2.3/hook",
        "http://10.255.0.1:8080/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:9/hook",
        "http://[::1]/hook",
        "ftp://example.com/hook",
    ],
)
async def test_webhook_urls_reaching_private_addresses_are_refused(
    service: Service, url: str
) -> None:
    tenant = unique("t")
    r = await service.client.post(
        "/v1/webhook-subscriptions",
        json={"url": url, "event_types": ["northstar.goal.*"]},
        headers=service.auth(tenant, "admin", "admin"),
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    listed = await service.client.get(
        "/v1/webhook-subscriptions", headers=service.auth(tenant, "admin", "admin")
    )
    assert listed.json() == {"items": [], "next_cursor": None}


async def test_a_slack_url_reaching_a_private_address_is_refused(service: Service) -> None:
    tenant = unique("t")
    r = await service.client.put(
        "/v1/preferences",
        json={"slack_webhook_url": "http://169.254.169.254/hooks/x"},
        headers=service.auth(tenant, "ada"),
    )
    assert r.status_code == 422
    assert "link-local" in r.json()["detail"]
    assert r.json()["field"] == "slack_webhook_url"


async def test_only_admins_subscribe_webhooks(service: Service, receiver: WebhookReceiver) -> None:
    r = await service.client.post(
        "/v1/webhook-subscriptions",
        json={"url": receiver.url("/x"), "event_types": ["northstar.goal.*"]},
        headers=service.auth(unique("t"), "ada"),
    )
    assert r.status_code == 403


async def test_kpi_alerts_reach_the_people_whose_active_goals_are_bound_to_the_metric(
    service: Service,
) -> None:
    tenant = unique("t")
    await service.person(tenant, "kim")
    await service.person(tenant, "lou")
    for owner, metric in (("kim", "adoption_rate"), ("lou", "nps")):
        await service.publish(
            GoalCreated(
                goal_id=f"goal-{owner}",
                tenant=tenant,
                owner_id=owner,
                title="Grow adoption",
                horizon="short_term",
                status="active",
                bound_metrics=[metric],
            ),
            tenant=tenant,
            subject=f"goal-{owner}",
        )
    bindings = service.db["goal_bindings"]
    await eventually(lambda: bindings.count_documents({"tenant": tenant}))
    await eventually(lambda: _count_is(bindings, {"tenant": tenant}, 2))

    event = await service.publish(
        KpiThresholdCrossed(
            tenant=tenant,
            metric="adoption_rate",
            threshold=0.3,
            direction="up",
            value=0.31,
            datapoint_id="dp1",
            timestamp=START,
        ),
        tenant=tenant,
        subject=f"{tenant}:adoption_rate",
    )

    page = await eventually(lambda: _items(service, tenant, "kim"))
    assert page[0]["event_id"] == event.id
    assert page[0]["category"] == "kpi_alert"
    assert (await service.inbox(tenant, "lou"))["items"] == []


async def _count_is(collection, query: dict, n: int) -> bool:
    return bool(await collection.count_documents(query) == n)


async def _items(service: Service, tenant: str, sub: str) -> list:
    return list((await service.inbox(tenant, sub))["items"])
