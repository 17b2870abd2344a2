"""Use cases on mentorships: HR pairs people; a mentee asks, and the named mentor accepts or
declines; either party (or HR) ends it; lists show active mentorships only."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from services.people.domain import Mentorship, Person
from services.people.repository import PeopleRepository
from shared.auth import Principal
from shared.errors import Conflict, Forbidden, NotFound
from shared.events.envelope import Envelope


class Mentorships:
    def __init__(
        self,
        repo: PeopleRepository,
        *,
        notify: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._repo = repo
        self._notify = notify
        self._clock = clock

    async def start(
        self, principal: Principal, mentor_id: str, mentee_id: str, focus_skills: Iterable[str]
    ) -> Mentorship:
        if not principal.is_hr and principal.person_id != mentee_id:
            raise Forbidden("only HR, or the mentee themselves, can start a mentorship")
        tenant = principal.tenant
        found = await self._repo.people_by_ids(tenant, [mentor_id, mentee_id])
        for role, person_id in (("mentor", mentor_id), ("mentee", mentee_id)):
            person = found.get(person_id)
            if person is None:
                raise NotFound(f"no {role} {person_id} in this tenant")
            if not person.facts.active:
                raise Conflict(f"the {role} {person_id} is not active")
        mentorship, events = Mentorship.start(
            str(uuid.uuid4()),
            tenant,
            mentor_id,
            mentee_id,
            focus_skills,
            pending=not principal.is_hr,  # the mentor has not agreed yet
        )
        await self._repo.insert_mentorship(mentorship, events)
        self._notify()
        return mentorship

    async def end(self, principal: Principal, mentorship_id: str) -> Mentorship:
        mentorship = await self._find(principal, mentorship_id)
        parties = {mentorship.mentor_id, mentorship.mentee_id}
        if not principal.is_hr and principal.person_id not in parties:
            raise Forbidden("only HR or the mentor or mentee can end a mentorship")
        return await self._save(mentorship, mentorship.end())

    async def accept(self, principal: Principal, mentorship_id: str) -> Mentorship:
        mentorship = await self._as_mentor(principal, mentorship_id)
        return await self._save(mentorship, mentorship.accept())

    async def decline(self, principal: Principal, mentorship_id: str) -> Mentorship:
        mentorship = await self._as_mentor(principal, mentorship_id)
        return await self._save(mentorship, mentorship.decline())

    async def _find(self, principal: Principal, mentorship_id: str) -> Mentorship:
        mentorship = await self._repo.get_mentorship(principal.tenant, mentorship_id)
        if mentorship is None:
            raise NotFound(f"no mentorship {mentorship_id}")
        return mentorship

    async def _as_mentor(self, principal: Principal, mentorship_id: str) -> Mentorship:
        mentorship = await self._find(principal, mentorship_id)
        if principal.person_id != mentorship.mentor_id:
            raise Forbidden("only the person asked to mentor can accept or decline")
        return mentorship

    async def _save(self, mentorship: Mentorship, events: list[Envelope]) -> Mentorship:
        await self._repo.save_mentorship(mentorship, events, self._clock())
        self._notify()
        return mentorship

    async def of(self, tenant: str, person_id: str, *, role: str) -> list[Person]:
        """The mentors (role=mentee: the person is the mentee) or mentees of a person."""
        if await self._repo.get_person(tenant, person_id) is None:
            raise NotFound(f"no person {person_id}")
        pairs = await self._repo.mentorships_of(tenant, role=role, person_id=person_id)
        other = [m.mentor_id if role == "mentee" else m.mentee_id for m in pairs]
        found = await self._repo.people_by_ids(tenant, other)
        return [found[i] for i in other if i in found]
