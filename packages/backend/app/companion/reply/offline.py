"""The offline responder: Eliza without a language model.

Deterministic and networkless (the same turn in the same conversation always gets the same reply),
it applies the same behaviour rules the model is prompted with: acknowledging the detected emotion
and every worry the user names, referring to what it remembers, clarifying vague messages, control
triage, energy-based push and the circuit breaker.

Its voice (docs/companion.md): what the user said comes back in Eliza's own words and briefly
(``language/gist.py``), never as a quote, never with the user's greeting or Eliza's name in it; the
user's goals are named by their title or in the user's own phrasing, never by a memory's stored
text; phrasings vary, and a reply never reuses a sentence Eliza already said in the conversation
while another phrasing is left.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from app.companion.formation.extraction import extract_facts
from app.companion.language.emotion import EmotionReading
from app.companion.language.gist import (
    Topic,
    brief,
    greets,
    listing,
    names_companion,
    stressors,
    without_address,
)
from app.companion.language.text import lower_first, second_person, strip_end, upper_first
from app.companion.reply.rules import (
    Guidance,
    MemoryNote,
    TurnContext,
    goal_object,
    goal_phrase,
    restorative_activity,
)
from app.companion.repository import COMPANION_SOURCE
from app.kit.text import STOP_WORDS, normalise, words
from app.planning import CompanionGoalContext

RESPONDER = "offline"
MAX_RECOLLECTION_WORDS = 14

_ACK: dict[str, tuple[str, ...]] = {
    "overwhelm": (
        "That sounds like a lot to carry right now.",
        "No wonder you feel stretched — that's a heavy load.",
        "That's a lot on your plate, and it makes sense that it feels like too much.",
    ),
    "fear": (
        "It makes sense to feel anxious about this.",
        "That worry sounds really present for you right now.",
        "Feeling uneasy about this is completely understandable.",
        "Of course that's weighing on you.",
    ),
    "sadness": (
        "I'm sorry you're feeling this way — that sounds hard.",
        "That sounds painful, and it's okay to feel it.",
        "I hear how heavy this feels for you.",
    ),
    "anger": (
        "That sounds really frustrating.",
        "I can hear how fed up you are — that's understandable.",
        "Anyone would be annoyed by that.",
    ),
    "fatigue": (
        "You sound worn out.",
        "It sounds like your tank is pretty empty right now.",
        "That kind of tiredness makes everything harder.",
    ),
    "joy": (
        "That's great to hear!",
        "I love hearing that — nice!",
        "That's a real bright spot.",
    ),
    "calm": (
        "It's good to hear you're feeling settled.",
        "Sounds like you're in a steady place right now.",
    ),
}
# Said when every phrasing above was used earlier in the conversation.
_ACK_SPARE: dict[str, tuple[str, ...]] = {
    "overwhelm": ("It makes sense that this feels like too much at once.",),
    "fear": ("It's understandable to feel on edge about this.",),
    "sadness": ("That's a hard place to be, and I'm glad you said it.",),
    "anger": ("That would wear anyone's patience thin.",),
    "fatigue": ("Being this tired changes how everything feels.",),
    "joy": ("That's lovely — enjoy it.",),
    "calm": ("That steadiness is worth noticing.",),
}
_FEELING_WORD = {
    "overwhelm": "overwhelmed",
    "fear": "anxious",
    "sadness": "low",
    "anger": "frustrated",
    "fatigue": "drained",
    "joy": "good",
    "calm": "calm",
    "neutral": "okay",
}
# After the worries named: one of these, by how the user feels.
# Before the worries named ("That's a lot at once: …"), so that they sit inside Eliza's sentence.
_WORRY_LEAD: dict[str, tuple[str, ...]] = {
    "one": (
        "No wonder it's on your mind",
        "That's a real weight to carry",
        "That would take up space in anyone's head",
        "It makes sense that this is on your mind",
    ),
    "many": (
        "That's a lot at once",
        "That's a lot to hold at the same time",
        "No wonder it all feels heavy",
        "That's several heavy things at once",
    ),
}
_LOSS = (
    "I'm so sorry about {}.",
    "I'm really sorry about {} — that's a lot to go through.",
    "I'm so sorry about {}; be gentle with yourself.",
)
_AVOIDING = re.compile(
    r"\b(?:avoid\w*|putting (?:it|this|that) off|put (?:it|this|that) off|procrastinat\w*"
    r"|can'?t (?:get )?start|stared at|staring at|keep scrolling|wasting time|distracted)\b",
    re.I,
)
_AVOIDING_NOTE = (
    "Putting something off when it feels this big is very human — it doesn't mean you can't do it.",
    "Getting started is often the hardest part, especially when something matters.",
    "Avoiding it is a really common reaction when something feels heavy.",
)


@dataclass(frozen=True)
class _Said:
    """What Eliza already said in this conversation, so that phrasings don't repeat."""

    earlier: str  # every earlier reply, normalised and lower-cased

    @classmethod
    def of(cls, replies: Sequence[str]) -> _Said:
        return cls(" ".join(normalise(r).lower() for r in replies))

    def fresh(self, options: Sequence[str], seed: str | None = None, spares: Sequence[str] = ()) -> str:
        """The first option not said before, starting at the seed's (or the first) option; then the
        spares; when everything was said, the seed's option again."""
        start = _hash(seed) % len(options) if seed is not None else 0
        ordered = [options[(start + i) % len(options)] for i in range(len(options))] + list(spares)
        return next((o for o in ordered if normalise(o).lower() not in self.earlier), ordered[0])

    def knows(self, text: str) -> bool:
        return normalise(text).lower() in self.earlier


