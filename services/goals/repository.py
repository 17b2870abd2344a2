"""Every query of the goals service, and the mapping between documents and the domain."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.goals.access import SHARED, GoalFilter, Viewer
from services.goals.binding_repository import BindingIndex
from services.goals.bindings import goal_bindings
from services.goals.domain import Goal
from services.goals.nudges import LOOK_NOW
from services.goals.progress import Checkpoint, KeyResult, KpiBinding
from services.goals.records import Applied, applied_digest, packed_guards, unpacked_guards
from services.goals.reminder_queries import UPDATE_CHECK_INDEX, ReminderQueries
from services.goals.tenant_records import LEASES, TEMPLATES, TENANT_SETTINGS, TenantRecords
from services.goals.timeline_repository import GoalTimeline, timeline_docs
from shared.directory import PeopleDirectory
from shared.errors import Conflict
from shared.events.envelope import Envelope
from shared.messaging.outbox import HELD, PENDING, entries, held_outbox, with_outbox
from shared.mongo import Document, update_versioned
from shared.time import as_utc, utcnow

GOALS = "goals"

# what a goal load for a save reads with the outbox (``outbox=True``: the KPI path, whose held
# save replaces the entries it found, see GoalStore.save_held): all but the timeline goals
# embedded before it moved
_WITH_OUTBOX = {"timeline": 0}
# what any other load reads: its save appends to the outbox, which it need not know
_LEAN = {**_WITH_OUTBOX, PENDING: 0, HELD: 0}
PENDING_TIMELINE = "pending_timeline"
# goal.stored: the outbox events a goal was loaded with, in their order (``entries``), present
# only when loaded with ``outbox=True``
OUTBOX = "outbox"
# the applied-event guards as goals kept them before they were packed (``records.Applied``): an
# id list and a time list, read still, and dropped by the goal's next save
_LEGACY_GUARDS = ("applied_ids", "applied_times")
# what a list answer never needs either: the timeline entries waiting to move (up to ~6 kB a
# goal) and the applied-event guards (up to APPLIED_WINDOW, 16 kB as FerretDB keeps them packed,
# a goal bound to a busy KPI), read for up to 100 goals a page; goals read this way are for
# reading only (see save)
_LISTED = {**_LEAN, PENDING_TIMELINE: 0, "applied": 0, **dict.fromkeys(_LEGACY_GUARDS, 0)}
READ_ONLY = "read_only"
# timeline entries a goal holds before a save moves them to their collection in one insert: it
# bounds the document, which every point rewrites whole (an entry is ~1.2 kB as FerretDB stores
# it, its type schema included), against one more write every few saves. On one goal with a
# history, the mean cost of a point was 18.4 ms at 20 and 16.1 ms at 5; at 200 points/s over
# 1,000 goals a save took 8.2 ms at 2 and 9.9 ms at 1 (an insert every save; docs/bench-load.md).
TIMELINE_BATCH = 2


def indexes() -> dict[str, list[IndexModel]]:
    return {
        GOALS: [
            IndexModel([("tenant", ASCENDING), ("owner_id", ASCENDING), ("status", ASCENDING)]),
            # active goals not yet in the KPI binding index (stored before it existed)
            IndexModel([("status", ASCENDING), ("binding_keys", ASCENDING)]),
            IndexModel([("tenant", ASCENDING), ("parent_id", ASCENDING)]),
            IndexModel(
                [("status", ASCENDING), ("next_review_on", ASCENDING), ("tenant", ASCENDING)]
            ),
            UPDATE_CHECK_INDEX,
        ],
        TEMPLATES: [IndexModel([("tenant", ASCENDING), ("id", ASCENDING)], unique=True)],
        TENANT_SETTINGS: [IndexModel([("tenant", ASCENDING)], unique=True)],
        LEASES: [IndexModel([("tenant", ASCENDING), ("expires_at", ASCENDING)])],
        **BindingIndex.indexes(),
        **GoalTimeline.indexes(),
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
        "binding_keys": sorted(goal_bindings(goal)),
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
        "risk_checked_on": _iso(goal.risk_checked_on),
        "next_review_on": _iso(goal.next_review_on),
        "review_pending": goal.review_pending,
        "review_due_on": _iso(goal.review_due_on),
        "last_activity_at": goal.last_activity_at,
        "update_reminded_at": goal.update_reminded_at,
        "update_check_at": goal.update_check_at or LOOK_NOW,
        "applied": packed_guards(goal.applied),
        # when the oldest guard was applied (the scheduler's prune looks for old ones)
        "applied_since": goal.applied[0].at if goal.applied else None,
        "template_id": goal.template_id,
        "created_by": goal.created_by,
        "created_at": goal.created_at,
        "updated_at": goal.updated_at,
    }


def _projection(outbox: bool) -> Document:
    return _WITH_OUTBOX if outbox else _LEAN


def guards_of(doc: Document) -> list[Applied]:
    """A goal's applied-event guards, packed or as goals kept them before (two lists)."""
    if doc.get("applied") is not None:
        return unpacked_guards(bytes(doc["applied"]))
    ids, times = doc.get("applied_ids") or [], doc.get("applied_times") or []
    return [
        Applied(applied_digest(i), as_utc(t) or utcnow()) for i, t in zip(ids, times, strict=False)
    ]


