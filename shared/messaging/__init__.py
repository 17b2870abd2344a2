"""Producer, consumer runner and embedded-outbox relay (fakes: tests/doubles.py)."""

from shared.messaging.consumer import ConsumerRunner, Router
from shared.messaging.outbox import HasOutbox, Outbox, OutboxRelay, outbox_push, with_outbox
from shared.messaging.producer import EventProducer
from shared.messaging.topics import ensure_topics

__all__ = [
    "ConsumerRunner",
    "EventProducer",
    "HasOutbox",
    "Outbox",
    "OutboxRelay",
    "Router",
    "ensure_topics",
    "outbox_push",
    "with_outbox",
]
