"""Argument parsing of ``northstar dlq replay``."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import pytest

from shared.messaging.dlq import logical_topic, parse_since

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30m", NOW - timedelta(minutes=30)),
        ("6h", NOW - timedelta(hours=6)),
        ("2d", NOW - timedelta(days=2)),
        ("1w", NOW - timedelta(weeks=1)),
        ("2026-11-27T09:00:00Z", datetime(2026, 11, 27, 9, 0, tzinfo=UTC)),
        ("2026-11-27T10:00:00+01:00", datetime(2026, 11, 27, 9, 0, tzinfo=UTC)),
        ("2026-11-27T09:00:00", datetime(2026, 11, 27, 9, 0, tzinfo=UTC)),
    ],
)
def test_since_accepts_an_iso_time_or_an_age(value: str, expected: datetime) -> None:
    assert parse_since(value, now=NOW) == expected


@pytest.mark.parametrize("value", ["yesterday", "10", "5y", ""])
def test_since_refuses_anything_else_with_a_usage_error(value: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="ISO-8601"):
        parse_since(value, now=NOW)


def test_topic_may_be_named_by_itself_or_by_its_dead_letter_twin() -> None:
    assert logical_topic("northstar.goals.v1.dlq") == "northstar.goals.v1"
    assert logical_topic("northstar.goals.v1") == "northstar.goals.v1"


def test_cli_lists_the_replay_command() -> None:
    from shared.cli import build_parser

    args = build_parser().parse_args(
        ["dlq", "replay", "--topic", "northstar.goals.v1", "--since", "1h", "--dry-run"]
    )
    assert args.topic == "northstar.goals.v1"
    assert args.dry_run is True
    assert isinstance(args.since, datetime)
