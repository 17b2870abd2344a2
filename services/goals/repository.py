"""Every query of the goals service, and the mapping between documents and the domain."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.goals.access import SHARED, GoalFilter, Viewer
from services.goals.domain import Goal
from services.goals.progress import Checkpoint, KeyResult, KpiBinding
from services.goals.records import Applied, TimelineEntry
from shared.directory import PeopleDirectory
from shared.errors import Conflict
from shared.events.envelope import Envelope
from shared.messaging.outbox import with_outbox
from shared.mongo import Document, update_versioned
from shared.time import as_utc, utcnow

GOALS = "goals"
TEMPLATES = "goal_templates"
TENANT_SETTINGS = "goal_settings"
LEASES = "leases"
SYSTEM_TENANT = "_system"  # documents that belong to no tenant (the scheduler lease)

# what a goal load never needs: the outbox and the (long) timeline
_LEAN = {"pending_events": 0, "timeline": 0}


def indexes() -> dict[str, list[IndexModel]]:
    return {
        GOALS: [
            IndexModel([("tenant", ASCENDING), ("owner_id", ASCENDING), ("status", ASCENDING)]),
            IndexModel(
                [("tenant", ASCENDING), ("status", ASCENDING), ("bound_metrics", ASCENDING)]
            ),
            IndexModel([("tenant", ASCENDING), ("parent_id", ASCENDING)]),
            IndexModel(
                [("status", ASCENDING), ("next_review_on", ASCENDING), ("tenant", ASCENDING)]
            ),
        ],
        TEMPLATES: [IndexModel([("tenant", ASCENDING), ("id", ASCENDING)], unique=True)],
        TENANT_SETTINGS: [IndexModel([("tenant", ASCENDING)], unique=True)],
        LEASES: [IndexModel([("tenant", ASCENDING), ("expires_at", ASCENDING)])],
        **PeopleDirectory.indexes(),
    }


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def key_result_to_doc(kr: KeyResult) -> Document:
    return {
        "id": kr.id,
        "title": kr.title,
        "start": kr.start,
        "target": kr.target,
        "current": kr.current,
        "unit": kr.unit,
        "direction": kr.direction,
        "weight": kr.weight,
        "kpi": (
            {
                "metric": kr.kpi.metric,
                "filters": dict(kr.kpi.filters),
                "aggregation": kr.kpi.aggregation,
            }
            if kr.kpi
            else None
        ),
        "latest_at": kr.latest_at,
    }


def key_result_from_doc(doc: Document) -> KeyResult:
    kpi = doc.get("kpi")
    return KeyResult(
        id=doc["id"],
        title=doc["title"],
        start=float(doc["start"]),
        target=float(doc["target"]),
        current=float(doc["current"]),
        unit=doc.get("unit", ""),
        direction=doc.get("direction", "increase"),
        weight=float(doc.get("weight", 1.0)),
        kpi=KpiBinding(kpi["metric"], kpi.get("filters", {}), kpi.get("aggregation", "latest"))
        if kpi
        else None,
        latest_at=as_utc(doc.get("latest_at")),
    )


def goal_state(goal: Goal) -> Document:
    """The stored state of a goal (without version, outbox and timeline)."""
    return {
        "tenant": goal.tenant,
        "owner_id": goal.owner_id,
        "title": goal.title,
        "horizon": goal.horizon,
        "category": goal.category,
        "description": goal.description,
        "skills": list(goal.skills),
        "parent_id": goal.parent_id,
        "start_date": _iso(goal.start_date),
        "due_date": _iso(goal.due_date),
        "visibility": goal.visibility,
        "review_every_days": goal.review_every_days,
        "key_results": {k: key_result_to_doc(kr) for k, kr in goal.key_results.items()},
        "bound_metrics": goal.bound_metrics,
        "checkpoints": [
            {"label": c.label, "due_on": c.due_on.isoformat(), "progress": c.progress}
            for c in goal.checkpoints
        ],
        "feedback_reviewer_ids": list(goal.feedback_reviewer_ids),
        "status": goal.status,
        "progress": goal.progress,
        "milestones_reached": list(goal.milestones_reached),
        "at_risk": goal.at_risk,
        "at_risk_count": goal.at_risk_count,
        "next_review_on": _iso(goal.next_review_on),
        "review_pending": goal.review_pending,
        "review_due_on": _iso(goal.review_due_on),
        "applied_ids": [a.id for a in goal.applied],
        "applied_times": [a.at for a in goal.applied],
        "template_id": goal.template_id,
        "created_by": goal.created_by,
        "created_at": goal.created_at,
        "updated_at": goal.updated_at,
    }


def goal_from_doc(doc: Document) -> Goal:
    return Goal(
        id=doc["_id"],
        tenant=doc["tenant"],
        owner_id=doc["owner_id"],
        title=doc["title"],
        horizon=doc["horizon"],
        category=doc.get("category", "skill"),
        description=doc.get("description", ""),
        skills=list(doc.get("skills", [])),
        parent_id=doc.get("parent_id"),
        start_date=_date(doc.get("start_date")),
        due_date=_date(doc.get("due_date")),
        visibility=doc.get("visibility", "team"),
        review_every_days=doc.get("review_every_days"),
        key_results={k: key_result_from_doc(v) for k, v in doc.get("key_results", {}).items()},
        checkpoints=[
            Checkpoint(c["label"], date.fromisoformat(c["due_on"]), float(c["progress"]))
            for c in doc.get("checkpoints", [])
        ],
        feedback_reviewer_ids=list(doc.get("feedback_reviewer_ids", [])),
        status=doc["status"],
        progress=float(doc.get("progress", 0.0)),
        milestones_reached=list(doc.get("milestones_reached", [])),
        at_risk=bool(doc.get("at_risk", False)),
        at_risk_count=int(doc.get("at_risk_count", 0)),
        next_review_on=_date(doc.get("next_review_on")),
        review_pending=doc.get("review_pending"),
        review_due_on=_date(doc.get("review_due_on")),
        applied=[
            Applied(i, as_utc(t) or utcnow())
            for i, t in zip(doc.get("applied_ids", []), doc.get("applied_times", []), strict=False)
        ],
        template_id=doc.get("template_id"),
        created_by=doc.get("created_by"),
        created_at=as_utc(doc.get("created_at")) or utcnow(),
        updated_at=as_utc(doc.get("updated_at")) or utcnow(),
        version=int(doc.get("version", 0)),
    )


def _scope(viewer: Viewer, owner_id: str | None) -> Document | None:
    """The clause of what a viewer may see (None: everything in the tenant)."""
    if owner_id is not None:
        allowed = viewer.visibilities_of(owner_id)
        return None if allowed is None else {"visibility": {"$in": allowed}}
    if viewer.everything:
        return None
    return {
        "$or": [
            {"owner_id": {"$in": list(viewer.all_of)}},
            {"owner_id": {"$in": list(viewer.shared_of)}, "visibility": {"$in": list(SHARED)}},
            {"visibility": "company"},
        ]
    }


def _timeline_doc(entry: TimelineEntry) -> Document:
    return {"id": entry.id, "at": entry.at, "kind": entry.kind, **entry.data}


class GoalRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        # on FerretDB the runtime's database serializes writes per collection (shared/mongo.py),
        # which keeps the outbox relay's removals from undoing a goal's update
        self.goals = db[GOALS]
        self.templates = db[TEMPLATES]
        self.settings = db[TENANT_SETTINGS]
        self.leases = db[LEASES]
        self.outboxes = (self.goals,)  # goals carry their events (pending_events)

    # ------------------------------------------------------------------ goals

    async def insert(self, goal: Goal, events: Sequence[Envelope]) -> None:
        doc = {
            "_id": goal.id,
            **goal_state(goal),
            "version": 1,
            "timeline": [_timeline_doc(e) for e in goal.new_timeline],
            "pending_events": [e.to_document() for e in events],
        }
        try:
            await self.goals.insert_one(doc)
        except DuplicateKeyError as exc:
            raise Conflict(f"goal {goal.id} already exists") from exc
        goal.version = 1

    async def save(
        self, goal: Goal, events: Sequence[Envelope], *, guard_event_id: str | None = None
    ) -> None:
        """Write the goal's state, new timeline entries and events in one versioned update."""
        filter_: Document = {"_id": goal.id, "tenant": goal.tenant}
        if guard_event_id is not None:
            filter_["applied_ids"] = {"$ne": guard_event_id}
        update: Document = {"$set": goal_state(goal)}
        if goal.new_timeline:
            update["$push"] = {"timeline": {"$each": [_timeline_doc(e) for e in goal.new_timeline]}}
        await update_versioned(self.goals, filter_, goal.version, with_outbox(update, events))
        goal.version += 1
        goal.new_timeline.clear()
        goal.events.clear()

    async def get(self, tenant: str, goal_id: str) -> Goal | None:
        doc = await self.goals.find_one({"_id": goal_id, "tenant": tenant}, _LEAN)
        return goal_from_doc(doc) if doc else None

    async def timeline(self, tenant: str, goal_id: str) -> list[Document]:
        doc = await self.goals.find_one({"_id": goal_id, "tenant": tenant}, {"timeline": 1})
        return list(doc.get("timeline", [])) if doc else []

    async def visible_to(
        self,
        tenant: str,
        viewer: Viewer,
        wanted: GoalFilter,
        *,
        after: str | None = None,
        limit: int = 50,
    ) -> list[Goal]:
        """The goals of a tenant a viewer may list, narrowed by ``wanted``, in id order."""
        narrowed = {name: value for name, value in asdict(wanted).items() if value is not None}
        query: Document = {"tenant": tenant, **narrowed}
        scope = _scope(viewer, wanted.owner_id)
        if scope is not None:
            query = {"$and": [query, scope]}
        return await self._page(query, after=after, limit=limit)

    async def pursued_by(self, tenant: str, owner_id: str, *, limit: int) -> list[Goal]:
        """An owner's goals, but the abandoned ones."""
        query = {"tenant": tenant, "owner_id": owner_id, "status": {"$ne": "abandoned"}}
        return await self._page(query, limit=limit)

    async def _page(self, query: Document, *, after: str | None = None, limit: int) -> list[Goal]:
        if after:
            query = {"$and": [query, {"_id": {"$gt": after}}]}
        cursor = self.goals.find(query, _LEAN).sort("_id", ASCENDING).limit(limit)
        return [goal_from_doc(doc) async for doc in cursor]

    async def children(self, tenant: str, parent_ids: Sequence[str]) -> list[Goal]:
        cursor = self.goals.find({"tenant": tenant, "parent_id": {"$in": list(parent_ids)}}, _LEAN)
        return [goal_from_doc(doc) async for doc in cursor.sort("_id", ASCENDING)]

    async def parent_of(self, tenant: str, goal_id: str) -> str | None:
        doc = await self.goals.find_one({"_id": goal_id, "tenant": tenant}, {"parent_id": 1})
        return doc.get("parent_id") if doc else None

    async def exists(self, tenant: str, goal_id: str) -> bool:
        return await self.goals.find_one({"_id": goal_id, "tenant": tenant}, {"_id": 1}) is not None

    async def bound_goals(self, tenant: str, metric: str) -> list[Goal]:
        """The tenant's active goals with a key result bound to ``metric``, in one query."""
        query = {"tenant": tenant, "status": "active", "bound_metrics": metric}
        return [goal_from_doc(doc) async for doc in self.goals.find(query, _LEAN)]

    async def active_long_term_of(self, tenant: str, owner_id: str) -> list[str]:
        cursor = self.goals.find(
            {"tenant": tenant, "owner_id": owner_id, "status": "active", "horizon": "long_term"},
            {"_id": 1},
        )
        return [doc["_id"] async for doc in cursor]

    async def reviews_due(self, today: date, limit: int = 500) -> list[tuple[str, str]]:
        cursor = self.goals.find(
            {"status": "active", "next_review_on": {"$lte": today.isoformat()}},
            {"_id": 1, "tenant": 1},
        ).limit(limit)
        return [(doc["tenant"], doc["_id"]) async for doc in cursor]

    async def risk_unchecked(self, today: date, limit: int = 500) -> list[tuple[str, str]]:
        """Active goals whose risk was not assessed today (time passing can put them at risk)."""
        cursor = self.goals.find(
            {"status": "active", "risk_checked_on": {"$ne": today.isoformat()}},
            {"_id": 1, "tenant": 1},
        ).limit(limit)
        return [(doc["tenant"], doc["_id"]) async for doc in cursor]

    async def mark_risk_checked(self, tenant: str, goal_id: str, today: date) -> None:
        await self.goals.update_one(
            {"_id": goal_id, "tenant": tenant}, {"$set": {"risk_checked_on": today.isoformat()}}
        )

    async def with_stale_guards(self, before: datetime, limit: int = 500) -> list[tuple[str, str]]:
        cursor = self.goals.find(
            {"applied_times.0": {"$lt": before}}, {"_id": 1, "tenant": 1}
        ).limit(limit)
        return [(doc["tenant"], doc["_id"]) async for doc in cursor]

    # ------------------------------------------------------------------ templates

    async def tenant_templates(self, tenant: str) -> list[Document]:
        cursor = self.templates.find({"tenant": tenant}, {"_id": 0}).sort("id", ASCENDING)
        return [doc async for doc in cursor]

    async def tenant_template(self, tenant: str, template_id: str) -> Document | None:
        return await self.templates.find_one({"tenant": tenant, "id": template_id}, {"_id": 0})

    async def add_template(self, template: Document) -> None:
        try:
            await self.templates.insert_one(
                {"_id": f"{template['tenant']}:{template['id']}", **template}
            )
        except DuplicateKeyError as exc:
            raise Conflict(f"template {template['id']} already exists") from exc

    # ------------------------------------------------------------------ tenant settings

    async def tenant_settings(self, tenant: str) -> Document | None:
        return await self.settings.find_one({"_id": tenant}, {"_id": 0})

    async def put_tenant_settings(self, tenant: str, values: Document) -> None:
        await self.settings.update_one(
            {"_id": tenant}, {"$set": {"tenant": tenant, **values}}, upsert=True
        )

    # ------------------------------------------------------------------ leases

    async def acquire_lease(self, name: str, holder: str, now: datetime, ttl_s: float) -> bool:
        """Take or renew a named lease; False while another holder's lease runs."""
        from datetime import timedelta

        try:
            doc = await self.leases.find_one_and_update(
                {"_id": name, "$or": [{"holder": holder}, {"expires_at": {"$lt": now}}]},
                {
                    "$set": {
                        "tenant": SYSTEM_TENANT,
                        "holder": holder,
                        "expires_at": now + timedelta(seconds=ttl_s),
                    }
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return False  # the lease exists and is someone else's, still running
        return doc is not None and doc.get("holder") == holder

    async def release_lease(self, name: str, holder: str) -> None:
        await self.leases.update_one(
            {"_id": name, "holder": holder},
            {"$set": {"expires_at": datetime(1970, 1, 1, tzinfo=UTC)}},
        )
