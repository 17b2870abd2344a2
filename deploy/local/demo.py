"""``make demo``: a narrated story through every service of a running stack (``make up``).

A tenant is provisioned over SCIM the way Okta does it; a product manager sets a short-term goal
from the communication template and a long-term "drive a product launch" goal bound to the
``adoption_rate`` KPI of product ``mobile``; an analytics source pushes signed Segment and generic
webhooks; progress moves and milestones fire; the manager and the mentor find celebrations in
their inboxes and in the SMTP sink; feedback is requested and given; a manager change reopens the
long-term goal for review. It ends with a table of the steps and exits non-zero if one failed.
"""

from __future__ import annotations

import argparse
import json
import mailbox
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from deploy.local.servers import RUN_DIR
from shared.auth import issue_local_token
from shared.config import CommonSettings
from shared.webhooks import signed_headers

SERVICES = ("people", "goals", "feedback", "kpi_ingest", "notifications")
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


class StepFailed(Exception):
    pass


@dataclass
class Step:
    title: str
    ok: bool = False
    seconds: float = 0.0
    note: str = ""


@dataclass
class Story:
    tenant: str
    maildir: Path
    timeout_s: float
    urls: dict[str, str]
    steps: list[Step] = field(default_factory=list)
    people: dict[str, str] = field(default_factory=dict)  # role in the story -> person id
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=15))

    def step(self, title: str, action: Callable[[], str | None]) -> bool:
        print(f"\n▶ {title}", flush=True)
        step = Step(title)
        started = time.perf_counter()
        try:
            step.note = action() or ""
            step.ok = True
        except (StepFailed, httpx.HTTPError, AssertionError, KeyError) as exc:
            step.note = f"{type(exc).__name__}: {exc}"
        step.seconds = time.perf_counter() - started
        self.steps.append(step)
        print(
            f"  {'✔' if step.ok else '✘'} {step.note}  ({step.seconds * 1000:.0f} ms)", flush=True
        )
        return step.ok

    # ------------------------------------------------------------------ helpers

    def call(
        self,
        method: str,
        url: str,
        *,
        who: str | None = None,
        expect: int | tuple[int, ...] = (200, 201, 202, 204),
        **kwargs: Any,
    ) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if who is not None:
            headers.update(self.tokens[who])
        response = self.http.request(method, url, headers=headers, **kwargs)
        expected = (expect,) if isinstance(expect, int) else expect
        if response.status_code not in expected:
            raise StepFailed(
                f"{method} {url} answered {response.status_code}: {response.text[:300]}"
            )
        return response.json() if response.content else None

    def url(self, service: str, path: str) -> str:
        return f"{self.urls[service]}{path}"

    def wait_for(self, what: str, check: Callable[[], Any]) -> Any:
        deadline = time.monotonic() + self.timeout_s
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = check()
            except (StepFailed, httpx.HTTPError) as exc:
                last = exc
            if last and not isinstance(last, Exception):
                return last
            time.sleep(0.25)
        raise StepFailed(f"timed out waiting for {what} (last: {last!r})"[:400])

    def jwt(self, person: str, *roles: str) -> dict[str, str]:
        # what `northstar token` prints, minted in-process to keep the story quick
        token = issue_local_token(
            CommonSettings(), tenant=self.tenant, sub=person, roles=list(roles) or ["employee"]
        )
        return {"Authorization": f"Bearer {token}"}

    def inbox(self, who: str) -> list[dict[str, Any]]:
        return list(
            self.call(
                "GET", self.url("notifications", "/v1/inbox"), who=who, params={"limit": 100}
            )["items"]
        )

    def mail_to(self, person: str) -> list[str]:
        address = self.facts["emails"][person]
        box = mailbox.Maildir(str(self.maildir), create=False) if self.maildir.exists() else None
        if box is None:
            return []
        return [
            str(m["subject"])
            for m in box
            if address in str(m["to"]) and "milestone" in str(m["subject"]).lower()
        ]

    def signed(self, source: dict[str, Any], payload: str) -> dict[str, str]:
        return {**signed_headers(source["secret"], payload), "content-type": "application/json"}


