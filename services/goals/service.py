"""Use cases behind the goals API: load, authorize, call the aggregate, save with its events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.goals import access
from services.goals.access import GoalFilter, Relationship, Viewer
from services.goals.common import GoalStore, new_id
from services.goals.domain import Goal
from services.goals.progress import Checkpoint, KeyResult, KpiBinding
from services.goals.schemas import (
    CheckInCreate,
    CheckpointIn,
    GoalCreate,
    GoalUpdate,
    KeyResultIn,
    StatusChange,
)
from services.goals.templates import BUILTIN_BY_ID, BUILTIN_TEMPLATES
from shared.audit import Actor, audit_event, changed_fields, jsonable
from shared.auth import Principal
from shared.directory import PeopleDirectory
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.events.envelope import Envelope
from shared.events.goals import GoalCreated
from shared.mongo import Document
from shared.pagination import InvalidCursor, decode_cursor, encode_cursor

MAX_TREE_DEPTH = 10


def _snapshot(goal: Goal, names: Sequence[str]) -> dict[str, Any]:
    """The named fields of a goal, as an audit record shows them."""
    return {name: jsonable(getattr(goal, name)) for name in names}


def _by_other(
    principal: Principal,
    goal: Goal,
    action: str,
    before: dict[str, Any],
    after: dict[str, Any],
    *,
    details: dict[str, Any] | None = None,
) -> list[Envelope]:
    """The audit record of a change someone else makes to a person's goal: a manager or HR
    setting it for them, a manager reviewing it (only the owner edits a goal, ``can_write``).
    The owner's own changes are the goal's timeline, not the audit trail."""
    if principal.person_id == goal.owner_id:
        return []
    return [
        audit_event(
            tenant=goal.tenant,
            actor=Actor.of(principal),
            action=action,
            object_type="goal",
            object_id=goal.id,
            service="goals",
            before=before,
            after=after,
            details={"owner_id": goal.owner_id, **(details or {})},
        )
    ]


def build_key_results(
    items: Sequence[KeyResultIn], existing: dict[str, KeyResult] | None = None
) -> list[KeyResult]:
    """Key results from the API; ids kept keep their current value and KPI watermark."""
    existing = existing or {}
    built: list[KeyResult] = []
    for item in items:
        kr_id = item.id or new_id()
        before = existing.get(kr_id)
        kpi = (
            KpiBinding(
                item.source.kpi.metric, dict(item.source.kpi.filters), item.source.kpi.aggregation
            )
            if not isinstance(item.source, str)
            else None
        )
        current = item.current
        if current is None:
            current = before.current if before else item.start
        same_binding = before is not None and before.kpi == kpi
        built.append(
            KeyResult(
                id=kr_id,
                title=item.title,
                start=item.start,
                target=item.target,
                current=current,
                unit=item.unit,
                direction=item.direction,
                weight=item.weight,
                kpi=kpi,
                latest_at=before.latest_at if same_binding and before else None,
            )
        )
    if len({kr.id for kr in built}) != len(built):
        raise InvalidInput("key result ids must be unique")
    return built


def _checkpoints(items: Sequence[CheckpointIn]) -> list[Checkpoint]:
    return [Checkpoint(c.label, c.due_on, c.progress) for c in items]


class GoalService:
    def __init__(self, store: GoalStore, directory: PeopleDirectory) -> None:
        self.store = store
        self.repo = store.repo
        self.directory = directory

    # ------------------------------------------------------------------ authorization

    async def relationship(self, principal: Principal, owner_id: str) -> Relationship:
        tenant, me = principal.tenant, principal.person_id
        if principal.is_api_key:
            # a ``goals:read`` key reads its tenant's goals (and writes none: no such scope)
            return Relationship(reader=True)
        if me == owner_id:
            return Relationship(owner=True, hr=principal.is_hr)
        return Relationship(
            hr=principal.is_hr,
            manager=await self.directory.manages(tenant, me, owner_id),
            mentor=me in await self.directory.mentors_of(tenant, owner_id),
        )

    async def readable(self, principal: Principal, goal_id: str) -> tuple[Goal, Relationship]:
        goal = await self.repo.get(principal.tenant, goal_id)
        if goal is None:
            raise NotFound(f"goal {goal_id} not found")
        rel = await self.relationship(principal, goal.owner_id)
        if not access.can_read(rel, goal.visibility):
            raise NotFound(f"goal {goal_id} not found")
        return goal, rel

    async def writable(self, principal: Principal, goal_id: str) -> Goal:
        goal, rel = await self.readable(principal, goal_id)
        if not access.can_write(rel):
            raise Forbidden("only the goal's owner can change it")
        return goal

    # ------------------------------------------------------------------ templates

    async def templates(self, tenant: str) -> list[Document]:
        own = await self.repo.tenant_templates(tenant)
        return [{**t, "builtin": True} for t in BUILTIN_TEMPLATES] + [
            {**t, "builtin": False} for t in own
        ]

    async def template(self, tenant: str, template_id: str) -> Document:
        if template_id in BUILTIN_BY_ID:
            return {**BUILTIN_BY_ID[template_id], "builtin": True}
        found = await self.repo.tenant_template(tenant, template_id)
        if found is None:
            raise NotFound(f"goal template {template_id} not found")
        return {**found, "builtin": False}

    async def add_template(self, tenant: str, body: dict[str, Any]) -> Document:
        if body["id"] in BUILTIN_BY_ID:
            raise Conflict(f"{body['id']} is a built-in template id")
        build_key_results([KeyResultIn(**kr) for kr in body["suggested_key_results"]])
        doc = {"tenant": tenant, **body}
        await self.repo.add_template(doc)
        doc.pop("_id", None)
        return {**doc, "builtin": False}

    # ------------------------------------------------------------------ goals

    async def create(self, principal: Principal, body: GoalCreate) -> Goal:
        tenant, now = principal.tenant, self.store.clock()
        template = await self.template(tenant, body.template_id) if body.template_id else {}
        owner_id = body.owner_id or principal.person_id
        if not access.can_assign(await self.relationship(principal, owner_id)):
            raise Forbidden("only the person, their managers or HR can set their goals")
        if body.parent_id is not None:
            await self.readable(principal, body.parent_id)
        suggested = [KeyResultIn(**kr) for kr in template.get("suggested_key_results", [])]
        goal = Goal(
            id=new_id(),
            tenant=tenant,
            owner_id=owner_id,
            title=body.title or template["title"],
            horizon=body.horizon or template["horizon"],
            category=body.category or template.get("category", "skill"),
            description=body.description
            if body.description is not None
            else template.get("description", ""),
            skills=body.skills if body.skills is not None else list(template.get("skills", [])),
            parent_id=body.parent_id,
            start_date=body.start_date,
            due_date=body.due_date,
            visibility=body.visibility,
            review_every_days=body.review_every_days or template.get("review_every_days"),
            key_results={
                kr.id: kr
                for kr in build_key_results(
                    body.key_results if body.key_results is not None else suggested
                )
            },
            checkpoints=_checkpoints(body.checkpoints),
            feedback_reviewer_ids=list(body.feedback_reviewer_ids),
            template_id=body.template_id,
            created_by=principal.person_id,
            created_at=now,
            updated_at=now,
        )
        goal.validate()
        goal.baseline()
        goal.record(
            GoalCreated(
                **goal.facts(),
                category=goal.category,
                parent_id=goal.parent_id,
                visibility=goal.visibility,
                skills=goal.skills,
                due_date=goal.due_date,
            )
        )
        if body.status == "active":
            goal.change_status("active", by=principal.person_id, today=now.date(), now=now)
            goal.assess_risk(now.date(), await self.store.margin(tenant))
        assigned = {"title": goal.title, "owner_id": owner_id, "status": goal.status}
        await self.store.insert(
            goal, audit=_by_other(principal, goal, "goal.assigned", {}, assigned)
        )
        return goal

    async def get(self, principal: Principal, goal_id: str) -> Goal:
        goal, _ = await self.readable(principal, goal_id)
        return goal

    async def edit(self, principal: Principal, goal_id: str, body: GoalUpdate) -> Goal:
        goal = await self.writable(principal, goal_id)
        now = self.store.clock()
        fields = body.model_fields_set - {"key_results"}
        changes: dict[str, Any] = {name: getattr(body, name) for name in fields}
        if "checkpoints" in changes:
            changes["checkpoints"] = _checkpoints(body.checkpoints or [])
        if "description" in changes and changes["description"] is None:
            changes["description"] = ""
        if changes.get("parent_id"):
            await self._refuse_cycle(principal, goal, changes["parent_id"])
        goal.edit(changes, now)
        if body.key_results is not None:
            margin = await self.store.margin(goal.tenant)
            goal.replace_key_results(
                build_key_results(body.key_results, goal.key_results),
                by=principal.person_id,
                today=now.date(),
                now=now,
                margin=margin,
            )
        await self.store.save(goal)
        return goal

    async def _refuse_cycle(self, principal: Principal, goal: Goal, parent_id: str) -> None:
        await self.readable(principal, parent_id)
        seen: set[str] = set()
        current: str | None = parent_id
        while current is not None and current not in seen:
            if current == goal.id:
                raise InvalidInput("this parent would make the goal its own ancestor")
            seen.add(current)
            current = await self.repo.parent_of(goal.tenant, current)

    async def change_status(self, principal: Principal, goal_id: str, body: StatusChange) -> Goal:
        goal = await self.writable(principal, goal_id)
        now = self.store.clock()
        goal.change_status(body.status, by=principal.person_id, today=now.date(), now=now)
        if body.status == "active":
            goal.assess_risk(now.date(), await self.store.margin(goal.tenant))
        await self.store.save(goal)
        return goal

    async def check_in(
        self, principal: Principal, goal_id: str, body: CheckInCreate
    ) -> tuple[str, Goal]:
        goal = await self.writable(principal, goal_id)
        now, check_in_id = self.store.clock(), new_id()
        goal.check_in(
            check_in_id=check_in_id,
            by=principal.person_id,
            values=body.key_results,
            confidence=body.confidence,
            note=body.note,
            activity=body.learning_activity.model_dump(mode="json")
            if body.learning_activity
            else None,
            today=now.date(),
            now=now,
            margin=await self.store.margin(goal.tenant),
        )
        await self.store.save(goal)
        return check_in_id, goal

    async def mark_reviewed(self, principal: Principal, goal_id: str, note: str | None) -> Goal:
        goal, rel = await self.readable(principal, goal_id)
        if not access.can_review(rel):
            raise Forbidden("only the owner or their managers can review a goal")
        now = self.store.clock()
        fields = ("review_pending", "review_due_on", "next_review_on")
        before = _snapshot(goal, fields)
        goal.mark_reviewed(by=principal.person_id, note=note, today=now.date(), now=now)
        old, new = changed_fields(before, _snapshot(goal, fields))
        audit = _by_other(principal, goal, "goal.reviewed", old, new, details={"note": note})
        await self.store.save(goal, audit=audit)
        return goal

    async def timeline(
        self, principal: Principal, goal_id: str, cursor: str | None, limit: int
    ) -> tuple[list[Document], str | None]:
        await self.readable(principal, goal_id)
        after = (decode_cursor(cursor) or {}).get("after")
        if after is not None and type(after) is not int:
            raise InvalidCursor("the cursor is not one this API returned")
        entries = await self.repo.timeline(principal.tenant, goal_id, after=after, limit=limit + 1)
        page = entries[:limit]
        more = len(entries) > limit
        next_cursor = encode_cursor({"after": page[-1]["seq"]}) if more else None
        return [{k: v for k, v in e.items() if k != "seq"} for e in page], next_cursor

    # ------------------------------------------------------------------ lists

    async def list_goals(
        self,
        principal: Principal,
        *,
        filters: dict[str, str],
        cursor: str | None,
        limit: int,
    ) -> tuple[list[Goal], str | None]:
        wanted = GoalFilter(**filters)
        viewer = await self._viewer(principal, wanted.owner_id)
        after = (decode_cursor(cursor) or {}).get("after")
        goals = await self.repo.visible_to(
            principal.tenant, viewer, wanted, after=after, limit=limit + 1
        )
        next_cursor = encode_cursor({"after": goals[limit - 1].id}) if len(goals) > limit else None
        return goals[:limit], next_cursor

    async def _viewer(self, principal: Principal, owner_id: str | None) -> Viewer:
        """Whose goals the caller may list, as the directory knows them."""
        if principal.is_hr or principal.is_api_key:
            return Viewer(everything=True)
        if owner_id is not None:
            return Viewer.of_owner(owner_id, await self.relationship(principal, owner_id))
        me, tenant = principal.person_id, principal.tenant
        return Viewer(
            all_of=(me, *await self.directory.all_reports(tenant, me)),
            shared_of=tuple(await self.directory.mentees_of(tenant, me)),
        )

    async def tree(self, principal: Principal, goal_id: str) -> tuple[list[Goal], Document]:
        root, _ = await self.readable(principal, goal_id)
        ancestors: list[Goal] = []
        seen = {root.id}
        parent_id = root.parent_id
        while parent_id and parent_id not in seen and len(ancestors) < MAX_TREE_DEPTH:
            seen.add(parent_id)
            try:
                parent, _ = await self.readable(principal, parent_id)
            except NotFound:
                break
            ancestors.insert(0, parent)
            parent_id = parent.parent_id
        cache: dict[str, Relationship] = {}

        async def can_see(goal: Goal) -> bool:
            if goal.owner_id not in cache:
                cache[goal.owner_id] = await self.relationship(principal, goal.owner_id)
            return access.can_read(cache[goal.owner_id], goal.visibility)

        async def subtree(goal: Goal, depth: int) -> Document:
            children: list[Document] = []
            if depth < MAX_TREE_DEPTH:
                for child in await self.repo.children(goal.tenant, [goal.id]):
                    if child.id not in seen and await can_see(child):
                        seen.add(child.id)
                        children.append(await subtree(child, depth + 1))
            return {"goal": goal, "children": children}

        return ancestors, await subtree(root, 0)

    async def summary(self, principal: Principal, person_id: str) -> list[Goal]:
        rel = await self.relationship(principal, person_id)
        if not (rel.sees_everything or rel.reader):
            raise Forbidden("goal summaries are for the person, their managers, HR and API keys")
        return await self.repo.pursued_by(principal.tenant, person_id, limit=500)

    # ------------------------------------------------------------------ tenant settings

    async def goal_settings(self, tenant: str) -> dict[str, Any]:
        return {
            "at_risk_margin": await self.store.margin(tenant),
            "update_reminder_days": await self.store.update_reminder_days(tenant),
        }

    async def put_goal_settings(self, tenant: str, changes: dict[str, Any]) -> dict[str, Any]:
        if changes:
            await self.repo.put_tenant_settings(tenant, changes)
            self.store.forget_margin(tenant)
        if "update_reminder_days" in changes:
            await self.repo.recheck_update_reminders(tenant)
        return await self.goal_settings(tenant)
