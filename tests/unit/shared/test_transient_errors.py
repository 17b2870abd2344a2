"""Transient vs poison: an outage or failover is retried on the same record, never dead-lettered;
a bad record is dead-lettered after its attempts, never retried forever.

Real pymongo / aiokafka exception instances, built the way the drivers raise them (a server
error's code and labels live in ``details``), so a wrong code in ``is_transient``'s list turns red.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    LeaderNotAvailableError,
    NotLeaderForPartitionError,
    RequestTimedOutError,
)
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError
from pymongo.errors import (
    AutoReconnect,
    DuplicateKeyError,
    ExecutionTimeout,
    NetworkTimeout,
    NotPrimaryError,
    OperationFailure,
    ServerSelectionTimeoutError,
    WriteError,
)

from shared.config import CommonSettings
from shared.errors import Conflict, InvalidInput, NotFound, Unavailable, VersionConflict
from shared.events import new_event
from shared.events.envelope import to_record
from shared.events.kpi import KpiDatapointRecorded
from shared.messaging.consumer import ConsumerRunner, Router, is_transient


def server_error(code: int, *labels: str, message: str = "server said no") -> OperationFailure:
    details: dict[str, Any] = {"ok": 0, "code": code, "errmsg": message}
    if labels:
        details["errorLabels"] = list(labels)
    return OperationFailure(message, code, details)


# the server states of a failover / shutdown (MongoDB error codes), each named
FAILOVER_CODES = {
    6: "HostUnreachable",
    7: "HostNotFound",
    89: "NetworkTimeout",
    91: "ShutdownInProgress",
    189: "PrimarySteppedDown",
    11600: "InterruptedAtShutdown",
    11602: "InterruptedDueToReplStateChange",
    10107: "NotWritablePrimary",
    13435: "NotPrimaryNoSecondaryOk",
    13436: "NotPrimaryOrSecondary",
}

# errors that say "this operation / record is wrong": retrying cannot help
POISON_CODES = {
    2: "BadValue",
    9: "FailedToParse",
    14: "TypeMismatch",
    20: "IllegalOperation",
    121: "DocumentValidationFailure",
    11000: "DuplicateKey",
}

TRANSIENT_ERRORS: list[BaseException] = [
    *(server_error(code, message=name) for code, name in FAILOVER_CODES.items()),
    # an unlisted code the server labels retryable is retried too
    server_error(262, "RetryableWriteError", message="ExceededTimeLimit"),
    NotPrimaryError("not primary", {"code": 10107, "errmsg": "not primary"}),
    AutoReconnect("connection reset by peer"),
    NetworkTimeout("timed out"),
    ServerSelectionTimeoutError("No servers found yet"),
    ExecutionTimeout("operation exceeded time limit", 50, {"code": 50}),
    KafkaConnectionError("broker down"),
    KafkaTimeoutError(),
    RequestTimedOutError(),
    NotLeaderForPartitionError(),
    LeaderNotAvailableError(),
    Unavailable("store unreachable"),
    VersionConflict("lost an optimistic race"),
    TimeoutError(),
    ConnectionRefusedError(111, "Connection refused"),
    ConnectionResetError(104, "Connection reset by peer"),
]


def _validation_error() -> ValidationError:
    try:
        KpiDatapointRecorded.model_validate({"id": "x"})
    except ValidationError as exc:
        return exc
    raise AssertionError("expected a validation error")


POISON_ERRORS: list[BaseException] = [
    *(server_error(code, message=name) for code, name in POISON_CODES.items()),
    DuplicateKeyError("E11000 duplicate key", 11000, {"code": 11000}),
    WriteError("Document failed validation", 121, {"code": 121}),
    server_error(0, message="no code at all"),
    ValueError("bad number"),
    KeyError("missing"),
    TypeError("wrong type"),
    _validation_error(),
    InvalidInput("not a valid goal"),
    NotFound("no such goal"),
    Conflict("already exists"),
]


def _name(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    return f"{type(exc).__name__}({code})" if isinstance(exc, OperationFailure) else repr(exc)


@pytest.mark.parametrize("exc", TRANSIENT_ERRORS, ids=_name)
def test_an_outage_or_failover_is_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize("exc", POISON_ERRORS, ids=_name)
def test_a_bad_operation_or_record_is_not_transient(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_the_store_codes_are_exactly_the_failover_states() -> None:
    """Every code from 0 to 20000 that ``is_transient`` retries is one of the named failover
    states: adding a poison code (or dropping a failover one) turns this red."""
    retried = {code for code in range(20000) if is_transient(server_error(code))}
    assert retried == set(FAILOVER_CODES)


# ------------------------------------------------------------------ what the runner does with them


class RecordingProducer:
    """Stands in for the producer: keeps what would go to a dead-letter topic."""

    def __init__(self) -> None:
        self.dead_letters: list[tuple[str, bytes | None, list[tuple[str, bytes]]]] = []

    async def send_raw(
        self,
        topic: str,
        *,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]],
    ) -> None:
        self.dead_letters.append((topic, value, list(headers)))


def a_record() -> ConsumerRecord[bytes, bytes]:
    payload = KpiDatapointRecorded(
        id="dp-1",
        tenant="acme",
        metric="nps",
        value=1.0,
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        source_id="s",
        source_event_id="e",
    )
    key, value, headers = to_record(
        new_event(payload, tenant="acme", subject="acme:nps", source="test")
    )
    return ConsumerRecord(
        topic="t.kpi.datapoints",
        partition=0,
        offset=7,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key),
        serialized_value_size=len(value),
        headers=headers,
    )


def runner_failing_with(
    errors: list[BaseException],
) -> tuple[ConsumerRunner, RecordingProducer, list[int]]:
    """A runner whose handler raises ``errors`` in turn, then succeeds; counts the attempts."""
    router = Router()
    attempts: list[int] = []

    @router.on(KpiDatapointRecorded)
    async def handler(event: Any, payload: Any) -> None:
        attempts.append(len(attempts) + 1)
        if len(attempts) <= len(errors):
            raise errors[len(attempts) - 1]

    producer = RecordingProducer()
    runner = ConsumerRunner(
        CommonSettings(),
        group="g",
        router=router,
        producer=producer,  # type: ignore[arg-type]
        poison_attempts=3,
        max_backoff_s=0.01,
    )
    return runner, producer, attempts


@pytest.mark.parametrize(
    "failover",
    [
        server_error(10107, message="NotWritablePrimary"),
        server_error(11602, message="InterruptedDueToReplStateChange"),
        NotPrimaryError("not primary", {"code": 10107}),
        AutoReconnect("connection reset"),
        KafkaConnectionError("broker down"),
    ],
    ids=_name,
)
async def test_a_failover_longer_than_the_poison_attempts_is_retried_not_dead_lettered(
    failover: BaseException,
) -> None:
    runner, producer, attempts = runner_failing_with([failover] * 6)  # twice poison_attempts

    await runner._handle(a_record())

    assert attempts == [1, 2, 3, 4, 5, 6, 7]  # the seventh attempt succeeds
    assert producer.dead_letters == []


@pytest.mark.parametrize(
    "poison",
    [server_error(2, message="BadValue"), DuplicateKeyError("dup", 11000), ValueError("bad")],
    ids=_name,
)
async def test_a_poison_error_is_dead_lettered_after_its_attempts(poison: BaseException) -> None:
    runner, producer, attempts = runner_failing_with([poison] * 10)

    await runner._handle(a_record())

    assert attempts == [1, 2, 3]
    [(topic, value, headers)] = producer.dead_letters
    assert topic == "t.kpi.datapoints.dlq"
    assert value == a_record().value
    assert dict(headers)["dlq_error_type"] == type(poison).__name__.encode()
    assert dict(headers)["dlq_original_offset"] == b"7"


class CommitOnceFailing:
    """A consumer whose first commit fails the way a moving coordinator makes it fail."""

    def __init__(self) -> None:
        self.committed: list[dict[Any, int]] = []
        self.failures = 1

    async def commit(self, offsets: dict[Any, int]) -> None:
        if self.failures:
            self.failures -= 1
            raise KafkaConnectionError("coordinator moved")
        self.committed.append(dict(offsets))


async def test_offsets_of_a_failed_commit_go_with_the_next_one() -> None:
    # the partition's last records were handled: no later record would ever commit them, and
    # its lag would stay above 0 for good
    runner, _, _ = runner_failing_with([])
    consumer = CommitOnceFailing()
    runner._consumer = consumer  # type: ignore[assignment]
    runner._uncommitted = {"p0": 10, "p1": 4}  # type: ignore[dict-item]

    await runner._commit_processed()
    assert consumer.committed == []
    runner._uncommitted["p1"] = 7  # type: ignore[index]  # handled meanwhile: the newer wins
    await runner._commit_processed()

    assert consumer.committed == [{"p0": 10, "p1": 7}]
