"""HRIS bulk import: plan the diff, refuse a mass deactivation unless forced, apply it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from services.people.audit import import_details
from services.people.domain import Person
from services.people.hris import ImportPlan, parse_rows, plan_import
from services.people.service import PeopleService
from shared.audit import Actor, AuditTrail, audit_event
from shared.errors import Conflict


class MassDeactivation(Conflict):
    code, title = "mass-deactivation", "The import would deactivate too many people"


class HrisImports:
    def __init__(
        self,
        people: PeopleService,
        trail: AuditTrail,
        *,
        max_deactivation_share: float,
        max_rows: int = 20_000,
        notify: Callable[[], None] = lambda: None,
    ) -> None:
        self._people = people
        self._trail = trail
        self._notify = notify
        self._max_share = max_deactivation_share
        self.max_rows = max_rows

    async def run(
        self,
        tenant: str,
        actor: Actor,
        rows: Sequence[Mapping[str, Any]],
        mapping: Mapping[str, str | None],
        *,
        dry_run: bool,
        force: bool,
        deactivate_missing: bool,
    ) -> dict[str, Any]:
        """The diff; applied unless ``dry_run``. Raises MassDeactivation (409, with the diff)."""
        parsed = parse_rows(rows, mapping)
        people = {p.id: p for p in await self._people.everyone(tenant)}
        plan = plan_import(
            parsed,
            {pid: p.facts for pid, p in people.items()},
            lambda: str(uuid.uuid4()),
            deactivate_missing=deactivate_missing,
        )
        diff = plan.diff()
        if plan.deactivation_share > self._max_share and not force:
            raise MassDeactivation(
                f"the import would deactivate {len(plan.deactivated)} of "
                f"{plan.active_before} active people (more than {self._max_share:.0%}); "
                "check the export, or pass force=true",
                diff=diff,
            )
        if not dry_run:
            # recorded before the changes, so no change is ever without its record: a failure
            # part-way leaves the record of what the import set out to do (re-running the
            # same export converges, and records that run too)
            await self._trail.record(
                audit_event(
                    tenant=tenant,
                    actor=actor,
                    action="people_import.applied",
                    object_type="people_import",
                    object_id=str(uuid.uuid4()),
                    service="people",
                    details=import_details(diff),
                )
            )
            self._notify()
            await self._apply(tenant, plan, people)
        return {"dry_run": dry_run, "applied": not dry_run, **diff}

    async def _apply(self, tenant: str, plan: ImportPlan, people: Mapping[str, Person]) -> None:
        # The plan was checked as a whole (managers known, no cycle), so changes are applied
        # one person at a time without re-checking intermediate states. No multi-document
        # transaction: a failure part-way leaves some changes applied, and re-running the same
        # export converges.
        for pid, facts in plan.created:
            await self._people.create_person(tenant, facts, person_id=pid)
        for pid, _, after in [*plan.updated, *plan.deactivated]:
            await self._people.change_person(tenant, people[pid], after, check=False)
