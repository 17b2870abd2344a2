"""Payload formats: each adapter turns one webhook body into raw data points (pure functions).

``FORMATS`` is the one list of formats: a source's format names its record here. The
``SourceFormat`` literal in the domain (which these adapters import, so it cannot import this)
must name the same keys; a unit test holds them equal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from services.kpi_ingest.domain import SourceFormat
from services.kpi_ingest.formats import amplitude, generic, mixpanel, otlp, posthog, segment
from services.kpi_ingest.formats.common import ParseContext, Parsed

Adapter = Callable[[Any, Mapping[str, Any], ParseContext], Parsed]
MappingCheck = Callable[[Mapping[str, Any]], None]


@dataclass(frozen=True, slots=True)
class Format:
    """How one sender's payloads are read, and how a source's mapping rules for it are checked."""

    parse: Adapter
    check_mapping: MappingCheck


FORMATS: dict[SourceFormat, Format] = {
    "generic": Format(generic.parse, generic.check_mapping),
    "segment": Format(segment.parse, segment.check_mapping),
    "amplitude": Format(amplitude.parse, amplitude.check_mapping),
    "mixpanel": Format(mixpanel.parse, mixpanel.check_mapping),
    "posthog": Format(posthog.parse, posthog.check_mapping),
    "otlp": Format(otlp.parse, otlp.check_mapping),
}

__all__ = ["FORMATS", "Adapter", "Format", "MappingCheck", "ParseContext", "Parsed"]
