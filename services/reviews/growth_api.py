"""HTTP routes of the career framework: ladders, a person's levels and their gap analysis."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from services.reviews.growth import CareerService
from services.reviews.ladders import Ladder, Level
from services.reviews.schemas import (
    LEVEL_ID_PATTERN,
    CareerLevelPublic,
    CurrentLevelIn,
    GapAnalysisPublic,
    LadderIn,
    LadderPublic,
    TargetLevelIn,
)
from shared.auth import CurrentPrincipal, HRPrincipal, Principal
from shared.pagination import Page

router = APIRouter(prefix="/v1", tags=["career"])


def _service(request: Request) -> CareerService:
    service: CareerService = request.app.state.career
    return service


Service = Annotated[CareerService, Depends(_service)]


def _ladder(ladder: Ladder) -> LadderPublic:
    return LadderPublic.model_validate(
        {
            "id": ladder.id,
            "name": ladder.name,
            "built_in": ladder.built_in,
            "version": ladder.version,
            "skills": list(ladder.skills),
            "levels": [
                {
                    "id": lv.id,
                    "name": lv.name,
                    "expectations": lv.expectations,
                    "titles": list(lv.titles),
                }
                for lv in ladder.levels
            ],
        }
    )


def _who(principal: Principal, person_id: str) -> str:
    """``me`` names the caller."""
    return principal.person_id if person_id == "me" else person_id


@router.get("/ladders", response_model=Page[LadderPublic])
async def list_ladders(principal: CurrentPrincipal, service: Service) -> Page[LadderPublic]:
    """The tenant's career ladders (the built-in product-management one unless edited)."""
    return Page(items=[_ladder(lad) for lad in await service.ladders(principal.tenant)])


@router.get("/ladders/{ladder_id}", response_model=LadderPublic)
async def get_ladder(ladder_id: str, principal: CurrentPrincipal, service: Service) -> LadderPublic:
    """One ladder with the skill levels each of its levels expects."""
    return _ladder(await service.ladder(principal.tenant, ladder_id))


@router.put("/ladders/{ladder_id}", response_model=LadderPublic)
async def put_ladder(
    ladder_id: Annotated[str, Path(pattern=LEVEL_ID_PATTERN)],
    body: LadderIn,
    principal: HRPrincipal,
    service: Service,
) -> LadderPublic:
    """HR edits a ladder or adds one for another role."""
    levels = [Level(lv.id, lv.name, dict(lv.expectations), tuple(lv.titles)) for lv in body.levels]
    ladder = await service.put_ladder(principal, ladder_id, body.name, levels, body.version)
    return _ladder(ladder)


@router.get("/people/{person_id}/career", response_model=CareerLevelPublic)
async def get_level(
    person_id: str, principal: CurrentPrincipal, service: Service
) -> CareerLevelPublic:
    """A person's current and target level (themselves, their managers, HR)."""
    return CareerLevelPublic.model_validate(
        await service.level(principal, _who(principal, person_id))
    )


@router.put("/people/{person_id}/career/current", response_model=CareerLevelPublic)
async def set_current_level(
    person_id: str, body: CurrentLevelIn, principal: CurrentPrincipal, service: Service
) -> CareerLevelPublic:
    """HR or the person's manager sets their current level."""
    level = await service.set_current(
        principal, _who(principal, person_id), body.level, body.ladder_id
    )
    return CareerLevelPublic.model_validate(level)


@router.put("/people/{person_id}/career/target", response_model=CareerLevelPublic)
async def set_target_level(
    person_id: str, body: TargetLevelIn, principal: CurrentPrincipal, service: Service
) -> CareerLevelPublic:
    """The person picks the level they aim for."""
    level = await service.set_target(principal, _who(principal, person_id), body.level)
    return CareerLevelPublic.model_validate(level)


@router.get("/people/{person_id}/gaps", response_model=GapAnalysisPublic)
async def get_gaps(
    person_id: str, principal: CurrentPrincipal, service: Service
) -> GapAnalysisPublic:
    """Per skill: expected at the target level vs evidence, goals on it, suggested templates."""
    who = _who(principal, person_id)
    analysis = await service.gaps(principal, who)
    return GapAnalysisPublic.model_validate(
        {
            "person_id": who,
            "ladder_id": analysis.ladder_id,
            "current_level": analysis.current_level,
            "target_level": analysis.target_level,
            "skills": analysis.skills,
            "suggested_templates": analysis.suggested_templates,
        }
    )
