"""The producer's cached partitioner places every key where Kafka's default partitioner does."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from shared.events.kpi import series_key
from shared.messaging.producer import CachedPartitioner


def test_cached_partitioning_equals_kafkas_default() -> None:
    cached, default = CachedPartitioner(max_keys=3), DefaultPartitioner()
    keys = [series_key("acme", "csat", {"region": f"r{i}"}).encode() for i in range(50)]
    keys += [b"p1", b"", "é".encode()]

    for partitions in ([0], [0, 1], list(range(12))):
        for key in keys + keys:  # the second time from the cache (or after it was cleared)
            assert cached(key, partitions, partitions) == default(key, partitions, partitions)