def _hash(seed: str) -> int:
    return zlib.crc32(seed.encode())


@dataclass(frozen=True)
class _Heard:
    """What the message says, in Eliza's terms."""

    worries: list[Topic]
    goal: str | None  # a goal stated in this message, as a verb phrase ("run a half marathon")
    avoiding: bool
    greeted: bool
    named_me: bool

    @classmethod
    def of(cls, message: str) -> _Heard:
        content = without_address(message)
        stated = [goal_object(fact.content) for fact in extract_facts(content) if fact.kind == "goal"]
        # Said back only if it is short (never a long run of the user's words).
        goal = next((short for rest, is_verb in stated if is_verb and (short := brief(rest))), None)
        return cls(
            worries=stressors(message)[:4],
            goal=goal,
            avoiding=bool(_AVOIDING.search(content)),
            greeted=greets(message),
            named_me=names_companion(message),
        )


def compose_reply(ctx: TurnContext, guidance: Guidance) -> str:
    """Eliza's reply to one turn, from the rules' verdict and what was recalled."""
    said = _Said.of(ctx.earlier_replies)
    heard = _Heard.of(ctx.message)
    if guidance.circuit_breaker:
        return _circuit_breaker(ctx, heard, said)
    if guidance.greeting:
        return _greeting(ctx, heard, said)
    if guidance.thanks:
        return _thanks(ctx, said)

    seed = ctx.message
    parts: list[str] = []
    emotion = ctx.emotion
    if _lighter_than_before(ctx.previous, emotion):
        assert ctx.previous is not None
        parts.append(
            f"It sounds like things feel a little lighter than last time, when you were feeling "
            f"{_FEELING_WORD[ctx.previous.emotion]}."
        )
    elif emotion.emotion != "neutral" and emotion.intensity >= (0.5 if emotion.emotion == "joy" else 0.2):
        parts.append(said.fresh(_ACK[emotion.emotion], seed, _ACK_SPARE[emotion.emotion]))
    if heard.greeted and ctx.turn_index == 0:  # greeted back, once, in the same breath
        hello = f"Hi {ctx.display_name.split()[0]}" if ctx.display_name else "Hi"
        glad = said.fresh(
            (
                "good to hear from you.",
                "thanks for telling me.",
                "I'm glad you reached out.",
                "good to see you.",
            ),
            seed,
        )
        parts[:1] = [f"{hello}, {lower_first(parts[0])}" if parts else f"{hello}, {glad}"]

    # A worry that control triage names below is not named twice.
    triaged = second_person(guidance.uncontrollable) if guidance.uncontrollable else ""
    worries = [w for w in heard.worries if not (triaged and w.subject in triaged)]
    if worries:
        named = listing([w.phrase for w in worries])
        if any(w.phrase.startswith("losing ") for w in worries):
            parts.append(said.fresh([f.format(named) for f in _LOSS], seed))
        else:
            opening = parts[0].lower() if parts else ""  # "No wonder …" twice in a row reads badly
            leads = [
                o for o in _WORRY_LEAD["many" if len(worries) > 1 else "one"] if o.lower()[:9] not in opening
            ]
            lead = said.fresh(leads, seed)
            parts.append(f"{lead}: {named}.")
    elif heard.goal and not guidance.vague:
        parts.append(f"Wanting to {heard.goal} — {said.fresh(_GOAL_TAIL, seed)}.")
    if heard.avoiding and not guidance.vague:
        notes = [n for n in _AVOIDING_NOTE if not (n.startswith("Putting") and "putting off" in str(parts))]
        parts.append(said.fresh(notes, seed))

    remembered = _memory_reference(ctx, guidance, heard, said)
    if remembered:
        parts.append(remembered)

    plan = ctx.plan
    if guidance.about_goals and plan is not None and not guidance.vague and not heard.goal:
        status = _plan_status(plan)
        if status and not said.knows(status):
            parts.append(status)
    parts.append(_next_step(ctx, guidance, heard, said, remembered))
    return " ".join(p for p in parts if p)