def goal_from_doc(doc: Document, *, outbox: bool = False) -> Goal:
    """The goal a stored document holds; ``outbox``: the document was read with its outbox."""
    goal = Goal(
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
        risk_checked_on=_date(doc.get("risk_checked_on")),
        next_review_on=_date(doc.get("next_review_on")),
        review_pending=doc.get("review_pending"),
        review_due_on=_date(doc.get("review_due_on")),
        applied=guards_of(doc),
        last_activity_at=as_utc(doc.get("last_activity_at")),
        update_reminded_at=as_utc(doc.get("update_reminded_at")),
        update_check_at=as_utc(doc.get("update_check_at")),
        template_id=doc.get("template_id"),
        created_by=doc.get("created_by"),
        created_at=as_utc(doc.get("created_at")) or utcnow(),
        updated_at=as_utc(doc.get("updated_at")) or utcnow(),
        version=int(doc.get("version", 0)),
        stored={
            # None: stored before the binding index; its first save indexes it
            "binding_keys": doc.get("binding_keys"),
            PENDING_TIMELINE: list(doc.get(PENDING_TIMELINE, [])),
        },
    )
    if outbox:
        goal.stored[OUTBOX] = entries(doc)
    return goal


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


class GoalRepository(TenantRecords, ReminderQueries):
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        super().__init__(db)
        # the outbox relay's removals and a goal's update must not undo each other: atomic on
        # MongoDB and the patched local store, serialized in the process elsewhere (shared/mongo.py)
        self.goals = db[GOALS]
        self.outboxes = (self.goals,)  # goals carry their events (pending_events)
        self.index = BindingIndex(db)
        self.timeline_log = GoalTimeline(db)

    # ------------------------------------------------------------------ goals
    async def insert(self, goal: Goal, events: Sequence[Envelope]) -> None:
        bindings = goal_bindings(goal)
        await self.index.bind(goal.tenant, goal.id, bindings)  # before the goal: see save
        pending = timeline_docs(goal.tenant, goal.id, 1, goal.new_timeline)
        doc = {
            "_id": goal.id,
            **goal_state(goal),
            "version": 1,
            PENDING_TIMELINE: pending,
            "pending_events": [e.to_document() for e in events],
        }
        try:
            await self.goals.insert_one(doc)
        except DuplicateKeyError as exc:
            raise Conflict(f"goal {goal.id} already exists") from exc
        goal.version = 1
        goal.stored = {
            "binding_keys": sorted(bindings),
            PENDING_TIMELINE: pending,
            OUTBOX: list(events),
        }

    async def save(
        self,
        goal: Goal,
        events: Sequence[Envelope],
        *,
        relay_after: datetime | None = None,
    ) -> None:
        """Write the goal's state, new timeline entries and events in one versioned update.

        ``relay_after``: the events are held (``shared.messaging.outbox``) and replace the
        entries the goal was loaded with (``outbox=True``), which its writer has published.

        Around it, without a transaction: binding keys the goal gains are indexed before and
        keys it lost unindexed after (``BindingIndex``); pending timeline entries are moved
        to their collection before, once a batch is full (``GoalTimeline``).
        """
        if goal.stored.get(READ_ONLY):
            # its pending timeline was not loaded: saving would drop those entries
            raise RuntimeError(f"goal {goal.id} was read by a list and cannot be saved")
        bindings = goal_bindings(goal)
        had = set(goal.stored.get("binding_keys") or ())
        gained = {k: v for k, v in bindings.items() if k not in had}
        await self.index.bind(goal.tenant, goal.id, gained)
        pending = list(goal.stored.get(PENDING_TIMELINE, []))
        new = timeline_docs(goal.tenant, goal.id, goal.version + 1, goal.new_timeline)
        if len(pending) + len(new) > TIMELINE_BATCH:
            await self.timeline_log.move(pending)
            pending = []
        pending += new
        # the version guard refuses the save if another writer changed the goal since it was
        # loaded, so an event this save applies cannot have been applied by another meanwhile
        filter_: Document = {"_id": goal.id, "tenant": goal.tenant}
        update: Document = {
            "$set": {**goal_state(goal), PENDING_TIMELINE: pending},
            "$unset": dict.fromkeys(_LEGACY_GUARDS, ""),
        }
        outbox: list[Envelope] | None = goal.stored.get(OUTBOX)
        if relay_after is None:
            update = with_outbox(update, events)
            if outbox is not None:
                outbox = [*outbox, *events]
        elif outbox is None:
            # a held save replaces entries it would not have seen
            raise RuntimeError(f"goal {goal.id} was loaded without its outbox (outbox=True)")
        else:
            update = held_outbox(update, events, relay_after)
            outbox = list(events)
        await update_versioned(self.goals, filter_, goal.version, update)
        goal.version += 1
        goal.new_timeline.clear()
        goal.events.clear()
        goal.stored = {"binding_keys": sorted(bindings), PENDING_TIMELINE: pending}
        if outbox is not None:
            goal.stored[OUTBOX] = outbox
        await self.index.unbind(goal.tenant, goal.id, had - set(bindings))

    async def get(self, tenant: str, goal_id: str, *, outbox: bool = False) -> Goal | None:
        """The tenant's goal; ``outbox``: with the outbox entries a held save replaces."""
        # by _id alone, tenant checked here: FerretDB 1.24 answers only that without a scan
        doc = await self.goals.find_one({"_id": goal_id}, _projection(outbox))
        if not doc or doc.get("tenant") != tenant:
            return None
        return goal_from_doc(doc, outbox=outbox)

    async def get_many(
        self, tenant: str, goal_ids: Sequence[str], *, outbox: bool = False
    ) -> dict[str, Goal]:
        """The tenant's goals among ``goal_ids``, by id, in one round trip (for saving)."""
        if not goal_ids:
            return {}
        cursor = self.goals.find({"_id": {"$in": list(goal_ids)}}, _projection(outbox))
        return {
            doc["_id"]: goal_from_doc(doc, outbox=outbox)
            async for doc in cursor
            if doc.get("tenant") == tenant
        }

    async def timeline(
        self, tenant: str, goal_id: str, *, after: int | None, limit: int
    ) -> list[Document]:
        """Up to ``limit`` timeline entries after ``after`` (their ``seq``), oldest first."""
        doc = await self.goals.find_one(
            {"_id": goal_id, "tenant": tenant}, {PENDING_TIMELINE: 1, "timeline": 1}
        )
        if doc is None:
            return []
        # entries embedded by earlier versions come first, with negative positions
        legacy = doc.get("timeline", [])
        pending = [{**e, "seq": i - len(legacy)} for i, e in enumerate(legacy)]
        pending += doc.get(PENDING_TIMELINE, [])
        return await self.timeline_log.page(tenant, goal_id, pending, after=after, limit=limit)

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
        goals = await self._page(query, after=after, limit=limit, projection=_LISTED)
        for goal in goals:
            goal.stored[READ_ONLY] = True
        return goals

    async def pursued_by(self, tenant: str, owner_id: str, *, limit: int) -> list[Goal]:
        """An owner's goals, but the abandoned ones."""
        query = {"tenant": tenant, "owner_id": owner_id, "status": {"$ne": "abandoned"}}
        return await self._page(query, limit=limit)

    async def _page(
        self,
        query: Document,
        *,
        after: str | None = None,
        limit: int,
        projection: Document = _LEAN,
    ) -> list[Goal]:
        if after:
            query = {"$and": [query, {"_id": {"$gt": after}}]}
        cursor = self.goals.find(query, projection).sort("_id", ASCENDING).limit(limit)
        return [goal_from_doc(doc) async for doc in cursor]

    async def children(self, tenant: str, parent_ids: Sequence[str]) -> list[Goal]:
        cursor = self.goals.find({"tenant": tenant, "parent_id": {"$in": list(parent_ids)}}, _LEAN)
        return [goal_from_doc(doc) async for doc in cursor.sort("_id", ASCENDING)]

    async def parent_of(self, tenant: str, goal_id: str) -> str | None:
        doc = await self.goals.find_one({"_id": goal_id, "tenant": tenant}, {"parent_id": 1})
        return doc.get("parent_id") if doc else None

    async def exists(self, tenant: str, goal_id: str) -> bool:
        return await self.goals.find_one({"_id": goal_id, "tenant": tenant}, {"_id": 1}) is not None

    async def goals_for_points(
        self, tenant: str, points: Sequence[tuple[str, Mapping[str, str]]]
    ) -> list[dict[str, list[str]]]:
        """Ids of the goals indexed under a binding each (metric, dimensions) matches, by
        binding key, in a constant number of reads."""
        return await self.index.goal_ids_for_points(tenant, points)

    async def unbind(self, tenant: str, goal_id: str, keys: Sequence[str]) -> None:
        await self.index.unbind(tenant, goal_id, keys)

    async def unindexed(self, limit: int = 500) -> list[tuple[str, str]]:
        """Active goals stored before the binding index existed (their first save indexes them)."""
        cursor = self.goals.find(
            {"status": "active", "binding_keys": {"$exists": False}}, {"_id": 1, "tenant": 1}
        ).limit(limit)
        return [(doc["tenant"], doc["_id"]) async for doc in cursor]

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
            {"$or": [{"applied_since": {"$lt": before}}, {"applied_times.0": {"$lt": before}}]},
            {"_id": 1, "tenant": 1},
        ).limit(limit)
        return [(doc["tenant"], doc["_id"]) async for doc in cursor]
