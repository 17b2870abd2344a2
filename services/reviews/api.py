"""HTTP routes of review cycles and reviews (thin: parse, call one use case, map the result)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from services.reviews.access import review_view
from services.reviews.calibration import distribution, export_csv
from services.reviews.cycle import Cycle, Population
from services.reviews.schemas import (
    CalibrationIn,
    CalibrationPublic,
    CycleCreate,
    CyclePublic,
    ManagerReviewIn,
    PacketPublic,
    PeerApprovalIn,
    PeersIn,
    ReleaseResult,
    ReviewPublic,
    SelfReviewIn,
)
from services.reviews.service import NewCycle, ReviewService
from shared.auth import CurrentPrincipal, HRPrincipal
from shared.pagination import Page

router = APIRouter(prefix="/v1", tags=["reviews"])


def _service(request: Request) -> ReviewService:
    service: ReviewService = request.app.state.reviews
    return service


Service = Annotated[ReviewService, Depends(_service)]


def _cycle(cycle: Cycle, progress: dict[str, int] | None = None) -> CyclePublic:
    return CyclePublic.model_validate(
        {
            **vars(cycle),
            "population": {"kind": cycle.population.kind, "value": cycle.population.value},
            "progress": progress,
        }
    )


# ---------------------------------------------------------------------- cycles (HR)


@router.post("/review-cycles", status_code=status.HTTP_201_CREATED, response_model=CyclePublic)
async def create_cycle(body: CycleCreate, principal: HRPrincipal, service: Service) -> CyclePublic:
    """HR creates a review cycle (a draft until launched)."""
    new = NewCycle(
        name=body.name,
        period_start=body.period_start,
        period_end=body.period_end,
        population=Population(body.population.kind, body.population.value),
        deadlines=body.deadlines.model_dump(),
    )
    return _cycle(await service.create_cycle(principal, new))


@router.get("/review-cycles", response_model=Page[CyclePublic])
async def list_cycles(principal: HRPrincipal, service: Service) -> Page[CyclePublic]:
    """The tenant's cycles, newest first."""
    return Page(items=[_cycle(c) for c in await service.cycles(principal.tenant)])


@router.get("/review-cycles/{cycle_id}", response_model=CyclePublic)
async def get_cycle(cycle_id: str, principal: HRPrincipal, service: Service) -> CyclePublic:
    """A cycle with how many reviews have done each step."""
    cycle = await service.cycle(principal.tenant, cycle_id)
    return _cycle(cycle, await service.progress(cycle))


@router.post("/review-cycles/{cycle_id}/launch", response_model=CyclePublic)
async def launch_cycle(cycle_id: str, principal: HRPrincipal, service: Service) -> CyclePublic:
    """Open a review for each person of the cycle's population."""
    cycle = await service.launch(principal, cycle_id)
    return _cycle(cycle, await service.progress(cycle))


@router.post("/review-cycles/{cycle_id}/close-calibration", response_model=CyclePublic)
async def close_calibration(cycle_id: str, principal: HRPrincipal, service: Service) -> CyclePublic:
    """Mark the calibration step done."""
    return _cycle(await service.close_calibration(principal, cycle_id))


@router.post("/review-cycles/{cycle_id}/release", response_model=ReleaseResult)
async def release_cycle(cycle_id: str, principal: HRPrincipal, service: Service) -> ReleaseResult:
    """Make the manager reviews visible to the people reviewed."""
    return ReleaseResult.model_validate(await service.release(principal, cycle_id))


@router.get("/review-cycles/{cycle_id}/calibration", response_model=CalibrationPublic)
async def calibration(cycle_id: str, principal: HRPrincipal, service: Service) -> CalibrationPublic:
    """The distribution of ratings per team and department, and every review's rating."""
    cycle, reviews = await service.cycle_reviews(principal, cycle_id)
    people = await service.directory.many(cycle.tenant, [r.person_id for r in reviews])
    view = distribution(reviews, people)
    return CalibrationPublic.model_validate(
        {"cycle_id": cycle.id, "scale": service.policy.rating_scale, **view}
    )


