"""The CloudEvents envelope and its Kafka record form."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from shared.events import Envelope, MalformedEvent, deterministic_id, from_record, new_event
from shared.events.goals import GoalAchieved
from shared.events.people import PersonUpserted


def person_event() -> Envelope:
    return new_event(
        PersonUpserted(id="p1", tenant="acme", user_name="ada@acme.test"),
        tenant="acme",
        subject="p1",
        source="northstar/people",
        time=datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
    )


def test_record_round_trip_keeps_every_attribute() -> None:
    from shared.events import to_record

    event = person_event()
    key, value, headers = to_record(event)
    parsed = from_record(value, headers)

    assert key == b"p1"
    assert parsed == replace(event, partitionkey="p1")  # the key travels as partitionkey
    assert dict(headers)["ce_time"] == b"2026-11-27T09:00:00Z"
    assert dict(headers)["content-type"] == b"application/json"


def test_type_and_topic_come_from_the_catalogue() -> None:
    event = person_event()
    assert event.type == "northstar.person.upserted.v1"
    assert event.topic == "northstar.people.v1"
    assert isinstance(event.payload(), PersonUpserted)


def test_consumers_ignore_fields_they_do_not_know() -> None:
    event = person_event()
    newer = Envelope(**{**event.__dict__, "data": {**event.data, "pronouns": "she/her"}})
    assert newer.payload() == event.payload()


@pytest.mark.parametrize(
    ("value", "headers", "reason"),
    [
        (b"{}", [], "lacks CloudEvents headers"),
        (
            b"not json",
            [
                ("ce_specversion", b"1.0"),
                ("ce_id", b"1"),
                ("ce_source", b"s"),
                ("ce_type", b"t"),
                ("ce_tenant", b"a"),
            ],
            "not JSON",
        ),
        (
            b"[1]",
            [
                ("ce_specversion", b"1.0"),
                ("ce_id", b"1"),
                ("ce_source", b"s"),
                ("ce_type", b"t"),
                ("ce_tenant", b"a"),
            ],
            "JSON object",
        ),
        (
            b"{}",
            [
                ("ce_specversion", b"0.3"),
                ("ce_id", b"1"),
                ("ce_source", b"s"),
                ("ce_type", b"t"),
                ("ce_tenant", b"a"),
            ],
            "specversion",
        ),
    ],
)
def test_unreadable_records_are_malformed(
    value: bytes, headers: list[tuple[str, bytes]], reason: str
) -> None:
    with pytest.raises(MalformedEvent, match=reason):
        from_record(value, headers)


def test_payload_not_matching_its_schema_is_malformed() -> None:
    event = Envelope(
        id="1",
        type=GoalAchieved.event_type,
        source="s",
        subject="g",
        tenant="a",
        data={"goal_id": "g"},
    )
    with pytest.raises(MalformedEvent, match="does not match its schema"):
        event.payload()


def test_unknown_type_is_malformed_payload() -> None:
    event = Envelope(
        id="1", type="northstar.nothing.v9", source="s", subject="x", tenant="a", data={}
    )
    with pytest.raises(MalformedEvent, match="unknown event type"):
        event.payload()


def test_deterministic_ids_are_stable_and_distinct() -> None:
    assert deterministic_id("src", "evt-1", "csat") == deterministic_id("src", "evt-1", "csat")
    assert deterministic_id("src", "evt-1", "csat") != deterministic_id("src", "evt-1", "nps")
    # separators cannot be forged by concatenation
    assert deterministic_id("ab", "c") != deterministic_id("a", "bc")


def test_outbox_document_round_trip() -> None:
    event = person_event()
    assert Envelope.from_document(event.to_document()) == event


def test_records_are_written_by_the_cloudevents_sdk() -> None:
    from cloudevents.core.bindings import kafka

    from shared.events import to_record
    from shared.events.codec import FORMAT

    event = replace(person_event(), traceparent="00-0af7651916cd43dd8448eb211c80319c-01-01")
    key, value, headers = to_record(event)
    read = kafka.from_binary(kafka.KafkaMessage(dict(headers), key, value), FORMAT)

    assert read.get_id() == event.id
    assert read.get_type() == "northstar.person.upserted.v1"
    assert read.get_extension("tenant") == "acme"
    assert read.get_extension("traceparent") == event.traceparent
    assert read.get_data() == event.data
    assert from_record(value, headers).traceparent == event.traceparent


def test_structured_json_round_trip_carries_the_tenant_but_no_partition_key() -> None:
    import orjson

    from shared.events import from_structured, to_structured

    event = person_event()
    body = to_structured(event)
    doc = orjson.loads(body)

    assert doc["specversion"] == "1.0"
    assert doc["time"] == "2026-11-27T09:00:00Z"
    assert doc["tenant"] == "acme"
    assert doc["datacontenttype"] == "application/json"
    assert doc["data"] == event.data
    assert "partitionkey" not in doc
    assert from_structured(body) == event


def test_records_the_sdk_refuses_are_malformed() -> None:
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"1"),
        ("ce_source", b"s"),
        ("ce_type", b"t"),
        ("ce_tenant", b"a"),
        ("ce_time", b"yesterday"),
    ]
    with pytest.raises(MalformedEvent, match="ce_time"):
        from_record(b"{}", headers)
    with pytest.raises(MalformedEvent, match="valid CloudEvent"):
        from_record(b"{}", [*headers[:5], ("ce_Bad-Name", b"x")])
