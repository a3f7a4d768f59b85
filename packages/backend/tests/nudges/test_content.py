"""Shame-free wording: every template, with many contexts, on every channel, passes the banned
list; banned context is left out; model-written text that fails a check is replaced by the template."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from app.models.enums import NotificationChannel, NotificationKind
from app.nudges.content import (
    BANNED,
    BODY_MAX,
    TEMPLATES,
    TITLE_MAX,
    Content,
    NoteContext,
    accept_model_text,
    banned_phrases,
    is_clean,
    render,
)
from tests.companion.openai_server import OpenAIServer
from tests.goals.support import Api, FakeClock
from tests.nudges.conftest import Store

GOALS = [None, "Finish my thesis", "Run a 10k", "Learn Spanish", "Ship the MVP before the demo day in March"]
MISSIONS = [(None, None), ("Outline chapter two", 10), ("Jog 15 minutes", 15), ("Write 3 sentences", 5)]
CARES = [
    None,
    "I love early morning runs",
    "My dog makes me happy",
    "Cooking helps me unwind",
    "I enjoy painting",
]
NAMES = [None, "Ada Lovelace"]

# What the list exists to stop (the examples and their relatives).
SHAMING = [
    "You failed to finish your goal.",
    "You missed your mission yesterday.",
    "Streak lost! Start over.",
    "Your streak is broken.",
    "Don't lose your streak",
    "Don't give up on us!",
    "Stop being lazy.",
    "We miss you. Where have you been?",
    "Everyone else finished their missions today.",
    "You're falling behind.",
    "Last chance to save your progress",
    "You should have done this yesterday.",
    "It's been a while since you opened Delight.",
    "You're in the top 10% of procrastinators",
    "Only 3% of users give up this early",
    "Don't let us down!!",
]


@pytest.mark.parametrize("text", SHAMING)
def test_the_banned_list_catches_guilt_loss_and_comparison(text: str) -> None:
    assert banned_phrases(text), text


@pytest.mark.parametrize(
    "text",
    ["Lose 5 kg by summer", "Take a break and rest", "Missions for today are ready", "You're on a 5-day run"],
)
def test_ordinary_words_are_not_banned(text: str) -> None:
    assert is_clean(text), banned_phrases(text)


def all_renderings() -> list[tuple[str, Content]]:
    found = []
    for (kind, step), goal, (mission, minutes), cares, name, streak in itertools.product(
        TEMPLATES, GOALS, MISSIONS, CARES, NAMES, (0, 7)
    ):
        ctx = NoteContext(
            goal=goal, mission=mission, minutes=minutes, cares=cares, display_name=name, streak=streak
        )
        for channel in NotificationChannel:
            label = f"{kind.value}/{step}/{channel.value}"
            found.append((label, render(kind, step, channel, ctx, seed=f"{goal}{mission}{cares}")))
    return found


def test_every_template_with_every_context_is_clean_and_fits_its_channel() -> None:
    renderings = all_renderings()
    assert len(renderings) > 5000
    for label, content in renderings:
        assert is_clean(content.title) and is_clean(content.body), (
            label,
            banned_phrases(content.title + content.body),
        )
        channel = NotificationChannel(label.rsplit("/", 1)[1])
        assert len(content.title) <= TITLE_MAX and len(content.body) <= BODY_MAX[channel], label
        assert "{" not in content.title + content.body, label  # every slot filled


def test_every_template_text_itself_is_clean_and_each_kind_has_one_needing_no_context() -> None:
    for templates in TEMPLATES.values():
        for template in templates:
            assert is_clean(template.title) and is_clean(template.body), template
        assert templates[-1].needs == ()


def test_personal_context_is_named_and_one_step_offered() -> None:
    ctx = NoteContext(
        goal="Finish my thesis", mission="Outline chapter two", minutes=10, cares="I love early runs"
    )
    email = render(NotificationKind.dropoff, 2, NotificationChannel.email, ctx)
    assert "“Finish my thesis”" in email.body and "you love early runs" in email.body
    assert "“Outline chapter two” takes about 10 minutes" in email.body
    generic = render(NotificationKind.dropoff, 1, NotificationChannel.in_app, NoteContext())
    assert generic.title == "Here when you're ready" and "five-minute step" in generic.body


def test_context_carrying_banned_words_is_left_out() -> None:
    ctx = NoteContext(
        goal="Stop being lazy", mission="Stop procrastinating on taxes", minutes=10, cares="I hate failing"
    )
    content = render(NotificationKind.dropoff, 1, NotificationChannel.in_app, ctx)
    assert "lazy" not in content.title + content.body and "procrastinat" not in content.body
    assert is_clean(content.title + " " + content.body)


@pytest.mark.parametrize(
    ("raw", "accepted"),
    [
        ('{"title": "A small step", "body": "When you have ten minutes, outline chapter two."}', True),
        ('{"title": "Streak lost", "body": "You missed yesterday. Don\'t give up!"}', False),
        ('{"title": "Hi", "body": "Read this: https://example.com"}', False),
        ('{"title": "Hi"}', False),
        ("not json at all", False),
        ('{"title": "Hi", "body": "' + "x" * 400 + '"}', False),
    ],
)
def test_model_text_is_checked_like_a_template(raw: str, accepted: bool) -> None:
    draft = Content("Draft title", "Draft body", {"mission_id": "m"})
    written = accept_model_text(raw, NotificationChannel.in_app, draft)
    assert (written is not None) is accepted
    if written is not None:
        assert written.context == draft.context


@pytest.fixture
def model_server() -> Any:
    with OpenAIServer() as server:
        yield server


@pytest.mark.parametrize(
    ("answer", "source"),
    [
        ('{"title": "Ready when you are", "body": "Ten minutes on chapter two is plenty."}', "model"),
        ('{"title": "Don\'t lose your streak", "body": "You failed yesterday."}', "template"),
    ],
)
async def test_with_a_model_its_text_is_sent_only_when_it_passes(
    app_factory: Any,
    nudge_settings: Any,
    model_server: OpenAIServer,
    api: Any,
    clock: FakeClock,
    store: Store,
    answer: str,
    source: str,
) -> None:
    from app.nudges import run_sweep

    settings = nudge_settings.model_copy(
        update={
            "openai_api_key": None,
            "openai_base_url": model_server.url,
            "companion_model": "test-model",
            "companion_timeout_seconds": 2.0,
            "companion_max_retries": 0,
        }
    )
    model_server.script.facts_json = answer  # the server answers every JSON call with this
    model_app = await app_factory(settings)
    me: Api = api("user_model")
    clock.set(datetime(2025, 1, 13, 9, tzinfo=UTC))
    await me.goal(title="Finish my thesis")
    await run_sweep(model_app.state.resources, datetime(2025, 1, 15, 10, tzinfo=UTC))
    [note] = await store.notes("user_model")
    assert note.content_source.value == source
    assert is_clean(note.title) and is_clean(note.body)
    if source == "model":
        assert note.title == "Ready when you are"
    calls = [r["body"] for r in model_server.requests if r["body"].get("response_format")]
    assert len(calls) == 1 and "Finish my thesis" in calls[0]["messages"][-1]["content"]


def test_the_list_is_in_code_and_not_empty() -> None:
    assert len(BANNED) >= 20


@pytest.mark.parametrize("text", [*SHAMING, "Lose 5 kg by summer", "Missions for today are ready"])
def test_the_one_pass_check_agrees_with_the_list(text: str) -> None:
    assert is_clean(text) == (banned_phrases(text) == [])