_GOAL_TAIL = (
    "that's a goal worth making room for",
    "I like that",
    "that's a good one to aim for",
)


def _name(ctx: TurnContext) -> str:
    return f", {ctx.display_name.split()[0]}" if ctx.display_name else ""


def _next_step(
    ctx: TurnContext, guidance: Guidance, heard: _Heard, said: _Said, remembered: str | None
) -> str:
    """The rule that applies, ending with at most one question."""
    seed = ctx.message
    emotion = ctx.emotion
    plan = ctx.plan
    goal = _goal_name(ctx)
    if guidance.vague:
        return _clarify(emotion, seed, said)
    if guidance.uncontrollable:
        part = second_person(guidance.uncontrollable)
        outside = f"Some of this — {part} — is" if len(part.split()) <= 10 else "Some of this is"
        return said.fresh(
            (
                f"{outside} outside your control, so let's not spend your energy there. "
                "What's one small part you can influence today, even for ten minutes?",
                f"{outside} not yours to steer, so let's leave it there for now. "
                "What's one piece that is in your hands this week?",
            )
        )
    if guidance.wants_rest:
        activity = next((a for a in map(restorative_activity, ctx.restorative) if a), None)
        when = "tonight" if guidance.late or ctx.local_time.hour >= 17 else "today"
        if activity and remembered and activity in remembered:
            return f"Could you make a little room for that {when}?"
        return (
            f"You told me you enjoy {activity} — could you make a little room for that {when}?"
            if activity
            else "What usually helps you recharge? Tell me, and I'll remember it for days like this."
        )
    if guidance.energy == "low":
        small = plan.small_win if plan else None
        if any(w.category in ("family", "relationships", "health") for w in heard.worries):
            small, goal = None, None  # not a time for missions
        win = (
            f"How about a {small.minutes}-minute step: “{small.title}”? Just that one, and call it a win."
            if small
            else f"Could you give {goal} just ten minutes — the easiest piece of it?"
            if goal
            else "What's one tiny thing — five minutes or less — you could tick off so today has a win in it?"
            if not heard.worries
            else "What's one small, kind thing you could do for yourself in the next hour?"
        )
        gentle = said.fresh(
            (
                "Since your energy is low, let's keep it gentle: one small win is plenty.",
                "With energy this low, one small win is plenty for today.",
                "Let's keep it small while your energy is low.",
            )
        )
        return f"{gentle} {win}"
    if guidance.energy == "high":
        return said.fresh(
            (
                f"You've got energy right now — how about a 25-minute push on {goal}: "
                "what would the first step be?",
                f"While the energy's here, how about 25 focused minutes on {goal}? Where would you start?",
            )
            if goal
            else (
                "You've got momentum — what's the one thing you'd most like to move forward while it lasts?",
                "While the energy's here, what would you most like to get moving?",
            )
        )
    if guidance.question:
        return said.fresh(
            (
                "One way in: shrink it to the smallest version you could start in ten minutes, and do just "
                "that. What would that first step look like for you?",
                "Try making it small enough to start today — ten minutes, no more. "
                "What would that look like?",
                "What's the smallest version of it you could try first?",
            )
        )
    if guidance.late and emotion.is_negative and heard.worries:
        return said.fresh(
            (
                "It's late, and late makes everything look bigger — could you write it down so it can wait "
                "until morning?",
                "What's one thing you could set down until tomorrow, so tonight can be a bit lighter?",
            ),
            seed,
        )
    if heard.worries:
        return said.fresh(_worry_step(heard.worries), seed)
    if heard.goal:
        return said.fresh(
            (
                "What would a first, small step toward it look like this week?",
                "What's one thing you could do this week to get it started?",
            ),
            seed,
        )
    mentioned = _stems(ctx.message)
    if goal and any(_stems(g) & mentioned for g in _goal_texts(ctx)):
        return said.fresh(_goal_steps(goal), seed)
    earlier = _earlier_worries(ctx)
    if earlier:  # what this conversation is about, said in a new way
        return said.fresh(_worry_step(earlier), seed)
    if emotion.emotion in ("joy", "calm") and emotion.intensity >= 0.3:
        return said.fresh(("What made it feel that way?", "What's next for you today?"), seed)
    if goal:
        return said.fresh(_goal_steps(goal), seed)
    if emotion.is_negative:
        return said.fresh(
            (
                "What's weighing on you most right now?",
                "Do you want to tell me what's behind it?",
                "What's been piling up the most?",
            ),
            seed,
        )

    return said.fresh(
        (
            "What feels most important to focus on next?",
            "What would help most right now?",
            "Where would you like to start?",
            "Where would you like to go from here?",
        ),
        seed,
    )


