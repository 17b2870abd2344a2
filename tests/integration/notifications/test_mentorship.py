"""A mentor is asked, through the real Kafka and store, when a mentee names them (issue 17)."""

from __future__ import annotations

import pytest

from shared.events.people import MentorshipRequested
from tests.integration.notifications.conftest import Service
from tests.integration.notifications.receivers import SmtpSink, text_part
from tests.support import after_sentinel, eventually, unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


def asked(tenant: str, mentorship_id: str, mentor: str, mentee: str) -> MentorshipRequested:
    return MentorshipRequested(
        id=mentorship_id,
        tenant=tenant,
        mentor_id=mentor,
        mentee_id=mentee,
        focus_skills=["data_analysis"],
    )


async def test_a_pending_request_reaches_the_mentors_inbox_and_email_once(
    service: Service, smtp: SmtpSink
) -> None:
    tenant = unique("t")
    mia = await service.person(tenant, "mia")
    await service.person(tenant, "ada")
    m1 = unique("m")
    event = await service.publish(asked(tenant, m1, "mia", "ada"), tenant=tenant, subject=m1)

    inbox = await eventually(lambda: _items(service, tenant, "mia", 1))
    [item] = inbox
    assert (item["category"], item["event_id"]) == ("mentorship", event.id)
    assert item["data"] == {"mentee_id": "ada", "mentorship_id": m1}
    assert item["page"] == "/people/ada"
    [mail] = await eventually(lambda: smtp.to(mia))
    assert "/people/ada" in text_part(mail)
    assert (await service.inbox(tenant, "ada"))["items"] == []  # the mentee is told nothing

    await service.redeliver(event)
    await service.redeliver(event)

    # a sentinel on the same key after the redeliveries: once it is in the inbox, they were
    # handled before it (and would have added an item and an email)
    async def sentinel() -> None:
        await service.publish(asked(tenant, m1, "mia", "ada"), tenant=tenant, subject=m1)

    await after_sentinel(sentinel, lambda: _items(service, tenant, "mia", 2))
    await eventually(lambda: len(smtp.to(mia)) >= 2)
    assert len((await service.inbox(tenant, "mia"))["items"]) == 2
    assert len(smtp.to(mia)) == 2


async def test_a_mentor_who_turned_the_category_off_by_email_only_sees_the_inbox(
    service: Service, smtp: SmtpSink
) -> None:
    tenant = unique("t")
    mia = await service.person(tenant, "mia")
    r = await service.client.put(
        "/v1/preferences",
        json={"channels": {"mentorship": {"email": "off"}}},
        headers=service.auth(tenant, "mia"),
    )
    assert r.status_code == 200, r.text
    m2 = unique("m")
    event = await service.publish(asked(tenant, m2, "mia", "ada"), tenant=tenant, subject=m2)
    await eventually(lambda: _items(service, tenant, "mia", 1))
    rows = await eventually(lambda: service.deliveries(tenant, event.id))
    assert [(r["channel"], r["status"]) for r in rows] == [("inbox", "delivered")]
    assert smtp.to(mia) == []


async def _items(service: Service, tenant: str, sub: str, count: int) -> list[dict] | None:
    items: list[dict] = (await service.inbox(tenant, sub))["items"]
    return items if len(items) >= count else None
