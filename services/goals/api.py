"""HTTP routes of the goals service (thin: parse, call one use case, map the result)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from services.goals.schemas import (
    CheckInCreate,
    CheckInPublic,
    GoalBrief,
    GoalCreate,
    GoalPublic,
    GoalSettingsPublic,
    GoalSettingsUpdate,
    GoalSummary,
    GoalTree,
    GoalTreePublic,
    GoalUpdate,
    ReviewDone,
    StatusChange,
    TemplateCreate,
    TemplatePublic,
    TimelineEntryPublic,
)
from services.goals.service import GoalService
from shared.auth import CurrentPrincipal, HRPrincipal, api_key_resource
from shared.pagination import Page

# API keys: ``goals:read`` reads every goal of the key's tenant (no key may write)
router = APIRouter(prefix="/v1", tags=["goals"], dependencies=[api_key_resource("goals")])


def _service(request: Request) -> GoalService:
    service: GoalService = request.app.state.goals
    return service


Service = Annotated[GoalService, Depends(_service)]


def _tree(node: dict[str, Any]) -> GoalTree:
    return GoalTree(
        goal=GoalBrief.model_validate(node["goal"]), children=[_tree(c) for c in node["children"]]
    )


# ---------------------------------------------------------------------- templates


@router.get("/goal-templates", response_model=Page[TemplatePublic])
async def list_templates(principal: CurrentPrincipal, service: Service) -> Page[TemplatePublic]:
    """The career guide's templates and the tenant's own."""
    items = await service.templates(principal.tenant)
    return Page(items=[TemplatePublic.model_validate(t) for t in items])


@router.get("/goal-templates/{template_id}", response_model=TemplatePublic)
async def get_template(
    template_id: str, principal: CurrentPrincipal, service: Service
) -> TemplatePublic:
    """One template."""
    return TemplatePublic.model_validate(await service.template(principal.tenant, template_id))


@router.post("/goal-templates", response_model=TemplatePublic, status_code=201)
async def add_template(
    body: TemplateCreate, principal: HRPrincipal, service: Service
) -> TemplatePublic:
    """Add a tenant template (HR admins)."""
    doc = await service.add_template(principal.tenant, body.model_dump(mode="json"))
    return TemplatePublic.model_validate(doc)


# ---------------------------------------------------------------------- tenant settings


@router.get("/goal-settings", response_model=GoalSettingsPublic)
async def get_goal_settings(principal: CurrentPrincipal, service: Service) -> GoalSettingsPublic:
    """The tenant's goal settings (at-risk margin, N of the update nudge)."""
    return GoalSettingsPublic.model_validate(await service.goal_settings(principal.tenant))


@router.put("/goal-settings", response_model=GoalSettingsPublic)
async def put_goal_settings(
    body: GoalSettingsUpdate, principal: HRPrincipal, service: Service
) -> GoalSettingsPublic:
    """Change the tenant's goal settings (HR admins); fields left out keep their value."""
    changes = body.model_dump(exclude_none=True)
    return GoalSettingsPublic.model_validate(
        await service.put_goal_settings(principal.tenant, changes)
    )


# ---------------------------------------------------------------------- goals


@router.post("/goals", response_model=GoalPublic, status_code=201)
async def create_goal(
    body: GoalCreate, principal: CurrentPrincipal, service: Service
) -> GoalPublic:
    """Create a goal from scratch or from a template."""
    return GoalPublic.model_validate(await service.create(principal, body))


