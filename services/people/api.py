"""The people API (JWT): directory reads, org chart, mentorships, SCIM tokens, HRIS imports."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from services.people import hris
from services.people.imports import HrisImports
from services.people.mentorships import Mentorships
from services.people.schemas import (
    ImportRequest,
    ManagerUpdate,
    MentorshipCreate,
    MentorshipPublic,
    PersonPublic,
    ScimTokenCreate,
    ScimTokenCreated,
    ScimTokenPublic,
)
from services.people.scim.api import PREFIX as SCIM_PREFIX
from services.people.service import DirectorySearch, PeopleService
from services.people.tokens import ScimTokens
from shared.audit import Actor
from shared.auth import AdminPrincipal, CurrentPrincipal, HRPrincipal, api_key_resource
from shared.errors import InvalidInput, PayloadTooLarge
from shared.pagination import Page, decode_cursor, encode_cursor

# API keys: ``people:read`` reads the directory (its other routes need roles a key lacks)
router = APIRouter(prefix="/v1", tags=["people"], dependencies=[api_key_resource("people")])


def _people(request: Request) -> PeopleService:
    service: PeopleService = request.app.state.people
    return service


def _mentorships(request: Request) -> Mentorships:
    mentorships: Mentorships = request.app.state.mentorships
    return mentorships


@router.get("/people", response_model=Page[PersonPublic])
async def list_people(
    request: Request,
    principal: CurrentPrincipal,
    q: Annotated[str | None, Query(max_length=100)] = None,
    manager_id: str | None = None,
    department: str | None = None,
    active: bool | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[PersonPublic]:
    """The directory of the caller's tenant, filtered and paged by cursor."""
    position = decode_cursor(cursor)
    search = DirectorySearch(
        q=q,
        manager_id=manager_id,
        department=department,
        active=active,
        after=str(position["after"]) if position else None,
        limit=limit + 1,
    )
    records = await _people(request).search(principal.tenant, search)
    more = len(records) > limit
    records = records[:limit]
    next_cursor = encode_cursor({"after": records[-1].id}) if more and records else None
    return Page[PersonPublic](items=[PersonPublic.of(r) for r in records], next_cursor=next_cursor)


@router.get("/people/{person_id}", response_model=PersonPublic)
async def get_person(request: Request, principal: CurrentPrincipal, person_id: str) -> PersonPublic:
    """One person of the caller's tenant."""
    return PersonPublic.of(await _people(request).person(principal.tenant, person_id))


@router.get("/people/{person_id}/reports", response_model=Page[PersonPublic])
async def reports(
    request: Request,
    principal: CurrentPrincipal,
    person_id: str,
    depth: Annotated[str, Query(pattern="^(direct|all)$")] = "direct",
) -> Page[PersonPublic]:
    """Direct reports, or everyone below with ``depth=all``."""
    found = await _people(request).reports(principal.tenant, person_id, all_levels=depth == "all")
    return Page[PersonPublic](items=[PersonPublic.of(r) for r in found])


@router.get("/people/{person_id}/chain", response_model=Page[PersonPublic])
async def chain(
    request: Request, principal: CurrentPrincipal, person_id: str
) -> Page[PersonPublic]:
    """The management chain, the direct manager first."""
    found = await _people(request).chain(principal.tenant, person_id)
    return Page[PersonPublic](items=[PersonPublic.of(r) for r in found])


@router.put("/people/{person_id}/manager", response_model=PersonPublic)
async def set_manager(
    request: Request, principal: HRPrincipal, person_id: str, body: ManagerUpdate
) -> PersonPublic:
    """Change a person's manager (HR); a cycle is refused with 422."""
    person = await _people(request).set_manager(
        principal.tenant, person_id, body.manager_id, actor=Actor.of(principal)
    )
    return PersonPublic.of(person)


@router.post("/people/{person_id}/deactivate", response_model=PersonPublic)
async def deactivate(request: Request, principal: HRPrincipal, person_id: str) -> PersonPublic:
    """Deactivate a person (HR): published as deactivated, kept in the directory as inactive.

    The same effect as an identity provider's SCIM deactivation; repeating it changes nothing.
    """
    person = await _people(request).deactivate(
        principal.tenant, person_id, actor=Actor.of(principal)
    )
    return PersonPublic.of(person)


@router.get("/people/{person_id}/mentors", response_model=Page[PersonPublic])
async def mentors(
    request: Request, principal: CurrentPrincipal, person_id: str
) -> Page[PersonPublic]:
    """The active mentors of a person."""
    found = await _mentorships(request).of(principal.tenant, person_id, role="mentee")
    return Page[PersonPublic](items=[PersonPublic.of(r) for r in found])


