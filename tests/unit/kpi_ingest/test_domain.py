"""Pure rules of kpi_ingest: ids, validation, crossings, staleness, rate limits, signatures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from services.kpi_ingest.domain import (
    BUILTIN_METRICS,
    MetricDefinition,
    PointIds,
    RawPoint,
    Source,
    SourceSecret,
    accept_points,
    crossings,
    is_stale,
)
from services.kpi_ingest.events import SOURCE as EVENT_SOURCE
from services.kpi_ingest.events import datapoint_recorded
from services.kpi_ingest.signing import SignatureCheck
from shared.errors import InvalidInput, Unauthorized
from shared.events import deterministic_id, to_record
from shared.events.codec import datapoint_records
from shared.events.kpi import KpiDatapointRecorded

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


def accept(*raw: RawPoint) -> list:  # type: ignore[type-arg]
    return accept_points(
        raw, source=SOURCE, metrics=BUILTIN_METRICS, now=NOW, max_future_skew=timedelta(days=1)
    )


def test_standard_webhooks_published_test_vector_is_reproduced() -> None:
    hook = Webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    at = datetime.fromtimestamp(1614265330, tz=UTC)

    signature = hook.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", at, '{"test": 2432232314}')

    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_test_vector_is_refused_today_because_its_timestamp_is_stale() -> None:
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }

    with pytest.raises(Unauthorized, match="too old"):
        SignatureCheck().standard(b'{"test": 2432232314}', headers, [SOURCE.secrets[0].value])


def test_garbage_signature_header_is_a_401_not_a_crash() -> None:
    headers = {"webhook-id": "m", "webhook-timestamp": str(int(datetime.now(UTC).timestamp()))}

    with pytest.raises(Unauthorized):
        SignatureCheck().standard(b"{}", {**headers, "webhook-signature": "nonsense"}, ["whsec_AA"])


def test_point_ids_equal_the_shared_deterministic_id() -> None:
    ids = PointIds("src_1")

    assert ids("evt-1", "csat") == deterministic_id("src_1", "evt-1", "csat")
    assert ids("évt ✓", "nps") == deterministic_id("src_1", "évt ✓", "nps")


def test_a_point_without_id_is_identified_by_metric_time_and_dimensions() -> None:
    raw = RawPoint("p0", "csat", 4, "2026-11-20T10:00:00Z", {"b": "2", "a": "1"})
    again = RawPoint("p0", "csat", 5, "2026-11-20T10:00:00+00:00", {"a": "1", "b": "2"})

    assert accept(raw)[0].id == accept(again)[0].id


def test_bad_points_are_all_named_and_none_accepted() -> None:
    with pytest.raises(InvalidInput) as caught:
        accept(
            RawPoint("p0", "csat", 4, "2026-11-20T10:00:00Z"),
            RawPoint("p1", "nope", 4, "2026-11-20T10:00:00Z"),
            RawPoint("p2", "csat", float("nan"), "2026-11-20T10:00:00Z"),
            RawPoint("p3", "csat", True, "2026-11-20T10:00:00Z"),
            RawPoint("p4", "csat", 1, "2030-01-01T00:00:00Z"),
            RawPoint("p5", "csat", 1, "2026-11-20T10:00:00Z", {"a.b": "x"}),
        )

    assert [e["point"] for e in caught.value.extra["errors"]] == ["p1", "p2", "p3", "p4", "p5"]


TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_the_fast_path_writes_the_sdk_paths_records_byte_for_byte() -> None:
    points = accept(
        RawPoint("p0", "csat", 4, "2026-11-20T10:00:00Z", {"product": "web"}, "e1"),
        RawPoint("p1", "revenue", 12.5, 1763632800, {}, "e2"),
        RawPoint("p2", "csat", 3, "2026-11-20T10:00:00.250Z", {"b": "2", "a": "é,=&"}, "e3"),
        RawPoint("p3", "csat", 5, "2026-11-20T11:00:00Z", {"product": "web"}, "e4"),
    )

    records = datapoint_records(points, source=EVENT_SOURCE, now=NOW)
    traced = datapoint_records(points, source=EVENT_SOURCE, now=NOW, traceparent=TRACEPARENT)

    assert records == [to_record(datapoint_recorded(p, NOW)) for p in points]
    assert traced == [to_record(datapoint_recorded(p, NOW, TRACEPARENT)) for p in points]
    assert all(("ce_traceparent", TRACEPARENT.encode()) in headers for _, _, headers in traced)
    for p in points:
        payload = KpiDatapointRecorded.model_validate(datapoint_recorded(p, NOW).data)
        assert payload.model_dump(mode="json") == datapoint_recorded(p, NOW).data


def test_crossings_fire_once_per_crossing_in_each_direction() -> None:
    assert crossings(None, 95, [90]) == []
    assert crossings(85, 92, [90]) == [(90, "up")]
    assert crossings(92, 95, [90]) == []
    assert crossings(95, 90, [90]) == []
    assert crossings(90, 88, [90]) == [(90, "down")]
    assert crossings(10, 100, [50, 20]) == [(20, "up"), (50, "up")]


def test_staleness_counts_from_the_last_point_or_the_definition() -> None:
    metric = MetricDefinition("m", "M", "", "gauge", expected_every_s=60, created_at=NOW)

    assert not is_stale(metric, NOW, NOW + timedelta(seconds=59))
    assert is_stale(metric, NOW, NOW + timedelta(seconds=61))
    assert is_stale(metric, None, NOW + timedelta(seconds=61))
    assert not is_stale(BUILTIN_METRICS["csat"], None, NOW + timedelta(days=999))


def test_rotation_keeps_the_previous_secret_until_the_grace_period_ends() -> None:
    rotated = SOURCE.rotate("whsec_new", NOW, timedelta(hours=1))

    assert rotated.secrets_valid_at(NOW + timedelta(minutes=59)) == [
        "whsec_new",
        SOURCE.secrets[0].value,
    ]
    assert rotated.secrets_valid_at(NOW + timedelta(minutes=61)) == ["whsec_new"]
