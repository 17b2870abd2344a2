"""GDPR erasure and export across the six services, on the real Kafka and document store.

The world of the tenant-isolation test (people over SCIM, a group and a mentorship, goals with
a check-in and a timeline, feedback about the person, praise, preferences, an inbox item, a
review), plus feedback the person GAVE. Then:

- an export as the person holds each service's part;
- an erasure reaches "done" for every service, after which no document of any service's
  database holds the person's id, e-mail or name (the people service keeps one marker with the
  id only), and feedback they gave keeps its ratings without author or comments;
- a projection rebuilt from the people topic from scratch (a new consumer group on the real
  runner) never holds them, and no tombstone was dead-lettered;
- a second erasure publishes nothing and changes nothing;
- a goal event about them read after the erasure (it travels on another topic than
  ``person.erased``) is made into nothing in any service.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import date, timedelta
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from services.feedback.config import FeedbackSettings
from services.goals.config import GoalsSettings
from services.kpi_ingest.config import KpiIngestSettings
from services.notifications.config import NotificationsSettings
from services.people.config import PeopleSettings
from services.reviews.config import ReviewsSettings
from services.web.config import WebSettings
from services.web.main import create_app as web_app
from services.web.sessions import Identity
from shared.directory import PeopleDirectory
from shared.erasure import ERASED, ErasedPeople
from shared.events import new_event, topics
from shared.events.feedback import FeedbackGiven
from shared.events.goals import GoalMilestoneReached
from shared.messaging import ConsumerRunner, EventProducer, Router, ensure_topics
from tests.integration.notifications.receivers import SmtpSink, WebhookReceiver
from tests.integration.test_tenant_isolation import (
    APPS,
    World,
    _ok,
    _seed_feedback,
    _seed_goals,
    _seed_notifications,
    _seed_people,
    _seed_reviews,
    receiver,
    smtp,
)
from tests.support import (
    bearer,
    eventually,
    isolated_settings,
    published,
    read_topic_to_end,
    running,
    unique,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

__all__ = ["receiver", "smtp"]  # the module-scoped fixtures, shared with the isolation test

SERVICES = ("feedback", "goals", "notifications", "reviews", "web")


class ServiceRoutes(httpx.AsyncBaseTransport):
    """The export's calls to ``http://<service>/...`` answered by the in-process apps."""

    def __init__(self, apps: dict[str, FastAPI]) -> None:
        self.apps = apps

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = httpx.ASGITransport(app=self.apps[request.url.host])
        return await transport.handle_async_request(request)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(smtp: SmtpSink, receiver: WebhookReceiver) -> AsyncIterator[World]:
    run_id = unique()
    apps: dict[str, FastAPI] = {}
    settings = {
        "people": isolated_settings(
            PeopleSettings,
            run_id,
            service_urls={name: f"http://{name}" for name in SERVICES},
        ),
        "goals": isolated_settings(GoalsSettings, run_id, scheduler_enabled=False),
        "feedback": isolated_settings(FeedbackSettings, run_id),
        "kpi_ingest": isolated_settings(KpiIngestSettings, run_id),
        "notifications": isolated_settings(
            NotificationsSettings,
            run_id,
            smtp_port=smtp.port,
            outbound_allow_list=[f"127.0.0.1:{receiver.port}"],
            worker_poll_interval_s=0.1,
        ),
        "reviews": isolated_settings(ReviewsSettings, run_id, scheduler_enabled=False),
        "web": isolated_settings(WebSettings, run_id),
    }
    await ensure_topics(settings["goals"], topics.ALL, with_dlq=topics.ALL)
    for name, create in APPS.items():
        if name == "people":
            apps[name] = create(settings[name], export_transport=ServiceRoutes(apps))
        else:
            apps[name] = create(settings[name])
    apps["web"] = web_app(settings["web"])
    async with AsyncExitStack() as stack:
        clients = {
            name: await stack.enter_async_context(running(app)) for name, app in apps.items()
        }
        w = World(clients, apps, tenant_a=unique("ta-"), tenant_b=unique("tb-"))
        mark = unique("secret")
        w.markers.add(mark)
        await _seed_people(w, mark)
        await _seed_goals(w, mark)
        await _seed_feedback(w, mark)
        await _seed_notifications(w, mark, receiver)
        await _seed_reviews(w, mark)
        await _seed_feedback_given(w, mark)
        # the owner is signed in to the web app
        identity = Identity(w.tenant_a, w.ids["owner"], name=f"owner {mark}")
        await apps["web"].state.sessions.open(identity)
        w.ids["mark"] = mark
        yield w