def _worry_step(worries: list[Topic]) -> tuple[str, ...]:
    if len(worries) > 1:
        return (
            "Which of these feels most pressing right now?",
            "Which one would it help most to look at first?",
            "If you could take one of these off your plate first, which would it be?",
        )
    worry = worries[0]
    if worry.category == "work":
        return _work_steps(worry.subject, worry.phrase)
    return _CATEGORY_STEPS.get(worry.category, _CATEGORY_STEPS["other"])


_PEOPLE_AT_WORK = re.compile(r"\b(?:boss|manager|team|clients?|colleagues?|co-?workers?|customers?)\b", re.I)


_EVENT = re.compile(r"\b(?:interview|presentation|exams?|pitch|meeting|talk|review|defen[cs]e)\b", re.I)


def _work_steps(subject: str, said_about: str = "") -> tuple[str, ...]:
    if _EVENT.search(said_about) or _EVENT.search(subject):
        return (
            "What's one small thing you could do today to feel more ready?",
            "What would help you feel a little more prepared — something small?",
            "Which part of it feels shakiest, and what would shore it up a bit?",
        )
    generic = not subject.startswith(("your ", "the "))
    if generic or _PEOPLE_AT_WORK.search(subject):
        return (
            "What's one small thing at work that is within your control this week?",
            "What's the one piece of this you could move forward today?",
            "What would make the next day at work a little easier?",
        )
    return (
        f"What's one small piece of {subject} you could do in the next 30 minutes?",
        f"If you gave {subject} just 20 minutes today, what would you start with?",
        f"What's the smallest next step on {subject} — something you could finish today?",
    )


_CATEGORY_STEPS: dict[str, tuple[str, ...]] = {
    "money": (
        "What's one small money step you could take today — even just looking at the numbers?",
        "Would it help to write down what's due and when, so it's all in one place?",
        "What's one thing that would ease the money pressure a little this week?",
    ),
    "family": (
        "How are you holding up with all of that?",
        "What kind of support would help you most right now?",
        "Is there one thing that would make today a bit easier for you?",
    ),
    "relationships": (
        "What would help you feel a bit more supported right now?",
        "What do you need most from the next day or two?",
        "Would it help to talk through what happened?",
    ),
    "health": (
        "What's one thing you could do today to look after yourself?",
        "Is there one small thing that would help your body or your sleep today?",
        "Have you been able to get any support with that?",
    ),
    "other": (
        "What feels most important to focus on next?",
        "What would help most right now?",
        "Where would you like to start?",
    ),
}


def _earlier_worries(ctx: TurnContext) -> list[Topic]:
    """The worries of the latest earlier message in this conversation that named any."""
    for message in reversed(ctx.earlier_messages):
        found = stressors(message)
        if found:
            return found
    return []


