"""GDPR routes of the people service: erasure (HR) and data export (the person or HR)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from services.people.erasure import Erasures, ErasureStatus
from services.people.exports import Exports, export_view
from shared.audit import Actor
from shared.auth import CurrentPrincipal, HRPrincipal
from shared.errors import Forbidden

router = APIRouter(prefix="/v1", tags=["privacy"])


class ErasurePublic(BaseModel):
    person_id: str
    status: str  # pending until every service reported, then done
    requested_at: datetime
    completed_at: datetime | None
    services: dict[str, str]  # service -> pending | done

    @classmethod
    def of(cls, status: ErasureStatus) -> ErasurePublic:
        return cls(
            person_id=status.person_id,
            status=status.status,
            requested_at=status.requested_at,
            completed_at=status.completed_at,
            services=status.services,
        )


class ExportPublic(BaseModel):
    id: str
    person_id: str
    status: str  # ready, or incomplete when a service did not answer
    created_at: datetime
    services: dict[str, str]
    archive: dict[str, Any] | None = None


def _erasures(request: Request) -> Erasures:
    erasures: Erasures = request.app.state.erasures
    return erasures


def _exports(request: Request) -> Exports:
    exports: Exports = request.app.state.exports
    return exports


@router.post("/people/{person_id}/erasure", response_model=ErasurePublic, status_code=202)
async def erase_person(request: Request, principal: HRPrincipal, person_id: str) -> ErasurePublic:
    """Erase a person everywhere (HR admins); repeating it changes nothing."""
    status = await _erasures(request).erase(
        principal.tenant, person_id, by=principal.person_id, actor=Actor.of(principal)
    )
    return ErasurePublic.of(status)


@router.get("/people/{person_id}/erasure", response_model=ErasurePublic)
async def erasure_status(request: Request, principal: HRPrincipal, person_id: str) -> ErasurePublic:
    """Where a person's erasure stands, service by service."""
    return ErasurePublic.of(await _erasures(request).status(principal.tenant, person_id))


@router.post("/people/{person_id}/export", response_model=ExportPublic, status_code=201)
async def export_person(
    request: Request, principal: CurrentPrincipal, person_id: str, response: Response
) -> ExportPublic:
    """Assemble what every service holds about a person (the person or HR admins)."""
    if principal.person_id != person_id and not principal.is_hr:
        raise Forbidden("only the person or an HR admin may export their data")
    doc = await _exports(request).create(
        principal.tenant,
        person_id,
        by=principal.person_id,
        authorization=request.headers["authorization"],
    )
    response.headers["Location"] = f"/v1/people/{person_id}/exports/{doc['_id']}"
    view = export_view(doc)
    del view["archive"]
    return ExportPublic(**view)


@router.get("/people/{person_id}/exports/{export_id}", response_model=ExportPublic)
async def get_export(
    request: Request, principal: CurrentPrincipal, person_id: str, export_id: str
) -> ExportPublic:
    """An export with its archive (the person, whoever asked for it, or HR admins)."""
    doc = await _exports(request).get(
        principal.tenant,
        person_id,
        export_id,
        viewer=principal.person_id,
        hr=principal.is_hr,
    )
    return ExportPublic(**export_view(doc))