@router.get(
    "/review-cycles/{cycle_id}/export.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def export_cycle(cycle_id: str, principal: HRPrincipal, service: Service) -> Response:
    """The cycle's results as CSV, one row per review."""
    cycle, reviews = await service.cycle_reviews(principal, cycle_id)
    people = await service.directory.many(cycle.tenant, [r.person_id for r in reviews])
    skills = await service.career.tenant_skills(cycle.tenant)
    return Response(
        export_csv(reviews, people, skills),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="cycle-{cycle.id}.csv"'},
    )


# ---------------------------------------------------------------------- reviews


@router.get("/reviews", response_model=Page[ReviewPublic])
async def list_reviews(
    principal: CurrentPrincipal, service: Service, cycle_id: str | None = None
) -> Page[ReviewPublic]:
    """My reviews and the ones I write as a manager (HR with cycle_id: the whole cycle)."""
    found = await service.reviews_for(principal, cycle_id)
    return Page(items=[ReviewPublic.model_validate(review_view(r, rel)) for r, rel in found])


@router.get("/reviews/{review_id}", response_model=ReviewPublic)
async def get_review(review_id: str, principal: CurrentPrincipal, service: Service) -> ReviewPublic:
    """A review as the caller may see it (the manager side once released, for the person)."""
    review, rel = await service.review(principal, review_id)
    return ReviewPublic.model_validate(review_view(review, rel))


@router.get("/reviews/{review_id}/packet", response_model=PacketPublic)
async def get_packet(review_id: str, principal: CurrentPrincipal, service: Service) -> PacketPublic:
    """The goals, feedback, praise and check-ins of the review's period."""
    return PacketPublic.model_validate(await service.packet(principal, review_id))


async def _view(
    service: ReviewService, principal: CurrentPrincipal, review_id: str
) -> ReviewPublic:
    review, rel = await service.review(principal, review_id)
    return ReviewPublic.model_validate(review_view(review, rel))


@router.put("/reviews/{review_id}/self-review", response_model=ReviewPublic)
async def submit_self_review(
    review_id: str, body: SelfReviewIn, principal: CurrentPrincipal, service: Service
) -> ReviewPublic:
    """The person submits their self review (final)."""
    await service.submit_self(
        principal,
        review_id,
        ratings=body.ratings,
        goal_comments=body.goal_comments,
        comments=body.comments,
    )
    return await _view(service, principal, review_id)


@router.put("/reviews/{review_id}/peers", response_model=ReviewPublic)
async def nominate_peers(
    review_id: str, body: PeersIn, principal: CurrentPrincipal, service: Service
) -> ReviewPublic:
    """The person nominates peers (until their manager approves)."""
    await service.nominate_peers(principal, review_id, body.peer_ids)
    return await _view(service, principal, review_id)


@router.post("/reviews/{review_id}/peers/approve", response_model=ReviewPublic)
async def approve_peers(
    review_id: str, body: PeerApprovalIn, principal: CurrentPrincipal, service: Service
) -> ReviewPublic:
    """The manager approves peers; the feedback service asks them."""
    await service.approve_peers(principal, review_id, body.approved_peer_ids)
    return await _view(service, principal, review_id)


@router.put("/reviews/{review_id}/manager-review", response_model=ReviewPublic)
async def submit_manager_review(
    review_id: str, body: ManagerReviewIn, principal: CurrentPrincipal, service: Service
) -> ReviewPublic:
    """The manager submits the manager review (final)."""
    await service.submit_manager(
        principal,
        review_id,
        ratings=body.ratings,
        overall_rating=body.overall_rating,
        summary=body.summary,
    )
    return await _view(service, principal, review_id)


@router.post("/reviews/{review_id}/calibration", response_model=ReviewPublic)
async def calibrate(
    review_id: str, body: CalibrationIn, principal: HRPrincipal, service: Service
) -> ReviewPublic:
    """HR adjusts the overall rating; the reason is kept with who and when."""
    await service.calibrate(principal, review_id, body.rating, body.reason)
    return await _view(service, principal, review_id)


@router.post("/reviews/{review_id}/acknowledge", response_model=ReviewPublic)
async def acknowledge(
    review_id: str, principal: CurrentPrincipal, service: Service
) -> ReviewPublic:
    """The person acknowledges their released review."""
    await service.acknowledge(principal, review_id)
    return await _view(service, principal, review_id)
