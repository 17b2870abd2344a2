"""The HR reports' arithmetic and grouping, over in-memory facts (no store)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from services.people.reports.aggregate import (
    AnswerFact,
    CheckInFact,
    Filters,
    GoalFact,
    Grouped,
    Member,
    OrgChart,
    RatingFact,
    RequestFact,
)
from services.people.reports.service import Reports, csv_text, report_rows

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)

# ceo -> vp (Product) -> ann, bob (Product); ceo -> cy (Sales); dee has no manager
PEOPLE = [
    Member("ceo", "Cleo", "Exec", None),
    Member("vp", "Vic", "Product", "ceo"),
    Member("ann", "Ann", "Product", "vp"),
    Member("bob", "Bob", "product", "vp"),
    Member("cy", "Cy", "Sales", "ceo"),
    Member("dee", "Dee", None, None),
]


class FakeFacts:
    def __init__(self) -> None:
        self.people = list(PEOPLE)
        self.goals: list[GoalFact] = []
        self.check_ins: list[CheckInFact] = []
        self.requests: list[RequestFact] = []
        self.answers: list[AnswerFact] = []
        self.ratings: list[RatingFact] = []

    async def members(self, tenant: str) -> list[Member]:
        return self.people

    async def goal_facts(self, tenant: str) -> list[GoalFact]:
        return self.goals

    async def check_in_facts(
        self, tenant: str, start: datetime, end: datetime
    ) -> list[CheckInFact]:
        return self.check_ins

    async def request_facts(
        self, tenant: str, start: datetime, end: datetime
    ) -> tuple[list[RequestFact], list[AnswerFact]]:
        return self.requests, self.answers

    async def rating_facts(self, tenant: str, start: datetime, end: datetime) -> list[RatingFact]:
        return self.ratings


def reports(facts: FakeFacts, **kw: int) -> Reports:
    settings = {"stale_after_days": 30, "min_answers": 3, "default_period_days": 30} | kw
    return Reports(facts, clock=lambda: NOW, **settings)


def goal(goal_id: str, owner: str, status: str = "active", **kw: object) -> GoalFact:
    fields: dict[str, object] = {"at_risk": False, "created_at": NOW - DAY} | kw
    return GoalFact(goal_id, owner, status, **fields)  # type: ignore[arg-type]


def by_group(report: dict[str, object]) -> dict[str, dict[str, object]]:
    return {r["group"]: r for r in report_rows(report)}  # type: ignore[index]


# ---------------------------------------------------------------- org chart and grouping


def test_population_filters_by_department_team_and_manager_below_any_level() -> None:
    chart = OrgChart(PEOPLE)
    window = Filters(NOW - 30 * DAY, NOW)

    def ids(**kw: str) -> list[str]:
        return sorted(m.id for m in chart.population(Filters(window.start, window.end, **kw)))

    assert ids(department="PRODUCT") == ["ann", "bob", "vp"]  # any case
    assert ids(team="vp") == ["ann", "bob"]
    assert ids(manager="ceo") == ["ann", "bob", "cy", "vp"]
    assert ids(manager="ceo", department="sales") == ["cy"]
    assert ids(manager="nobody") == []


def test_groups_by_department_team_and_every_manager_above() -> None:
    chart = OrgChart(PEOPLE)
    window = Filters(NOW - 30 * DAY, NOW)
    departments = Grouped.of(chart, window, "department")
    assert [(g.label, len(m)) for g, m in departments.groups] == [
        ("(no department)", 1),
        ("Exec", 1),
        ("Product", 3),  # "Product" and "product" are one department
        ("Sales", 1),
    ]
    teams = Grouped.of(chart, window, "team")
    assert {g.key: sorted(x.id for x in m) for g, m in teams.groups} == {
        "": ["ceo", "dee"],
        "ceo": ["cy", "vp"],
        "vp": ["ann", "bob"],
    }
    managers = Grouped.of(chart, window, "manager")
    assert {g.key: sorted(x.id for x in m) for g, m in managers.groups} == {
        "ceo": ["ann", "bob", "cy", "vp"],
        "vp": ["ann", "bob"],
    }
    assert len(managers.everyone) == 6  # the total counts everyone once


def test_a_cycle_in_the_org_chart_ends_the_chain() -> None:
    chart = OrgChart([Member("a", "A", None, "b"), Member("b", "B", None, "a")])
    assert chart.chain("a") == ["b"]


# ---------------------------------------------------------------- goal attainment


async def test_goal_attainment_buckets_match_the_goals_services_states() -> None:
    facts = FakeFacts()
    facts.goals = [
        goal("g1", "ann", "achieved", achieved_at=NOW - 2 * DAY),
        goal("g2", "ann", "achieved", achieved_at=NOW - 40 * DAY),  # before the period
        goal("g3", "ann", at_risk=True, last_activity_at=NOW - 90 * DAY),  # at risk wins
        goal("g4", "bob", last_activity_at=NOW - 31 * DAY),
        goal("g5", "bob", created_at=NOW - 60 * DAY),  # never active since: its creation
        goal("g6", "bob", last_activity_at=NOW - 29 * DAY),
        goal("g7", "bob", "draft"),
        goal("g8", "bob", "abandoned", at_risk=True),
        goal("g9", "cy", created_at=NOW - 5 * DAY),
        goal("g10", "stranger"),  # not (or no longer) in the org chart
    ]
    report = await reports(facts).goal_attainment(
        "acme", reports(facts).filters(None, None), "team"
    )
    rows = by_group(report)
    assert rows["vp"] == {
        "group": "vp",
        "label": "Vic",
        "people": 2,
        "goals": 5,
        "achieved": 1,
        "on_track": 1,
        "at_risk": 1,
        "no_recent_update": 2,
    }
    assert rows["ceo"]["on_track"] == 1
    assert rows["ceo"]["goals"] == 1
    assert rows["*"]["goals"] == 6
    assert rows["*"]["people"] == 6
    assert report["stale_after_days"] == 30
    # a longer staleness: the goal idle 31 days is on track again
    longer = await reports(facts).goal_attainment(
        "acme", reports(facts).filters(None, None), "team", stale_after_days=45
    )
    assert by_group(longer)["vp"]["no_recent_update"] == 1


async def test_the_period_decides_which_achievements_count() -> None:
    facts = FakeFacts()
    facts.goals = [goal("g1", "ann", "achieved", achieved_at=NOW - 40 * DAY)]
    r = reports(facts)
    wide = await r.goal_attainment("acme", r.filters(NOW - 50 * DAY, NOW), "department")
    assert by_group(wide)["*"]["achieved"] == 1
    narrow = await r.goal_attainment("acme", r.filters(NOW - 30 * DAY, NOW), "department")
    assert by_group(narrow)["*"]["achieved"] == 0


# ---------------------------------------------------------------- check-ins


async def test_check_in_participation_is_the_share_of_people_with_active_goals() -> None:
    facts = FakeFacts()
    facts.goals = [goal("g1", "ann"), goal("g2", "bob"), goal("g3", "cy", "achieved")]
    facts.check_ins = [
        CheckInFact("c1", "ann", NOW - DAY),
        CheckInFact("c2", "ann", NOW - 2 * DAY),  # twice: one person
        CheckInFact("c3", "bob", NOW - 45 * DAY),  # outside the period
        CheckInFact("c4", "cy", NOW - DAY),  # no active goal: not in the base
    ]
    r = reports(facts)
    report = await r.check_in_participation("acme", r.filters(None, None), "team")
    rows = by_group(report)
    assert rows["vp"]["people_with_active_goals"] == 2
    assert rows["vp"]["checked_in"] == 1
    assert rows["vp"]["share"] == 0.5
    assert rows["ceo"]["share"] is None  # nobody there has an active goal
    assert rows["*"]["checked_in"] == 1


# ---------------------------------------------------------------- feedback


async def test_feedback_responses_count_reviewers_answers_and_time_to_answer() -> None:
    facts = FakeFacts()
    asked = NOW - 10 * DAY
    facts.requests = [
        RequestFact("r1", "ann", asked, 3),
        RequestFact("r2", "bob", asked, 1),
        RequestFact("old", "ann", NOW - 60 * DAY, 2),  # asked before the period
    ]
    facts.answers = [
        AnswerFact("r1", "answered", asked + timedelta(hours=2)),
        AnswerFact("r1", "answered", asked + timedelta(hours=10)),
        AnswerFact("r1", "declined", asked + timedelta(hours=1)),
        AnswerFact("r2", "answered", asked + timedelta(hours=3)),
        AnswerFact("old", "answered", NOW - DAY),
    ]
    r = reports(facts)
    total = by_group(await r.feedback_responses("acme", r.filters(None, None), "department"))["*"]
    assert total["requests"] == 2
    assert total["reviewers_asked"] == 4
    assert total["answered"] == 3
    assert total["declined"] == 1
    assert total["answer_rate"] == 0.75
    assert total["median_hours_to_answer"] == 3.0
    assert total["mean_hours_to_answer"] == 5.0


# ---------------------------------------------------------------- skills


async def test_skill_averages_suppress_small_cells_and_a_total_that_would_reveal_one() -> None:
    facts = FakeFacts()
    at = NOW - DAY
    facts.ratings = [
        RatingFact("ann", at, {"communication": 4, "ux_design": 2}),
        RatingFact("bob", at, {"communication": 2}),
        RatingFact("vp", at, {"communication": 3}),
        RatingFact("cy", at, {"communication": 5}),  # alone in Sales: suppressed
        RatingFact("ann", NOW - 90 * DAY, {"communication": 1}),  # outside the period
    ]
    r = reports(facts)
    report = await r.skill_averages("acme", r.filters(None, None), "department")
    cells = {(row["group"], row["skill"]): row for row in report_rows(report)}
    product = cells[("product", "communication")]
    assert (product["answers"], product["average"], product["suppressed"]) == (3, 3.0, False)
    assert cells[("sales", "communication")]["average"] is None
    assert cells[("sales", "communication")]["suppressed"] is True
    assert cells[("product", "ux_design")]["average"] is None
    # the total of communication (4 answers) would give Sales' one answer away by subtraction
    assert cells[("*", "communication")]["average"] is None
    assert cells[("*", "ux_design")]["suppressed"] is True
    # with two small cells that hold enough answers together, the total is shown
    facts.ratings += [RatingFact("ceo", at, {"communication": 1}), RatingFact("ceo", at, {})]
    facts.ratings += [RatingFact("dee", at, {"communication": 5})]
    report = await r.skill_averages("acme", r.filters(None, None), "department")
    cells = {(row["group"], row["skill"]): row for row in report_rows(report)}
    assert cells[("*", "communication")]["average"] == pytest.approx(20 / 6, abs=0.01)
    assert not any("reviewer" in key or "author" in key for key in cells[("*", "communication")])


# ---------------------------------------------------------------- CSV and the period


def test_csv_has_a_header_a_line_per_row_and_no_formula() -> None:
    rows = [{"group": "x", "label": "=HYPERLINK(1)", "share": None, "suppressed": True}]
    text = csv_text(["group", "label", "share", "suppressed"], rows)
    assert list(csv.reader(io.StringIO(text))) == [
        ["group", "label", "share", "suppressed"],
        ["x", "'=HYPERLINK(1)", "", "true"],
    ]


def test_the_period_defaults_to_the_last_days_up_to_now() -> None:
    r = reports(FakeFacts(), default_period_days=7)
    filters = r.filters(None, None, department="Product")
    assert (filters.start, filters.end, filters.department) == (NOW - 7 * DAY, NOW, "Product")
    end = NOW - 100 * DAY
    assert r.filters(None, end).start == end - 7 * DAY
