"""What the behaviour rules say about one turn, shared by the offline responder and the prompt.

Rules (docs/companion.md): acknowledge feelings; ask a clarifying question when the message is
vague; control triage; energy-based push; the circuit breaker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from app.companion.language.emotion import EmotionReading, Energy
from app.companion.language.gist import without_address
from app.companion.language.restorative import is_restorative
from app.companion.language.text import lower_first, second_person, strip_end
from app.kit.text import normalise, words
from app.planning import CompanionGoalContext

# Circuit breaker: more than this many open stressors, overwhelm or fear, late in the user's evening.
CIRCUIT_BREAKER_STRESSORS = 5
CIRCUIT_BREAKER_EMOTIONS = frozenset({"overwhelm", "fear"})
LATE_FROM_HOUR = 20  # 20:00 local …
LATE_UNTIL_HOUR = 5  # … until 05:00


@dataclass(frozen=True)
class MemoryNote:
    """A recalled memory as the responder sees it."""

    tier: str
    content: str
    kind: str | None = None
    score: float = 0.0
    id: str | None = None
    # Who wrote it: "companion" (facts extracted from the user's own words; also the default) or
    # another domain (a goal's or a mission's notes), whose text is never said back offline.
    source: str | None = None


@dataclass(frozen=True)
class TurnContext:
    message: str
    emotion: EmotionReading
    local_time: datetime
    previous: EmotionReading | None = None
    memories: tuple[MemoryNote, ...] = ()
    goals: tuple[str, ...] = ()
    restorative: tuple[str, ...] = ()
    open_stressors: int = 0
    display_name: str | None = None
    turn_index: int = 0  # earlier user turns in this conversation
    plan: CompanionGoalContext | None = None  # active goals, today's missions, streak (goals domain)
    earlier_replies: tuple[str, ...] = ()  # Eliza's earlier replies in this conversation, oldest first
    earlier_messages: tuple[str, ...] = ()  # the user's earlier messages in it, oldest first


@dataclass(frozen=True)
class Guidance:
    energy: Energy
    greeting: bool = False
    thanks: bool = False
    question: bool = False
    wants_rest: bool = False
    vague: bool = False
    uncontrollable: str | None = None
    late: bool = False
    circuit_breaker: bool = False
    about_goals: bool = False  # the user talks about their goals, missions or progress
    rules: tuple[str, ...] = field(default=())


_GREETING = re.compile(r"^(?:hi|hello|hey|hiya|yo|good (?:morning|afternoon|evening)|howdy)\b", re.I)
# What may follow a greeting in a message that is still just a greeting.
_SMALL_TALK = re.compile(
    r"^(?:how are you(?: doing| today)?|how'?s it going|what'?s up|how are things|you there|are you there"
    r"|it'?s me|me again|i'?m back|back again|nice to meet you"
    r"|(?:i'?m )?(?:fine|good|ok|okay)?\W*(?:just )?checking in)?\W*$",
    re.I,
)
_THANKS = re.compile(r"\b(?:thanks|thank you|thx|ty|appreciate it)\b", re.I)
_QUESTION_START = re.compile(
    r"^(?:how|what|why|when|where|which|who|should|can|could|would|do|does|is|are|will)\b(?!')", re.I
)
_VAGUE_MARKERS = re.compile(
    r"\b(?:idk|i don'?t know|dunno|meh|ugh|whatever|stuff|things|everything|something|not sure|help"
    r"|it'?s all|all of it|i guess|hmm+|nothing)\b",
    re.I,
)
# However long, these say something is wrong without saying what: ask.
_UNSAID = re.compile(
    r"\b(?:what'?s wrong with me|(?:don'?t|do not) know what(?:'s| is)? (?:wrong|going on)"
    r"|something(?:'s| is) off|not (?:feeling )?myself)\b",
    re.I,
)
_UNCONTROLLABLE = re.compile(
    r"(?:can'?t control|out of my (?:hands|control)|nothing i can do|beyond my control|not up to me"
    r"|waiting (?:on|for) (?:them|him|her|the|a|my)\b[^.,;!?]*"
    r"|(?:my )?(?:boss|manager|client|investors?|landlord|partner|they|he|she) "
    r"(?:decided|won'?t|doesn'?t|didn'?t"
    r"|refuses?|keeps?)\b[^.,;!?]*"
    r"|the (?:economy|market|weather|news|layoffs?|results?|outcome|traffic|election)\b[^.,;!?]*"
    r"|what (?:other )?(?:people|they|others) think)",
    re.I,
)
_ABOUT_GOALS = re.compile(
    r"\b(?:goals?|progress|missions?|plans?|streaks?|on track|triad|to-?do list"
    r"|what (?:should|can) i (?:do|work on|focus on)|where (?:am i|do i stand))\b",
    re.I,
)
_SPECIFIC = re.compile(r"[a-z]{5,}", re.I)
_WANTS_REST = re.compile(
    r"\b(?:unwind|relax|recharge|decompress|wind down|switch off|calm down|de-?stress|take a break|"
    r"need a break|need (?:some )?rest)\b",
    re.I,
)


def is_late(local_time: datetime) -> bool:
    return local_time.hour >= LATE_FROM_HOUR or local_time.hour < LATE_UNTIL_HOUR


def is_vague(message: str) -> bool:
    """Too little to act on: very short, or short and built from filler ("idk, everything")."""
    tokens = words(message)
    if not tokens or _UNSAID.search(message):
        return True
    if len(tokens) <= 2 and not _GREETING.match(message.strip()) and not _THANKS.search(message):
        return not any(t in {"yes", "no", "ok", "okay", "sure", "done"} for t in tokens)
    if len(tokens) <= 7 and _VAGUE_MARKERS.search(message):
        specific = [t for t in tokens if _SPECIFIC.fullmatch(t) and t not in _FILLER]
        return len(specific) <= 1
    return False


_FILLER = {
    "everything",
    "something",
    "nothing",
    "things",
    "whatever",
    "really",
    "about",
    "don't",
    "think",
    "guess",
    "there",
    "right",
    "today",
    "feeling",
    "overwhelmed",
    "stressed",
    "tired",
}


def uncontrollable_part(message: str) -> str | None:
    match = _UNCONTROLLABLE.search(normalise(message))
    if not match:
        return None
    part = re.split(r"\s+(?:and|but|so|because|while)\s+", match.group(0), maxsplit=1)[0]
    return lower_first(strip_end(part))


def analyse(ctx: TurnContext) -> Guidance:
    full = normalise(ctx.message)
    # Greetings and Eliza's name are not what the message is about ("Hi Eliza, I'm stuck").
    message = without_address(full) or full
    tokens = words(message)
    greeting = bool(_GREETING.match(full)) and bool(_SMALL_TALK.match(without_address(full)))
    thanks = bool(_THANKS.search(message)) and len(tokens) <= 8
    question = message.endswith("?") or bool(_QUESTION_START.match(message))
    wants_rest = bool(_WANTS_REST.search(message))
    vague = not greeting and not thanks and is_vague(message)
    uncontrollable = uncontrollable_part(message)
    late = is_late(ctx.local_time)
    breaker = (
        ctx.open_stressors > CIRCUIT_BREAKER_STRESSORS
        and ctx.emotion.emotion in CIRCUIT_BREAKER_EMOTIONS
        and late
    )
    rules: list[str] = []
    if ctx.emotion.emotion != "neutral":
        rules.append("acknowledge_feelings")
    if breaker:
        rules.append("circuit_breaker")
    elif vague:
        rules.append("clarify")
    elif uncontrollable:
        rules.append("control_triage")
    elif wants_rest:
        rules.append("restorative_break")
    elif not greeting and not thanks:
        rules.append(f"energy_{ctx.emotion.energy}")
    return Guidance(
        energy=ctx.emotion.energy,
        greeting=greeting,
        thanks=thanks,
        question=question,
        wants_rest=wants_rest,
        vague=vague,
        uncontrollable=uncontrollable,
        late=late,
        circuit_breaker=breaker,
        about_goals=bool(_ABOUT_GOALS.search(message)),
        rules=tuple(rules),
    )


# --- phrases built from memories --------------------------------------------------------------

_LIKE_OBJECT = re.compile(r"\b(?:like|love|enjoy|adore|prefer)s?\s+(?:to\s+)?(.+)", re.I)
_RELAX_OBJECT = re.compile(r"^(.+?)\s+(?:helps?|calms?|relaxes?|recharges?)\b", re.I)
_GOAL_OBJECT = re.compile(
    r"\b(?:(?P<verb>want to|wanna|would like to|'d like to|goal is to|plan to|planning to|plan is to|hope to"
    r"|aim to|trying to|going to)|(?P<noun>goal is|dream of|working on|working towards?))\s+(?P<rest>.+)",
    re.I,
)


def restorative_activity(preference: str) -> str | None:
    """``"I love long walks with my dog"`` → ``"long walks with your dog"``."""
    text = strip_end(normalise(preference))
    match = _LIKE_OBJECT.search(text) or _RELAX_OBJECT.search(text)
    if not match:
        return None
    activity = strip_end(match.group(1))
    activity = re.split(r"\b(?:but|because|although|though)\b", activity, maxsplit=1)[0].strip(" ,")
    return second_person(activity) if activity and is_restorative(activity) else None


def goal_object(goal: str) -> tuple[str, bool]:
    """``"I want to run a marathon"`` → ``("run a marathon", True)`` (True: a verb phrase)."""
    text = strip_end(normalise(goal))
    match = _GOAL_OBJECT.search(text)
    if not match:
        return second_person(text[:1].lower() + text[1:]), False
    return second_person(strip_end(match.group("rest"))), match.group("verb") is not None


def goal_phrase(goal: str) -> str:
    """A goal as a noun phrase: ``"I want to run a marathon"`` → ``"your goal to run a marathon"``."""
    rest, is_verb = goal_object(goal)
    return f"your goal to {rest}" if is_verb else rest
