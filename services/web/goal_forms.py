"""The goal form: what the browser posts ↔ the goals API's body, and back for re-rendering.

Field names follow the API's locations (``key_results.0.target``) so a problem's ``errors`` land
next to the right input without translation.
"""

from __future__ import annotations

from typing import Any

KR_ROWS = 3  # blank key-result rows on a new goal (an edit shows the goal's, plus one)
KR_FIELDS = ("id", "title", "start", "target", "unit", "direction", "source", "metric", "filters")
GOAL_FIELDS = (
    "template_id",
    "title",
    "description",
    "horizon",
    "category",
    "start_date",
    "due_date",
    "visibility",
    "status",
    "review_every_days",
)


def form_values(form: Any) -> dict[str, str]:
    """Everything the user typed, as strings (re-rendered as is when the form is refused)."""
    return {str(k): str(v) for k, v in form.items() if k != "csrf_token" and isinstance(v, str)}


def kr_rows(values: dict[str, str]) -> int:
    indexes = [int(k.split(".")[1]) for k in values if k.startswith("key_results.")]
    return max([KR_ROWS - 1, *indexes]) + 1


def parse_filters(text: str) -> dict[str, str]:
    """``product=mobile, region=eu`` → ``{"product": "mobile", "region": "eu"}``."""
    filters: dict[str, str] = {}
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError("write filters as dimension=value, separated by commas")
        filters[name.strip()] = value.strip()
    return filters


def format_filters(filters: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in filters.items())


def _number(values: dict[str, str], name: str, errors: dict[str, str]) -> float | None:
    raw = values.get(name, "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        errors[name] = "enter a number"
        return None


def goal_body(values: dict[str, str], *, creating: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """The API body of a posted goal form, and the errors found before asking the API."""
    errors: dict[str, str] = {}
    body: dict[str, Any] = {}
    for name in ("title", "description", "start_date", "due_date", "category", "visibility"):
        if values.get(name, "").strip():
            body[name] = values[name].strip()
    if creating:
        for name in ("template_id", "horizon", "status"):
            if values.get(name, "").strip():
                body[name] = values[name].strip()
    days = values.get("review_every_days", "").strip()
    if days:
        if days.isdigit():
            body["review_every_days"] = int(days)
        else:
            errors["review_every_days"] = "enter a whole number of days"
    key_results = []
    for row in range(kr_rows(values)):
        prefix = f"key_results.{row}."
        title = values.get(prefix + "title", "").strip()
        target = _number(values, prefix + "target", errors)
        if not title and target is None and prefix + "target" not in errors:
            continue  # an unused row
        kr: dict[str, Any] = {"title": title}
        if target is not None:
            kr["target"] = target
        elif prefix + "target" not in errors:
            errors[prefix + "target"] = "a key result needs a target"
        start = _number(values, prefix + "start", errors)
        if start is not None:
            kr["start"] = start
        for name in ("id", "unit", "direction"):
            if values.get(prefix + name, "").strip():
                kr[name] = values[prefix + name].strip()
        if values.get(prefix + "source") == "kpi":
            metric = values.get(prefix + "metric", "").strip()
            if not metric:
                errors[prefix + "metric"] = "name the KPI metric this key result follows"
            try:
                filters = parse_filters(values.get(prefix + "filters", ""))
            except ValueError as exc:
                errors[prefix + "filters"] = str(exc)
                filters = {}
            aggregation = values.get(prefix + "aggregation") or "latest"
            kr["source"] = {
                "kpi": {"metric": metric, "filters": filters, "aggregation": aggregation}
            }
        key_results.append(kr)
    if key_results or not creating:
        body["key_results"] = key_results
    return body, errors


def goal_values(goal: dict[str, Any]) -> dict[str, str]:
    """A stored goal as form values (the edit page)."""
    values = {
        name: "" if goal.get(name) is None else str(goal[name])
        for name in GOAL_FIELDS
        if name in goal
    }
    for row, kr in enumerate(goal.get("key_results", [])):
        prefix = f"key_results.{row}."
        for name in ("id", "title", "unit", "direction"):
            values[prefix + name] = str(kr.get(name, ""))
        values[prefix + "start"] = f"{kr.get('start', 0):g}"
        values[prefix + "target"] = f"{kr.get('target', 0):g}"
        source = kr.get("source")
        if isinstance(source, dict):
            kpi = source["kpi"]
            values[prefix + "source"] = "kpi"
            values[prefix + "metric"] = kpi.get("metric", "")
            values[prefix + "filters"] = format_filters(kpi.get("filters") or {})
            values[prefix + "aggregation"] = kpi.get("aggregation", "latest")
        else:
            values[prefix + "source"] = "manual"
    return values


def form_errors(fields: dict[str, str]) -> dict[str, str]:
    """API error locations as this form's field names (a KPI binding's fields sit flat here)."""
    errors: dict[str, str] = {}
    for name, message in fields.items():
        parts = name.split(".")
        if len(parts) > 3 and parts[0] == "key_results" and parts[2:4] == ["source", "kpi"]:
            name = ".".join([*parts[:2], parts[4] if len(parts) > 4 else "metric"])
        elif len(parts) > 3 and parts[0] == "key_results":
            name = ".".join(parts[:3])
        errors.setdefault(name, message)
    return errors
