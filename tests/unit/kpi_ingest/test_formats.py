"""The format registry and the ``SourceFormat`` literal pydantic validates against agree."""

from __future__ import annotations

from typing import get_args

from services.kpi_ingest.domain import SourceFormat
from services.kpi_ingest.formats import FORMATS


def test_the_source_format_literal_names_exactly_the_registered_formats() -> None:
    assert list(get_args(SourceFormat)) == list(FORMATS)
