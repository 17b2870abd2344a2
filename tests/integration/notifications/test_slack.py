"""Slack delivery over a real socket to a local receiver, and the SSRF guard on its way.

The service runs with a guard whose resolver the test scripts: ``hooks.slack.test`` exists only
there (so a message that arrives proves the dialled address is the guard's answer), and
``localhost`` answers what the test says at each moment (the system resolver would answer
127.0.0.1, the receiver). Only the receiver's exact ``127.0.0.1:port`` is allow-listed, as
a private address a deployment might allow; every other private address stays refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import pytest_asyncio

from services.notifications.config import NotificationsSettings
from services.notifications.main import create_app
from services.notifications.ssrf import UrlGuard
from shared.events.envelope import Envelope
from shared.events.goals import GoalMilestoneReached
from tests.doubles import AdjustableClock
from tests.integration.notifications.conftest import START, Service
from tests.integration.notifications.receivers import SmtpSink, WebhookReceiver
from tests.support import after_sentinel, eventually, isolated_settings, running, unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


class ScriptedDns:
    """The guard's resolver: a table the test changes between the save and the send."""

    def __init__(self) -> None:
        self.table: dict[str, list[str]] = {}
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        return self.table.get(host, [])


@pytest.fixture(scope="module")
def dns() -> ScriptedDns:
    return ScriptedDns()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def slack(
    smtp: SmtpSink, receiver: WebhookReceiver, dns: ScriptedDns
) -> AsyncIterator[Service]:
    settings = isolated_settings(
        NotificationsSettings,
        smtp_port=smtp.port,
        outbound_allow_list=[f"127.0.0.1:{receiver.port}"],
        retry_schedule_s=[0, 0.2, 0.2],
        worker_poll_interval_s=0.1,
        daily_cap=100,
    )
    dns.table["hooks.slack.test"] = ["127.0.0.1"]
    guard = UrlGuard(settings.outbound_allow_list, dns)
    clock = AdjustableClock(START)
    app = create_app(settings, clock=clock, guard=guard)
    async with running(app) as client:
        yield Service(app, client, clock, settings)


def milestone(tenant: str, owner: str, level: str = "0.5") -> GoalMilestoneReached:
    return GoalMilestoneReached(
        goal_id="g1",
        tenant=tenant,
        owner_id=owner,
        title="Strengthen data analysis",
        horizon="short_term",
        status="active",
        progress=float(level),
        milestone=level,
        threshold=float(level),
    )


async def with_slack(slack: Service, tenant: str, person: str, url: str) -> None:
    await slack.person(tenant, person)
    r = await slack.client.put(
        "/v1/preferences", json={"slack_webhook_url": url}, headers=slack.auth(tenant, person)
    )
    assert r.status_code == 200, r.text


async def slack_row(slack: Service, tenant: str, event: Envelope) -> dict[str, Any] | None:
    rows = [r for r in await slack.deliveries(tenant, event.id) if r["channel"] == "slack"]
    return rows[0] if rows else None


async def finished(slack: Service, tenant: str, event: Envelope) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        row = await slack_row(slack, tenant, event)
        return row if row and row["status"] in ("delivered", "failed") else None

    row: dict[str, Any] = await eventually(done, timeout=30)
    return row


async def test_a_milestone_reaches_slack_once_as_a_message(
    slack: Service, receiver: WebhookReceiver
) -> None:
    tenant, path = unique("t"), f"/services/{unique('T')}/B/X"
    await with_slack(slack, tenant, "sia", f"http://hooks.slack.test:{receiver.port}{path}")

    event = await slack.publish(milestone(tenant, "sia"), tenant=tenant, subject="g1")

    [message] = await eventually(lambda: receiver.at(path))
    assert message.headers["content-type"] == "application/json"
    text = orjson.loads(message.body)["text"]
    assert text.startswith("*Milestone reached: Strengthen data analysis*\n")
    assert "reached its 0.5 milestone (50 %)" in text
    assert (await finished(slack, tenant, event))["status"] == "delivered"

    # redelivered: no second message, shown by a sentinel milestone on the same key
    await slack.redeliver(event)

    async def sentinel() -> None:
        await slack.publish(milestone(tenant, "sia", "0.75"), tenant=tenant, subject="g1")

    await after_sentinel(sentinel, lambda: len(receiver.at(path)) >= 2)
    assert [orjson.loads(m.body)["text"].count("Milestone") for m in receiver.at(path)] == [1, 1]
    assert len(receiver.at(path)) == 2


async def test_a_slack_url_whose_name_turned_private_is_refused_at_send_time(
    slack: Service, receiver: WebhookReceiver, dns: ScriptedDns
) -> None:
    """Saved while ``localhost`` answered the allowed receiver; by the send it answers a
    private address. Without the send-time checks the system resolver dials the receiver."""
    tenant, path = unique("t"), f"/services/{unique('T')}/B/X"
    dns.table["localhost"] = ["127.0.0.1"]
    await with_slack(slack, tenant, "ren", f"http://localhost:{receiver.port}{path}")

    dns.table["localhost"] = ["10.1.2.3"]
    event = await slack.publish(milestone(tenant, "ren"), tenant=tenant, subject="g1")

    row = await finished(slack, tenant, event)
    assert row["status"] == "failed"
    assert "resolves to 10.1.2.3) is a private address" in row["last_error"]
    assert len(row["attempts"]) == 1  # refused for good, not retried
    assert receiver.at(path) == []


async def test_a_slack_redirect_is_refused_not_followed(
    slack: Service, receiver: WebhookReceiver
) -> None:
    tenant, path = unique("t"), f"/services/{unique('T')}/B/X"
    inside = f"/internal/{unique()}"
    # 307 keeps the POST: a client that followed it would post the message to ``inside``
    receiver.script[path] = [(307, {"location": receiver.url(inside)})]
    await with_slack(slack, tenant, "rod", f"http://hooks.slack.test:{receiver.port}{path}")

    event = await slack.publish(milestone(tenant, "rod"), tenant=tenant, subject="g1")

    row = await finished(slack, tenant, event)
    assert row["status"] == "failed"
    assert row["last_error"] == "redirects are not followed"
    assert [a["status_code"] for a in row["attempts"]] == [307]
    assert len(receiver.at(path)) == 1
    assert receiver.at(inside) == []