@router.get("/people/{person_id}/mentees", response_model=Page[PersonPublic])
async def mentees(
    request: Request, principal: CurrentPrincipal, person_id: str
) -> Page[PersonPublic]:
    """The active mentees of a person."""
    found = await _mentorships(request).of(principal.tenant, person_id, role="mentor")
    return Page[PersonPublic](items=[PersonPublic.of(r) for r in found])


@router.post("/mentorships", response_model=MentorshipPublic, status_code=201)
async def start_mentorship(
    request: Request, principal: CurrentPrincipal, body: MentorshipCreate
) -> MentorshipPublic:
    """Pair a mentor and a mentee (HR: active at once), or ask a mentor (the mentee for
    themselves: pending until the mentor accepts)."""
    mentorship = await _mentorships(request).start(
        principal, body.mentor_id, body.mentee_id, body.focus_skills
    )
    return MentorshipPublic.of(mentorship)


@router.post("/mentorships/{mentorship_id}/accept", response_model=MentorshipPublic)
async def accept_mentorship(
    request: Request, principal: CurrentPrincipal, mentorship_id: str
) -> MentorshipPublic:
    """The requested mentor accepts: the mentorship starts (409 unless pending)."""
    return MentorshipPublic.of(await _mentorships(request).accept(principal, mentorship_id))


@router.post("/mentorships/{mentorship_id}/decline", response_model=MentorshipPublic)
async def decline_mentorship(
    request: Request, principal: CurrentPrincipal, mentorship_id: str
) -> MentorshipPublic:
    """The requested mentor declines: nothing starts (409 unless pending)."""
    return MentorshipPublic.of(await _mentorships(request).decline(principal, mentorship_id))


@router.delete("/mentorships/{mentorship_id}", status_code=204)
async def end_mentorship(
    request: Request, principal: CurrentPrincipal, mentorship_id: str
) -> Response:
    """End a mentorship (HR, the mentor or the mentee)."""
    await _mentorships(request).end(principal, mentorship_id)
    return Response(status_code=204)


@router.post("/scim-tokens", response_model=ScimTokenCreated, status_code=201)
async def create_scim_token(
    request: Request, principal: AdminPrincipal, body: ScimTokenCreate | None = None
) -> ScimTokenCreated:
    """Create a SCIM bearer token for the caller's tenant; the token is shown only here."""
    tokens: ScimTokens = request.app.state.scim_tokens
    issued = await tokens.issue(
        principal.tenant,
        created_by=principal.person_id,
        name=body.name if body else None,
        actor=Actor.of(principal),
    )
    return ScimTokenCreated(
        token_id=issued.token_id,
        token=issued.token,
        tenant=issued.tenant,
        name=issued.name,
        created_at=issued.created_at,
        scim_base_url=str(request.base_url).rstrip("/") + SCIM_PREFIX,
    )


@router.get("/scim-tokens", response_model=Page[ScimTokenPublic])
async def list_scim_tokens(request: Request, principal: AdminPrincipal) -> Page[ScimTokenPublic]:
    """The SCIM tokens of the caller's tenant (never the tokens themselves), in one page."""
    tokens: ScimTokens = request.app.state.scim_tokens
    found = await tokens.list(principal.tenant)
    return Page[ScimTokenPublic](items=[ScimTokenPublic.model_validate(t) for t in found])


@router.delete("/scim-tokens/{token_id}", status_code=204)
async def revoke_scim_token(request: Request, principal: AdminPrincipal, token_id: str) -> Response:
    """Revoke a SCIM token: its next call is 401."""
    tokens: ScimTokens = request.app.state.scim_tokens
    await tokens.revoke(principal.tenant, token_id, Actor.of(principal))
    return Response(status_code=204)


@router.post("/imports")
async def run_import(
    request: Request,
    principal: HRPrincipal,
    body: ImportRequest,
    dry_run: bool = False,
    force: bool = False,
) -> dict[str, Any]:
    """Sync people from an HRIS export; ``dry_run`` returns the diff and changes nothing."""
    if body.format == "csv":
        if body.csv is None:
            raise InvalidInput("format csv needs a csv text")
        rows: list[dict[str, Any]] = hris.read_csv(body.csv)
    else:
        if body.rows is None:
            raise InvalidInput("format json needs rows")
        rows = body.rows
    imports: HrisImports = request.app.state.imports
    if len(rows) > imports.max_rows:
        raise PayloadTooLarge(f"at most {imports.max_rows} rows per import")
    return await imports.run(
        principal.tenant,
        Actor.of(principal),
        rows,
        body.mapping,
        dry_run=dry_run,
        force=force,
        deactivate_missing=body.deactivate_missing,
    )
