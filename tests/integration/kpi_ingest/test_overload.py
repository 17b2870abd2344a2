"""Overload is answered, not suffered; redeliveries are accepted; replicas share dedupe and limits.

Each test runs its own kpi_ingest instance(s) on the real broker and store, configured for the
case (a tiny admission bound, a tiny lookup timeout, two replicas sharing one database).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from services.kpi_ingest.config import KpiIngestSettings
from services.kpi_ingest.ingest import Ingest
from services.kpi_ingest.main import create_app
from services.kpi_ingest.repository import DELIVERY_JOURNAL
from tests.integration.kpi_ingest.helpers import create_source, read_events, send, signed
from tests.support import isolated_settings, running, unique

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


def batch(n: int, prefix: str = "p") -> dict[str, object]:
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "datapoints": [
            {
                "id": f"{prefix}{i}",
                "metric": "active_users",
                "value": i,
                "timestamp": (now - timedelta(seconds=i)).isoformat(),
                "dimensions": {"product": "mobile", "region": f"r{i % 7}"},
            }
            for i in range(n)
        ]
    }


def app_of(client: httpx.AsyncClient) -> Any:
    return client._transport.app  # type: ignore[attr-defined]


def ingest_of(client: httpx.AsyncClient) -> Ingest:
    ingest: Ingest = app_of(client).state.kpi_ingest
    return ingest


def settings_for(run_id: str | None = None, **overrides: object) -> KpiIngestSettings:
    return isolated_settings(
        KpiIngestSettings,
        run_id,
        consumers_enabled=False,
        **{"rate_limit_burst": 10_000, **overrides},  # type: ignore[arg-type]
    )


async def test_past_the_admission_bound_webhooks_are_answered_503_with_retry_after_at_once() -> (
    None
):
    settings = settings_for(max_in_flight_requests=2)
    async with running(create_app(settings)) as client:
        source_id, secret = await create_source(client, "generic")
        bodies = [orjson.dumps(batch(1000, prefix=f"b{n}-")) for n in range(12)]

        async def deliver(body: bytes) -> tuple[httpx.Response, float]:
            started = time.perf_counter()
            response = await client.post(
                f"/v1/webhooks/{source_id}", content=body, headers=signed(secret, body)
            )
            return response, time.perf_counter() - started

        answers = await asyncio.gather(*(deliver(b) for b in bodies))

        statuses = Counter(r.status_code for r, _ in answers)
        assert set(statuses) <= {202, 503}, statuses  # never 401, never a 5xx other than 503
        assert statuses[202] >= 2
        assert statuses[503] >= 1
        refused = [(r, took) for r, took in answers if r.status_code == 503]
        for response, _ in refused:
            assert response.headers["retry-after"] == "1"
            assert response.headers["content-type"] == "application/problem+json"
            assert "capacity" in response.json()["detail"]
        # refused at once, not after waiting for the work ahead of it
        slowest_accepted = max(took for r, took in answers if r.status_code == 202)
        assert max(took for _, took in refused) <= slowest_accepted
        # what was accepted is in Kafka, what was refused is not
        records = await read_events(
            settings, expected=1000 * statuses[202], source_id=source_id, timeout=15
        )
        assert len(records) == 1000 * statuses[202]


async def test_a_store_lookup_that_does_not_answer_in_time_is_a_503_not_a_401() -> None:
    settings = settings_for(lookup_timeout_s=0.000_001)
    async with running(create_app(settings)) as client:
        source_id, secret = await create_source(client, "generic")

        response = await send(client, source_id, secret, batch(1))

        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1"


async def test_redeliveries_of_an_accepted_id_are_accepted_and_not_published_again() -> None:
    settings = settings_for()
    async with running(create_app(settings)) as client:
        source_id, secret = await create_source(client, "generic")
        body = orjson.dumps(batch(3))
        url = f"/v1/webhooks/{source_id}"

        first = await client.post(url, content=body, headers=signed(secret, body, msg_id="msg_1"))
        # the sender re-sends the very request it signed 6 minutes ago (its first attempt timed
        # out on its side, but was accepted here): correctly signed, out of tolerance
        old = datetime.now(UTC) - timedelta(minutes=6)
        verbatim = await client.post(
            url, content=body, headers=signed(secret, body, msg_id="msg_1", at=old)
        )
        # and the same id, re-signed now, twice at once
        twice = await asyncio.gather(
            *(
                client.post(url, content=body, headers=signed(secret, body, msg_id="msg_1"))
                for _ in range(2)
            )
        )
        # a correctly signed old request of an id never accepted is a replay: still 401
        never = await client.post(
            url, content=body, headers=signed(secret, body, msg_id="msg_never", at=old)
        )

        assert first.status_code == 202
        assert verbatim.status_code == 202, verbatim.text
        assert verbatim.json() == {"status": "duplicate", "accepted": 0}
        assert [r.status_code for r in twice] == [202, 202]
        assert never.status_code == 401
        records = await read_events(settings, expected=3, source_id=source_id)
        assert len(records) == 3  # every answer is in: nothing more was published


async def test_concurrent_attempts_of_one_new_id_publish_it_once() -> None:
    settings = settings_for()
    async with running(create_app(settings)) as client:
        source_id, secret = await create_source(client, "generic")
        body = orjson.dumps(batch(5))

        answers = await asyncio.gather(
            *(
                client.post(
                    f"/v1/webhooks/{source_id}",
                    content=body,
                    headers=signed(secret, body, msg_id="msg_race"),
                )
                for _ in range(4)
            )
        )

        assert sorted(r.json()["status"] for r in answers) == ["accepted"] + ["duplicate"] * 3
        assert {r.status_code for r in answers} == {202}
        records = await read_events(settings, expected=5, source_id=source_id)
        assert len(records) == 5  # every answer is in: nothing more was published


async def test_two_replicas_share_webhook_id_dedupe_through_the_store() -> None:
    run_id = unique()
    one, two = settings_for(run_id), settings_for(run_id)
    async with (
        running(create_app(one)) as replica_one,
        running(create_app(two), drop_database=False) as replica_two,
    ):
        source_id, secret = await create_source(replica_one, "generic")
        body = orjson.dumps(batch(2))

        first = await send(replica_one, source_id, secret, batch(2), msg_id="msg_shared")
        # what the journal carries within about a second, here at once: one writes, two reads
        await ingest_of(replica_one).deliveries.flush()
        assert await ingest_of(replica_two).deliveries.sync() == 1
        retried = await replica_two.post(
            f"/v1/webhooks/{source_id}",
            content=body,
            headers=signed(secret, body, msg_id="msg_shared"),
        )

        assert first.status_code == 202
        assert retried.status_code == 202
        assert retried.json() == {"status": "duplicate", "accepted": 0}
        records = await read_events(one, expected=2, source_id=source_id)
        assert len(records) == 2  # every answer is in: nothing more was published


async def test_the_delivery_journal_gathers_many_webhooks_into_one_insert() -> None:
    settings = settings_for()
    async with running(create_app(settings)) as client:
        source_id, secret = await create_source(client, "generic")
        deliveries = ingest_of(client).deliveries
        for i in range(20):  # one after another, each answered before the next is sent
            answer = await send(client, source_id, secret, batch(1, f"g{i}_"), msg_id=f"msg_g{i}")
            assert answer.status_code == 202
        await deliveries.flush()

        journal = app_of(client).state.runtime.db[DELIVERY_JOURNAL]
        entries = await journal.find({}).to_list()
    # every accepted id is journaled, in a handful of entries (one each without the gathering)
    assert sorted(key for entry in entries for key in entry["keys"]) == sorted(
        f"{source_id}:msg_g{i}" for i in range(20)
    )
    assert len(entries) <= 5, len(entries)


async def test_two_replicas_share_a_sources_rate_limit() -> None:
    run_id = unique()
    # a window of 600 s holding 6 requests, claimed one lease at a time
    limits = {"rate_limit_per_s": 0.01, "rate_limit_burst": 6, "rate_limit_max_wait_s": 30.0}
    one, two = settings_for(run_id, **limits), settings_for(run_id, **limits)
    if time.time() % 600 > 590:  # keep the test inside one window of the limiter
        await asyncio.sleep(600 - time.time() % 600 + 0.5)
    async with (
        running(create_app(one)) as replica_one,
        running(create_app(two), drop_database=False) as replica_two,
    ):
        source_id, secret = await create_source(replica_one, "generic")

        answers = []
        for n in range(5):
            for replica in (replica_one, replica_two):
                answers.append(await send(replica, source_id, secret, batch(1, prefix=f"r{n}")))

        statuses = Counter(r.status_code for r in answers)
        assert statuses == {202: 6, 429: 4}
        refused = next(r for r in answers if r.status_code == 429)
        assert 1 <= int(refused.headers["retry-after"]) <= 600
