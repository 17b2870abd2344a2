"""Use cases on people and groups: load, apply the rules, save with the events in the outbox.

They take and return domain values (``PersonFacts``, ``Person``, ``Group``); the SCIM
endpoints, the HRIS import and the people API each translate at their own edge. A SCIM client
also hands over its own representation of the resource (``scim``), which is stored as it is
and never read here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from services.people.audit import person_audit_events, scim_actor
from services.people.domain import (
    Group,
    GroupFacts,
    Person,
    PersonFacts,
    check_manager,
    group_events,
    person_events,
)
from services.people.repository import PeopleRepository
from shared.audit import Actor
from shared.errors import InvalidInput, NotFound
from shared.observability import get_logger
from shared.orgchart import reports

log = get_logger(__name__)


def utcnow() -> datetime:
    # BSON keeps milliseconds: trim so what we return equals what we read back later
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class DirectorySearch:
    """A page of the directory: a name/e-mail prefix and exact filters (None: any)."""

    q: str | None = None
    manager_id: str | None = None
    department: str | None = None
    active: bool | None = None
    after: str | None = None
    limit: int = 50


class PeopleService:
    """People and groups, whatever the source: SCIM, an HRIS import or the people API."""

    def __init__(
        self,
        repo: PeopleRepository,
        *,
        notify: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.repo = repo
        self._notify = notify
        self._clock = clock

    # ------------------------------------------------------------------ reads

    async def person(self, tenant: str, person_id: str) -> Person:
        person = await self.repo.get_person(tenant, person_id)
        if person is None:
            raise NotFound(f"no person {person_id}")
        return person

    async def everyone(self, tenant: str) -> list[Person]:
        return await self.repo.everyone(tenant)

    async def search(self, tenant: str, search: DirectorySearch) -> list[Person]:
        return await self.repo.list_people(
            tenant,
            q=search.q,
            manager_id=search.manager_id,
            department=search.department,
            active=search.active,
            after=search.after,
            limit=search.limit,
        )

    async def chain(self, tenant: str, person_id: str) -> list[Person]:
        await self.person(tenant, person_id)
        ids = await self.repo.manager_chain(tenant, person_id)
        found = await self.repo.people_by_ids(tenant, ids)
        return [found[i] for i in ids if i in found]

    async def reports(self, tenant: str, person_id: str, *, all_levels: bool) -> list[Person]:
        await self.person(tenant, person_id)
        return await reports(
            person_id,
            lambda level: self.repo.reports_of(tenant, level),
            all_levels=all_levels,
            limit=None,  # the API lists everyone below, however many
        )

    # ------------------------------------------------------------------ people

    async def resolve_manager(self, tenant: str, reference: str | None) -> str | None:
        """Our id of the manager an IdP names (our id, or their externalId/userName).

        Entra sends our SCIM id; Okta sends whatever its admin mapped (often an employee id
        or e-mail). An unknown manager is left unset until the manager is provisioned.
        """
        if not reference:
            return None
        found = await self.repo.by_reference(tenant, reference)
        if found is None:
            log.info("manager not provisioned yet", tenant=tenant, manager=reference)
            return None
        return found.id

    async def check_manager(self, tenant: str, person_id: str, manager_id: str | None) -> None:
        if manager_id is None:
            return
        check_manager(person_id, manager_id, await self.repo.manager_chain(tenant, manager_id))

    async def provision_person(
        self, tenant: str, before: Person | None, facts: PersonFacts, scim: str
    ) -> Person:
        """A person as an identity provider sends them (new when ``before`` is None); their
        manager is the provider's reference, resolved here. The SCIM token acts."""
        facts = facts.with_changes(manager_id=await self.resolve_manager(tenant, facts.manager_id))
        return await self._save(tenant, before, facts, scim=scim, actor=scim_actor())

    async def create_person(
        self, tenant: str, facts: PersonFacts, person_id: str | None = None
    ) -> Person:
        """A new person from an import or the API (the manager is already our id)."""
        if person_id is None:
            return await self._save(tenant, None, facts)
        # an import plans ids ahead so new people can manage each other, and checked them
        return await self._save(tenant, None, facts, person_id=person_id, check=False)

    async def change_person(
        self, tenant: str, person: Person, facts: PersonFacts, *, check: bool = True
    ) -> Person:
        """Apply facts from an import or the people API (the manager is already our id)."""
        return await self._save(tenant, person, facts, check=check)

    async def delete_person(self, tenant: str, person_id: str) -> None:
        """SCIM DELETE: the person leaves every read and is published as deactivated."""
        person = await self.person(tenant, person_id)
        facts = person.facts.with_changes(active=False)
        await self._save(tenant, person, facts, deleted=True, actor=scim_actor())

    async def deactivate(self, tenant: str, person_id: str, *, actor: Actor) -> Person:
        person = await self.person(tenant, person_id)
        if not person.facts.active:
            return person
        facts = person.facts.with_changes(active=False)
        return await self._save(tenant, person, facts, actor=actor)

    async def set_manager(
        self, tenant: str, person_id: str, manager_id: str | None, *, actor: Actor
    ) -> Person:
        person = await self.person(tenant, person_id)
        if manager_id is not None and await self.repo.get_person(tenant, manager_id) is None:
            raise NotFound(f"no person {manager_id} in this tenant")
        facts = person.facts.with_changes(manager_id=manager_id)
        return await self._save(tenant, person, facts, actor=actor)

    async def _save(
        self,
        tenant: str,
        before: Person | None,
        facts: PersonFacts,
        *,
        scim: str | None = None,
        person_id: str | None = None,
        deleted: bool = False,
        check: bool = True,
        actor: Actor | None = None,
    ) -> Person:
        """Store a person with their events; with an ``actor``, the audited actions of the
        change (``person_audit_events``) ride in the same outbox. An import passes none: its
        own record covers every change it makes."""
        person_id = before.id if before else person_id or str(uuid.uuid4())
        if check and (before is None or before.facts.manager_id != facts.manager_id):
            await self.check_manager(tenant, person_id, facts.manager_id)
        now = self._clock()
        if before is None:
            person = Person(person_id, tenant, 1, facts, now, now)
            events = person_events(tenant, person_id, None, facts, 1)
            await self.repo.insert_person(person, events, scim)
        else:
            person = before.changed(facts, now)
            events = person_events(tenant, person_id, before.facts, facts, person.version)
            if actor is not None:
                events += person_audit_events(
                    tenant, actor, person_id, before.facts, facts, deleted=deleted
                )
            await self.repo.update_person(before, person, events, scim, deleted=deleted)
        if events:
            self._notify()
        return person

    # ------------------------------------------------------------------ groups

    async def group(self, tenant: str, group_id: str) -> Group:
        group = await self.repo.get_group(tenant, group_id)
        if group is None:
            raise NotFound(f"no group {group_id}")
        return group

    async def _check_members(self, tenant: str, group_id: str | None, facts: GroupFacts) -> None:
        wanted = set(facts.member_ids)
        if not wanted:
            return
        people = await self.repo.people_by_ids(tenant, sorted(wanted))
        missing = wanted - set(people)
        if group_id in missing:
            raise InvalidInput("a group cannot be its own member", scim_type="invalidValue")
        for member in sorted(missing):
            if await self.repo.get_group(tenant, member) is None:
                raise InvalidInput(f"no user or group {member}", scim_type="invalidValue")

    async def provision_group(
        self, tenant: str, before: Group | None, facts: GroupFacts, scim: str
    ) -> Group:
        """A group as an identity provider sends it (new when ``before`` is None)."""
        await self._check_members(tenant, before.id if before else None, facts)
        now = self._clock()
        if before is None:
            group = Group(str(uuid.uuid4()), tenant, 1, facts, now, now)
            events = group_events(tenant, group.id, None, facts, 1)
            await self.repo.insert_group(group, events, scim)
        else:
            group = before.changed(facts, now)
            events = group_events(tenant, group.id, before.facts, facts, group.version)
            await self.repo.update_group(before, group, events, scim)
        if events:
            self._notify()
        return group

    async def delete_group(self, tenant: str, group_id: str) -> None:
        before = await self.group(tenant, group_id)
        group = before.changed(before.facts, self._clock())
        events = group_events(tenant, group_id, before.facts, None, group.version)
        await self.repo.update_group(before, group, events, None, deleted=True)
        self._notify()
