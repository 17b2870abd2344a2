"""Use cases of the career framework: ladders, a person's levels, their gap analysis."""

from __future__ import annotations

from collections import defaultdict

from services.reviews.access import Relationship, can_set_level
from services.reviews.career import CareerLevel
from services.reviews.common import ReviewStore, envelopes
from services.reviews.evidence import EvidenceRecords
from services.reviews.gaps import Evidence, GapAnalysis, GoalRef, analyse
from services.reviews.ladders import BUILT_IN_LADDER, Ladder, Level
from services.reviews.records import PendingEvent
from shared.auth import Principal
from shared.errors import Forbidden, InvalidInput, NotFound
from shared.events.people import PersonUpserted
from shared.events.reviews import CareerLevelChanged

LIVE_GOALS = ("draft", "active")


class CareerService:
    def __init__(self, store: ReviewStore, evidence: EvidenceRecords) -> None:
        self.store = store
        self.repo = store.repo
        self.evidence = evidence

    # ------------------------------------------------------------------ ladders

    async def ladders(self, tenant: str) -> list[Ladder]:
        return await self.repo.ladders_of(tenant)

    async def ladder(self, tenant: str, ladder_id: str) -> Ladder:
        ladder = await self.repo.ladder(tenant, ladder_id)
        if ladder is None:
            raise NotFound(f"ladder {ladder_id} not found")
        return ladder

    async def put_ladder(
        self,
        principal: Principal,
        ladder_id: str,
        name: str,
        levels: list[Level],
        expected_version: int | None,
    ) -> Ladder:
        """HR creates a ladder or replaces one (the built-in one too, under its id)."""
        ladder = Ladder.create(id=ladder_id, name=name, levels=levels)
        version = await self.repo.put_ladder(principal.tenant, ladder, expected_version)
        return await self.ladder(principal.tenant, ladder_id) if version else ladder

    # ------------------------------------------------------------------ levels

    async def _person_rel(self, principal: Principal, person_id: str) -> Relationship:
        rel = await self.store.relationship(principal, person_id)
        known = await self.store.directory.get(principal.tenant, person_id)
        if not rel.reads or (known is None and not rel.person):
            raise NotFound(f"person {person_id} not found")
        return rel

    async def level(self, principal: Principal, person_id: str) -> CareerLevel:
        await self._person_rel(principal, person_id)
        found = await self.repo.level_of(principal.tenant, person_id)
        return found or CareerLevel(person_id=person_id, ladder_id=BUILT_IN_LADDER.id)

    async def set_current(
        self, principal: Principal, person_id: str, level_id: str, ladder_id: str | None
    ) -> CareerLevel:
        rel = await self._person_rel(principal, person_id)
        if not can_set_level(rel):
            raise Forbidden("a person's level is set by HR or their manager")
        before = await self.repo.level_of(principal.tenant, person_id)
        ladder = await self.ladder(
            principal.tenant, ladder_id or (before.ladder_id if before else BUILT_IN_LADDER.id)
        )
        if ladder.level(level_id) is None:
            raise InvalidInput(f"ladder {ladder.id} has no level {level_id}")
        keeps_target = before is not None and before.ladder_id == ladder.id
        level = CareerLevel(
            person_id=person_id,
            ladder_id=ladder.id,
            current_level=level_id,
            current_source="hr" if rel.hr else "manager",
            target_level=before.target_level if keeps_target and before else None,
            updated_at=self.store.clock(),
        )
        await self._save(principal.tenant, level, level.current_source or "hr")
        return level

    async def set_target(
        self, principal: Principal, person_id: str, level_id: str | None
    ) -> CareerLevel:
        """A person picks the level they aim for (None: the next one up)."""
        if principal.person_id != person_id:
            raise Forbidden("only the person picks their target level")
        before = await self.repo.level_of(principal.tenant, person_id)
        ladder = await self.ladder(
            principal.tenant, before.ladder_id if before else BUILT_IN_LADDER.id
        )
        if level_id is not None and ladder.level(level_id) is None:
            raise InvalidInput(f"ladder {ladder.id} has no level {level_id}")
        level = CareerLevel(
            person_id=person_id,
            ladder_id=ladder.id,
            current_level=before.current_level if before else None,
            current_source=before.current_source if before else None,
            target_level=level_id,
            updated_at=self.store.clock(),
        )
        await self._save(principal.tenant, level, "person")
        return level

    async def map_title(self, person: PersonUpserted) -> bool:
        """An HRIS or SCIM title sets the current level, unless HR or a manager set one."""
        ladder = await self.ladder(person.tenant, BUILT_IN_LADDER.id)
        mapped = ladder.level_for_title(person.title)
        if mapped is None:
            return False
        before = await self.repo.level_of(person.tenant, person.id)
        if before is not None and before.current_level == mapped.id:
            return False  # already there: no event for a snapshot that changed nothing
        level = CareerLevel(
            person_id=person.id,
            ladder_id=ladder.id,
            current_level=mapped.id,
            current_source="title",
            target_level=before.target_level if before else None,
            updated_at=self.store.clock(),
        )
        return await self._save(person.tenant, level, "title", only_if_source_in=[None, "title"])

    async def _save(self, tenant: str, level: CareerLevel, source: str, **kw: object) -> bool:
        event = CareerLevelChanged(
            tenant=tenant,
            person_id=level.person_id,
            ladder_id=level.ladder_id,
            current_level=level.current_level,
            target_level=level.target_level,
            source=source,
        )
        events = envelopes(tenant, level.person_id, [PendingEvent(event)], self.store.clock())
        saved = await self.repo.set_level(tenant, level, events, **kw)  # type: ignore[arg-type]
        if saved:
            self.store.notify()
        return saved

    # ------------------------------------------------------------------ gaps

    async def gaps(self, principal: Principal, person_id: str) -> GapAnalysis:
        rel = await self._person_rel(principal, person_id)
        tenant = principal.tenant
        level = await self.level(principal, person_id)
        ladder = await self.ladder(tenant, level.ladder_id)
        # the person sees their manager's assessment once a review is released
        own, boss = await self.repo.latest_assessments(
            tenant, person_id, released_only=not rel.sees_manager_side
        )
        ratings: dict[str, list[int]] = defaultdict(list)
        for fact in await self.evidence.facts_of(tenant, person_id):
            if fact["kind"] == "ratings":
                for skill, value in fact["ratings"].items():
                    ratings[skill].append(int(value))
        goals: dict[str, list[GoalRef]] = defaultdict(list)
        for goal in await self.evidence.goals_of(tenant, person_id):
            if goal["status"] in LIVE_GOALS:
                ref = GoalRef(goal["goal_id"], goal["title"], goal["status"], goal["progress"])
                for skill in goal.get("skills", []):
                    goals[skill].append(ref)
        evidence = Evidence(
            self_ratings=own,
            manager_ratings=boss,
            feedback={s: (sum(v) / len(v), len(v)) for s, v in ratings.items()},
            goals_by_skill=dict(goals),
        )
        return analyse(ladder, level.current_level, level.target_level, evidence)

    async def tenant_skills(self, tenant: str) -> tuple[str, ...]:
        """The skills of the tenant's ladders, the product-management ones first."""
        skills = [s for ladder in await self.ladders(tenant) for s in ladder.skills]
        return tuple(dict.fromkeys(skills))

    async def skills_of(self, tenant: str, person_id: str) -> tuple[str, ...]:
        """The skills a person's forms rate: those of their ladder."""
        level = await self.repo.level_of(tenant, person_id)
        ladder = await self.repo.ladder(tenant, level.ladder_id if level else BUILT_IN_LADDER.id)
        return (ladder or BUILT_IN_LADDER).skills
