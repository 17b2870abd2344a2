"""Helpers of the inbox, feedback and skills journeys: the goal and the mail they need."""

from __future__ import annotations

import email
import email.policy
import mailbox
import re
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.browser.harness import Stack, Team

T = TypeVar("T")
LINK = re.compile(r"https?://[^\s\"<>]+")


def eventually(what: str, check: Callable[[], T | None], timeout_s: float = 30) -> T:
    """The first truthy answer of ``check`` before the deadline (it polls, bounded)."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def maildir(stack: Stack) -> Path:
    """Where the stack's SMTP sink keeps what it received (next to its pid file)."""
    sink = next(p for p in stack.processes if p.name == "mailsink")
    return sink.pid_file.parent.parent / "mail"


def mails_to(stack: Stack, address: str, subject_starts: str) -> list[EmailMessage]:
    folder = maildir(stack)
    if not folder.exists():
        return []
    found = []
    for raw in mailbox.Maildir(str(folder), create=False):
        msg = email.message_from_bytes(raw.as_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        if address in str(msg["To"]) and " ".join(str(msg["Subject"]).split()).startswith(
            subject_starts
        ):
            found.append(msg)
    return found


def first_link(msg: EmailMessage, path_prefix: str) -> str:
    """The first link of the mail's text part that goes to ``path_prefix`` on any host."""
    body = msg.get_body(("plain",))
    assert body is not None
    text = str(body.get_content())
    for link in LINK.findall(text):
        if re.match(rf"https?://[^/]+{re.escape(path_prefix)}", link):
            return str(link)
    raise AssertionError(f"no {path_prefix} link in:\n{text}")


def kpi_goal(stack: Stack, team: Team, title: str, product: str) -> dict[str, Any]:
    """An active team-visible goal of the employee with one key result bound to
    ``adoption_rate{product=...}`` from 0 to 40 %, once goals knows the org chart."""

    def manager_sees_the_employee() -> bool:
        response = httpx.get(
            f"{stack.url('goals')}/v1/people/{team.ids['employee']}/goals/summary",
            headers=team.headers("manager"),
            timeout=10,
        )
        return response.status_code == 200

    eventually("goals to learn the org chart", manager_sees_the_employee)
    body = {
        "title": title,
        "horizon": "long_term",
        "category": "outcome",
        "status": "active",
        "visibility": "team",
        "start_date": str(date.today() - timedelta(days=1)),
        "due_date": str(date.today() + timedelta(days=300)),
        "key_results": [
            {
                "title": f"Adoption of {product} reaches 40 %",
                "start": 0,
                "target": 40,
                "unit": "%",
                "source": {"kpi": {"metric": "adoption_rate", "filters": {"product": product}}},
            }
        ],
    }
    response = httpx.post(
        f"{stack.url('goals')}/v1/goals", headers=team.headers("employee"), json=body, timeout=10
    )
    assert response.status_code == 201, response.text
    goal: dict[str, Any] = response.json()
    return goal


def ask_mentor(stack: Stack, team: Team) -> dict[str, Any]:
    """A named request from the employee to their mentor, over the feedback API; for a team
    just provisioned, once feedback has learned its people (from the people events)."""

    def asked() -> dict[str, Any] | None:
        response = _post_request_to_mentor(stack, team)
        if response.status_code == 422 and "not found or inactive" in response.text:
            return None  # feedback has not read the new people yet
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    return eventually("feedback to accept a request to the mentor", asked)


def _post_request_to_mentor(stack: Stack, team: Team) -> httpx.Response:
    body = {
        "subject_id": team.ids["employee"],
        "reviewers": [{"person_id": team.ids["mentor"], "relationship": "mentor"}],
        "skills": ["communication", "leadership"],
        "questions": ["What should I try next?"],
        "due_date": str(date.today() + timedelta(days=14)),
    }
    return httpx.post(
        f"{stack.url('feedback')}/v1/feedback-requests",
        headers=team.headers("employee"),
        json=body,
        timeout=10,
    )


def outsider(stack: Stack, team: Team) -> str:
    """Someone else in the tenant (no manager, mentor or report of anyone in the team)."""
    name = f"Olive Outsider {uuid.uuid4().hex[:6]}"
    user_name = f"olive.{uuid.uuid4().hex[:6]}@{team.tenant}.example"
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "displayName": name,
        "active": True,
        "emails": [{"value": user_name, "type": "work", "primary": True}],
    }
    response = httpx.post(
        f"{stack.url('people')}/scim/v2/Users", headers=team.scim, json=body, timeout=10
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])