def _northstar() -> str:
    return str(Path(sys.executable).with_name("northstar"))


# ---------------------------------------------------------------------------------- the story

CAST = [
    ("hr", "Harper Reyes", "HR Business Partner", None),
    ("manager", "Morgan Lee", "Director of Product", None),
    ("mentor", "Ines Okafor", "VP Product", None),
    ("pm", "Priya Shah", "Product Manager", "manager"),
    ("pm2", "Theo Martin", "Product Manager", "manager"),
    ("new_manager", "Jordan Blake", "Group Product Manager", None),
]


def provision(story: Story) -> str:
    scim = subprocess.run(
        [_northstar(), "scim-token", "--tenant", story.tenant, "--name", "okta-demo"],
        check=True,
        capture_output=True,
        text=True,
    )
    headers = {
        "Authorization": f"Bearer {scim.stdout.strip().splitlines()[-1]}",
        "content-type": "application/scim+json",
    }
    story.facts["scim"] = headers
    # Okta's "test connector configuration"
    story.call(
        "GET",
        story.url("people", "/scim/v2/Users"),
        headers=headers,
        params={"startIndex": 1, "count": 2},
    )
    story.facts["emails"] = {}
    for role, name, title, manager_role in CAST:
        given, family = name.split(" ", 1)
        user_name = f"{given.lower()}.{family.lower()}@{story.tenant}.example"
        # Okta looks the user up first, then creates it
        found = story.call(
            "GET",
            story.url("people", "/scim/v2/Users"),
            headers=headers,
            params={"filter": f'userName eq "{user_name}"'},
        )
        if found["totalResults"]:
            raise StepFailed(f"{user_name} exists already")
        body: dict[str, Any] = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "userName": user_name,
            "name": {"givenName": given, "familyName": family},
            "displayName": name,
            "title": title,
            "active": True,
            "locale": "en-US",
            "timezone": "Europe/London",
            "emails": [{"value": user_name, "type": "work", "primary": True}],
            ENTERPRISE: {"department": "Product", "employeeNumber": str(1000 + len(story.people))},
        }
        if manager_role:
            body[ENTERPRISE]["manager"] = {"value": story.people[manager_role]}
        created = story.call(
            "POST", story.url("people", "/scim/v2/Users"), headers=headers, json=body, expect=201
        )
        story.people[role] = created["id"]
        story.facts["emails"][role] = user_name
    story.tokens = {role: story.jwt(pid) for role, pid in story.people.items()}
    story.tokens["hr"] = story.jwt(story.people["hr"], "hr_admin")
    story.tokens["admin"] = story.jwt(story.people["hr"], "admin")
    return f"{len(CAST)} people created over SCIM in tenant {story.tenant}"


def pair_mentor(story: Story) -> str:
    story.call(
        "POST",
        story.url("people", "/v1/mentorships"),
        who="hr",
        expect=201,
        json={
            "mentor_id": story.people["mentor"],
            "mentee_id": story.people["pm"],
            "focus_skills": ["leadership", "communication"],
        },
    )
    mentors = story.call(
        "GET", story.url("people", f"/v1/people/{story.people['pm']}/mentors"), who="pm"
    )
    assert [p["id"] for p in mentors["items"]] == [story.people["mentor"]]
    return "Ines mentors Priya"


def welcomed(story: Story) -> str:
    items = story.wait_for(
        "the welcome in Priya's inbox",
        lambda: [i for i in story.inbox("pm") if i["category"] == "welcome"],
    )
    return f"Priya's inbox: {items[0]['title']!r}"


def wait_until_goals_know_the_team(story: Story) -> None:
    # the goals service learns the org chart from events; wait until it resolves the manager
    def manager_sees_summary() -> bool:
        response = story.http.get(
            story.url("goals", f"/v1/people/{story.people['pm']}/goals/summary"),
            headers=story.tokens["manager"],
        )
        return response.status_code == 200

    story.wait_for("the goals service to learn the org chart", manager_sees_summary)