async def _seed_feedback_given(w: World, mark: str) -> None:
    """The owner answers a named request about their manager, and praises them."""
    feedback = w.clients["feedback"]
    request = _ok(
        await feedback.post(
            "/v1/feedback-requests",
            json={
                "subject_id": w.ids["manager"],
                "reviewers": [{"person_id": w.ids["owner"], "relationship": "peer"}],
                "skills": ["ux_design"],
                "due_date": (date.today() + timedelta(days=7)).isoformat(),
            },
            headers=w.a(w.ids["manager"]),
        )
    )
    w.ids["given_request"] = request["id"]
    _ok(
        await feedback.post(
            f"/v1/feedback-requests/{request['id']}/responses",
            json={"ratings": {"ux_design": 4}, "comments": f"given {mark}"},
            headers=w.a(w.ids["owner"]),
        )
    )
    _ok(
        await feedback.post(
            "/v1/feedback",
            json={"to": w.ids["manager"], "comment": f"thanks {mark}", "visibility": "private"},
            headers=w.a(w.ids["owner"]),
        )
    )


def _traces(w: World) -> list[str]:
    """What identifies the owner: their id, e-mail/userName and display name."""
    mark = w.ids["mark"]
    return [w.ids["owner"], f"owner-{mark}@tenant-a.com", f"owner {mark}"]


async def _found_in_databases(w: World) -> list[str]:
    """Every (database, collection, _id, trace) where a document names the owner; the
    people service's erased marker, and a service's list of the erased (ErasedPeople), may
    keep the id and nothing else."""
    found: list[str] = []
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        w.apps["people"].state.settings.mongodb_uri
    )
    try:
        for name, app in w.apps.items():
            db = mongo[app.state.settings.mongodb_database]
            for collection in await db.list_collection_names():
                async for doc in db[collection].find({}):
                    text = orjson.dumps(doc, default=str).decode()
                    for trace in _traces(w):
                        if trace not in text:
                            continue
                        marker = (
                            name == "people" and collection == "people" and doc.get("erased")
                        ) or collection == ErasedPeople.COLLECTION
                        if marker and trace == w.ids["owner"]:
                            rest = {
                                k: v
                                for k, v in doc.items()
                                if k not in ("_id", "user_name_key", "person_id")
                            }
                            if w.ids["owner"] not in orjson.dumps(rest, default=str).decode():
                                continue
                        found.append(f"{name}.{collection} {doc['_id']}: {trace}")
    finally:
        await mongo.close()
    return found


async def test_an_export_holds_each_services_part(world: World) -> None:
    owner = world.ids["owner"]
    people = world.clients["people"]
    created = _ok(await people.post(f"/v1/people/{owner}/export", headers=world.a(owner)))
    assert created["status"] == "ready", created
    world.ids["export"] = created["id"]
    assert set(created["services"]) == {"people", *SERVICES}
    got = _ok(
        await people.get(f"/v1/people/{owner}/exports/{created['id']}", headers=world.a(owner)),
        200,
    )
    archive = got["archive"]
    assert archive["people"]["people"][0]["display_name"] == f"owner {world.ids['mark']}"
    assert world.ids["goal"] in [g["_id"] for g in archive["goals"]["goals"]]
    # a timeline entry waits in its goal until a batch of them moves to the timeline collection
    entries = archive["goals"]["goal_timeline"] + [
        e for g in archive["goals"]["goals"] for e in g.get("pending_timeline", [])
    ]
    assert "check_in" in [e["kind"] for e in entries], entries
    assert archive["feedback"]["requests_about_them"][0]["id"] == world.ids["request"]
    assert archive["feedback"]["requests_they_were_asked"][0]["responses"][0]["comments"] == (
        f"given {world.ids['mark']}"
    )
    assert archive["notifications"]["preferences"][0]["time_zone"] == "Pacific/Chatham"
    assert archive["reviews"]["reviews"][0]["id"] == world.ids["review"]
    [session] = archive["web"]["sessions"]
    assert "csrf_token" not in session
    assert session["name"] == f"owner {world.ids['mark']}"
    # somebody else's export is not theirs to read, nor to ask for
    other = world.a(world.ids["reviewer"])
    assert (
        await people.get(f"/v1/people/{owner}/exports/{created['id']}", headers=other)
    ).status_code == 403
    assert (await people.post(f"/v1/people/{owner}/export", headers=other)).status_code == 403
    assert (
        await world.clients["goals"].get(f"/v1/people/{owner}/data", headers=other)
    ).status_code == 403


