"""HRIS sync planning (Workday/BambooHR-style exports): rows in, a diff out (pure, no I/O)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from scim2_models import Email

from services.people.domain import ManagerCycle, PersonFacts, find_cycle
from shared.errors import InvalidInput, RuleNotMet

# our field -> the column of the export that holds it
DEFAULT_MAPPING: dict[str, str | None] = {
    "external_id": "employee_id",
    "user_name": "email",
    "email": "email",
    "display_name": None,
    "given_name": "first_name",
    "family_name": "last_name",
    "title": "job_title",
    "department": "department",
    "employee_number": "employee_id",
    "manager_external_id": "manager_id",
    "time_zone": None,
    "locale": None,
    "active": None,
}
_FALSE = {"false", "0", "no", "n", "inactive", "terminated"}


@dataclass(frozen=True)
class ImportRow:
    line: int
    external_id: str
    facts: PersonFacts  # manager_id left unset: resolved against the whole org
    manager_external_id: str | None


def email_problem(email: str) -> str | None:
    """Why a person could not be stored with ``email`` (SCIM's e-mail type refuses it), or None.

    Checked while the export is read, so a bad address is a 422 naming its row before anything
    is written, not a failure halfway through applying the import.
    """
    try:
        Email(value=email)
    except ValidationError as exc:
        return str(exc.errors()[0]["msg"])
    return None


def read_csv(text: str) -> list[dict[str, Any]]:
    return list(csv.DictReader(io.StringIO(text)))


def parse_rows(
    rows: Sequence[Mapping[str, Any]], mapping: Mapping[str, str | None]
) -> list[ImportRow]:
    """Rows of an export as facts; every problem names its row."""
    columns = {**DEFAULT_MAPPING, **mapping}

    def cell(row: Mapping[str, Any], ours: str) -> str | None:
        column = columns.get(ours)
        if not column:
            return None
        value = row.get(column)
        text = str(value).strip() if value is not None else ""
        return text or None

    parsed: list[ImportRow] = []
    seen_ids: set[str] = set()
    seen_names: set[str] = set()
    problems: list[str] = []
    for line, row in enumerate(rows, start=1):
        external_id = cell(row, "external_id")
        user_name = cell(row, "user_name") or cell(row, "email")
        if not external_id or not user_name:
            problems.append(
                f"row {line}: needs {columns['external_id']} and {columns['user_name']}"
            )
            continue
        if external_id in seen_ids or user_name.lower() in seen_names:
            problems.append(f"row {line}: {external_id} / {user_name} appears twice")
            continue
        seen_ids.add(external_id)
        seen_names.add(user_name.lower())
        given, family = cell(row, "given_name"), cell(row, "family_name")
        display = cell(row, "display_name") or (" ".join(p for p in (given, family) if p) or None)
        email = cell(row, "email")
        if email and (why := email_problem(email)):
            problems.append(f"row {line}: {columns['email']} {email!r}: {why}")
            continue
        active_text = cell(row, "active")
        facts = PersonFacts(
            user_name=user_name,
            external_id=external_id,
            display_name=display,
            given_name=given,
            family_name=family,
            emails=(email,) if email else (),
            email=email,
            title=cell(row, "title"),
            department=cell(row, "department"),
            employee_number=cell(row, "employee_number"),
            time_zone=cell(row, "time_zone"),
            locale=cell(row, "locale"),
            active=not (active_text and active_text.lower() in _FALSE),
        )
        parsed.append(ImportRow(line, external_id, facts, cell(row, "manager_external_id")))
    if problems:
        raise RuleNotMet("the export has invalid rows", problems=problems[:50])
    return parsed


@dataclass
class ImportPlan:
    active_before: int
    created: list[tuple[str, PersonFacts]] = field(default_factory=list)
    updated: list[tuple[str, PersonFacts, PersonFacts]] = field(default_factory=list)
    deactivated: list[tuple[str, PersonFacts, PersonFacts]] = field(default_factory=list)

    @property
    def deactivation_share(self) -> float:
        return len(self.deactivated) / self.active_before if self.active_before else 0.0

    @property
    def manager_changes(self) -> list[tuple[str, PersonFacts, str | None, str | None]]:
        return [
            (pid, after, before.manager_id, after.manager_id)
            for pid, before, after in self.updated
            if before.manager_id != after.manager_id
        ]

    def diff(self) -> dict[str, Any]:
        def who(pid: str, facts: PersonFacts) -> dict[str, Any]:
            return {"id": pid, "external_id": facts.external_id, "user_name": facts.user_name}

        return {
            "created": [
                {**who(pid, f), "display_name": f.display_name, "manager_id": f.manager_id}
                for pid, f in self.created
            ],
            "updated": [
                {
                    **who(pid, after),
                    "changes": {
                        k: {"from": old, "to": new}
                        for k, (old, new) in before.differences(after).items()
                    },
                }
                for pid, before, after in self.updated
            ],
            "deactivated": [who(pid, after) for pid, _, after in self.deactivated],
            "manager_changes": [
                {**who(pid, f), "old_manager_id": old, "new_manager_id": new}
                for pid, f, old, new in self.manager_changes
            ],
            "summary": {
                "created": len(self.created),
                "updated": len(self.updated),
                "deactivated": len(self.deactivated),
                "manager_changes": len(self.manager_changes),
                "active_before": self.active_before,
                "deactivation_share": round(self.deactivation_share, 4),
            },
        }


def plan_import(
    rows: Sequence[ImportRow],
    existing: Mapping[str, PersonFacts],
    new_id: Callable[[], str],
    *,
    deactivate_missing: bool,
) -> ImportPlan:
    """What applying an export would change; refuses unknown managers and manager cycles."""
    by_external = {f.external_id: pid for pid, f in existing.items() if f.external_id}
    by_name = {f.user_name.lower(): pid for pid, f in existing.items()}
    ids: dict[str, str] = {}  # external id -> our id
    for row in rows:
        ids[row.external_id] = (
            by_external.get(row.external_id) or by_name.get(row.facts.user_name.lower()) or new_id()
        )
    unknown = [
        f"row {r.line}: manager {r.manager_external_id} is neither in the export nor known"
        for r in rows
        if r.manager_external_id
        and r.manager_external_id not in ids
        and r.manager_external_id not in by_external
    ]
    if unknown:
        raise InvalidInput("the export names unknown managers", problems=unknown[:50])

    plan = ImportPlan(active_before=sum(1 for f in existing.values() if f.active))
    final: dict[str, PersonFacts] = dict(existing)
    for row in rows:
        pid = ids[row.external_id]
        manager = row.manager_external_id
        manager_id = (ids.get(manager) or by_external.get(manager)) if manager else None
        after = row.facts.with_changes(manager_id=manager_id)
        before = existing.get(pid)
        if before is None:
            plan.created.append((pid, after))
        elif before != after:
            if before.active and not after.active:
                plan.deactivated.append((pid, before, after))
            else:
                plan.updated.append((pid, before, after))
        final[pid] = after
    if deactivate_missing:
        listed = set(ids.values())
        for pid, before in existing.items():
            if pid not in listed and before.active:
                after = before.with_changes(active=False)
                plan.deactivated.append((pid, before, after))
                final[pid] = after
    cycle = find_cycle({pid: f.manager_id for pid, f in final.items()})
    if cycle:
        raise ManagerCycle(
            "the export would create a management cycle: " + " -> ".join(cycle), cycle=cycle
        )
    return plan
