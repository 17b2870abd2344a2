"""The reduced fault suite `make test` runs: the same invariants as `make chaos`, shorter faults.

One private Kafka broker and document store for the module (never the shared servers); each
scenario starts its own services as processes, with its own topics and databases.
`python -m tests.chaos.run` runs every scenario at full length.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.chaos.base import REDUCED
from tests.chaos.harness import Cluster
from tests.chaos.run import run_one

pytestmark = [
    pytest.mark.integration,
    pytest.mark.chaos,
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.timeout(240),
]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def cluster() -> AsyncIterator[Cluster]:
    async with Cluster() as private:
        yield private


async def passes(cluster: Cluster, name: str) -> None:
    result = await run_one(cluster, name, REDUCED)
    assert result.passed, result.summary()


async def test_forged_stale_and_replayed_signatures_are_401_and_record_nothing(
    cluster: Cluster,
) -> None:
    await passes(cluster, "signatures")


async def test_every_point_answered_202_is_in_kafka_after_kill_9_of_the_ingest(
    cluster: Cluster,
) -> None:
    await passes(cluster, "kill-ingest")


async def test_goal_progress_counts_each_distinct_point_once_across_a_kill_9_of_goals(
    cluster: Cluster,
) -> None:
    await passes(cluster, "kill-goals")


async def test_a_stopped_broker_gives_503_never_a_202_without_records_and_loses_nothing(
    cluster: Cluster,
) -> None:
    await passes(cluster, "broker-outage")


async def test_poison_records_land_in_the_dlq_once_per_group_and_nothing_else_does(
    cluster: Cluster,
) -> None:
    await passes(cluster, "poison")


async def test_a_stopped_document_store_pauses_consumers_dead_letters_nothing_loses_nothing(
    cluster: Cluster,
) -> None:
    await passes(cluster, "store-outage")
