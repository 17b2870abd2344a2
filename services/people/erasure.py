"""GDPR erasure of a person, across every service (docs/people.md#erasure-and-export).

The people service replaces the person's document by an erased marker whose outbox carries
``person.erased`` and the tombstones of the person's key and of their mentorships' keys, in
that one update: nothing is lost between the write and the publish, and once compaction runs
the people topic holds nothing of them. Their reports lose their manager and their groups lose
the member (with the usual events). Each service answers ``person.erasure_completed``; the
marker keeps the per-service status. Repeating an erasure re-runs the clean-up (idempotent) and
publishes nothing new.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from services.people.domain import SOURCE, group_events
from services.people.erasure_repository import ErasureRecords, erased_marker, group_without
from services.people.service import PeopleService, utcnow
from shared.audit import SYSTEM, Actor, audit_event
from shared.errors import NotFound
from shared.events.envelope import Envelope, EventPayload, deterministic_id, new_event
from shared.events.people import MentorshipRemoved, PersonErased, PersonRemoved
from shared.observability import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class ErasureStatus:
    person_id: str
    requested_at: datetime
    completed_at: datetime | None
    services: dict[str, str]  # service -> pending | done

    @property
    def status(self) -> str:
        return "done" if self.completed_at is not None else "pending"

    @classmethod
    def of(cls, doc: dict[str, Any]) -> ErasureStatus:
        erasure = doc["erasure"]
        return cls(
            person_id=doc["_id"],
            requested_at=erasure["requested_at"],
            completed_at=erasure.get("completed_at"),
            services={name: s["status"] for name, s in sorted(erasure["services"].items())},
        )


def _event(payload: EventPayload, tenant: str, subject: str) -> Envelope:
    # deterministic: a retried erasure records the same ids (consumers drop duplicates)
    return new_event(
        payload,
        tenant=tenant,
        subject=subject,
        source=SOURCE,
        id=deterministic_id(tenant, subject, "erased", payload.event_type),
    )


def erasure_events(tenant: str, person_id: str, mentorship_ids: list[str]) -> list[Envelope]:
    """``person.erased``, then the tombstones (the person's key last: its final record)."""
    events = [_event(PersonErased(id=person_id, tenant=tenant), tenant, person_id)]
    events += [
        _event(MentorshipRemoved(id=mid, tenant=tenant), tenant, mid) for mid in mentorship_ids
    ]
    events.append(_event(PersonRemoved(id=person_id, tenant=tenant), tenant, person_id))
    return events


class Redactor(Protocol):
    async def redact(self, tenant: str, person_id: str) -> int: ...


class Forgetter(Protocol):
    async def forget(self, tenant: str, person_id: str) -> int: ...


class Erasures:
    """Erase people and follow each service's completion."""

    def __init__(
        self,
        people: PeopleService,
        records: ErasureRecords,
        services: list[str],
        *,
        notify: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
        audit: Redactor | None = None,
        reports: Forgetter | None = None,
    ) -> None:
        self.people = people
        self.records = records
        self.services = services
        self._notify = notify
        self._clock = clock
        self._audit = audit
        self._reports = reports

    async def erase(
        self, tenant: str, person_id: str, *, by: str, actor: Actor = SYSTEM
    ) -> ErasureStatus:
        doc = await self.records.stored_person(tenant, person_id)
        if doc is None:
            raise NotFound(f"no person {person_id}")
        if not doc.get("erased"):
            await self._clear_links(tenant, person_id, actor)
            mentorships = await self.records.mentorship_ids(tenant, person_id)
            events = erasure_events(tenant, person_id, mentorships)
            # the erasure's own record, in the marker's outbox with its events: once, by whom
            # and when (the person's id in it is stored redacted, like every record naming them)
            events.append(
                audit_event(
                    tenant=tenant,
                    actor=actor,
                    action="person.erased",
                    object_type="person",
                    object_id=person_id,
                    service="people",
                    details={"services": list(self.services)},
                    at=self._clock(),
                )
            )
            marker = erased_marker(doc, events, self.services, self._clock(), by)
            await self.records.mark_erased(doc, marker)
            self._notify()
            log.info("person erased", tenant=tenant, person_id=person_id)
            doc = marker
        # the rest is idempotent: a crash after the marker is finished by a repeat
        await self.records.delete_mentorships(
            tenant, await self.records.mentorship_ids(tenant, person_id)
        )
        await self.records.delete_exports(tenant, person_id)
        if self._audit is not None:
            # the trail keeps what was done, not to whom: the person's id is redacted in it
            # (records arriving later are redacted as they are stored)
            await self._audit.redact(tenant, person_id)
        if self._reports is not None:
            # the reports' facts about the person go (later events about them are dropped)
            await self._reports.forget(tenant, person_id)
        return ErasureStatus.of(doc)

    async def _clear_links(self, tenant: str, person_id: str, actor: Actor) -> None:
        """Reports lose their manager and groups the member, each with its usual events, so
        the last record of every other key on the people topic no longer names the person;
        the reports' manager changes are audited as the erasing admin's."""
        for report_id in await self.records.report_ids(tenant, person_id):
            await self.people.set_manager(tenant, report_id, None, actor=actor)
        for stored in await self.records.groups_with(tenant, person_id):
            before = await self.people.group(tenant, stored["_id"])
            members = tuple(m for m in before.facts.member_ids if m != person_id)
            after = before.changed(replace(before.facts, member_ids=members), self._clock())
            events = group_events(tenant, before.id, before.facts, after.facts, after.version)
            await self.people.repo.update_group(
                before, after, events, group_without(stored.get("scim"), person_id)
            )
            self._notify()
        await self.records.forget_in_deleted_groups(tenant, person_id)

    async def status(self, tenant: str, person_id: str) -> ErasureStatus:
        doc = await self.records.stored_person(tenant, person_id)
        if doc is None or not doc.get("erased"):
            raise NotFound(f"no erasure of {person_id}")
        return ErasureStatus.of(doc)

    async def service_done(self, tenant: str, person_id: str, service: str) -> None:
        await self.records.service_done(tenant, person_id, service, self._clock())
