"""Events of the GDPR erasure on ``northstar.privacy.v1`` (published by every service).

Each service answers ``person.erased`` (people topic) with ``person.erasure_completed`` once
it has erased what it holds about the person; the people service follows them per service.
"""

from __future__ import annotations

from shared.events.envelope import EventPayload, event
from shared.events.topics import PRIVACY


@event("northstar.person.erasure_completed.v1", PRIVACY)
class PersonErasureCompleted(EventPayload):
    """``service`` holds nothing more about the person ``id``."""

    id: str
    tenant: str
    service: str