async def test_an_erasure_leaves_no_trace_in_any_service(world: World) -> None:
    owner = world.ids["owner"]
    people = world.clients["people"]
    hr = world.a("hr", "hr_admin")
    assert await _found_in_databases(world), "the world names the owner before the erasure"
    assert (
        await people.post(f"/v1/people/{owner}/erasure", headers=world.a(owner))
    ).status_code == 403, "an employee cannot erase"
    asked = time.monotonic()
    started = _ok(await people.post(f"/v1/people/{owner}/erasure", headers=hr), 202)
    assert started["status"] == "pending"
    assert set(started["services"]) == set(SERVICES)

    async def done() -> dict[str, Any] | None:
        r = await people.get(f"/v1/people/{owner}/erasure", headers=hr)
        body = r.json()
        return body if body["status"] == "done" else None

    status = await eventually(done, timeout=60, interval=0.1)
    print(f"erasure done in every service {time.monotonic() - asked:.2f} s after the request")
    assert set(status["services"].values()) == {"done"}
    assert (await people.get(f"/v1/people/{owner}", headers=hr)).status_code == 404

    # the reports' new manager and groups' new members travel over Kafka too
    async def clean() -> bool:
        return not await _found_in_databases(world)

    try:
        await eventually(clean, timeout=30, interval=0.5)
    except AssertionError:
        raise AssertionError(await _found_in_databases(world)) from None

    # feedback they gave keeps the rating, without its author or words
    runtime = world.apps["feedback"].state.runtime
    given = await runtime.db["feedback_requests"].find_one(
        {"tenant": world.tenant_a, "id": world.ids["given_request"]}
    )
    [response] = given["responses"]
    assert response["ratings"] == {"ux_design": 4}
    assert response["comments"] is None
    assert response["reviewer_id"] is None
    assert [r["person_id"] for r in given["reviewers"]] == [ERASED]
    # another tenant's erasure endpoint knows nothing of it
    assert (
        await people.get(
            f"/v1/people/{owner}/erasure", headers=bearer(world.tenant_b, "x", "hr_admin")
        )
    ).status_code == 404
    # the erasure is in the audit trail once, by the HR admin, without the person's id
    assert [(r["actor"]["id"], r["object"]["id"]) for r in await _erasure_records(world)] == [
        ("hr", ERASED)
    ]


async def _erasure_records(world: World) -> list[dict[str, Any]]:
    async def found() -> list[dict[str, Any]] | None:
        r = await world.clients["people"].get(
            "/v1/audit", params={"action": "person.erased"}, headers=world.a("hr", "hr_admin")
        )
        assert r.status_code == 200, r.text
        return list(r.json()["items"]) or None

    records = await eventually(found, timeout=30, interval=0.2)
    await asyncio.sleep(1.0)  # a second record, if one were coming, has had time to land
    return list(await found() or records)


async def test_no_tombstone_was_dead_lettered(world: World) -> None:
    settings = world.apps["people"].state.settings
    records = await read_topic_to_end(settings, topics.dlq(topics.PEOPLE))
    assert records == []


async def test_a_projection_rebuilt_from_the_people_topic_never_holds_them(world: World) -> None:
    settings = world.apps["people"].state.settings
    owner = world.ids["owner"]
    await published(
        world.apps["people"],
        topics.PEOPLE,
        lambda records: any(r.key == owner.encode() and r.value is None for r in records),
    )
    group = unique("rebuild-")
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
    db = mongo[f"t{group}_rebuild"]
    directory = PeopleDirectory(db)
    router = Router()
    directory.register(router)
    producer = EventProducer(settings)
    await producer.start()
    runner = ConsumerRunner(settings, group=group, router=router, producer=producer)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        ends = await _end_offsets(settings, topics.PEOPLE)
        await runner.start()

        async def caught_up() -> bool:
            committed = await admin.list_consumer_group_offsets(settings.topic(group))
            # a partition no record went to has nothing to commit (its end is 0)
            return all(
                end == 0 or (tp in committed and committed[tp].offset >= end)
                for tp, end in ends.items()
            )

        await eventually(caught_up, timeout=60, interval=0.3)
        assert await directory.get(world.tenant_a, world.ids["manager"]) is not None
        assert await directory.get(world.tenant_a, owner) is None
        async for doc in db[PeopleDirectory.PEOPLE].find({}):
            assert owner not in orjson.dumps(doc, default=str).decode(), doc
        assert await db[PeopleDirectory.MENTORSHIPS].count_documents({}) == 0
    finally:
        await runner.stop()
        await producer.stop()
        await admin.close()
        await mongo.drop_database(db.name)
        await mongo.close()


