"""Known-answer vectors for every deterministic id.

These ids are stored (point ids, event ids, delivery ids) and compared with ids computed later,
after a restart or a redeploy: a change to how one is hashed silently re-keys every point and
defeats every idempotency guard downstream. So each is pinned to the string computed once (on
2026-12-02); comparing an id with itself, as before, could not fail.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.kpi_ingest.domain import (
    BUILTIN_METRICS,
    PointIds,
    RawPoint,
    Source,
    SourceSecret,
    accept_points,
    content_event_id,
)
from services.kpi_ingest.events import datapoint_recorded, stale, threshold_crossed
from shared.events import deterministic_id

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
SOURCE = Source(
    id="src_1",
    tenant="acme",
    name="s",
    format="generic",
    mapping={},
    secrets=(SourceSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", NOW),),
    created_at=NOW,
)


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("src_1", "evt-1", "csat"), "cc038348-495d-56f8-a277-e76245c54b16"),
        (("src_1", "évt ✓", "nps"), "fd253db9-033a-5221-a16a-3e06a4bb8b4d"),
        (("a",), "5a75af40-15d8-57fd-adec-157a9f50c76b"),
        ((), "f187f20e-6208-5016-9ad5-9f412f24c4ae"),
    ],
)
def test_deterministic_id_known_answers(parts: tuple[str, ...], expected: str) -> None:
    assert deterministic_id(*parts) == expected


@pytest.mark.parametrize(
    ("event_id", "metric", "expected"),
    [
        ("evt-1", "csat", "cc038348-495d-56f8-a277-e76245c54b16"),
        ("évt ✓", "nps", "fd253db9-033a-5221-a16a-3e06a4bb8b4d"),
    ],
)
def test_kpi_point_id_known_answers(event_id: str, metric: str, expected: str) -> None:
    # the fast path and the shared function give the same, pinned answer
    assert PointIds("src_1")(event_id, metric) == expected


def test_ingested_points_get_their_known_ids() -> None:
    points = accept_points(
        [
            RawPoint("p0", "csat", 4, "2026-11-20T10:00:00Z", {"b": "2", "a": "1"}),
            RawPoint("p1", "csat", 5, "2026-11-20T10:00:00Z", {}, "evt-9"),
        ],
        source=SOURCE,
        metrics=BUILTIN_METRICS,
        now=NOW,
        max_future_skew=timedelta(days=1),
    )

    assert [(p.id, p.source_event_id) for p in points] == [
        ("671e9b66-cffd-55ef-b6cc-f63ccfc61575", "csat@2026-11-20T10:00:00+00:00?a=1&b=2"),
        ("22b6f649-8aab-52ea-a86c-20b02105aaf0", "evt-9"),
    ]
    # the recorded event's id is the point's id, so a resend is the same event
    assert datapoint_recorded(points[0], NOW).id == "671e9b66-cffd-55ef-b6cc-f63ccfc61575"
    assert threshold_crossed(points[0], 4.5, "up").id == "92b5e108-c409-5154-aeb8-633a0aaf4dba"


def test_content_identity_of_a_point_without_id_is_pinned() -> None:
    at = datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert content_event_id("csat", at, {"b": "2", "a": "1"}) == (
        "csat@2026-11-20T10:00:00+00:00?a=1&b=2"
    )


def test_stale_event_id_known_answer() -> None:
    assert stale("acme", "csat", 3600, None, NOW).id == "89696453-b986-516a-b840-aa20ce882e61"
