"""``mixpanel``: cohort sync webhooks (``members``, ``add_members``, ``remove_members``).

Each request becomes one point: the number of members it carries, with the cohort and the
action as dimensions. Mixpanel expects ``{"action": ..., "status": "success"}`` back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.kpi_ingest.domain import RawPoint
from services.kpi_ingest.formats.amplitude import check_mapping as _check_cohorts
from services.kpi_ingest.formats.amplitude import cohort_metric
from services.kpi_ingest.formats.common import ParseContext, Parsed, need_object
from shared.errors import InvalidInput

ACTIONS = ("members", "add_members", "remove_members")


def check_mapping(mapping: Mapping[str, Any]) -> None:
    _check_cohorts(mapping)


def parse(body: Any, mapping: Mapping[str, Any], context: ParseContext) -> Parsed:
    payload = need_object(body, "Mixpanel")
    action = payload.get("action")
    params = payload.get("parameters")
    if action not in ACTIONS or not isinstance(params, Mapping):
        raise InvalidInput(
            f"a Mixpanel cohort sync has an action ({', '.join(ACTIONS)}) and parameters"
        )
    members = params.get("members")
    if not isinstance(members, list):
        raise InvalidInput("parameters.members must be a list")
    cohort_id = params.get("mixpanel_cohort_id")
    page = (params.get("page_info") or {}).get("page_count", 1)
    point = RawPoint(
        ref=f"cohort {cohort_id}",
        metric=cohort_metric(mapping, cohort_id, params.get("mixpanel_cohort_name")),
        value=len(members),
        timestamp=context.received_at,
        dimensions={
            "cohort": str(params.get("mixpanel_cohort_name") or cohort_id),
            "action": str(action),
        },
        # a sync carries no id of its own: the delivery's webhook-id (kept on resends) is it
        source_event_id=f"{context.webhook_id}:{cohort_id}:{action}:{page}",
    )
    return Parsed(points=[point], reply={"action": action, "status": "success"}, status=200)
