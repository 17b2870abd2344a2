"""Schemathesis over one service's OpenAPI, in-process, against the real Kafka and store.

The service runs with isolated settings (its own topics and database, dropped afterwards);
schemathesis drives its lifespan and requests in its own event-loop thread, which is why this
is synchronous rather than ``tests.support.running``. Every phase runs (examples, coverage,
fuzzing, stateful) with every check, a fixed seed and bounded examples, so a run is repeatable:
``FUZZ_SEED``, ``FUZZ_EXAMPLES`` and ``FUZZ_MAX_TIME`` widen it (docs/operations.md).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from fastapi import FastAPI
from pymongo import MongoClient
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema
from schemathesis.python import asgi

from shared.auth import issue_local_token
from shared.config import CommonSettings
from tests.support import unique

SEED = int(os.environ.get("FUZZ_SEED", "17"))
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
MAX_STEPS = int(os.environ.get("FUZZ_STATEFUL_STEPS", "8"))
# none by default: examples bound a run, so it sends the same requests however busy the
# machine is (a time bound cut a run on a loaded machine to a handful of requests)
MAX_TIME_S = int(os.environ["FUZZ_MAX_TIME"]) if os.environ.get("FUZZ_MAX_TIME") else None

# problems a schema-valid request may get, as the OpenAPI says (every 422, or the field's
# description): a cursor the API did not return, a rule between fields that JSON Schema cannot
# say, a URL whose host does not resolve to public addresses (notifications' SSRF guard), text
# the local store cannot hold (NUL under FerretDB over PostgreSQL; MongoDB stores it)
DOCUMENTED_REJECTIONS = {
    "/problems/invalid-cursor",
    "/problems/rule-not-met",
    "/problems/unsafe-url",
    "/problems/unstorable-text",
}

# what a service needs before fuzzing (e.g. a SCIM token): the credentials per security scheme
Prepare = Callable[[Any, dict[str, str]], dict[str, str]]


@dataclass(frozen=True)
class Finding:
    check: str
    operation: str
    title: str
    message: str
    reproduce: str
    response: str

    def __str__(self) -> str:
        message = " | ".join(self.message.splitlines())
        return (
            f"[{self.check}] {self.operation}: {self.title}: {message}\n"
            f"    {self.reproduce}\n    -> {self.response}"
        )


@dataclass
class FuzzReport:
    service: str
    findings: dict[tuple[str, str, str], Finding] = field(default_factory=dict)
    failures: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    documented: Counter[str] = field(default_factory=Counter)
    cases: int = 0
    phases: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [
            f"{self.service}: {self.cases} requests, failures by check {dict(self.failures)}, "
            f"documented rejections {dict(self.documented)}, phases {self.phases}"
        ]
        lines += [str(finding) for finding in self.findings.values()]
        # in-process, an unhandled exception leaves the app after its 500 is sent: schemathesis
        # reports it as an error of the operation, so a server error shows here
        lines += [f"server or engine error: {error}" for error in self.errors]
        return "\n".join(lines)


def config(credentials: dict[str, str]) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            **({"max-time": MAX_TIME_S} if MAX_TIME_S else {}),
            "suppress-health-check": ["all"],
            "checks": {"enabled": True},
            "generation": {
                "max-examples": EXAMPLES,
                "database": "none",
            },
            "phases": {"stateful": {"max-steps": MAX_STEPS}},
            "operations": [
                {
                    # SCIM bodies are RFC 7643 resources, documented loosely here (the full
                    # schemas are served at /scim/v2/Schemas) and checked by scim2-tester
                    # (tests/integration/people/test_scim_compliance.py): a random object that
                    # fits the loose schema is rightly a 400
                    "include-path-regex": "^/scim/",
                    "checks": {"positive_data_acceptance": {"enabled": False}},
                }
            ],
            "auth": {
                "openapi": {scheme: {"bearer": token} for scheme, token in credentials.items()}
            },
        }
    )


def _response(recorder: Any, case_id: str) -> Any:
    interaction = recorder.interactions.get(case_id)
    return None if interaction is None else interaction.response


def _problem_type(recorder: Any, case_id: str) -> str | None:
    response = _response(recorder, case_id)
    try:
        problem = json.loads(response.content) if response is not None else None
    except ValueError:
        return None
    return problem.get("type") if isinstance(problem, dict) else None


def _answer(response: Any) -> str:
    if response is None:
        return "no response"
    body = response.content[:300].decode("utf-8", "replace")
    return f"{response.status_code} {body}"


def _record(report: FuzzReport, recorder: Any) -> None:
    report.cases += len(recorder.cases)
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.failure_info is None:
                continue
            failure = check.failure_info.failure
            if check.name == "positive_data_acceptance":
                problem = _problem_type(recorder, case_id)
                if problem in DOCUMENTED_REJECTIONS:
                    report.documented[problem] += 1
                    continue
            report.failures[check.name] += 1
            key = (check.name, failure.operation or "", failure.title)
            report.findings.setdefault(
                key,
                Finding(
                    check.name,
                    failure.operation or "",
                    failure.title,
                    failure.message[:400],
                    check.failure_info.code_sample[:600],
                    _answer(_response(recorder, case_id)),
                ),
            )


def fuzz(service: str, app: FastAPI, credentials: dict[str, str]) -> FuzzReport:
    """Run every phase and check over ``app``'s OpenAPI; the findings, deduplicated."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config(credentials))
    report = FuzzReport(service)
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            _record(report, event.recorder)
        elif isinstance(event, events.NonFatalError):
            report.errors.append(f"{event.label}: {event.value!r}"[:400])
        elif isinstance(event, events.FatalError):
            report.errors.append(f"fatal: {event.exception!r}"[:400])
        elif isinstance(event, events.PhaseFinished):
            report.phases[event.phase.name.value] = event.status.value
    return report


@contextmanager
def started(app: FastAPI) -> Iterator[Any]:
    """The app's lifespan in schemathesis' event-loop thread, a client to it; then cleaned up."""
    settings: CommonSettings = app.state.settings
    try:
        with asgi.get_client(app) as client:
            # the first request starts the lifespan, where schemathesis will send its own
            client.get("/healthz")
            yield client
    finally:
        asgi.shutdown_lifespans()
        mongo: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_uri)
        try:
            mongo.drop_database(settings.mongodb_database)
        finally:
            mongo.close()


def admin_token(settings: CommonSettings) -> tuple[str, str]:
    """A tenant of its own and an HR admin of it who is also an employee."""
    tenant = unique("fuzz-")
    token = issue_local_token(
        settings, tenant=tenant, sub=unique("hr-"), roles=["admin", "hr_admin", "employee"]
    )
    return tenant, token
