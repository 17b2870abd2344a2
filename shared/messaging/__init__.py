"""Producer, consumer runner, embedded-outbox relay and an in-memory broker for unit tests."""

from shared.messaging.consumer import ConsumerRunner, Router
from shared.messaging.memory import InMemoryBroker
from shared.messaging.outbox import HasOutbox, Outbox, OutboxRelay, outbox_push, with_outbox
from shared.messaging.producer import EventProducer
from shared.messaging.topics import ensure_topics

__all__ = [
    "ConsumerRunner",
    "EventProducer",
    "HasOutbox",
    "InMemoryBroker",
    "Outbox",
    "OutboxRelay",
    "Router",
    "ensure_topics",
    "outbox_push",
    "with_outbox",
]
