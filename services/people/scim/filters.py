"""SCIM filters (RFC 7644 §3.4.2.2) as document-store queries, parsed by scim2-filter-parser.

Attributes we index become exact queries. What a query cannot say exactly (a value path such as
``emails[type eq "work"].value eq "x"`` needs one array entry to match both conditions, which
FerretDB's ``$elemMatch`` cannot express; an attribute we don't index) becomes a *superset*
query, and the caller evaluates the filter on the candidates with scim2-models.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scim2_filter_parser import ast
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser, SCIMParserError

from services.people.scim.errors import ScimError

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:user"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"


@dataclass(frozen=True)
class Field:
    """A stored field an attribute maps to; ``folded`` fields hold lowercase strings."""

    name: str
    kind: str = "str"  # str | bool | date
    folded: bool = False
    multi: bool = False


# (uri or "", attribute, sub-attribute or "") -> stored field, all lowercase
USER_FIELDS: dict[tuple[str, str, str], Field] = {
    ("", "id", ""): Field("_id"),
    ("", "username", ""): Field("user_name_key", folded=True),
    ("", "externalid", ""): Field("external_id"),
    ("", "displayname", ""): Field("display_name_key", folded=True),
    ("", "title", ""): Field("title_key", folded=True),
    ("", "active", ""): Field("active", kind="bool"),
    ("", "emails", ""): Field("email_keys", folded=True, multi=True),
    ("", "emails", "value"): Field("email_keys", folded=True, multi=True),
    ("", "emails", "type"): Field("email_types", folded=True, multi=True),
    ("", "name", "givenname"): Field("given_name_key", folded=True),
    ("", "name", "familyname"): Field("family_name_key", folded=True),
    ("", "meta", "created"): Field("created", kind="date"),
    ("", "meta", "lastmodified"): Field("last_modified", kind="date"),
    (ENTERPRISE, "employeenumber", ""): Field("employee_number_key", folded=True),
    (ENTERPRISE, "department", ""): Field("department_key", folded=True),
    (ENTERPRISE, "manager", ""): Field("manager_id"),
    (ENTERPRISE, "manager", "value"): Field("manager_id"),
}

GROUP_FIELDS: dict[tuple[str, str, str], Field] = {
    ("", "id", ""): Field("_id"),
    ("", "displayname", ""): Field("display_name_key", folded=True),
    ("", "externalid", ""): Field("external_id"),
    ("", "members", ""): Field("member_ids", multi=True),
    ("", "members", "value"): Field("member_ids", multi=True),
    ("", "meta", "created"): Field("created", kind="date"),
    ("", "meta", "lastmodified"): Field("last_modified", kind="date"),
}


@dataclass(frozen=True)
class Translation:
    query: dict[str, Any]
    exact: bool


EVERYTHING = Translation({}, exact=False)


def parse(text: str) -> ast.AST:
    try:
        return SCIMParser().parse(SCIMLexer().tokenize(text))
    except (SCIMParserError, ValueError, IndexError) as exc:
        raise ScimError(
            f"the filter is not valid SCIM: {exc}", status=400, scim_type="invalidFilter"
        ) from exc


def translate(text: str, fields: dict[tuple[str, str, str], Field]) -> Translation:
    """The query for a filter, and whether it is exact (else a superset to post-filter)."""
    return _Translator(fields).visit(parse(text), namespace=None)


class _Translator:
    def __init__(self, fields: dict[tuple[str, str, str], Field]) -> None:
        self.fields = fields

    def visit(self, node: Any, namespace: ast.AttrPath | None) -> Translation:
        if isinstance(node, ast.Filter):
            inner_ns = node.namespace or namespace
            result = self.visit(node.expr, inner_ns)
            if node.namespace is not None:  # a value path: entries are not correlated
                result = Translation(result.query, exact=False)
            if node.negated:
                if not result.exact:
                    return EVERYTHING  # the complement of a superset is not a superset
                return Translation({"$nor": [result.query]}, exact=True)
            return result
        if isinstance(node, ast.LogExpr):
            left = self.visit(node.expr1, namespace)
            right = self.visit(node.expr2, namespace)
            exact = left.exact and right.exact
            if node.op.lower() == "and":
                parts = [q for q in (left.query, right.query) if q]
                query = parts[0] if len(parts) == 1 else ({"$and": parts} if parts else {})
                return Translation(query, exact)
            if not left.query or not right.query:
                return EVERYTHING
            return Translation({"$or": [left.query, right.query]}, exact)
        if isinstance(node, ast.AttrExpr):
            return self.comparison(node, namespace)
        return EVERYTHING

    def comparison(self, node: ast.AttrExpr, namespace: ast.AttrPath | None) -> Translation:
        path = node.attr_path
        if isinstance(path.attr_name, ast.Filter):
            # emails[type eq "work"].value eq "x": the bracket filter AND the outer comparison
            value_filter = path.attr_name
            inner = self.visit(value_filter, None)
            outer_path = value_filter.namespace
            outer = self._compare(outer_path, node.value, node.comp_value, namespace=None)
            parts = [q for q in (inner.query, outer.query) if q]
            query = parts[0] if len(parts) == 1 else ({"$and": parts} if parts else {})
            return Translation(query, exact=False)
        return self._compare(path, node.value, node.comp_value, namespace)

    def _field(self, path: ast.AttrPath, namespace: ast.AttrPath | None) -> Field | None:
        uri = (path.uri or "").lower()
        if uri in (CORE_USER, CORE_GROUP):
            uri = ""
        attr = str(path.attr_name).lower()
        sub = path.sub_attr.value.lower() if path.sub_attr else ""
        if namespace is not None:
            ns_uri = (namespace.uri or "").lower()
            uri = "" if ns_uri in (CORE_USER, CORE_GROUP) else ns_uri
            attr, sub = str(namespace.attr_name).lower(), attr
        return self.fields.get((uri, attr, sub))

    def _compare(
        self,
        path: ast.AttrPath,
        op: str,
        comp: ast.CompValue | None,
        namespace: ast.AttrPath | None,
    ) -> Translation:
        field = self._field(path, namespace)
        if field is None:
            return EVERYTHING
        op = op.lower()
        if op == "pr":
            if field.multi:
                return Translation({f"{field.name}.0": {"$exists": True}}, exact=True)
            return Translation({field.name: {"$exists": True, "$nin": [None, ""]}}, exact=True)
        raw = comp.value if comp is not None else None
        value = _coerce(raw, field)
        if value is _INVALID:
            raise ScimError(
                f"{raw!r} is not a valid value for this attribute",
                status=400,
                scim_type="invalidFilter",
            )
        name = field.name
        if op == "eq":
            return Translation({name: value}, exact=True)
        if op == "ne":
            return Translation({name: {"$ne": value}}, exact=True)
        if op in ("co", "sw", "ew"):
            if not isinstance(value, str):
                raise ScimError(f"{op} needs a string value", status=400, scim_type="invalidFilter")
            pattern = re.escape(value)
            pattern = {"co": pattern, "sw": f"^{pattern}", "ew": f"{pattern}$"}[op]
            return Translation({name: {"$regex": pattern}}, exact=True)
        if op in ("gt", "ge", "lt", "le"):
            if isinstance(value, bool):
                raise ScimError(
                    f"{op} does not apply to booleans", status=400, scim_type="invalidFilter"
                )
            return Translation({name: {_RANGE[op]: value}}, exact=True)
        raise ScimError(f"unknown filter operator {op}", status=400, scim_type="invalidFilter")


_INVALID = object()
_RANGE = {"gt": "$gt", "ge": "$gte", "lt": "$lt", "le": "$lte"}


def _coerce(raw: Any, field: Field) -> Any:
    if raw is None or raw == "null":
        return None
    if field.kind == "bool":
        text = str(raw).lower()
        return {"true": True, "false": False}.get(text, _INVALID)
    if field.kind == "date":
        try:
            return datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        except ValueError:
            return _INVALID
    text = str(raw)
    return text.lower() if field.folded else text
