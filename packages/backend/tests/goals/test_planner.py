"""The offline planner: deterministic, within bounds, and specific to the goal."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import date

import pytest

from app.planning.planner import GoalBrief, continuation, focus_of, keywords, measure_of, plan

TODAY = date(2025, 1, 15)
GOALS = [
    GoalBrief(
        "Run a 10k by June", "Finish a 10k race without walking", "concrete", "health", 4, date(2025, 6, 1)
    ),
    GoalBrief("Be a more present friend", "", "abstract", "connection", 3),
    GoalBrief("I want to learn Spanish", "Hold a conversation on my trip to Mexico", "concrete", "growth", 2),
    GoalBrief("Write a novel", "", "concrete", "craft", 5, date(2026, 1, 1)),
    GoalBrief(
        "Feel calmer at work", "Less reactive in meetings, more breathing room", "abstract", "health", 5
    ),
]


@pytest.mark.parametrize("brief", GOALS, ids=[goal.title for goal in GOALS])
def test_plans_respect_the_bounds(brief: GoalBrief) -> None:
    milestones = plan(brief, TODAY)
    missions = [mission for milestone in milestones for mission in milestone.missions]
    assert 3 <= len(milestones) <= 7
    assert 10 <= len(missions) <= 20
    assert all(10 <= mission.estimated_minutes <= 30 for mission in missions)
    assert all(milestone.missions for milestone in milestones)
    assert len({mission.title for mission in missions}) == len(missions)
    assert all(0 < len(mission.title) <= 200 for mission in missions)
    energies = Counter(mission.energy_level for mission in missions)
    assert set(energies) == {"low", "medium", "high"}
    assert min(energies.values()) >= 2


def test_bounds_hold_for_many_shapes_of_goal() -> None:
    titles = [
        "Run",
        "Ship my side project",
        "Call my parents every week",
        "Read 20 books this year",
        "x" * 200,
    ]
    for title, kind, category, importance, description in itertools.product(
        titles,
        ["concrete", "abstract"],
        ["health", "craft", "growth", "connection"],
        [1, 3, 5],
        ["", "d" * 100],
    ):
        brief = GoalBrief(title, description, kind, category, importance, date(2025, 12, 31))
        milestones = plan(brief, TODAY)
        missions = [m for milestone in milestones for m in milestone.missions]
        assert 3 <= len(milestones) <= 7 and 10 <= len(missions) <= 20, brief


def test_the_same_goal_always_gets_the_same_plan() -> None:
    assert plan(GOALS[0], TODAY) == plan(GOALS[0], TODAY)


def test_plans_are_specific_to_the_goal() -> None:
    running = plan(GOALS[0], TODAY)
    friend = plan(GOALS[1], TODAY)
    running_text = " ".join(m.title + " " + m.description for ms in running for m in ms.missions)
    friend_text = " ".join(m.title + " " + m.description for ms in friend for m in ms.missions)
    # The goal's own words and numbers appear; the category's vocabulary too.
    assert "running" in running_text and "10k" in running_text and "training log" in running_text
    assert "Be a more present friend" in friend_text and "journal of moments together" in friend_text
    # Concrete goals measure, abstract goals explore and reflect.
    assert running[0].title == "Know where you stand"
    assert friend[0].title == "Explore what it means to you"
    assert any("Measure" in m.title for ms in running for m in ms.missions)
    reflective = ("Write", "Note", "Reflect", "Notice")
    assert any(m.title.startswith(reflective) for ms in friend for m in ms.missions)


def test_bigger_goals_get_more_milestones() -> None:
    small = GoalBrief("Tidy the garden", "", "abstract", "health", 2)
    big = GoalBrief(
        "Run a marathon",
        "A long description of the plan, which is comfortably more than eighty characters long.",
        "concrete",
        "health",
        5,
        date(2025, 12, 1),
    )
    assert len(plan(small, TODAY)) == 3
    assert len(plan(big, TODAY)) == 7


def test_words_of_the_goal() -> None:
    assert focus_of("I want to learn Spanish.") == "“Learn Spanish”"
    assert keywords("Run a 10k by June", "I used to jog") == ["running", "used", "jog"]
    assert keywords("Learn Spanish", "")[0] == "Spanish"
    assert keywords("Write a novel")[:2] == ["writing", "novel"]
    assert measure_of("Read 20 books this year") == "20 books"
    assert measure_of("Run a 10k") == "10k"
    assert measure_of("Be kind") is None


def test_continuation_is_keyed_and_deterministic() -> None:
    brief = GOALS[0]
    first = [continuation(brief, index) for index in range(20)]
    assert first == [continuation(brief, index) for index in range(20)]
    assert len({mission.title for mission in first}) == 20  # later rounds are numbered
    assert all(10 <= mission.estimated_minutes <= 30 for mission in first)
