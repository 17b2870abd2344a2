"""SCIM resources over the people service: parse, render, search (the SCIM adapter)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from scim2_models import (
    Context,
    Group,
    GroupMembership,
    Meta,
    ResponseParameters,
    SCIMException,
    ScimFilter,
    ScimProvider,
)

from services.people.documents import StoredGroup, StoredPerson
from services.people.domain import Group as GroupValue
from services.people.scim import protocol
from services.people.scim.errors import ScimError
from services.people.scim.protocol import POLICY, UserResource
from services.people.service import PeopleService


class Kind(enum.Enum):
    USER = "User"
    GROUP = "Group"


@dataclass(frozen=True)
class Page:
    total: int
    resources: list[dict[str, Any]]


class ScimResources:
    def __init__(self, service: PeopleService, provider: ScimProvider, max_results: int) -> None:
        self.service = service
        self.provider = provider
        self.max_results = max_results

    # --------------------------------------------------------------------- rendering

    def _user(self, stored: StoredPerson, groups: list[GroupValue], base: str) -> UserResource:
        person = stored.person
        user = protocol.load_user(stored.scim)
        protocol.manager_ref(user, f"{base}/Users")
        user.id = person.id
        user.meta = Meta(
            resource_type="User",
            created=person.created,
            last_modified=person.last_modified,
            location=f"{base}/Users/{person.id}",
            version=f'W/"{person.version}"',
        )
        user.groups = [
            GroupMembership(
                value=g.id, display=g.facts.display_name, ref=f"{base}/Groups/{g.id}", type="direct"
            )
            for g in groups
        ] or None
        return user

    def _group(self, stored: StoredGroup, base: str) -> Group:
        record = stored.group
        group = protocol.load_group(stored.scim)
        group.id = record.id
        group.meta = Meta(
            resource_type="Group",
            created=record.created,
            last_modified=record.last_modified,
            location=f"{base}/Groups/{record.id}",
            version=f'W/"{record.version}"',
        )
        return group

    def _dump(
        self,
        resource: Any,
        ctx: Context,
        attributes: list[str] | None = None,
        excluded: list[str] | None = None,
    ) -> dict[str, Any]:
        params = None
        if attributes or excluded:
            try:
                with POLICY:
                    params = ResponseParameters[type(resource)].model_validate(  # type: ignore[misc]
                        {"attributes": attributes, "excludedAttributes": excluded}
                    )
            except (ValidationError, SCIMException) as exc:
                raise protocol.scim_error(exc) from exc
        with POLICY:
            dumped: dict[str, Any] = resource.model_dump(scim_ctx=ctx, response_parameters=params)
        return dumped

    async def _render_users(self, tenant: str, people: list[StoredPerson], base: str) -> list[Any]:
        groups = await self.service.repo.groups_of(tenant, [p.person.id for p in people])
        return [self._user(p, groups.get(p.person.id, []), base) for p in people]

    async def _rendered(self, tenant: str, kind: Kind, resource_id: str, base: str) -> Any:
        if kind is Kind.USER:
            stored = await self._person(tenant, resource_id)
            return (await self._render_users(tenant, [stored], base))[0]
        return self._group(await self._group_record(tenant, resource_id), base)

    async def _person(self, tenant: str, person_id: str) -> StoredPerson:
        stored = await self.service.repo.scim_person(tenant, person_id)
        if stored is None:
            raise ScimError(f"no user {person_id}", status=404)
        return stored

    async def _group_record(self, tenant: str, group_id: str) -> StoredGroup:
        stored = await self.service.repo.scim_group(tenant, group_id)
        if stored is None:
            raise ScimError(f"no group {group_id}", status=404)
        return stored

    # -------------------------------------------------------------------- use cases

    async def get(
        self,
        tenant: str,
        kind: Kind,
        resource_id: str,
        base: str,
        attributes: list[str] | None,
        excluded: list[str] | None,
    ) -> dict[str, Any]:
        resource = await self._rendered(tenant, kind, resource_id, base)
        return self._dump(resource, Context.RESOURCE_QUERY_RESPONSE, attributes, excluded)

    async def create(self, tenant: str, kind: Kind, body: Any, base: str) -> dict[str, Any]:
        users_url = f"{base}/Users"
        if kind is Kind.USER:
            user = protocol.parse_user(
                protocol.normalize_payload(body, users_url, user=True),
                Context.RESOURCE_CREATION_REQUEST,
            )
            scim = protocol.dump_resource(user)
            person = await self.service.provision_person(
                tenant, None, protocol.user_facts(user), scim
            )
            rendered: Any = self._user(StoredPerson(person, scim), [], base)
        else:
            group = protocol.parse_group(
                protocol.normalize_payload(body, users_url, user=False),
                Context.RESOURCE_CREATION_REQUEST,
            )
            scim = protocol.dump_resource(group)
            created = await self.service.provision_group(
                tenant, None, protocol.group_facts(group), scim
            )
            rendered = self._group(StoredGroup(created, scim), base)
        return self._dump(rendered, Context.RESOURCE_CREATION_RESPONSE)

    async def replace(
        self, tenant: str, kind: Kind, resource_id: str, body: Any, base: str
    ) -> dict[str, Any]:
        users_url = f"{base}/Users"
        original = await self._rendered(tenant, kind, resource_id, base)
        ctx = Context.RESOURCE_REPLACEMENT_REQUEST
        if kind is Kind.USER:
            new: Any = protocol.parse_user(
                protocol.normalize_payload(body, users_url, user=True), ctx
            )
        else:
            new = protocol.parse_group(protocol.normalize_payload(body, users_url, user=False), ctx)
        try:
            new.replace(original)
        except SCIMException as exc:
            raise protocol.scim_error(exc) from exc
        await self._save(tenant, kind, resource_id, new)
        return await self.get(tenant, kind, resource_id, base, None, None)

    async def patch(
        self,
        tenant: str,
        kind: Kind,
        resource_id: str,
        body: Any,
        base: str,
        attributes: list[str] | None,
        excluded: list[str] | None,
    ) -> dict[str, Any]:
        resource = await self._rendered(tenant, kind, resource_id, base)
        patch = protocol.normalize_patch(body, f"{base}/Users", user=kind is Kind.USER)
        if protocol.apply_patch(resource, patch):
            await self._save(tenant, kind, resource_id, resource)
        return await self.get(tenant, kind, resource_id, base, attributes, excluded)

    async def _save(self, tenant: str, kind: Kind, resource_id: str, resource: Any) -> None:
        scim = protocol.dump_resource(resource)
        if kind is Kind.USER:
            before = (await self._person(tenant, resource_id)).person
            await self.service.provision_person(tenant, before, protocol.user_facts(resource), scim)
        else:
            group = (await self._group_record(tenant, resource_id)).group
            await self.service.provision_group(tenant, group, protocol.group_facts(resource), scim)

    async def delete(self, tenant: str, kind: Kind, resource_id: str) -> None:
        if kind is Kind.USER:
            await self._person(tenant, resource_id)
            await self.service.delete_person(tenant, resource_id)
        else:
            await self._group_record(tenant, resource_id)
            await self.service.delete_group(tenant, resource_id)

    # ----------------------------------------------------------------------- search

    def _limit(self, count: int | None) -> int:
        if count is None:
            return self.max_results
        return max(0, min(count, self.max_results))

    async def search(
        self,
        tenant: str,
        kind: Kind,
        base: str,
        *,
        filter_text: str | None,
        start_index: int,
        count: int | None,
        attributes: list[str] | None,
        excluded: list[str] | None,
    ) -> Page:
        return await self.search_many(
            tenant,
            [kind],
            base,
            filter_text=filter_text,
            start_index=start_index,
            count=count,
            attributes=attributes,
            excluded=excluded,
        )

    async def search_many(
        self,
        tenant: str,
        kinds: list[Kind],
        base: str,
        *,
        filter_text: str | None,
        start_index: int,
        count: int | None,
        attributes: list[str] | None,
        excluded: list[str] | None,
    ) -> Page:
        """One page over the kinds in order (users, then groups), 1-based ``start_index``."""
        skip, limit = start_index - 1, self._limit(count)
        total, out = 0, list[dict[str, Any]]()
        for kind in kinds:
            kind_total, resources = await self._find(tenant, kind, base, filter_text, skip, limit)
            total += kind_total
            skip = max(0, skip - kind_total)
            limit -= len(resources)
            ctx = Context.SEARCH_RESPONSE
            out.extend(self._dump(r, ctx, attributes, excluded) for r in resources)
        return Page(total, out)

    async def _find(
        self, tenant: str, kind: Kind, base: str, filter_text: str | None, skip: int, limit: int
    ) -> tuple[int, list[Any]]:
        repo = self.service.repo
        if kind is Kind.USER:
            people = await repo.scim_people(tenant, filter_text, skip, limit)
            exact, total = people.exact, people.total
            candidates: list[Any] = await self._render_users(tenant, people.items, base)
        else:
            groups = await repo.scim_groups(tenant, filter_text, skip, limit)
            exact, total = groups.exact, groups.total
            candidates = [self._group(g, base) for g in groups.items]
        if exact:
            return total, candidates
        # the store gave a superset: evaluate the filter itself with scim2-models
        assert filter_text is not None
        model: Any = UserResource if kind is Kind.USER else Group
        try:
            with POLICY:
                scim_filter = ScimFilter[model](filter_text)
        except (ValueError, SCIMException) as exc:
            raise ScimError(
                f"the filter is not valid: {exc}", status=400, scim_type="invalidFilter"
            ) from exc
        with POLICY:
            matched = [c for c in candidates if scim_filter.match(c)]
        return len(matched), matched[skip : skip + limit]
