"""The offline voice: a set of realistic opening messages and short conversations whose offline
replies are checked for the ways a rule-based companion fails people (issues 13 and 14):

- echoing the user's greeting or Eliza's own name back ("It sounds like hi Eliza, you feel stuck");
- quoting the user's message, whole or at length (“Last time we talked, you said: “…””), also a
  message from earlier in the conversation;
- leaking a memory's stored text ("goal (health, concrete): Run a 10k … Importance 4/5");
- leaving a worry the user named (money, family, health, work, relationships) unacknowledged;
- opening every reply the same way, or reusing an opener within a conversation.

The context is what the graph gives the responder for a user with one goal in the app: the goal
by title, its project memory (written by the planning domain) recalled, an exchange from an earlier
conversation, and a preference the user stated.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from app.companion.language.emotion import detect_emotion
from app.companion.reply.offline import compose_reply
from app.companion.reply.rules import MemoryNote, TurnContext, analyse
from app.core.config import Settings
from app.planning import CompanionGoalContext, GoalSummary
from tests.companion.support import chat

BERLIN = ZoneInfo("Europe/Berlin")
MORNING = datetime(2031, 3, 4, 10, 0, tzinfo=BERLIN)
EVENING = datetime(2031, 3, 4, 22, 40, tzinfo=BERLIN)

PLAN = CompanionGoalContext(goals=(GoalSummary("Run a 10k", "health", None),))
GOAL_MEMORY = MemoryNote(
    "project",
    "Goal (health, concrete): Run a 10k. Finish a 10k race without walking Importance 4/5.",
    "goal",
    0.58,
    "g1",
    source="goal",
)
EARLIER_EXCHANGE = MemoryNote(
    "task",
    "User: Hi Eliza, I feel stuck today. My thesis is due in three weeks and I keep avoiding it.\n"
    "Eliza: That sounds like a lot to carry right now.",
    "exchange",
    0.41,
    "t1",
    source="companion",
)
WALKS = MemoryNote("personal", "I love long walks with my dog", "preference", 0.35, "p1", source="companion")
MEMORIES = (GOAL_MEMORY, EARLIER_EXCHANGE, WALKS)


@dataclass(frozen=True)
class Opening:
    message: str
    worries: frozenset[str] = frozenset()  # the areas of life a person would say it names as worries
    when: datetime = MORNING
    open_stressors: int = 1
    name: str | None = None


def opening(message: str, *worries: str, **options: object) -> Opening:
    return Opening(message, frozenset(worries), **options)  # type: ignore[arg-type]


OPENINGS = [
    # greetings with Eliza's name
    opening("Hi Eliza, I feel stuck today. My thesis is due in three weeks and I keep avoiding it.", "work"),
    opening("Hey Eliza! Money is really tight this month and I'm worried about rent.", "money"),
    opening("Good morning Eliza. My mom is in hospital and I can't focus at work.", "family", "work"),
    opening("Hi Eliza, how are you?", name="Ada Lovelace"),
    opening("Eliza, I'm so stressed about my exams next week", "work"),
    opening("hey there, I had an awful fight with my boyfriend last night", "relationships"),
    opening("Hi Eliza, my best friend moved away and work has been brutal", "relationships", "work"),
    opening("Hello Eliza, I'm fine, just checking in", name="Sam"),
    # stress, deadlines
    opening(
        "I'm so overwhelmed, I have three deadlines this week and my sister is visiting", "work", "family"
    ),
    opening("My boss keeps piling on work and I can't say no", "work"),
    opening("My manager decided to cut the budget and now I'm stuck", "work"),
    opening("I keep procrastinating on my tax return and it's due Friday", "money"),
    # money
    opening("I lost my job last week and the bills keep piling up", "work", "money"),
    opening("I can't afford the car repair and my savings are gone", "money"),
    opening("My landlord raised the rent again and I don't know how I'll pay it", "money"),
    # family, health, relationships
    opening("My dad was diagnosed with diabetes and I'm scared", "family"),
    opening("My grandmother passed away last week", "family"),
    opening("I'm worried about my mum's health and the hospital bills", "family", "money"),
    opening("I can't sleep and my back pain is getting worse", "health"),
    opening("My migraines are back and I'm dreading the doctor's appointment", "health"),
    opening("My kids have been sick all week and I haven't slept properly", "family", "health"),
    opening(
        "Work is crazy, my kids are sick and I haven't slept properly in days", "work", "family", "health"
    ),
    opening("I feel so lonely since the breakup", "relationships"),
    opening("My partner and I keep arguing about money", "relationships", "money"),
    # vague
    opening("ugh"),
    opening("idk, everything"),
    opening("I don't know what's wrong with me today"),
    # late-night overwhelm
    opening("It's 1am and I can't stop thinking about everything I have to do tomorrow", when=EVENING),
    opening("It's late and I'm panicking about the presentation tomorrow", "work", when=EVENING),
    opening(
        "I'm so overwhelmed, the rent is due and my thesis is falling apart",
        "money",
        "work",
        when=EVENING,
        open_stressors=7,
    ),
    # goals, energy, rest, thanks
    opening("I want to run a half marathon in October"),
    opening("My goal is to finally finish my novel this year"),
    opening("How am I doing with my goals this week?"),
    opening("I feel energized and motivated today!"),
    opening("I'm exhausted and have no energy today"),
    opening("Had a great day at work, we shipped the feature!"),
    opening("I need to unwind tonight, any ideas?", when=EVENING),
    opening("Thanks, that helps"),
    # written after the voice above was tuned, to see that it holds beyond the messages it was built on
    opening("Hey Eliza, my sister isn't talking to me and I don't know why", "family"),
    opening("My rent went up and my paycheck didn't", "money"),
    opening("I have a job interview tomorrow and I'm terrified", "work"),
    opening("I'm drowning in student loans", "money"),
    opening("My son is struggling at school and I feel helpless", "family"),
    opening("My knee injury means I can't run anymore", "health"),
    opening("My girlfriend broke up with me last week", "relationships"),
    opening("The startup is running out of runway and investors aren't replying", "work"),
    opening("Hi Eliza!! I got the promotion!!"),
    opening("Good evening Eliza, I can't sleep again", "health", when=EVENING),
    opening("my therapist cancelled and I feel lost", "health"),
    opening(
        "Honestly everything is falling apart, work, money, my marriage", "work", "money", "relationships"
    ),
    opening("I have to grade 120 essays by Monday", "work"),
    opening("My dad keeps calling me to ask for money", "family", "money"),
    opening("I think I'm burning out at work", "work"),
    opening("Yo Eliza what's up"),
    opening("I owe my friend $500 and I can't pay him back", "money", "relationships"),
    opening("My mother-in-law is moving in next week and I'm dreading it", "family"),
    opening("I keep getting headaches and I'm worried it's something serious", "health"),
    opening("My coworkers keep taking credit for my work", "work"),
    opening("I want to save enough for a house deposit by next year"),
    opening("Can't focus, too many meetings, my inbox is a disaster", "work"),
    opening("It's 2am and I'm still awake worrying about the bills", "money", when=EVENING),
    opening("Hey, I'm back. The thesis is going better today!"),
    opening("nothing is working and i'm so tired of trying"),
]

# Words a reply may use to show it heard a worry in each area (the test's own lists).
AREA_WORDS = {
    "work": r"work|job|boss|manager|thesis|deadlines?|projects?|exams?|presentation|budget|team|clients?"
    r"|startup|investors?|essays?|grade|interview|meetings?|inbox|coworkers?",
    "money": r"money|rent|bills?|debts?|afford\w*|pay|savings|tax(?:es)?|costs?|repair|budget|financ\w*",
    "family": r"mom|mum|dad|mother|father|parents?|kids?|children|son|daughter|sister|brother|family"
    r"|grandm\w+|grandp\w+",
    "health": r"health|sleep|slept|pain|back|knee|doctor|sick|body|rest|headaches?|migraines?|therap\w*"
    r"|injur\w*",
    "relationships": r"partner|boyfriend|girlfriend|wife|husband|friends?|breakup|relationship|lonely|alone"
    r"|marriage|married",
}
MEMORY_TEXT = re.compile(
    r"goal \(|importance \d|/5\b|target date:|status:|\buser:|\beliza:|reflection after|notes on the mission"
    r"|\((?:health|craft|growth|connection), ",
    re.I,
)
GREETING = re.compile(r"\b(?:hi|hello|hey|hiya|good (?:morning|afternoon|evening))\b", re.I)
_SWAP = {
    "i": "you",
    "i'm": "you're",
    "im": "you're",
    "i've": "you've",
    "my": "your",
    "me": "you",
    "am": "are",
}


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower().replace("’", "'"))


def _longest_shared_run(reply: str, message: str) -> int:
    """The longest run of consecutive words the reply shares with the message (or with the message
    turned into the second person, which is still a quote)."""
    said = _words(reply)
    longest = 0
    for version in (_words(message), [_SWAP.get(w, w) for w in _words(message)]):
        for i in range(len(said)):
            for j in range(len(version)):
                n = 0
                while i + n < len(said) and j + n < len(version) and said[i + n] == version[j + n]:
                    n += 1
                longest = max(longest, n)
    return longest


def faults(
    reply: str, message: str, worries: frozenset[str] = frozenset(), earlier: tuple[str, ...] = ()
) -> list[str]:
    """What is wrong with ``reply`` as an answer to ``message``."""
    found: list[str] = []
    if re.search(r"\beliza\b", reply.replace("I'm Eliza", ""), re.I):
        found.append("says its own name")
    if any(match.start() > 0 for match in GREETING.finditer(reply)):
        found.append("echoes a greeting")
    for said in (message, *earlier):
        run = _longest_shared_run(reply, said)
        if run >= 8 or (len(_words(said)) >= 6 and run >= len(_words(said))):
            found.append(f"quotes {said!r} ({run} words)")
    if "“" in reply and "Last time" in reply:
        found.append("quotes an earlier exchange")
    if MEMORY_TEXT.search(reply):
        found.append("leaks a memory's stored text")
    for area in sorted(worries):
        if not re.search(rf"\b(?:{AREA_WORDS[area]})\b", reply, re.I):
            found.append(f"does not acknowledge the {area} worry")
    if reply.count("?") > 1:
        found.append("asks more than one question")
    return found


def opener(reply: str) -> str:
    return re.split(r"(?<=[.!?])\s", reply, maxsplit=1)[0]


def reply_to(
    item: Opening, earlier_messages: tuple[str, ...] = (), earlier_replies: tuple[str, ...] = ()
) -> str:
    ctx = TurnContext(
        message=item.message,
        emotion=detect_emotion(item.message),
        local_time=item.when,
        memories=MEMORIES,
        restorative=(WALKS.content,),
        open_stressors=item.open_stressors,
        display_name=item.name,
        turn_index=len(earlier_messages),
        plan=PLAN,
        earlier_replies=earlier_replies,
        earlier_messages=earlier_messages,
    )
    return compose_reply(ctx, analyse(ctx))


def test_the_set_is_large_and_varied() -> None:
    assert len(OPENINGS) >= 30
    areas = Counter(area for item in OPENINGS for area in item.worries)
    assert set(areas) == set(AREA_WORDS) and min(areas.values()) >= 4
    greeted = [item for item in OPENINGS if GREETING.match(item.message) or "eliza" in item.message.lower()]
    assert len(greeted) >= 8


@pytest.mark.parametrize("item", OPENINGS, ids=lambda item: item.message[:40])
def test_an_opening_message_gets_a_reply_without_faults(item: Opening) -> None:
    reply = reply_to(item)
    assert faults(reply, item.message, item.worries) == [], reply


def test_openers_vary_across_the_set() -> None:
    openers = Counter(opener(reply_to(item)) for item in OPENINGS)
    most, count = openers.most_common(1)[0]
    assert count <= 3, (most, count)
    assert len(openers) >= len(OPENINGS) * 2 // 3


@dataclass(frozen=True)
class Conversation:
    messages: tuple[str, ...]
    worries: tuple[frozenset[str], ...] = field(default=())  # per message


def conversation(*turns: str | tuple[str, ...]) -> Conversation:
    messages = tuple(t if isinstance(t, str) else t[0] for t in turns)
    worries = tuple(frozenset() if isinstance(t, str) else frozenset(t[1:]) for t in turns)
    return Conversation(messages, worries)


CONVERSATIONS = [
    conversation(
        ("Hi Eliza, I feel stuck today. My thesis is due in three weeks and I keep avoiding it.", "work"),
        "I opened the document but just stared at it.",
        "I'm so tired of feeling like this",
    ),
    conversation(
        ("Money is really tight this month and I'm worried about rent.", "money"),
        ("Also my mom is in hospital.", "family"),
        "ok",
    ),
    conversation("ugh", "idk", "meh"),
    conversation(
        ("I'm so overwhelmed with work", "work"),
        "Everything is too much, I'm so stressed",
        "I'm still overwhelmed, honestly",
    ),
    conversation("hi", "hello again", "hey"),
    conversation("I'm exhausted", "still so tired", "I have no energy at all"),
    conversation(
        "How am I doing with my goals?", "What should I work on today?", "Where do I stand on my progress?"
    ),
    conversation(
        ("My partner and I keep fighting", "relationships"),
        ("And my boss yelled at me today", "work"),
        "I don't know what to do anymore",
    ),
]


@pytest.mark.parametrize("talk", CONVERSATIONS, ids=lambda talk: talk.messages[0][:30])
def test_later_replies_neither_repeat_the_opener_nor_quote_earlier_messages(talk: Conversation) -> None:
    replies: list[str] = []
    for index, message in enumerate(talk.messages):
        item = Opening(message, talk.worries[index])
        reply = reply_to(item, talk.messages[:index], tuple(replies))
        assert faults(reply, message, item.worries, talk.messages[:index]) == [], (index, reply)
        replies.append(reply)
    openers = [opener(r) for r in replies]
    assert len(set(openers)) == len(openers), replies


def test_the_fault_checks_catch_the_replies_of_the_old_voice() -> None:
    """The checks fail on the replies the issues quote (they are not vacuous)."""
    message = "Hi Eliza, I feel stuck today. My thesis is due in three weeks and I keep avoiding it."
    assert "says its own name" in faults("It sounds like hi Eliza, you feel stuck today.", message)
    assert "echoes a greeting" in faults("It sounds like hi Eliza, you feel stuck today.", message)
    quoted = "Last time we talked, you said: “Hi Eliza, I feel stuck today. My thesis is due…”."
    assert any(f.startswith("quotes") for f in faults(quoted, "ok", earlier=(message,)))
    leak = (
        "What's one small step toward goal (health, concrete): Run a 10k. Finish a 10k race without "
        "walking Importance 4/5 that would fit in the next 30 minutes?"
    )
    assert "leaks a memory's stored text" in faults(leak, "ok")
    unheard = faults("That worry sounds really present for you right now.", "x", frozenset({"money"}))
    assert unheard == ["does not acknowledge the money worry"]


# --- end to end: the transcripts of issues 13 and 14, through the real app ----------------------


async def test_the_issue_transcripts_through_the_app(
    client: httpx.AsyncClient, auth_headers: Any, settings: Settings, run_worker: Any
) -> None:
    """A goal created in the app (its memory written by the planning domain), memories formed by the
    worker after every turn, two conversations: no reply has any of the faults, and the goal is named
    by its title."""
    headers = auth_headers("user_voice")
    goal = {
        "title": "Run a 10k",
        "description": "Finish a 10k race without walking",
        "goal_type": "concrete",
        "value_category": "health",
        "importance": 4,
    }
    assert (await client.post("/api/v1/goals", json=goal, headers=headers)).status_code == 201
    await run_worker(settings)
    conversations = [
        [
            ("Hi Eliza, I feel stuck today. My thesis is due in three weeks and I keep avoiding it.", "work"),
            ("I opened the document but just stared at it.",),
            ("I'm exhausted and have no energy today",),
        ],
        [
            ("Money is really tight this month and I'm worried about rent.", "money"),
            ("Also my mom is in hospital.", "family"),
            ("ok",),
        ],
    ]
    replies_by_conversation: list[list[str]] = []
    for turns in conversations:
        conversation_id: str | None = None
        replies: list[str] = []
        for index, (message, *worries) in enumerate(turns):
            accepted, sse = await chat(client, headers, message, conversation_id)
            conversation_id = accepted["conversation_id"]
            earlier = tuple(m for m, *_ in turns[:index])
            assert faults(sse.text, message, frozenset(worries), earlier) == [], sse.text
            replies.append(sse.text)
            await run_worker(settings)  # the exchange and the user's facts become memories
        assert len({opener(r) for r in replies}) == len(replies), replies
        replies_by_conversation.append(replies)
    low_energy = replies_by_conversation[0][2]
    assert "your goal “Run a 10k”" in low_energy and "without walking" not in low_energy
