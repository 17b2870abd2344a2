"""Small records the goal aggregate keeps: applied-event guards, timeline entries, events."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from shared.events.envelope import EventPayload

# How many applied-event ids a goal keeps (data points, feedback, manager changes), newest
# last; their guards, in the document every point rewrites, stay 12,000 bytes (packed) whatever
# the history.
# A redelivery is a record re-read after its partition's last commit (the runner commits after
# every fetch, at most 200 records), or an upstream outbox republishing within seconds; it is
# caught while fewer than this many other events moved the goal in between: 5 full fetches,
# or ~100 points/s into that one goal from other replicas during the ~10 s (session timeout) a
# crashed consumer's partitions take to move. A ``latest`` key result ignores a redelivery with
# the point's own timestamp anyway (an older or equal one never overwrites); the window protects
# ``sum`` ones, and ``latest`` ones from the same point sent again with a newer timestamp.
APPLIED_WINDOW = 1000


@dataclass
class Applied:
    """An event already applied to this goal (data point, feedback, manager change), known by
    the digest of its id (``applied_digest``) and when it was applied (whole seconds)."""

    digest: bytes
    at: datetime


# One guard packed: its id's digest, then when it was applied (seconds since the epoch, an
# unsigned 32-bit count, so until 2106). A goal keeps its guards as one binary value: as a list
# of ids and a list of times, FerretDB kept a type entry for every element and decoded all of
# them on every save (1,000 guards: 87 kB of JSON as it keeps them; packed, 12,000 bytes kept
# as 16 kB of base64; docs/bench-load.md).
DIGEST_BYTES = 8
_GUARD = struct.Struct(f">{DIGEST_BYTES}sI")


def applied_digest(event_id: str) -> bytes:
    """The 8 bytes a goal keeps of an applied event's id. Two ids of one goal's 1,000 share one
    with a chance of about 1,000 / 2**64 a new event: no event is plausibly refused for
    another's."""
    return hashlib.blake2b(event_id.encode(), digest_size=DIGEST_BYTES).digest()


def packed_guards(applied: Sequence[Applied]) -> bytes:
    return b"".join(_GUARD.pack(a.digest, int(a.at.timestamp())) for a in applied)


def unpacked_guards(packed: bytes) -> list[Applied]:
    return [
        Applied(digest, datetime.fromtimestamp(seconds, UTC))
        for digest, seconds in _GUARD.iter_unpack(packed)
    ]


@dataclass
class TimelineEntry:
    id: str
    at: datetime
    kind: Literal["progress", "check_in", "feedback", "status", "review"]
    data: dict[str, Any]


@dataclass
class PendingEvent:
    payload: EventPayload
    key: tuple[str, ...] | None = None  # makes the event id deterministic