def _goal_steps(goal: str) -> tuple[str, ...]:
    return (
        f"What's one small step toward {goal} that would fit in the next 30 minutes?",
        f"Is there a 20-minute piece of {goal} you could move today?",
        f"What would a small, doable step on {goal} look like today?",
    )


def _goal_texts(ctx: TurnContext) -> list[str]:
    return list(ctx.goals) + [g.title for g in (ctx.plan.goals if ctx.plan else ())]


def _goal_name(ctx: TurnContext) -> str | None:
    """The goal to talk about, named as the user wrote it: the app goal's title, or the user's own
    words for a goal they told Eliza. The one the message mentions first, else the latest."""
    named: list[tuple[str, str]] = [(g, goal_phrase(g)) for g in ctx.goals]
    if ctx.plan is not None:
        named += [(g.title, f"your goal “{g.title}”") for g in ctx.plan.goals]
    if not named:
        return None
    mentioned = _stems(ctx.message)
    return next((phrase for text, phrase in named if _stems(text) & mentioned), named[0][1])


def _stems(text: str) -> set[str]:
    return {w[:5] for w in words(text) if len(w) > 3 and w not in STOP_WORDS}


def _plan_status(plan: CompanionGoalContext) -> str | None:
    """Where the user stands: the active goal, today's top mission, the streak."""
    pieces: list[str] = []
    if plan.goals:
        pieces.append(f"Your active goal is “{plan.goals[0].title}”")
    top = plan.top_mission
    if top is not None:
        when = "today's top mission" if plan.from_triad else "your next mission"
        pieces.append(f"{when} is “{top.title}” ({top.minutes} minutes)")
    if not pieces:
        return None
    sentence = ", and ".join(pieces) + "."
    if plan.streak > 1:
        sentence += f" You're on a {plan.streak}-day streak."
    return upper_first(sentence)


def _lighter_than_before(previous: EmotionReading | None, now: EmotionReading) -> bool:
    return (
        previous is not None
        and previous.is_negative
        and previous.intensity >= 0.4
        and now.emotion in ("joy", "calm")
    )


def _clarify(emotion: EmotionReading, seed: str, said: _Said) -> str:
    if emotion.is_negative:
        return said.fresh(
            (
                "I want to make sure I understand — what's weighing on you most right now: work, family, "
                "health, money, or something else?",
                "What's behind it today, do you think — work, family, health, money, or something else?",
                "Is it one thing in particular that's weighing on you, or everything at once?",
            )
        )
    return said.fresh(
        (
            "Could you tell me a bit more about what you mean?",
            "Can you say a little more, so I can actually help?",
            "What's going on — could you tell me a bit more?",
        ),
        seed,
    )


# --- what Eliza remembers -------------------------------------------------------------------------


def _memory_reference(ctx: TurnContext, guidance: Guidance, heard: _Heard, said: _Said) -> str | None:
    """One thing Eliza remembers that bears on this message, in her words, said once per
    conversation: a fact the user told her, or the worry of an earlier conversation."""
    mentioned = _stems(ctx.message)
    lasting = [
        m
        for m in ctx.memories
        if m.tier in ("personal", "project")
        and m.kind in ("preference", "identity", "feeling", "goal", "plan")
        and m.source in (None, COMPANION_SOURCE)
    ]
    lasting.sort(key=lambda m: -m.score)
    for memory in lasting:
        text = strip_end(memory.content)
        restful = memory.kind == "preference" and (guidance.wants_rest or guidance.energy == "low")
        about_goals = memory.kind in ("goal", "plan") and guidance.about_goals
        if text.lower() in ctx.message.lower() or not (restful or about_goals or _stems(text) & mentioned):
            continue
        recollection = _as_recollection(memory, text)
        if recollection and not said.knows(recollection):
            return recollection
    for memory in ctx.memories:  # only about the same thing: "your thesis" again
        if (
            memory.tier != "task"
            or memory.kind != "exchange"
            or memory.source not in (None, COMPANION_SOURCE)
        ):
            continue
        earlier = memory.content.split("\n", 1)[0].removeprefix("User: ")
        for worry in stressors(earlier)[:1]:
            if _stems(worry.subject) & mentioned:
                recollection = f"I remember you told me about {worry.subject} last time."
                if not said.knows(recollection):
                    return recollection
    return None


