"""Who may read and write a goal (pure rules; the relation comes from the people directory).

- ``private``: the owner, their managers (the whole chain) and HR admins;
- ``team``: adds the owner's mentors;
- ``company``: everyone in the tenant.
An API key with ``goals:read`` reads every goal of its tenant.
Only the owner edits. Managers and HR may create goals for someone and mark reviews done.
Another tenant never gets here: goals are always looked up by tenant, so they answer 404.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Relationship:
    """How a caller relates to a goal owner (several can hold at once)."""

    owner: bool = False
    hr: bool = False
    manager: bool = False
    mentor: bool = False
    reader: bool = False  # an API key: reads every goal of its tenant, nothing else

    @property
    def sees_everything(self) -> bool:
        return self.owner or self.hr or self.manager


def can_read(rel: Relationship, visibility: str) -> bool:
    if rel.sees_everything or rel.reader or visibility == "company":
        return True
    return visibility == "team" and rel.mentor


def can_write(rel: Relationship) -> bool:
    return rel.owner


def can_assign(rel: Relationship) -> bool:
    """Create a goal for this owner: themselves, their managers, HR."""
    return rel.sees_everything


def can_review(rel: Relationship) -> bool:
    """Mark a review done: the owner or one of their managers."""
    return rel.owner or rel.manager


SHARED = ("team", "company")  # what a mentor reads of a mentee


@dataclass(frozen=True)
class Viewer:
    """Whose goals a caller may list: every goal of some owners, team goals of others, and
    company goals of everyone; or everything (HR)."""

    everything: bool = False
    all_of: tuple[str, ...] = ()  # themselves and their reports
    shared_of: tuple[str, ...] = ()  # their mentees

    @classmethod
    def of_owner(cls, owner_id: str, rel: Relationship) -> Viewer:
        """A caller looking at one owner's goals."""
        if rel.sees_everything:
            return cls(all_of=(owner_id,))
        return cls(shared_of=(owner_id,) if rel.mentor else ())

    def visibilities_of(self, owner_id: str) -> list[str] | None:
        """The visibilities this caller may list for an owner; None means all of them."""
        if self.everything or owner_id in self.all_of:
            return None
        return list(SHARED) if owner_id in self.shared_of else ["company"]


@dataclass(frozen=True)
class GoalFilter:
    """What a goal list may be narrowed to (None: any)."""

    owner_id: str | None = None
    status: str | None = None
    horizon: str | None = None
    parent_id: str | None = None