def short_term_goal(story: Story) -> str:
    wait_until_goals_know_the_team(story)
    goal = story.call(
        "POST",
        story.url("goals", "/v1/goals"),
        who="pm",
        expect=201,
        json={
            "template_id": "enhance-communication-skills",
            "status": "active",
            "due_date": str(date.today() + timedelta(days=90)),
        },
    )
    story.facts["short_goal"] = goal["id"]
    return f"{goal['title']!r} ({goal['horizon']}, {len(goal['key_results'])} key results)"


def long_term_goal(story: Story) -> str:
    goal = story.call(
        "POST",
        story.url("goals", "/v1/goals"),
        who="pm",
        expect=201,
        json={
            "template_id": "drive-a-product-launch-with-real-impact",
            "title": "Drive the launch of a product with real impact",
            "status": "active",
            "visibility": "team",
            "start_date": str(date.today() - timedelta(days=30)),
            "due_date": str(date.today() + timedelta(days=335)),
            "review_every_days": 90,
            "feedback_reviewer_ids": [story.people["mentor"]],
            "key_results": [
                {
                    "title": "Mobile adoption rate reaches 40 %",
                    "start": 0,
                    "target": 40,
                    "unit": "%",
                    "direction": "increase",
                    "weight": 1,
                    "source": {
                        "kpi": {
                            "metric": "adoption_rate",
                            "filters": {"product": "mobile"},
                            "aggregation": "latest",
                        }
                    },
                }
            ],
        },
    )
    story.facts["long_goal"] = goal["id"]
    return f"{goal['title']!r} bound to {goal['bound_metrics']}"


def analytics_sources(story: Story) -> str:
    segment = story.call(
        "POST",
        story.url("kpi_ingest", "/v1/sources"),
        who="admin",
        expect=201,
        json={
            "name": "Segment (mobile app)",
            "format": "segment",
            "mapping": {
                "events": [
                    {
                        "event": "Adoption Measured",
                        "metric": "adoption_rate",
                        "value": "properties.rate",
                        "dimensions": {"product": "properties.product"},
                    }
                ]
            },
        },
    )
    generic = story.call(
        "POST",
        story.url("kpi_ingest", "/v1/sources"),
        who="admin",
        expect=201,
        json={"name": "Nightly KPI script", "format": "generic", "mapping": {}},
    )
    assert segment["secret"].startswith("whsec_")
    story.facts["segment"], story.facts["generic"] = segment, generic
    return "Segment and generic sources, each with a whsec_ signing secret"


def generic_body(value: float) -> dict[str, Any]:
    """What a nightly KPI script sends (format ``generic``)."""
    return {
        "datapoints": [
            {
                "id": f"nightly-{uuid.uuid4().hex[:8]}",
                "metric": "adoption_rate",
                "value": value,
                "timestamp": datetime.now(UTC).isoformat(),
                "dimensions": {"product": "mobile"},
            }
        ]
    }


def segment_body(value: float) -> dict[str, Any]:
    """A Segment track call (format ``segment``), mapped to adoption_rate by the source."""
    return {
        "type": "track",
        "event": "Adoption Measured",
        "messageId": f"ajs-{uuid.uuid4().hex}",
        "timestamp": datetime.now(UTC).isoformat(),
        "userId": "analytics",
        "properties": {"rate": value, "product": "mobile"},
    }


def push(
    source_key: str, body: Callable[[float], dict[str, Any]], value: float
) -> Callable[[Story], str]:
    def send(story: Story) -> str:
        source = story.facts[source_key]
        raw = json.dumps(body(value))
        story.call(
            "POST",
            story.url("kpi_ingest", f"/v1/webhooks/{source['id']}"),
            content=raw,
            expect=202,
            headers=story.signed(source, raw),
        )
        return _progress_after(story, value)

    return send


