"""Which goals a caller may list, whatever the owner filter."""

from __future__ import annotations

from services.goals.access import Relationship, Viewer


def test_hr_and_managers_list_every_visibility() -> None:
    assert Viewer(everything=True).visibilities_of("anyone") is None
    manager = Viewer.of_owner("pm", Relationship(manager=True))
    assert manager.visibilities_of("pm") is None
    assert Viewer(all_of=("me", "report")).visibilities_of("report") is None


def test_mentors_list_team_goals_and_colleagues_company_goals() -> None:
    mentor = Viewer.of_owner("mentee", Relationship(mentor=True))
    assert mentor.visibilities_of("mentee") == ["team", "company"]
    colleague = Viewer.of_owner("pm", Relationship())
    assert colleague.visibilities_of("pm") == ["company"]
    assert Viewer(all_of=("me",), shared_of=("mentee",)).visibilities_of("stranger") == ["company"]
