"""The people directory projection on the real document store, fed by the real broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.config import CommonSettings
from shared.directory import PeopleDirectory
from shared.events import new_event
from shared.events.people import (
    MentorshipEnded,
    MentorshipStarted,
    PersonManagerChanged,
    PersonUpserted,
)
from shared.messaging import ConsumerRunner, EventProducer, Router
from shared.mongo import ensure_indexes
from tests.support import after_sentinel, eventually, isolated_settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def db() -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    settings = isolated_settings(CommonSettings, service_name="directory-test")
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    database = client[settings.mongodb_database]
    await ensure_indexes(database, PeopleDirectory.indexes())
    yield database
    await client.drop_database(settings.mongodb_database)
    await client.close()


def person(pid: str, manager: str | None = None, tenant: str = "acme") -> PersonUpserted:
    return PersonUpserted(
        id=pid,
        tenant=tenant,
        user_name=f"{pid}@{tenant}.test",
        display_name=pid.title(),
        manager_id=manager,
    )


async def test_directory_projects_people_chains_and_mentorships(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    # one partition: the records are consumed in publish order, so the effect of a sentinel
    # published last shows that everything before it (the redeliveries too) has been handled
    settings = isolated_settings(CommonSettings, service_name="directory-test", topic_partitions=1)
    directory = PeopleDirectory(db)
    router = Router()
    directory.register(router)
    producer = EventProducer(settings)
    await producer.start()
    runner = ConsumerRunner(settings, group="directory", router=router, producer=producer)
    await runner.start()
    try:
        events = [
            new_event(payload, tenant=payload.tenant, subject=subject, source="test")
            for payload, subject in [
                (person("ceo"), "ceo"),
                (person("vp", "ceo"), "vp"),
                (person("pm", "vp"), "pm"),
                (person("pm", "vp", tenant="other"), "pm"),
                (MentorshipStarted(id="m1", tenant="acme", mentor_id="ceo", mentee_id="pm"), "m1"),
                (MentorshipStarted(id="m2", tenant="acme", mentor_id="vp", mentee_id="pm"), "m2"),
                (MentorshipEnded(id="m2", tenant="acme", mentor_id="vp", mentee_id="pm"), "m2"),
            ]
        ]
        await producer.publish_many(events)
        # a redelivery of everything (the same event ids) changes nothing
        await producer.publish_many(events)

        async def sentinel() -> None:
            await producer.publish(
                new_event(person("sentinel"), tenant="acme", subject="sentinel", source="test")
            )

        await after_sentinel(sentinel, lambda: directory.get("acme", "sentinel"))

        assert await directory.management_chain("acme", "pm") == ["vp", "ceo"]
        assert await directory.manages("acme", "ceo", "pm")
        assert not await directory.manages("acme", "pm", "ceo")
        assert await directory.mentors_of("acme", "pm") == ["ceo"]
        assert [p.id for p in await directory.direct_reports("acme", "ceo")] == ["vp"]
        other = await directory.get("other", "pm")
        assert other is not None
        assert await directory.management_chain("other", "pm") == ["vp"]  # vp unknown in "other"

        await producer.publish(
            new_event(
                PersonManagerChanged(
                    id="pm", tenant="acme", old_manager_id="vp", new_manager_id="ceo"
                ),
                tenant="acme",
                subject="pm",
                source="test",
            )
        )

        async def moved() -> bool:
            return await directory.management_chain("acme", "pm") == ["ceo"]

        await eventually(moved)
    finally:
        await runner.stop()
        await producer.stop()
