"""kpi_ingest's webhook delivery log survives a restart: two app lifespans on one database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.kpi_ingest.config import KpiIngestSettings
from services.kpi_ingest.main import create_app
from tests.integration.kpi_ingest.helpers import create_source, events_before_a_sentinel, send
from tests.support import isolated_settings, running

pytestmark = [pytest.mark.integration]


async def test_a_delivery_published_before_a_restart_is_a_duplicate_after_it() -> None:
    settings = isolated_settings(KpiIngestSettings, rate_limit_burst=10_000)
    now = datetime.now(UTC).replace(microsecond=0)
    batch = {
        "datapoints": [
            {
                "id": f"r{i}",
                "metric": "active_users",
                "value": 10 + i,
                "timestamp": (now - timedelta(minutes=i)).isoformat(),
                "dimensions": {"product": "web"},
            }
            for i in range(2)
        ]
    }
    # the first process: accepts the delivery; its shutdown flushes the log to the store
    async with running(create_app(settings), drop_database=False) as client:
        source_id, secret = await create_source(client, "generic")
        first = await send(client, source_id, secret, batch, msg_id="msg_before_restart")
        assert first.status_code == 202, first.text

    # a new process on the same database: it knows the delivery only by loading the log
    async with running(create_app(settings)) as client:
        again = await send(client, source_id, secret, batch, msg_id="msg_before_restart")
        assert again.status_code == 202, again.text
        assert again.json() == {"status": "duplicate", "accepted": 0}
        published = await events_before_a_sentinel(settings, client, source_id=source_id)

    assert sorted(e.data["source_event_id"] for _, e in published) == ["r0", "r1"]
