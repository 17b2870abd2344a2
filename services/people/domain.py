"""People, the org chart and mentorships: pure rules and the events they record (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Literal

from shared.errors import Conflict, InvalidInput
from shared.events.envelope import Envelope, EventPayload, deterministic_id, new_event
from shared.events.people import (
    GroupDeleted,
    GroupUpserted,
    MentorshipDeclined,
    MentorshipEnded,
    MentorshipRequested,
    MentorshipStarted,
    PersonDeactivated,
    PersonManagerChanged,
    PersonUpserted,
)

SOURCE = "northstar/people"

MentorshipStatus = Literal["pending", "active", "declined", "ended"]


class ManagerCycle(InvalidInput):
    """Setting this manager would make someone their own (indirect) manager."""

    code, title = "manager-cycle", "The manager would create a cycle"


@dataclass(frozen=True)
class PersonFacts:
    """What Northstar knows about a person, whatever the source (SCIM, import, API)."""

    user_name: str
    external_id: str | None = None
    display_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    emails: tuple[str, ...] = ()
    email: str | None = None
    title: str | None = None
    department: str | None = None
    employee_number: str | None = None
    manager_id: str | None = None
    time_zone: str | None = None
    locale: str | None = None
    active: bool = True

    def with_changes(self, **changes: object) -> PersonFacts:
        return replace(self, **changes)  # type: ignore[arg-type]

    def differences(self, other: PersonFacts) -> dict[str, tuple[object, object]]:
        """Field -> (old, new) for every field that differs from ``other`` (the new state)."""
        mine, theirs = asdict(self), asdict(other)
        return {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}


@dataclass(frozen=True)
class Person:
    """A person of a tenant: the facts and their version (each change is one version)."""

    id: str
    tenant: str
    version: int
    facts: PersonFacts
    created: datetime
    last_modified: datetime

    def changed(self, facts: PersonFacts, now: datetime) -> Person:
        return replace(self, version=self.version + 1, facts=facts, last_modified=now)


def snapshot(person_id: str, tenant: str, facts: PersonFacts, *, created: bool) -> PersonUpserted:
    return PersonUpserted(
        id=person_id,
        tenant=tenant,
        external_id=facts.external_id,
        user_name=facts.user_name,
        display_name=facts.display_name,
        emails=list(facts.emails),
        email=facts.email,
        title=facts.title,
        department=facts.department,
        employee_number=facts.employee_number,
        manager_id=facts.manager_id,
        time_zone=facts.time_zone,
        locale=facts.locale,
        active=facts.active,
        created=created,
    )


def _envelope(payload: EventPayload, tenant: str, subject: str, version: int) -> Envelope:
    # the id is derived from the aggregate version, so a retried write records the same ids
    return new_event(
        payload,
        tenant=tenant,
        subject=subject,
        source=SOURCE,
        id=deterministic_id(tenant, subject, str(version), payload.event_type),
    )


def person_events(
    tenant: str,
    person_id: str,
    before: PersonFacts | None,
    after: PersonFacts,
    version: int,
) -> list[Envelope]:
    """The events of one change to a person, ending with the full snapshot (compaction).

    ``version`` is the version the change produces. No change, no events.
    """
    if before is not None and before == after:
        return []
    payloads: list[EventPayload] = []
    if before is not None:
        if before.manager_id != after.manager_id:
            payloads.append(
                PersonManagerChanged(
                    id=person_id,
                    tenant=tenant,
                    old_manager_id=before.manager_id,
                    new_manager_id=after.manager_id,
                )
            )
        if before.active and not after.active:
            payloads.append(PersonDeactivated(id=person_id, tenant=tenant))
    payloads.append(snapshot(person_id, tenant, after, created=before is None))
    return [_envelope(p, tenant, person_id, version) for p in payloads]


def check_manager(person_id: str, manager_id: str | None, chain_of_manager: list[str]) -> None:
    """Refuse a manager that is the person or one of their reports.

    ``chain_of_manager`` is the management chain above ``manager_id`` (its manager first).
    """
    if manager_id is None:
        return
    if manager_id == person_id:
        raise ManagerCycle("a person cannot be their own manager")
    if person_id in chain_of_manager:
        raise ManagerCycle(
            f"{manager_id} reports (directly or not) to {person_id}; "
            "making them their manager would create a cycle"
        )


def find_cycle(managers: Mapping[str, str | None]) -> list[str] | None:
    """A management cycle in ``person -> manager`` (as a list of ids), or None."""
    done: set[str] = set()
    for start in managers:
        path: list[str] = []
        on_path: set[str] = set()
        current: str | None = start
        while current is not None and current not in done:
            if current in on_path:
                return path[path.index(current) :]
            on_path.add(current)
            path.append(current)
            current = managers.get(current)
        done.update(path)
    return None


@dataclass(frozen=True)
class GroupFacts:
    display_name: str
    external_id: str | None = None
    member_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Group:
    id: str
    tenant: str
    version: int
    facts: GroupFacts
    created: datetime
    last_modified: datetime

    def changed(self, facts: GroupFacts, now: datetime) -> Group:
        return replace(self, version=self.version + 1, facts=facts, last_modified=now)


def group_events(
    tenant: str, group_id: str, before: GroupFacts | None, after: GroupFacts | None, version: int
) -> list[Envelope]:
    """group.upserted for a new or changed group, group.deleted for a deleted one."""
    if after is None:
        return [_envelope(GroupDeleted(id=group_id, tenant=tenant), tenant, group_id, version)]
    if before == after:
        return []
    payload = GroupUpserted(
        id=group_id,
        tenant=tenant,
        display_name=after.display_name,
        member_ids=list(after.member_ids),
    )
    return [_envelope(payload, tenant, group_id, version)]


@dataclass
class Mentorship:
    """A mentor and a mentee. HR pairs people directly (``active``); a mentee's own request is
    ``pending`` until the named mentor accepts (``active``) or declines (``declined``), so
    nobody becomes someone's mentor, and receives their celebrations, without agreeing."""

    id: str
    tenant: str
    mentor_id: str
    mentee_id: str
    focus_skills: list[str] = field(default_factory=list)
    status: MentorshipStatus = "active"
    version: int = 1

    @property
    def active(self) -> bool:
        return self.status == "active"

    @classmethod
    def start(
        cls,
        id: str,
        tenant: str,
        mentor_id: str,
        mentee_id: str,
        focus_skills: Iterable[str],
        *,
        pending: bool = False,
    ) -> tuple[Mentorship, list[Envelope]]:
        """Paired at once, or (``pending``) requested from the mentor."""
        if mentor_id == mentee_id:
            raise InvalidInput("a person cannot mentor themselves")
        skills = list(dict.fromkeys(s.strip() for s in focus_skills if s.strip()))
        status: MentorshipStatus = "pending" if pending else "active"
        mentorship = cls(id, tenant, mentor_id, mentee_id, skills, status)
        kind = MentorshipRequested if pending else MentorshipStarted
        event = kind(
            id=id, tenant=tenant, mentor_id=mentor_id, mentee_id=mentee_id, focus_skills=skills
        )
        return mentorship, [_envelope(event, tenant, id, 1)]

    def accept(self) -> list[Envelope]:
        """The mentor agrees: the mentorship starts (the event every consumer already knows)."""
        self._leave("pending", "active")
        event = MentorshipStarted(
            id=self.id,
            tenant=self.tenant,
            mentor_id=self.mentor_id,
            mentee_id=self.mentee_id,
            focus_skills=self.focus_skills,
        )
        return [_envelope(event, self.tenant, self.id, self.version)]

    def decline(self) -> list[Envelope]:
        self._leave("pending", "declined")
        event = MentorshipDeclined(
            id=self.id, tenant=self.tenant, mentor_id=self.mentor_id, mentee_id=self.mentee_id
        )
        return [_envelope(event, self.tenant, self.id, self.version)]

    def _leave(self, expected: MentorshipStatus, to: MentorshipStatus) -> None:
        if self.status != expected:
            raise Conflict(f"this mentorship is {self.status}, not {expected}")
        self.status = to
        self.version += 1

    def end(self) -> list[Envelope]:
        if self.status not in ("active", "pending"):
            raise Conflict(f"this mentorship is already {self.status}")
        self.status = "ended"
        self.version += 1
        event = MentorshipEnded(
            id=self.id, tenant=self.tenant, mentor_id=self.mentor_id, mentee_id=self.mentee_id
        )
        return [_envelope(event, self.tenant, self.id, self.version)]