async def _end_offsets(settings: PeopleSettings, topic: str) -> dict[TopicPartition, int]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        settings.topic(topic), bootstrap_servers=settings.kafka_bootstrap_servers
    )
    await consumer.start()
    try:
        # without a group every partition is assigned, once the topic's metadata is known
        partitions = await eventually(consumer.assignment, timeout=15)
        return dict(await consumer.end_offsets(list(partitions)))
    finally:
        await consumer.stop()


async def test_a_second_erasure_changes_nothing(world: World) -> None:
    owner = world.ids["owner"]
    people = world.clients["people"]
    hr = world.a("hr", "hr_admin")
    before = await published(world.apps["people"], topics.PEOPLE)
    first = _ok(await people.get(f"/v1/people/{owner}/erasure", headers=hr), 200)
    again = _ok(await people.post(f"/v1/people/{owner}/erasure", headers=hr), 202)
    assert again == first
    after = await published(world.apps["people"], topics.PEOPLE)
    assert len(after) == len(before), "a repeated erasure publishes nothing"
    assert len(await _erasure_records(world)) == 1, "a repeated erasure records nothing"
    assert await _found_in_databases(world) == []
    # nothing is left to export, and the exports made before the erasure are gone with it
    assert (
        await people.post(f"/v1/people/{owner}/export", headers=world.a(owner))
    ).status_code == 404
    assert world.ids["export"]
    gone = await people.get(f"/v1/people/{owner}/exports/{world.ids['export']}", headers=hr)
    assert gone.status_code == 404


async def test_an_event_about_them_read_after_the_erasure_is_made_into_nothing(
    world: World,
) -> None:
    """A milestone of their goal and praise to and from them, published before the erasure and
    read after it: no inbox item for their manager or mentor, no webhook delivery, no binding,
    no report row, no evidence about them; praise they gave is kept unnamed."""
    owner, reviewer, tenant = world.ids["owner"], world.ids["reviewer"], world.tenant_a
    goal = world.ids["goal"]

    def milestone(owner_id: str, goal_id: str) -> Any:
        payload = GoalMilestoneReached(
            goal_id=goal_id,
            tenant=tenant,
            owner_id=owner_id,
            title="A late milestone",
            horizon="short_term",
            status="active",
            progress=0.5,
            milestone="0.5",
            bound_metrics=["adoption_rate"],
        )
        # one subject, one partition: the control is read after the late event
        return new_event(payload, tenant=tenant, subject=goal, source="northstar/goals")

    def praise(from_id: str, to_id: str) -> Any:
        payload = FeedbackGiven(
            feedback_id=unique("f-"), tenant=tenant, from_id=from_id, to_id=to_id
        )
        return new_event(payload, tenant=tenant, subject="praise", source="northstar/feedback")

    manager = world.ids["manager"]
    late, control = milestone(owner, goal), milestone(reviewer, unique("g-"))
    praised, praising = praise(reviewer, owner), praise(owner, manager)
    praise_control = praise(reviewer, manager)
    producer = EventProducer(world.apps["goals"].state.settings)
    await producer.start()
    try:
        await producer.publish_many([late, control, praised, praising, praise_control])
    finally:
        await producer.stop()
    inbox = world.apps["notifications"].state.runtime.db["notifications"]
    evidence = world.apps["reviews"].state.runtime.db["evidence"]

    async def controls_in() -> bool:
        told = await inbox.find_one({"tenant": tenant, "event_id": control.id})
        kept = await evidence.find_one({"_id": f"{tenant}:{praise_control.id}:0"})
        return told is not None and kept is not None

    await eventually(controls_in, timeout=30, interval=0.2)
    await asyncio.sleep(1.0)  # the other services' consumers read the same records
    assert await _found_in_databases(world) == []
    # praise they gave stays evidence for the one praised, from no one named
    kept = await evidence.find_one({"_id": f"{tenant}:{praising.id}:0"})
    assert kept is not None
    assert (kept["from_id"], kept["person_id"]) == (ERASED, manager)
