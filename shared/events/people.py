"""Events of the people service on ``northstar.people.v1`` (compacted; key = aggregate id).

Every change to a person ends with a ``person.upserted`` snapshot in the same outbox batch, so
the last record per person on the compacted topic is always their full state.
"""

from __future__ import annotations

from typing import ClassVar

from shared.events.envelope import EventPayload, event
from shared.events.topics import PEOPLE


class PersonSnapshot(EventPayload):
    id: str
    tenant: str
    external_id: str | None = None
    user_name: str
    display_name: str | None = None
    emails: list[str] = []
    email: str | None = None  # the primary (work) address
    title: str | None = None
    department: str | None = None
    employee_number: str | None = None
    manager_id: str | None = None
    time_zone: str | None = None
    locale: str | None = None
    active: bool = True


@event("northstar.person.upserted.v1", PEOPLE)
class PersonUpserted(PersonSnapshot):
    """The full current state of a person (created or changed)."""

    created: bool = False


@event("northstar.person.deactivated.v1", PEOPLE)
class PersonDeactivated(EventPayload):
    id: str
    tenant: str


@event("northstar.person.manager_changed.v1", PEOPLE)
class PersonManagerChanged(EventPayload):
    id: str
    tenant: str
    old_manager_id: str | None = None
    new_manager_id: str | None = None


@event("northstar.group.upserted.v1", PEOPLE)
class GroupUpserted(EventPayload):
    id: str
    tenant: str
    display_name: str
    member_ids: list[str] = []


@event("northstar.group.deleted.v1", PEOPLE)
class GroupDeleted(EventPayload):
    id: str
    tenant: str


@event("northstar.mentorship.started.v1", PEOPLE)
class MentorshipStarted(EventPayload):
    id: str
    tenant: str
    mentor_id: str
    mentee_id: str
    focus_skills: list[str] = []


@event("northstar.mentorship.requested.v1", PEOPLE)
class MentorshipRequested(EventPayload):
    """A mentee asked someone to mentor them; nothing starts until the mentor accepts (then
    ``mentorship.started``) or declines (``mentorship.declined``)."""

    id: str
    tenant: str
    mentor_id: str
    mentee_id: str
    focus_skills: list[str] = []


@event("northstar.mentorship.declined.v1", PEOPLE)
class MentorshipDeclined(EventPayload):
    id: str
    tenant: str
    mentor_id: str
    mentee_id: str


@event("northstar.mentorship.ended.v1", PEOPLE)
class MentorshipEnded(EventPayload):
    id: str
    tenant: str
    mentor_id: str
    mentee_id: str


@event("northstar.person.erased.v1", PEOPLE)
class PersonErased(EventPayload):
    """The person was erased (GDPR): every service deletes or anonymises what it holds about
    them and answers with ``person.erasure_completed``. Carries no personal data."""

    id: str
    tenant: str


@event("northstar.person.removed.v1", PEOPLE)
class PersonRemoved(EventPayload):
    """Written as a Kafka tombstone (the person's key with a null value) after ``person.erased``,
    so compaction drops every earlier record of the person from the people topic. Consumers
    never see this payload: a null value reaches ``Router.on_tombstone`` handlers instead."""

    tombstone: ClassVar[bool] = True

    id: str
    tenant: str


@event("northstar.mentorship.removed.v1", PEOPLE)
class MentorshipRemoved(EventPayload):
    """Tombstone of a mentorship of an erased person (as ``person.removed``)."""

    tombstone: ClassVar[bool] = True

    id: str
    tenant: str
