"""The SCIM 2.0 endpoints at ``/scim/v2``: discovery, /Users, /Groups and /.search.

The tenant of every call comes from its SCIM bearer token alone.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from scim2_models import Context

from services.people.audit import acting_scim_token
from services.people.scim import protocol
from services.people.scim.errors import ScimError
from services.people.scim.protocol import SCIM_JSON
from services.people.scim.resources import Kind, Page, ScimResources
from services.people.tokens import ScimTokens

PREFIX = "/scim/v2"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


class ScimJSONResponse(JSONResponse):
    """Documents the routes' answers as SCIM JSON (the routes build their own responses)."""

    media_type = SCIM_JSON


router = APIRouter(prefix=PREFIX, tags=["scim"], default_response_class=ScimJSONResponse)
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ScimToken",
    description="A tenant's SCIM token, from POST /v1/scim-tokens",
)


async def scim_tenant(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The tenant named by the SCIM bearer token (the only source of the tenant)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ScimError("a SCIM bearer token is required", status=401)
    tokens: ScimTokens = request.app.state.scim_tokens
    tenant, token_id = await tokens.caller(credentials.credentials)
    acting_scim_token(token_id)  # SCIM writes are audited as this token's
    return tenant


Tenant = Annotated[str, Depends(scim_tenant)]


def scim_body(description: str, *required: str) -> dict[str, Any]:
    """The request body of a SCIM write, for the OpenAPI (the route reads it raw).

    Its full rules are RFC 7643's schemas, served at /Schemas and applied by scim2-models.
    """
    # `schemas` is not required: IdPs leave it out, and the service fills it in
    schema = {
        "type": "object",
        "required": list(required),
        "properties": {"schemas": {"type": "array", "items": {"type": "string"}}},
    }
    content = {media: {"schema": schema} for media in (SCIM_JSON, "application/json")}
    return {"requestBody": {"required": True, "description": description, "content": content}}


SEARCH_BODY = scim_body("A SearchRequest (RFC 7644 §3.4.3)")
PATCH_BODY = scim_body("A PatchOp (RFC 7644 §3.5.2)", "Operations")


def _resources(request: Request) -> ScimResources:
    resources: ScimResources = request.app.state.scim_resources
    return resources


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


def scim_response(body: Any, status: int = 200, location: str | None = None) -> Response:
    headers = {"Location": location} if location else None
    return Response(orjson.dumps(body), status_code=status, media_type=SCIM_JSON, headers=headers)


async def _json(request: Request) -> Any:
    raw = await request.body()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ScimError(
            f"the body is not JSON: {exc}", status=400, scim_type="invalidSyntax"
        ) from exc


def _split(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [part.strip() for part in value.split(",") if part.strip()] or None


def _list_body(page: Page, start_index: int) -> dict[str, Any]:
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": page.total,
        "startIndex": start_index,
        "itemsPerPage": len(page.resources),
        "Resources": page.resources,
    }


# ------------------------------------------------------------------------------ discovery


@router.get("/ServiceProviderConfig")
async def service_provider_config(request: Request) -> Response:
    """What this SCIM service supports."""
    config = _resources(request).provider.config
    assert config is not None
    body = config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    body["meta"] = {
        "resourceType": "ServiceProviderConfig",
        "location": f"{base_url(request)}/ServiceProviderConfig",
    }
    return scim_response(body)


def _discovery_list(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": len(items),
        "startIndex": 1,
        "itemsPerPage": len(items),
        "Resources": items,
    }


def _schemas(request: Request) -> list[dict[str, Any]]:
    base = base_url(request)
    out = []
    for schema in _resources(request).provider.schemas:
        body = schema.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        body["meta"] = {"resourceType": "Schema", "location": f"{base}/Schemas/{schema.id}"}
        out.append(body)
    return out


def _resource_types(request: Request) -> list[dict[str, Any]]:
    base = base_url(request)
    out = []
    for resource_type in _resources(request).provider.resource_types:
        body = resource_type.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        body["meta"] = {
            "resourceType": "ResourceType",
            "location": f"{base}/ResourceTypes/{resource_type.id}",
        }
        out.append(body)
    return out


@router.get("/Schemas")
async def schemas(request: Request) -> Response:
    """The schemas of the resources served here."""
    return scim_response(_discovery_list(_schemas(request)))


@router.get("/Schemas/{schema_id}")
async def schema(request: Request, schema_id: str) -> Response:
    """One schema by its URN."""
    for body in _schemas(request):
        if body["id"] == schema_id:
            return scim_response(body)
    raise ScimError(f"no schema {schema_id}", status=404)


@router.get("/ResourceTypes")
async def resource_types(request: Request) -> Response:
    """The resource types served here."""
    return scim_response(_discovery_list(_resource_types(request)))


@router.get("/ResourceTypes/{type_id}")
async def resource_type(request: Request, type_id: str) -> Response:
    """One resource type by its id."""
    for body in _resource_types(request):
        if body["id"] == type_id:
            return scim_response(body)
    raise ScimError(f"no resource type {type_id}", status=404)


# ------------------------------------------------------------------------------ resources


class ListParams:
    def __init__(
        self,
        filter: Annotated[str | None, Query()] = None,
        startIndex: Annotated[int | None, Query()] = None,
        count: Annotated[int | None, Query()] = None,
        attributes: Annotated[str | None, Query()] = None,
        excludedAttributes: Annotated[str | None, Query()] = None,
    ) -> None:
        self.filter = filter
        self.start_index = startIndex
        self.count = count
        self.attributes = _split(attributes)
        self.excluded = _split(excludedAttributes)


class ShapeParams:
    def __init__(
        self,
        attributes: Annotated[str | None, Query()] = None,
        excludedAttributes: Annotated[str | None, Query()] = None,
    ) -> None:
        self.attributes = _split(attributes)
        self.excluded = _split(excludedAttributes)


def _kind(name: str) -> Kind:
    return Kind.USER if name == "Users" else Kind.GROUP


async def _list(request: Request, tenant: str, kind: Kind, params: ListParams) -> Response:
    resources = _resources(request)
    start = max(1, params.start_index or 1)
    page = await resources.search(
        tenant,
        kind,
        base_url(request),
        filter_text=params.filter,
        start_index=start,
        count=params.count,
        attributes=params.attributes,
        excluded=params.excluded,
    )
    return scim_response(_list_body(page, start))


async def _search(request: Request, tenant: str, kinds: list[Kind]) -> Response:
    body = await _json(request)
    if not isinstance(body, dict):
        raise ScimError("a SearchRequest must be an object", status=400, scim_type="invalidSyntax")
    search = protocol.parse_search(body)
    resources = _resources(request)
    start = max(1, search.start_index or 1)
    page = await resources.search_many(
        tenant,
        kinds,
        base_url(request),
        filter_text=str(search.filter) if search.filter is not None else None,
        start_index=start,
        count=search.count,
        attributes=[str(a) for a in search.attributes or []] or None,
        excluded=[str(a) for a in search.excluded_attributes or []] or None,
    )
    return scim_response(_list_body(page, start))


@router.post("/.search", openapi_extra=SEARCH_BODY)
async def search_everything(request: Request, tenant: Tenant) -> Response:
    """Search users and groups at once (RFC 7644 §3.4.3)."""
    return await _search(request, tenant, [Kind.USER, Kind.GROUP])


_REQUIRED = {"Users": ("userName",), "Groups": ("displayName",)}

for _name in ("Users", "Groups"):

    def _routes(name: str) -> None:
        kind = _kind(name)

        @router.get(f"/{name}", name=f"list_{name.lower()}")
        async def list_resources(
            request: Request, tenant: Tenant, params: Annotated[ListParams, Depends()]
        ) -> Response:
            """List or filter resources with startIndex/count pagination."""
            return await _list(request, tenant, kind, params)

        resource = scim_body(f"A {name[:-1]} (RFC 7643)", *_REQUIRED[name])

        @router.post(f"/{name}/.search", name=f"search_{name.lower()}", openapi_extra=SEARCH_BODY)
        async def search_resources(request: Request, tenant: Tenant) -> Response:
            """Search with a SearchRequest body."""
            return await _search(request, tenant, [kind])

        @router.post(
            f"/{name}", name=f"create_{name.lower()}", status_code=201, openapi_extra=resource
        )
        async def create(request: Request, tenant: Tenant) -> Response:
            """Create a resource; a duplicate userName is 409 uniqueness."""
            base = base_url(request)
            body = await _json(request)
            created = await _resources(request).create(tenant, kind, body, base)
            return scim_response(created, 201, location=created["meta"]["location"])

        @router.get(f"/{name}/{{resource_id}}", name=f"get_{name.lower()[:-1]}")
        async def get(
            request: Request,
            tenant: Tenant,
            resource_id: str,
            shape: Annotated[ShapeParams, Depends()],
        ) -> Response:
            """One resource; another tenant's id is 404."""
            found = await _resources(request).get(
                tenant, kind, resource_id, base_url(request), shape.attributes, shape.excluded
            )
            return scim_response(found)

        @router.put(
            f"/{name}/{{resource_id}}", name=f"replace_{name.lower()[:-1]}", openapi_extra=resource
        )
        async def replace(request: Request, tenant: Tenant, resource_id: str) -> Response:
            """Replace a resource (Okta sends profile changes this way)."""
            body = await _json(request)
            replaced = await _resources(request).replace(
                tenant, kind, resource_id, body, base_url(request)
            )
            return scim_response(replaced)

        @router.patch(
            f"/{name}/{{resource_id}}",
            name=f"patch_{name.lower()[:-1]}",
            responses={204: {"description": "Patched (groups, unless attributes are asked for)"}},
            openapi_extra=PATCH_BODY,
        )
        async def patch(
            request: Request,
            tenant: Tenant,
            resource_id: str,
            shape: Annotated[ShapeParams, Depends()],
        ) -> Response:
            """Apply a PatchOp; groups answer 204 unless attributes are asked for."""
            body = await _json(request)
            patched = await _resources(request).patch(
                tenant, kind, resource_id, body, base_url(request), shape.attributes, shape.excluded
            )
            if kind is Kind.GROUP and not (shape.attributes or shape.excluded):
                return Response(status_code=204)
            return scim_response(patched)

        @router.delete(
            f"/{name}/{{resource_id}}", name=f"delete_{name.lower()[:-1]}", status_code=204
        )
        async def delete(request: Request, tenant: Tenant, resource_id: str) -> Response:
            """Delete a resource (a user is deactivated and leaves every read)."""
            await _resources(request).delete(tenant, kind, resource_id)
            return Response(status_code=204)

    _routes(_name)
