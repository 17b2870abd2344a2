"""Payload formats: each adapter turns one webhook body into raw data points (pure functions)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from services.kpi_ingest.formats import amplitude, generic, mixpanel, otlp, posthog, segment
from services.kpi_ingest.formats.common import ParseContext, Parsed

Adapter = Callable[[Any, Mapping[str, Any], ParseContext], Parsed]

ADAPTERS: dict[str, Adapter] = {
    "generic": generic.parse,
    "segment": segment.parse,
    "amplitude": amplitude.parse,
    "mixpanel": mixpanel.parse,
    "posthog": posthog.parse,
    "otlp": otlp.parse,
}

MAPPING_CHECKS: dict[str, Callable[[Mapping[str, Any]], None]] = {
    "generic": generic.check_mapping,
    "segment": segment.check_mapping,
    "amplitude": amplitude.check_mapping,
    "mixpanel": mixpanel.check_mapping,
    "posthog": posthog.check_mapping,
    "otlp": otlp.check_mapping,
}

__all__ = ["ADAPTERS", "MAPPING_CHECKS", "Adapter", "ParseContext", "Parsed"]