def _progress_after(story: Story, value: float) -> str:
    expected = round(min(value / 40, 1.0), 4)

    def moved() -> Any:
        goal = story.call(
            "GET", story.url("goals", f"/v1/goals/{story.facts['long_goal']}"), who="pm"
        )
        return goal if abs(goal["progress"] - expected) < 1e-6 else None

    goal = story.wait_for(f"progress {expected}", moved)
    return (
        f"adoption_rate {value} % → progress {goal['progress']:.3f}, milestones "
        f"{goal['milestones_reached']}"
    )


def _celebrations(story: Story, who: str) -> list[dict[str, Any]] | None:
    items = [i for i in story.inbox(who) if i["category"] == "celebration"]
    return items if len(items) >= 3 else None


def celebrations(story: Story) -> str:
    found = {}
    for who in ("manager", "mentor"):
        # 31 of 40 % is progress 0.775: the 25, 50 and 75 % milestones
        found[who] = story.wait_for(
            f"three celebrations in the {who}'s inbox", partial(_celebrations, story, who)
        )
    return (
        f"manager: {len(found['manager'])} celebrations, mentor: {len(found['mentor'])} "
        f"(e.g. {found['mentor'][0]['title']!r})"
    )


def celebration_mail(story: Story) -> str:
    subjects = {}
    for who in ("manager", "mentor"):
        subjects[who] = story.wait_for(f"email to the {who}", partial(story.mail_to, who))
    return (
        f"SMTP sink: manager {len(subjects['manager'])} mails, mentor "
        f"{len(subjects['mentor'])} (e.g. {subjects['mentor'][0]!r})"
    )


def feedback_round(story: Story) -> str:
    request = story.call(
        "POST",
        story.url("feedback", "/v1/feedback-requests"),
        who="pm",
        expect=201,
        json={
            "subject_id": story.people["pm"],
            "reviewers": [{"person_id": story.people["mentor"], "relationship": "mentor"}],
            "skills": ["communication", "leadership"],
            "questions": ["What should I keep doing in launch reviews?"],
            "goal_id": story.facts["long_goal"],
            "anonymous": False,
            "due_date": str(date.today() + timedelta(days=14)),
        },
    )

    def assigned() -> Any:
        items = story.call(
            "GET",
            story.url("feedback", "/v1/feedback-requests"),
            who="mentor",
            params={"assigned_to": "me", "status": "open"},
        )["items"]
        return [i for i in items if i["id"] == request["id"]]

    story.wait_for("the request in the mentor's list", assigned)
    story.call(
        "POST",
        story.url("feedback", f"/v1/feedback-requests/{request['id']}/responses"),
        who="mentor",
        expect=201,
        json={
            "ratings": {"communication": 4, "leadership": 5},
            "comments": "Your launch narrative got the whole org behind mobile.",
            "answers": ["Keep opening with the customer problem."],
        },
    )
    story.wait_for(
        "'feedback received' in Priya's inbox",
        lambda: [i for i in story.inbox("pm") if i["event_type"].endswith("feedback.submitted.v1")],
    )
    feedback = story.call(
        "GET", story.url("feedback", f"/v1/people/{story.people['pm']}/feedback"), who="pm"
    )
    return f"mentor answered; Priya reads {len(feedback['items'])} feedback item(s)"


def manager_change(story: Story) -> str:
    story.call(
        "PATCH",
        story.url("people", f"/scim/v2/Users/{story.people['pm']}"),
        headers=story.facts["scim"],
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {
                    "op": "replace",
                    "path": f"{ENTERPRISE}:manager",
                    "value": {"value": story.people["new_manager"]},
                }
            ],
        },
    )

    def review_pending() -> Any:
        goal = story.call(
            "GET", story.url("goals", f"/v1/goals/{story.facts['long_goal']}"), who="pm"
        )
        return goal if goal["review_pending"] == "manager_changed" else None

    story.wait_for("the long-term goal to be due for review", review_pending)
    short = story.call(
        "GET", story.url("goals", f"/v1/goals/{story.facts['short_goal']}"), who="pm"
    )
    assert short["review_pending"] != "manager_changed", "short-term goals stay as they are"
    story.wait_for(
        "'review due' in Priya's inbox",
        lambda: [i for i in story.inbox("pm") if i["event_type"].endswith("goal.review_due.v1")],
    )
    return "Priya now reports to Jordan: the long-term goal is due for review (manager_changed)"


