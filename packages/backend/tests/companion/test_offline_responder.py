"""The offline responder, emotion detection and the behaviour rules, as plain functions."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from app.companion.language.emotion import EmotionReading, detect_emotion, parse_model_reading
from app.companion.language.text import second_person, tokens_for_stream
from app.companion.reply.offline import compose_reply
from app.companion.reply.rules import (
    MemoryNote,
    TurnContext,
    analyse,
    goal_phrase,
    is_vague,
    restorative_activity,
    uncontrollable_part,
)

BERLIN = ZoneInfo("Europe/Berlin")
MORNING = datetime(2031, 3, 4, 10, 0, tzinfo=BERLIN)
LATE = datetime(2031, 3, 4, 21, 30, tzinfo=BERLIN)
WALKS = MemoryNote("personal", "I love long walks with my dog", "preference", 0.62, "m1")
MARATHON = MemoryNote("project", "I want to run a marathon in May", "goal", 0.55, "m2")


def turn(message: str, when: datetime = MORNING, **values: object) -> TurnContext:
    return TurnContext(message=message, emotion=detect_emotion(message), local_time=when, **values)  # type: ignore[arg-type]


def reply(ctx: TurnContext) -> str:
    return compose_reply(ctx, analyse(ctx))


@pytest.mark.parametrize(
    ("message", "emotion", "energy"),
    [
        ("I'm completely overwhelmed, there is too much on my plate", "overwhelm", "medium"),
        ("I'm terrified about the exam tomorrow", "fear", "medium"),
        ("I'm so exhausted, running on empty", "fatigue", "low"),
        ("Feeling pumped, let's do this!", "joy", "high"),
        ("I am not happy with how today went", "sadness", "medium"),
        ("I'm not stressed at all, just relaxed", "calm", "medium"),
        ("Can you write down the plan for Monday", "neutral", "medium"),
        ("My boss is annoying and I'm fed up", "anger", "medium"),
    ],
)
def test_emotion_detection(message: str, emotion: str, energy: str) -> None:
    reading = detect_emotion(message)
    assert (reading.emotion, reading.energy) == (emotion, energy)
    assert 0.0 <= reading.intensity <= 1.0
    assert reading.source == "offline"


def test_intensity_follows_intensifiers_and_diminishers() -> None:
    mild = detect_emotion("I'm a bit worried about it")
    plain = detect_emotion("I'm worried about it")
    strong = detect_emotion("I'm REALLY really worried about it!!")
    assert mild.intensity < plain.intensity < strong.intensity
    assert detect_emotion("ok").intensity == 0.0


def test_model_readings_are_validated() -> None:
    assert parse_model_reading(
        '{"emotion": "fear", "intensity": 0.8, "energy": "low"}', "m"
    ) == EmotionReading("fear", 0.8, "low", "m")
    assert (
        parse_model_reading('```json\n{"emotion": "joy", "intensity": 1, "energy": "high"}\n```', "m")
        is not None
    )
    for bad in (
        "not json",
        '{"emotion": "rage", "intensity": 0.5, "energy": "low"}',
        '{"emotion": "joy", "intensity": 3, "energy": "low"}',
    ):
        assert parse_model_reading(bad, "m") is None


def test_text_helpers() -> None:
    assert (
        second_person("I was sure my plan was fine, I am tired")
        == "you were sure your plan was fine, you are tired"
    )
    assert "".join(tokens_for_stream("Hi there,  friend.")) == "Hi there,  friend."
    assert goal_phrase("I want to run a marathon in May") == "your goal to run a marathon in May"
    assert goal_phrase("I'm working on my thesis") == "your thesis"
    assert restorative_activity("I love long walks with my dog") == "long walks with your dog"
    assert restorative_activity("I love spreadsheets") is None
    assert uncontrollable_part("The economy is tanking and I hate it") == "the economy is tanking"


@pytest.mark.parametrize("message", ["idk", "meh", "ugh, everything", "I don't know, stuff", "help"])
def test_vague_messages_get_a_clarifying_question(message: str) -> None:
    assert is_vague(message)
    ctx = turn(message)
    assert analyse(ctx).vague
    text = reply(ctx)
    assert text.endswith("?")
    assert "It sounds like" not in text  # nothing concrete to mirror


def test_specific_messages_are_not_vague() -> None:
    for message in (
        "hi",
        "thanks!",
        "My thesis draft is due Friday",
        "I don't know how to tell my manager about the delay",
    ):
        assert not is_vague(message), message


def test_acknowledges_feelings_and_every_worry_in_its_own_words() -> None:
    text = reply(turn("I'm so overwhelmed, I have three deadlines this week and my sister is visiting"))
    assert text.split(".")[0] in {
        "That sounds like a lot to carry right now",
        "No wonder you feel stretched — that's a heavy load",
        "That's a lot on your plate, and it makes sense that it feels like too much",
    }
    # Both worries, restated briefly (not mirrored clause by clause, not quoted).
    assert ": you have three deadlines this week, plus your sister is visiting." in text
    assert "It sounds like" not in text


def test_refers_to_recalled_memories() -> None:
    text = reply(turn("Work was long today, I need to unwind", memories=(WALKS,)))
    assert "You mentioned before that you love long walks with your dog." in text


def test_an_earlier_conversation_is_recalled_in_elizas_words_never_quoted() -> None:
    exchange = MemoryNote(
        "task",
        "User: Hi Eliza, my thesis is due in three weeks and I keep avoiding it.\nEliza: How do you feel?",
        "exchange",
        0.4,
    )
    text = reply(turn("Back at my thesis today, it's going slowly", memories=(exchange,)))
    assert "I remember you told me about your thesis last time." in text
    assert "“" not in text and "Last time we talked" not in text and "Eliza" not in text
    # About something else, the old conversation is not brought up.
    assert "remember" not in reply(turn("Back again, had a busy day", memories=(exchange,)))


def test_control_triage_separates_what_the_user_cannot_control() -> None:
    ctx = turn("My manager decided to cut the budget and now I'm stuck")
    guidance = analyse(ctx)
    assert guidance.uncontrollable == "my manager decided to cut the budget"
    assert "control_triage" in guidance.rules
    text = reply(ctx)
    assert "your manager decided to cut the budget — is outside your control" in text
    assert "What's one small part you can influence today" in text


def test_low_energy_gets_validation_and_one_small_win() -> None:
    text = reply(turn("I'm exhausted and have no energy today", goals=(MARATHON.content,)))
    assert "Since your energy is low, let's keep it gentle: one small win is plenty." in text
    assert "your goal to run a marathon in May just ten minutes" in text


def test_high_energy_gets_a_push_towards_the_goal() -> None:
    text = reply(turn("I feel energized and motivated today!", goals=(MARATHON.content,)))
    assert "25-minute push on your goal to run a marathon in May" in text


def test_circuit_breaker_suggests_a_liked_break_then_one_micro_task() -> None:
    ctx = turn(
        "I'm so overwhelmed, everything is falling apart",
        LATE,
        open_stressors=6,
        restorative=(WALKS.content,),
        goals=(MARATHON.content,),
    )
    guidance = analyse(ctx)
    assert guidance.circuit_breaker and guidance.rules[-1] == "circuit_breaker"
    text = reply(ctx)
    assert "how about long walks with your dog for a little while?" in text
    assert text.count("micro-task") == 1
    assert "21:30" in text
    assert text.index("walks") < text.index("micro-task")


@pytest.mark.parametrize(
    ("stressors", "message", "when"),
    [
        (5, "I'm so overwhelmed", LATE),  # not more than 5
        (6, "I'm so overwhelmed", MORNING),  # not late
        (6, "I'm so tired", LATE),  # not overwhelm or fear
    ],
)
def test_circuit_breaker_needs_all_three_conditions(stressors: int, message: str, when: datetime) -> None:
    assert not analyse(turn(message, when, open_stressors=stressors)).circuit_breaker


def test_circuit_breaker_counts_fear_and_small_hours_in_the_users_timezone() -> None:
    small_hours = datetime(2031, 3, 4, 2, 0, tzinfo=UTC).astimezone(
        ZoneInfo("America/New_York")
    )  # 21:00 there
    assert analyse(turn("I'm terrified about tomorrow", small_hours, open_stressors=8)).circuit_breaker


def test_circuit_breaker_without_a_known_break_asks_what_recharges_the_user() -> None:
    text = reply(turn("I'm scared and overwhelmed", LATE, open_stressors=9))
    assert "Tell me what usually recharges you" in text
    assert "write down the one thing that can't wait until tomorrow" in text


def test_greeting_remembers_the_previous_emotional_state() -> None:
    previous = EmotionReading("overwhelm", 0.8, "low")
    assert (
        reply(turn("hi", previous=previous))
        == "Hi! Last time we spoke you were feeling overwhelmed. How are you doing now?"
    )
    assert (
        reply(turn("hello", display_name="Ada Lovelace", turn_index=0))
        == "Hi, Ada! I'm Eliza. What's on your mind today?"
    )


def test_notices_when_things_feel_lighter_than_last_time() -> None:
    text = reply(turn("Had a calm morning with coffee", previous=EmotionReading("fear", 0.7, "medium")))
    assert text.startswith(
        "It sounds like things feel a little lighter than last time, when you were feeling anxious."
    )


def test_replies_are_deterministic() -> None:
    ctx = turn("I'm worried about rent and my landlord won't fix the heating", memories=(WALKS, MARATHON))
    assert reply(ctx) == reply(ctx)


def test_wanting_to_unwind_gets_a_break_the_user_likes() -> None:
    evening = datetime(2031, 3, 4, 19, 0, tzinfo=BERLIN)
    ctx = turn("I need to unwind tonight, any ideas?", evening, restorative=(WALKS.content,))
    assert "restorative_break" in analyse(ctx).rules
    assert (
        reply(ctx)
        == "You told me you enjoy long walks with your dog — could you make a little room for that tonight?"
    )
    unknown = reply(turn("I need to unwind, any ideas?"))
    assert unknown == "What usually helps you recharge? Tell me, and I'll remember it for days like this."