def _as_recollection(memory: MemoryNote, text: str) -> str | None:
    first = text.split(" ", 1)[0].lower()
    if (
        first not in ("i", "i'm", "i've", "i'd", "my", "i'll", "im")
        or len(text.split()) > MAX_RECOLLECTION_WORDS
    ):
        return None
    if memory.kind in ("goal", "plan"):
        rest, is_verb = goal_object(text)
        if is_verb:
            return f"I remember you want to {rest}."
    mirrored = second_person(text[:1].lower() + text[1:] if first != "i" else text)
    return f"You mentioned before that {mirrored}."


# --- greetings, thanks, the circuit breaker -------------------------------------------------------


def _greeting(ctx: TurnContext, heard: _Heard, said: _Said) -> str:
    name = _name(ctx)
    previous = ctx.previous
    if previous is not None and previous.is_negative and previous.intensity >= 0.4:
        return said.fresh(
            (
                f"Hi{name}! Last time we spoke you were feeling {_FEELING_WORD[previous.emotion]}. "
                "How are you doing now?",
                f"Good to see you again{name}. How are you feeling compared with last time?",
            )
        )
    goal = _goal_name(ctx)
    if goal:
        return said.fresh(
            (
                f"Hi{name}! Good to see you. How is it going with {goal}?",
                f"Hi again{name}! How are things going with {goal}?",
                f"Good to see you again{name}. Where are you at with {goal}?",
            )
        )
    if ctx.turn_index == 0 and not heard.named_me:
        return f"Hi{name}! I'm Eliza. What's on your mind today?"
    if ctx.turn_index == 0:
        return f"Hi{name}! Good to hear from you. What's on your mind today?"
    return said.fresh(
        (
            f"Hi again{name}! What's on your mind?",
            f"I'm here{name}. What would you like to talk about?",
            f"Good to hear from you again{name} — what's new?",
        )
    )


def _thanks(ctx: TurnContext, said: _Said) -> str:
    if ctx.emotion.is_negative:
        return said.fresh(
            (
                "You're welcome. I'm here whenever you want to talk it through — "
                "what would help most right now?",
                "Of course. I'm here if you want to keep going — what's on your mind?",
            )
        )
    return said.fresh(
        (
            "You're welcome! I'm glad that helped. What's next for you today?",
            "Anytime! What would you like to do next?",
        )
    )


def _circuit_breaker(ctx: TurnContext, heard: _Heard, said: _Said) -> str:
    feeling = _FEELING_WORD[ctx.emotion.emotion]
    clock = ctx.local_time.strftime("%H:%M")
    count = ctx.open_stressors
    parts = [
        said.fresh(
            (
                f"I can hear how {feeling} you are, and it makes sense: there's a lot open on your plate "
                f"({count} worries, by my count) and it's {clock}.",
                f"It's {clock} and you're carrying a lot ({count} open worries, by my count) — no wonder "
                f"you feel {feeling}.",
            )
        )
    ]
    if heard.worries:
        parts.append(
            f"It's all real — {listing([w.phrase for w in heard.worries])} — and it deserves a rested mind."
        )
    parts.append("Late evening makes everything look bigger, and this isn't the hour to solve all of it.")
    activity = next((a for a in map(restorative_activity, ctx.restorative) if a), None)
    if activity:
        parts.append(f"Let's press pause: how about {activity} for a little while? You told me that helps.")
    else:
        parts.append(
            "Let's press pause: how about ten minutes of something restful — a short walk, a warm drink, "
            "or a few slow breaths? (Tell me what usually recharges you and I'll remember it.)"
        )
    micro_task = ctx.plan.micro_task if ctx.plan else None
    goal = _goal_name(ctx)
    if micro_task:
        micro = f"open “{micro_task.title}” and do just its first two minutes — nothing more"
    elif goal and not heard.worries:
        micro = f"jot down the very next step for {goal} — just one line, two minutes"
    else:
        micro = "write down the one thing that can't wait until tomorrow — just the title, two minutes"
    parts.append(f"Then only one micro-task: {micro}. Everything else can wait until tomorrow.")
    return " ".join(upper_first(p) for p in parts)
