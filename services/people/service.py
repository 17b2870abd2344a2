"""Use cases on people and groups: load, apply the rules, save with the events in the outbox."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from scim2_models import Group

from services.people.domain import (
    MAX_CHAIN,
    PersonFacts,
    check_manager,
    group_events,
    person_events,
)
from services.people.repository import GroupRecord, PeopleRepository, PersonRecord
from services.people.scim import protocol
from services.people.scim.protocol import UserResource
from shared.errors import InvalidInput, NotFound
from shared.observability import get_logger

log = get_logger(__name__)


def utcnow() -> datetime:
    # BSON keeps milliseconds: trim so what we return equals what we read back later
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


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

    # ------------------------------------------------------------------ people

    async def person(self, tenant: str, person_id: str) -> PersonRecord:
        record = await self.repo.get_person(tenant, person_id)
        if record is None:
            raise NotFound(f"no person {person_id}")
        return record

    async def resolve_manager(self, tenant: str, reference: str | None) -> str | None:
        """Our id of the manager an IdP names (our id, or their externalId/userName).

        Entra sends our SCIM id; Okta sends whatever its admin mapped (often an employee id
        or e-mail). An unknown manager is left unset until the manager is provisioned.
        """
        if not reference:
            return None
        if await self.repo.get_person(tenant, reference) is not None:
            return reference
        for query in (
            {"external_id": reference},
            {"user_name_key": reference.lower()},
            {"employee_number_key": reference.lower()},
        ):
            found = await self.repo.find_people(tenant, query, limit=1)
            if found:
                return found[0].id
        log.info("manager not provisioned yet", tenant=tenant, manager=reference)
        return None

    async def check_manager(self, tenant: str, person_id: str, manager_id: str | None) -> None:
        if manager_id is None:
            return
        chain = await self.repo.manager_chain(tenant, manager_id, MAX_CHAIN)
        check_manager(person_id, manager_id, chain)

    async def save_user(
        self,
        tenant: str,
        before: PersonRecord | None,
        user: UserResource,
        *,
        facts: PersonFacts | None = None,
        deleted: bool = False,
        check: bool = True,
    ) -> PersonRecord:
        """Store a SCIM user (new when ``before`` is None) and record its events."""
        if facts is None:
            facts = protocol.user_facts(user)
            facts = facts.with_changes(
                manager_id=await self.resolve_manager(tenant, facts.manager_id)
            )
        if deleted:
            facts = facts.with_changes(active=False)
        person_id = before.id if before else str(uuid.uuid4())
        if check and (before is None or before.facts.manager_id != facts.manager_id):
            await self.check_manager(tenant, person_id, facts.manager_id)
        now = self._clock()
        scim = protocol.dump_resource(user)
        if before is None:
            events = person_events(tenant, person_id, None, facts, 1)
            record = await self.repo.insert_person(tenant, person_id, facts, scim, events, now)
        else:
            events = person_events(tenant, person_id, before.facts, facts, before.version + 1)
            await self.repo.update_person(before, facts, scim, events, now, deleted=deleted)
            record = PersonRecord(
                person_id, tenant, before.version + 1, facts, scim, before.created, now
            )
        if events:
            self._notify()
        return record

    async def delete_user(self, tenant: str, person_id: str) -> None:
        """SCIM DELETE: the person leaves every read and is published as deactivated."""
        record = await self.person(tenant, person_id)
        user = protocol.load_user(record.scim)
        user.active = False
        await self.save_user(tenant, record, user, facts=record.facts, deleted=True)

    async def change_facts(
        self,
        tenant: str,
        record: PersonRecord,
        facts: PersonFacts,
        users_url: str,
        *,
        check: bool = True,
    ) -> PersonRecord:
        """Apply facts from an import or the people API (the manager is already our id)."""
        user = protocol.load_user(record.scim)
        protocol.apply_facts(user, facts, users_url)
        return await self.save_user(tenant, record, user, facts=facts, check=check)

    async def create_from_facts(
        self, tenant: str, facts: PersonFacts, users_url: str, person_id: str | None = None
    ) -> PersonRecord:
        user = protocol.new_user(facts, users_url)
        if person_id is None:
            return await self.save_user(tenant, None, user, facts=facts)
        # an import plans ids ahead so new people can manage each other
        now = self._clock()
        events = person_events(tenant, person_id, None, facts, 1)
        scim = protocol.dump_resource(user)
        record = await self.repo.insert_person(tenant, person_id, facts, scim, events, now)
        self._notify()
        return record

    async def set_manager(
        self, tenant: str, person_id: str, manager_id: str | None, users_url: str
    ) -> PersonRecord:
        record = await self.person(tenant, person_id)
        if manager_id is not None and await self.repo.get_person(tenant, manager_id) is None:
            raise InvalidInput(f"no person {manager_id} in this tenant")
        facts = record.facts.with_changes(manager_id=manager_id)
        return await self.change_facts(tenant, record, facts, users_url)

    async def chain(self, tenant: str, person_id: str) -> list[PersonRecord]:
        await self.person(tenant, person_id)
        ids = await self.repo.manager_chain(tenant, person_id, MAX_CHAIN)
        found = await self.repo.people_by_ids(tenant, ids)
        return [found[i] for i in ids if i in found]

    async def reports(self, tenant: str, person_id: str, *, all_levels: bool) -> list[PersonRecord]:
        await self.person(tenant, person_id)
        result: list[PersonRecord] = []
        seen = {person_id}
        level = [person_id]
        while level:
            found = [r for r in await self.repo.reports_of(tenant, level) if r.id not in seen]
            result.extend(found)
            seen.update(r.id for r in found)
            level = [r.id for r in found] if all_levels else []
        return result

    # ------------------------------------------------------------------ groups

    async def group(self, tenant: str, group_id: str) -> GroupRecord:
        record = await self.repo.get_group(tenant, group_id)
        if record is None:
            raise NotFound(f"no group {group_id}")
        return record

    async def _check_members(self, tenant: str, group_id: str | None, group: Group) -> None:
        wanted = {str(m.value) for m in group.members or [] if m.value}
        if not wanted:
            return
        people = await self.repo.people_by_ids(tenant, sorted(wanted))
        missing = wanted - set(people)
        if group_id in missing:
            raise InvalidInput("a group cannot be its own member", scim_type="invalidValue")
        for member in sorted(missing):
            if await self.repo.get_group(tenant, member) is None:
                raise InvalidInput(f"no user or group {member}", scim_type="invalidValue")

    async def save_group(
        self, tenant: str, before: GroupRecord | None, group: Group, *, deleted: bool = False
    ) -> GroupRecord:
        if not deleted:
            await self._check_members(tenant, before.id if before else None, group)
        facts = protocol.group_facts(group)
        group_id = before.id if before else str(uuid.uuid4())
        now = self._clock()
        scim = protocol.dump_resource(group)
        if before is None:
            events = group_events(tenant, group_id, None, facts, 1)
            record = await self.repo.insert_group(tenant, group_id, facts, scim, events, now)
        else:
            version = before.version + 1
            events = group_events(
                tenant, group_id, before.facts, None if deleted else facts, version
            )
            await self.repo.update_group(before, facts, scim, events, now, deleted=deleted)
            record = GroupRecord(group_id, tenant, version, facts, scim, before.created, now)
        if events:
            self._notify()
        return record

    async def delete_group(self, tenant: str, group_id: str) -> None:
        record = await self.group(tenant, group_id)
        await self.save_group(tenant, record, protocol.load_group(record.scim), deleted=True)
