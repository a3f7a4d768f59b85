"""Fact extraction from the user's own words: rules, the labelled set, model answers' validation."""

from __future__ import annotations

import json

import pytest

from app.companion.formation.extraction import Fact, category_of, extract_facts, grounded, parse_model_facts
from bench.companion_extraction import DATA, load_cases, score


def kinds(message: str) -> list[tuple[str, str]]:
    return [(fact.kind, fact.content) for fact in extract_facts(message)]


def test_extracts_each_kind_with_its_tier_and_metadata() -> None:
    facts = extract_facts(
        "I'm a nurse. I love gardening. My rent went up and I'm worried about money. "
        "I want to go back to university. I plan to call the admissions office on Monday. "
        "I always get anxious before night shifts."
    )
    by_kind = {fact.kind: fact for fact in facts}
    assert set(by_kind) == {"identity", "preference", "stressor", "goal", "plan", "feeling"}
    assert by_kind["identity"].tier == by_kind["preference"].tier == by_kind["feeling"].tier == "personal"
    assert by_kind["goal"].tier == by_kind["plan"].tier == "project"
    stressor = by_kind["stressor"].metadata("rules")
    assert stressor["kind"] == "stressor" and stressor["status"] == "open"
    assert stressor["category"] == "money" and 0 < stressor["intensity"] <= 1
    assert by_kind["preference"].metadata("rules") == {
        "kind": "preference",
        "extracted_by": "rules",
        "polarity": "positive",
        "restorative": True,
    }


@pytest.mark.parametrize(
    "message",
    [
        "Should I learn Spanish?",
        "If I had more time I would love to paint.",
        "My friend loves hiking.",
        "My coworker is stressed about the launch.",
        "I don't want to quit my job.",
        "I'm not worried about the move.",
        "I want to sleep.",
        "I'm a bit tired.",
        "I love that idea!",
        "ok thanks",
    ],
)
def test_does_not_extract_questions_hypotheticals_others_or_negations(message: str) -> None:
    assert extract_facts(message) == []


def test_stressor_categories() -> None:
    assert category_of("i can't sleep because of the layoffs at my company") == "work"
    assert category_of("my mom is sick") == "family"
    assert category_of("fighting with my girlfriend") == "relationships"
    assert category_of("my back pain is worse") == "health"
    assert category_of("the car repair costs too much money") == "money"
    assert category_of("the noise outside") == "other"


def test_offline_extraction_on_the_labelled_set() -> None:
    cases = load_cases()
    assert len(cases) >= 60
    result = score(cases)
    assert result.precision >= 0.9, result.mistakes
    assert result.recall >= 0.9, result.mistakes
    # The held-out part was not used to tune the rules: its floors sit at what they achieve today
    # (precision 1.0, recall 0.70 on 20 expected facts), so any regression there fails too.
    held_out = score(json.loads(DATA.read_text())["held_out"])
    assert held_out.precision >= 0.8, held_out.mistakes
    assert held_out.recall >= 0.7, held_out.mistakes


def test_model_facts_are_validated_and_grounded_in_the_message() -> None:
    message = "I'm a pilot and I love baking bread on Sundays."
    answer = json.dumps(
        {
            "facts": [
                {"kind": "identity", "content": "I'm a pilot"},
                {"kind": "preference", "content": "I love baking bread on Sundays"},
                # Not in the message: invented, or copied from the prompt or a memory.
                {"kind": "goal", "content": "I want to run a marathon in Tokyo"},
                {"kind": "identity", "content": "I'm a pilot"},
            ]
        }
    )
    facts = parse_model_facts(answer, message)
    assert facts == [
        Fact("identity", "I'm a pilot"),
        Fact("preference", "I love baking bread on Sundays", polarity="positive"),
    ]


@pytest.mark.parametrize(
    "answer",
    [
        "not json",
        '{"facts": [{"kind": "hobby", "content": "I love baking"}]}',
        '{"facts": [{"kind": "stressor", "content": "baking", "category": "cooking"}]}',
        '{"facts": "none"}',
    ],
)
def test_unusable_model_answers_are_rejected(answer: str) -> None:
    assert parse_model_facts(answer, "I love baking") is None


def test_grounding() -> None:
    assert grounded("I love baking bread", "honestly i really love baking breads")
    assert not grounded("I love hiking in the Alps", "I love baking")