@router.get("/goals", response_model=Page[GoalPublic])
async def list_goals(
    principal: CurrentPrincipal,
    service: Service,
    owner_id: str | None = None,
    status: Literal["draft", "active", "achieved", "abandoned"] | None = None,
    horizon: Literal["short_term", "long_term"] | None = None,
    parent_id: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Page[GoalPublic]:
    """The goals the caller may see, filtered, oldest first."""
    filters = {
        name: value
        for name, value in {
            "owner_id": owner_id,
            "status": status,
            "horizon": horizon,
            "parent_id": parent_id,
        }.items()
        if value is not None
    }
    goals, next_cursor = await service.list_goals(
        principal, filters=filters, cursor=cursor, limit=limit
    )
    return Page(items=[GoalPublic.model_validate(g) for g in goals], next_cursor=next_cursor)


@router.get("/goals/{goal_id}", response_model=GoalPublic)
async def get_goal(goal_id: str, principal: CurrentPrincipal, service: Service) -> GoalPublic:
    """One goal."""
    return GoalPublic.model_validate(await service.get(principal, goal_id))


@router.patch("/goals/{goal_id}", response_model=GoalPublic)
async def edit_goal(
    goal_id: str, body: GoalUpdate, principal: CurrentPrincipal, service: Service
) -> GoalPublic:
    """Edit a goal (owner only); ``key_results`` replaces the set."""
    return GoalPublic.model_validate(await service.edit(principal, goal_id, body))


@router.post("/goals/{goal_id}/status", response_model=GoalPublic)
async def change_status(
    goal_id: str, body: StatusChange, principal: CurrentPrincipal, service: Service
) -> GoalPublic:
    """Move a goal along draft → active → achieved | abandoned."""
    return GoalPublic.model_validate(await service.change_status(principal, goal_id, body))


@router.post("/goals/{goal_id}/check-ins", response_model=CheckInPublic, status_code=201)
async def check_in(
    goal_id: str, body: CheckInCreate, principal: CurrentPrincipal, service: Service
) -> CheckInPublic:
    """Record key-result values, confidence, a note or a learning activity."""
    check_in_id, goal = await service.check_in(principal, goal_id, body)
    return CheckInPublic(check_in_id=check_in_id, goal=GoalPublic.model_validate(goal))


@router.post("/goals/{goal_id}/reviews", response_model=GoalPublic)
async def review_done(
    goal_id: str, body: ReviewDone, principal: CurrentPrincipal, service: Service
) -> GoalPublic:
    """Mark the goal reviewed (owner or manager); the next cadence starts today."""
    return GoalPublic.model_validate(await service.mark_reviewed(principal, goal_id, body.note))


@router.get("/goals/{goal_id}/timeline", response_model=Page[TimelineEntryPublic])
async def timeline(
    goal_id: str,
    principal: CurrentPrincipal,
    service: Service,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> Page[TimelineEntryPublic]:
    """Every progress change with its cause, check-ins, feedback, status and review changes."""
    entries, next_cursor = await service.timeline(principal, goal_id, cursor, limit)
    return Page(
        items=[TimelineEntryPublic.model_validate(e) for e in entries], next_cursor=next_cursor
    )


@router.get("/goals/{goal_id}/tree", response_model=GoalTreePublic)
async def tree(goal_id: str, principal: CurrentPrincipal, service: Service) -> GoalTreePublic:
    """The goal's alignment: its ancestors and the goals below it that the caller may see."""
    ancestors, root = await service.tree(principal, goal_id)
    return GoalTreePublic(
        ancestors=[GoalBrief.model_validate(g) for g in ancestors], tree=_tree(root)
    )


@router.get("/people/{person_id}/goals/summary", response_model=GoalSummary)
async def summary(person_id: str, principal: CurrentPrincipal, service: Service) -> GoalSummary:
    """A person's goals by horizon with progress and at-risk flags (self, managers, HR)."""
    goals = await service.summary(principal, person_id)
    return GoalSummary(
        person_id=person_id,
        short_term=[GoalBrief.model_validate(g) for g in goals if g.horizon == "short_term"],
        long_term=[GoalBrief.model_validate(g) for g in goals if g.horizon == "long_term"],
        at_risk=sum(1 for g in goals if g.at_risk and g.status == "active"),
        active=sum(1 for g in goals if g.status == "active"),
    )
