"""The SCIM models we serve (scim2-models), what we announce, and the IdP dialects we accept.

Okta and Microsoft Entra ID depart from RFC 7644 in known ways; :func:`normalize_payload` and
:func:`normalize_patch` bring their requests to the standard form before scim2-models
validates them, so the rest of the service sees one dialect.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from pydantic import ValidationError
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    Email,
    EnterpriseUser,
    Error,
    ETag,
    Filter,
    Group,
    Manager,
    Name,
    Patch,
    PatchOp,
    ResourceType,
    SCIMException,
    ScimPolicy,
    ScimProvider,
    SearchRequest,
    ServiceProviderConfig,
    Sort,
    User,
)

from services.people.domain import GroupFacts, PersonFacts
from services.people.scim.errors import ScimError
from services.people.scim.names import canonical_name

UserResource = User[EnterpriseUser]
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM_JSON = "application/scim+json"

# Entra and some connectors spell the enterprise URN with other casing; a few tools use dots.
_ENTERPRISE_VARIANT = re.compile(
    r"urn[:.]ietf[:.]params[:.]scim[:.]schemas[:.]extension[:.]enterprise[:.]2\.0[:.]user",
    re.IGNORECASE,
)

POLICY = ScimPolicy(
    # IdPs send attributes of their own (Okta's custom profile fields): keep provisioning.
    unknown=ScimPolicy.Unknown.ignore,
    # Entra: {"op": "Remove", "path": "members", "value": [{"value": id}]} removes those members.
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    # Entra: replace emails[type eq "work"].value on a user that has no work email creates it.
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)


def service_provider_config(max_results: int) -> ServiceProviderConfig:
    return ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=max_results),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type="oauthbearertoken",
                name="Bearer token",
                description="A per-tenant SCIM token from POST /v1/scim-tokens",
                primary=True,
            )
        ],
    )


def build_provider(max_results: int) -> ScimProvider:
    return ScimProvider(
        models=[User, EnterpriseUser, Group],
        resource_types=[
            ResourceType.from_resource(UserResource),
            ResourceType.from_resource(Group),
        ],
        config=service_provider_config(max_results),
        policy=POLICY,
    )


def scim_error(exc: SCIMException | ValidationError) -> ScimError:
    """The SCIM error for a payload scim2-models refused."""
    if isinstance(exc, SCIMException):
        error = exc.to_error()
    else:
        errors = exc.errors()
        error = Error.from_validation_error(dict(errors[0])) if errors else Error(status=400)
    status = int(error.status or 400)
    return ScimError(error.detail or "invalid request", status=status, scim_type=error.scim_type)


# ---------------------------------------------------------------------------- IdP dialects


def _canonical_key(key: str) -> str:
    """The schema's spelling of a body key: the extension URN, and attribute names in any case
    (``UserName``, ``Manager``, ``urn:...:enterprise:2.0:User:Manager`` as a key)."""
    key = _ENTERPRISE_VARIANT.sub(ENTERPRISE, key)
    if key.startswith(f"{ENTERPRISE}:"):
        return f"{ENTERPRISE}:{canonical_name(key[len(ENTERPRISE) + 1 :])}"
    return canonical_name(key)


def _canonical_keys(value: Any) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            key = _canonical_key(key) if isinstance(key, str) else key
            out[key] = _canonical_keys(item)
        return out
    if isinstance(value, list):
        return [_canonical_keys(v) for v in value]
    if isinstance(value, str) and _ENTERPRISE_VARIANT.fullmatch(value):
        return ENTERPRISE
    return value


def _boolean(value: Any) -> Any:
    # Entra sends "active": "False" (a string)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value


def _manager(value: Any, users_url: str) -> Any:
    """Entra sends the manager as a bare id or {"value": id}; the model wants a $ref too."""
    if isinstance(value, list):  # some connectors wrap it in a list
        value = value[0] if value else None
    if isinstance(value, str):
        value = {"value": value} if value else None
    if isinstance(value, dict):
        if not value.get("value"):
            return None
        value = dict(value)
        value.setdefault("$ref", f"{users_url}/{value['value']}")
    return value


def _user_body(body: dict[str, Any], users_url: str) -> dict[str, Any]:
    if "active" in body:
        body["active"] = _boolean(body["active"])
    enterprise = body.get(ENTERPRISE)
    if isinstance(enterprise, dict) and "manager" in enterprise:
        enterprise = dict(enterprise)
        manager = _manager(enterprise["manager"], users_url)
        if manager is None:
            enterprise.pop("manager")
        else:
            enterprise["manager"] = manager
        body[ENTERPRISE] = enterprise
    manager_key = f"{ENTERPRISE}:manager"
    if manager_key in body:  # an attribute path used as a key (PATCH without path)
        body[manager_key] = _manager(body[manager_key], users_url)
    return body


def normalize_payload(raw: Any, users_url: str, *, user: bool) -> dict[str, Any]:
    """A resource body (POST/PUT) in the standard dialect."""
    if not isinstance(raw, dict):
        raise ScimError("the body must be a JSON object", status=400, scim_type="invalidSyntax")
    body = _canonical_keys(raw)
    if user:
        body = _user_body(body, users_url)
        schemas = body.get("schemas")
        enterprise = isinstance(body.get(ENTERPRISE), dict)
        if enterprise and isinstance(schemas, list) and ENTERPRISE not in schemas:
            body["schemas"] = [*schemas, ENTERPRISE]
    return dict(body)


def normalize_patch(raw: Any, users_url: str, *, user: bool) -> dict[str, Any]:
    """A PatchOp body in the standard dialect (Entra's capitalised ops are fine already)."""
    if not isinstance(raw, dict):
        raise ScimError("the body must be a JSON object", status=400, scim_type="invalidSyntax")
    body = _canonical_keys(raw)
    operations = body.get("Operations")  # any spelling, made canonical above
    if not isinstance(operations, list):
        raise ScimError("a PatchOp needs Operations", status=400, scim_type="invalidSyntax")
    body["Operations"] = [_operation(op, users_url, user=user) for op in operations]
    body.setdefault("schemas", [PATCH_OP])
    return dict(body)


def _operation(op: Any, users_url: str, *, user: bool) -> Any:
    if not isinstance(op, dict):
        return op
    op = dict(op)
    path = op.get("path")
    if isinstance(path, str) and not path.strip():
        op.pop("path")
        path = None
    if not user or "value" not in op:
        return op
    value = op["value"]
    if path is None and isinstance(value, dict):
        op["value"] = _user_body(dict(value), users_url)
    elif isinstance(path, str):
        lowered = path.lower()
        if lowered == "active":
            op["value"] = _boolean(value)
        elif lowered == f"{ENTERPRISE}:manager".lower():
            manager = _manager(value, users_url)
            if manager is None:  # Entra clears the manager with an empty value
                return {"op": "remove", "path": path}
            op["value"] = manager
        elif lowered == f"{ENTERPRISE}:manager.value".lower():
            op["path"] = f"{ENTERPRISE}:manager"
            op["value"] = _manager(value, users_url)
    return op


def parse_user(body: dict[str, Any], ctx: Context) -> UserResource:
    try:
        with POLICY:
            user = UserResource.model_validate(body, scim_ctx=ctx)
    except (ValidationError, SCIMException) as exc:
        raise scim_error(exc) from exc
    user.password = None  # never stored: Northstar does not authenticate with it
    return user


def parse_group(body: dict[str, Any], ctx: Context) -> Group:
    try:
        with POLICY:
            return Group.model_validate(body, scim_ctx=ctx)
    except (ValidationError, SCIMException) as exc:
        raise scim_error(exc) from exc


def parse_search(body: dict[str, Any]) -> SearchRequest[Any]:
    try:
        with POLICY:
            return SearchRequest.model_validate(
                _canonical_keys(body), scim_ctx=Context.SEARCH_REQUEST
            )
    except (ValidationError, SCIMException) as exc:
        raise scim_error(exc) from exc


def apply_patch(resource: Any, body: dict[str, Any]) -> bool:
    """Apply a PatchOp to a user or group in place; True when something changed."""
    try:
        with POLICY:
            patch = PatchOp[type(resource)].model_validate(  # type: ignore[misc]
                body, scim_ctx=Context.RESOURCE_PATCH_REQUEST
            )
            changed = bool(patch.patch(resource))
    except (ValidationError, SCIMException) as exc:
        raise scim_error(exc) from exc
    if isinstance(resource, User):
        resource.password = None
    return changed


# ------------------------------------------------------------------ storage and domain facts


def dump_resource(resource: Any) -> str:
    """The stored form: the resource without id and meta (the repository owns those)."""
    data = resource.model_dump(scim_ctx=Context.DEFAULT, mode="json", by_alias=True)
    data.pop("id", None)
    data.pop("meta", None)
    data.pop("groups", None)  # read-only: computed from the groups on every read
    data = {k: v for k, v in data.items() if v is not None}
    return orjson.dumps(data).decode()


def load_user(stored: str) -> UserResource:
    with POLICY:
        return UserResource.model_validate(orjson.loads(stored), scim_ctx=Context.DEFAULT)


def load_group(stored: str) -> Group:
    with POLICY:
        return Group.model_validate(orjson.loads(stored), scim_ctx=Context.DEFAULT)


def _emails(user: UserResource) -> tuple[tuple[str, ...], str | None]:
    values = tuple(str(e.value) for e in user.emails or [] if e.value)
    primary = next((e for e in user.emails or [] if e.value and e.primary), None)
    work = next((e for e in user.emails or [] if e.value and str(e.type) == "work"), None)
    chosen = primary or work
    email = str(chosen.value) if chosen else (values[0] if values else None)
    return values, email


def user_facts(user: UserResource) -> PersonFacts:
    enterprise = user[EnterpriseUser]
    values, email = _emails(user)
    manager = enterprise.manager.value if enterprise and enterprise.manager else None
    name = user.name
    display = user.display_name or (name.formatted if name and name.formatted else None)
    if display is None and name and (name.given_name or name.family_name):
        display = " ".join(p for p in (name.given_name, name.family_name) if p)
    return PersonFacts(
        user_name=str(user.user_name),
        external_id=user.external_id,
        display_name=display,
        given_name=name.given_name if name else None,
        family_name=name.family_name if name else None,
        emails=values,
        email=email,
        title=user.title,
        department=enterprise.department if enterprise else None,
        employee_number=enterprise.employee_number if enterprise else None,
        manager_id=manager or None,
        time_zone=user.timezone,
        locale=user.locale,
        active=user.active is not False,
    )


def apply_facts(user: UserResource, facts: PersonFacts) -> None:
    """Write facts from another source (an HRIS import, the people API) onto a SCIM user.

    The manager is written without its ``$ref``: :func:`manager_ref` adds it when rendered.
    """
    user.user_name = facts.user_name
    user.external_id = facts.external_id
    user.display_name = facts.display_name
    if facts.given_name or facts.family_name:
        name = user.name or Name()
        name.given_name = facts.given_name
        name.family_name = facts.family_name
        user.name = name
    if facts.email and facts.email not in {str(e.value) for e in user.emails or []}:
        others = [e for e in user.emails or [] if str(e.type) != "work"]
        for other in others:
            other.primary = False
        user.emails = [Email(value=facts.email, type=Email.Type.work, primary=True), *others]
    user.title = facts.title
    user.timezone = facts.time_zone
    user.locale = facts.locale
    user.active = facts.active
    enterprise = user[EnterpriseUser] or EnterpriseUser()
    enterprise.department = facts.department
    enterprise.employee_number = facts.employee_number
    enterprise.manager = Manager(value=facts.manager_id) if facts.manager_id else None
    user[EnterpriseUser] = enterprise
    schemas = [str(s) for s in user.schemas]
    if ENTERPRISE not in schemas:
        user.schemas = [*schemas, ENTERPRISE]


def stored_user(facts: PersonFacts, stored: str | None) -> str:
    """The stored SCIM user once facts from another source are written onto it."""
    user = load_user(stored) if stored else UserResource(user_name=facts.user_name)
    apply_facts(user, facts)
    return dump_resource(user)


def manager_ref(user: UserResource, users_url: str) -> None:
    """Give a manager stored without ``$ref`` (written from facts) its reference."""
    enterprise = user[EnterpriseUser]
    manager = enterprise.manager if enterprise else None
    if manager and manager.value and not manager.ref:
        manager.ref = f"{users_url}/{manager.value}"


def group_facts(group: Group) -> GroupFacts:
    return GroupFacts(
        display_name=str(group.display_name or ""),
        external_id=group.external_id,
        member_ids=tuple(str(m.value) for m in group.members or [] if m.value),
    )
