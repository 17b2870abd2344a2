"""Topic creation at start-up, with partitions and replication from settings."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from shared.config import CommonSettings
from shared.events.topics import COMPACTED, dlq


async def ensure_topics(
    settings: CommonSettings, names: Iterable[str], *, with_dlq: Iterable[str] = ()
) -> None:
    """Create the logical topics (and the DLQ twins of ``with_dlq``) that don't exist yet."""
    wanted = {settings.topic(name): name for name in names}
    wanted.update({settings.topic(dlq(name)): dlq(name) for name in with_dlq})
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=15_000
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=physical,
                num_partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication,
                topic_configs=_configs(settings, logical),
            )
            for physical, logical in wanted.items()
            if physical not in existing
        ]
        if missing:
            response = await admin.create_topics(missing)
            for name, code, message in getattr(response, "topic_errors", []):
                # 36: another replica created it first, which is fine
                if code not in (0, TopicAlreadyExistsError.errno):
                    raise KafkaError(f"could not create topic {name}: {message} (code {code})")
    finally:
        await admin.close()


def _configs(settings: CommonSettings, logical: str) -> dict[str, str]:
    configs = {"min.insync.replicas": str(min(2, settings.topic_replication))}
    if logical in COMPACTED:
        configs["cleanup.policy"] = "compact"
    return configs