LOGIN_CAST = [
    ("pm", "employee", ["employee"]),
    ("manager", "manager", ["employee"]),
    ("mentor", "mentor", ["employee"]),
    ("hr", "HR admin", ["employee", "hr_admin"]),
]


def print_login_urls(story: Story, web_port: int) -> None:
    """One-time sign-in links for the cast (what `northstar login-url` prints)."""
    import asyncio

    from services.web.commands import issue_login_url
    from services.web.config import WebSettings
    from services.web.sessions import Identity

    settings = WebSettings(public_url=f"http://127.0.0.1:{web_port}")
    print("\nSign in to the web app (one-time links, valid a few minutes):")
    for role, label, roles in LOGIN_CAST:
        if role not in story.people:
            continue
        identity = Identity(tenant=story.tenant, person_id=story.people[role], roles=roles)
        url = asyncio.run(issue_login_url(settings, identity))
        print(f"  {label:<9} {url}")


def preflight(story: Story) -> str:
    for name, url in story.urls.items():
        response = story.http.get(f"{url}/readyz")
        if response.status_code != 200:
            raise StepFailed(f"{name} is not ready at {url}; run `make up` first")
    return "all five services ready"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenant", default=f"demo-{uuid.uuid4().hex[:6]}")
    parser.add_argument(
        "--maildir", type=Path, default=Path(os.environ.get("NORTHSTAR_MAILDIR", RUN_DIR / "mail"))
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per wait")
    parser.add_argument("--web-port", type=int, default=8000, help="the web app's port")
    parser.add_argument(
        "--ports",
        default="8001,8002,8003,8004,8005",
        help="ports of people, goals, feedback, kpi-ingest, notifications",
    )
    args = parser.parse_args(argv)
    ports = [int(p) for p in args.ports.split(",")]
    urls = {name: f"http://127.0.0.1:{port}" for name, port in zip(SERVICES, ports, strict=True)}
    story = Story(tenant=args.tenant, maildir=args.maildir, timeout_s=args.timeout, urls=urls)
    plan: list[tuple[str, Callable[[Story], str]]] = [
        ("The stack is up", preflight),
        ("HR provisions the team over SCIM (Okta-style requests)", provision),
        ("HR pairs Priya with a mentor", pair_mentor),
        ("New people are welcomed in their inbox", welcomed),
        ("Priya sets a short-term goal from the communication template", short_term_goal),
        (
            "Priya sets a long-term launch goal bound to adoption_rate{product=mobile}",
            long_term_goal,
        ),
        ("An admin connects Segment and a nightly script as signed KPI sources", analytics_sources),
        ("A signed generic webhook reports adoption 12 %", push("generic", generic_body, 12)),
        ("A signed Segment track call reports adoption 22 %", push("segment", segment_body, 22)),
        ("A signed generic webhook reports adoption 31 %", push("generic", generic_body, 31)),
        ("Manager and mentor find the celebrations in their inboxes", celebrations),
        ("…and in their email (SMTP sink)", celebration_mail),
        ("Priya asks her mentor for feedback; the mentor answers", feedback_round),
        ("Priya moves to a new manager; her long-term goal is reopened for review", manager_change),
    ]
    for title, action in plan:
        if not story.step(title, partial(action, story)) and title == "The stack is up":
            break
    if story.people:
        print_login_urls(story, args.web_port)
    width = max(len(s.title) for s in story.steps)
    print(f"\n{'step':<{width}}  ok   latency")
    for s in story.steps:
        print(f"{s.title:<{width}}  {'✔' if s.ok else '✘'}  {s.seconds * 1000:8.0f} ms")
    failed = [s for s in story.steps if not s.ok]
    print(f"\n{len(story.steps) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed or len(story.steps) < len(plan) else 0


if __name__ == "__main__":
    sys.exit(main())
