"""No 202 without the records: a private Kafka broker is stopped and started under the service."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from deploy.local.servers import KafkaBroker, free_port
from services.kpi_ingest.config import KpiIngestSettings
from services.kpi_ingest.main import create_app
from tests.integration.kpi_ingest.helpers import create_source, read_events, signed
from tests.support import isolated_settings, running

pytestmark = [pytest.mark.integration, pytest.mark.chaos]


async def test_broker_down_answers_503_and_the_same_request_is_accepted_after_restart(
    tmp_path: Path,
) -> None:
    broker = KafkaBroker(port=free_port(), controller_port=free_port(), name="kpi-kafka")
    process = await asyncio.to_thread(broker.start, tmp_path)
    try:
        settings = isolated_settings(
            KpiIngestSettings,
            kafka_bootstrap_servers=broker.bootstrap,
            consumers_enabled=False,
            publish_timeout_s=3.0,
            topic_partitions=1,
        )
        async with running(create_app(settings)) as client:
            source_id, secret = await create_source(client, "generic")
            now = datetime.now(UTC).isoformat()

            def batch(prefix: str) -> bytes:
                return orjson.dumps(
                    {
                        "datapoints": [
                            {
                                "id": f"{prefix}{i}",
                                "metric": "launches",
                                "value": 1,
                                "timestamp": now,
                            }
                            for i in range(5)
                        ]
                    }
                )

            before = batch("before-")
            accepted = await client.post(
                f"/v1/webhooks/{source_id}", content=before, headers=signed(secret, before)
            )
            assert accepted.status_code == 202

            await asyncio.to_thread(process.stop)
            during = batch("during-")
            headers = signed(secret, during, msg_id="msg_during_outage")
            refused = await client.post(
                f"/v1/webhooks/{source_id}", content=during, headers=headers
            )
            assert refused.status_code == 503
            assert refused.headers["retry-after"].isdigit()
            assert refused.headers["content-type"] == "application/problem+json"

            process = await asyncio.to_thread(broker.start, tmp_path)
            # the sender retries the very same request (same webhook-id, same signature)
            deadline = time.monotonic() + 60
            statuses = []
            while time.monotonic() < deadline:
                retry = await client.post(
                    f"/v1/webhooks/{source_id}", content=during, headers=headers
                )
                statuses.append(retry.status_code)
                if retry.status_code == 202:
                    break
                assert retry.status_code == 503
                await asyncio.sleep(float(retry.headers.get("retry-after", "1")) / 5)
            assert statuses[-1] == 202, statuses

            records = await read_events(settings, expected=10, source_id=source_id, timeout=20)
            ids = {e.data["source_event_id"] for _, e in records}
            # every point of every 202 is in Kafka
            assert {f"before-{i}" for i in range(5)} | {f"during-{i}" for i in range(5)} <= ids
    finally:
        await asyncio.to_thread(process.stop)
