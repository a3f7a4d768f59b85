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
from app.companion.reply.phrasing import (
    ACK,
    ACK_SPARE,
    AVOIDING_NOTE,
    FEELING_WORD,
    GOAL_TAIL,
    LOSS,
    WORRY_LEAD,
    Said,
    worry_step,
)
from app.companion.reply.rules import (
    Guidance,
    MemoryNote,
    TurnContext,
    goal_object,
    goal_phrase,
    restorative_activity,
)
from app.companion.repository import COMPANION_SOURCE
from app.kit.text import STOP_WORDS, words
from app.planning import CompanionGoalContext

RESPONDER = "offline"
MAX_RECOLLECTION_WORDS = 14

_AVOIDING = re.compile(
    r"\b(?:avoid\w*|putting (?:it|this|that) off|put (?:it|this|that) off|procrastinat\w*"
    r"|can'?t (?:get )?start|stared at|staring at|keep scrolling|wasting time|distracted)\b",
    re.I,
)


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
    said = Said.of(ctx.earlier_replies)
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
            f"{FEELING_WORD[ctx.previous.emotion]}."
        )
    elif emotion.emotion != "neutral" and emotion.intensity >= (0.5 if emotion.emotion == "joy" else 0.2):
        parts.append(said.fresh(ACK[emotion.emotion], seed, ACK_SPARE[emotion.emotion]))
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
            parts.append(said.fresh([f.format(named) for f in LOSS], seed))
        else:
            opening = parts[0].lower() if parts else ""  # "No wonder …" twice in a row reads badly
            leads = [
                o for o in WORRY_LEAD["many" if len(worries) > 1 else "one"] if o.lower()[:9] not in opening
            ]
            lead = said.fresh(leads, seed)
            parts.append(f"{lead}: {named}.")
    elif heard.goal and not guidance.vague:
        parts.append(f"Wanting to {heard.goal} — {said.fresh(GOAL_TAIL, seed)}.")
    if heard.avoiding and not guidance.vague:
        notes = [
            n
            for n in AVOIDING_NOTE
            if not (n.startswith("Putting") and "putting off" in " ".join(parts).lower())
        ]
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


def _name(ctx: TurnContext) -> str:
    return f", {ctx.display_name.split()[0]}" if ctx.display_name else ""


def _next_step(
    ctx: TurnContext, guidance: Guidance, heard: _Heard, said: Said, remembered: str | None
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
        return said.fresh(worry_step(heard.worries), seed)
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
        return said.fresh(worry_step(earlier), seed)
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


def _clarify(emotion: EmotionReading, seed: str, said: Said) -> str:
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


def _memory_reference(ctx: TurnContext, guidance: Guidance, heard: _Heard, said: Said) -> str | None:
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


def _greeting(ctx: TurnContext, heard: _Heard, said: Said) -> str:
    name = _name(ctx)
    previous = ctx.previous
    if previous is not None and previous.is_negative and previous.intensity >= 0.4:
        return said.fresh(
            (
                f"Hi{name}! Last time we spoke you were feeling {FEELING_WORD[previous.emotion]}. "
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


def _thanks(ctx: TurnContext, said: Said) -> str:
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


def _circuit_breaker(ctx: TurnContext, heard: _Heard, said: Said) -> str:
    feeling = FEELING_WORD[ctx.emotion.emotion]
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
