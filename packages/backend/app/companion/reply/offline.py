"""The offline responder: Eliza without a language model.

Deterministic and networkless (the same turn always gets the same reply), it applies the same
behaviour rules the model is prompted with: reflective listening, acknowledging the detected
emotion, referring to recalled memories and goals, clarifying vague messages, control triage,
energy-based push and the circuit breaker.
"""

from __future__ import annotations

from app.companion.language.emotion import EmotionReading
from app.companion.language.text import pick, second_person, strip_end, upper_first
from app.companion.reply.rules import (
    Guidance,
    MemoryNote,
    TurnContext,
    goal_object,
    goal_phrase,
    reflection,
    restorative_activity,
)
from app.planning import CompanionGoalContext

RESPONDER = "offline"

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


def compose_reply(ctx: TurnContext, guidance: Guidance) -> str:
    """Eliza's reply to one turn, from the rules' verdict and what was recalled."""
    if guidance.circuit_breaker:
        return _circuit_breaker(ctx)
    if guidance.greeting:
        return _greeting(ctx)
    if guidance.thanks:
        return _thanks(ctx)

    seed = ctx.message
    parts: list[str] = []
    emotion = ctx.emotion
    if _lighter_than_before(ctx.previous, emotion):
        assert ctx.previous is not None
        parts.append(
            f"It sounds like things feel a little lighter than last time, when you were feeling "
            f"{_FEELING_WORD[ctx.previous.emotion]}."
        )
    elif emotion.emotion != "neutral" and emotion.intensity >= 0.2:
        parts.append(pick(_ACK[emotion.emotion], seed))

    mirrored = (
        None if guidance.vague or guidance.question or guidance.uncontrollable else reflection(ctx.message)
    )
    if mirrored:
        parts.append(f"It sounds like {mirrored}.")

    remembered = _memory_reference(ctx)
    if remembered:
        parts.append(remembered)

    plan = ctx.plan
    active = plan.goals[0] if plan and plan.goals else None
    if guidance.about_goals and plan is not None and not guidance.vague:
        status = _plan_status(plan)
        if status:
            parts.append(status)
    goal = goal_phrase(ctx.goals[0]) if ctx.goals else (f"your goal “{active.title}”" if active else None)
    if guidance.vague:
        parts.append(_clarify(emotion, seed))
    elif guidance.uncontrollable:
        part = second_person(guidance.uncontrollable)
        parts.append(
            f"Some of this — {part} — is outside your control, so let's not spend your energy there. "
            "What's one small part you can influence today, even for ten minutes?"
        )
    elif guidance.wants_rest:
        activity = next((a for a in map(restorative_activity, ctx.restorative) if a), None)
        when = "tonight" if guidance.late or ctx.local_time.hour >= 17 else "today"
        parts.append(
            f"You told me you enjoy {activity} — could you make a little room for that {when}?"
            if activity
            else "What usually helps you recharge? Tell me, and I'll remember it for days like this."
        )
    elif guidance.energy == "low":
        small = plan.small_win if plan else None
        win = (
            f"How about a {small.minutes}-minute step: “{small.title}”? Just that one, and call it a win."
            if small
            else f"Could you give {goal} just ten minutes — the easiest piece of it?"
            if goal
            else "What's one tiny thing — five minutes or less — you could tick off so today has a win in it?"
        )
        parts.append(f"Since your energy is low, let's keep it gentle: one small win is plenty. {win}")
    elif guidance.energy == "high":
        parts.append(
            f"You've got energy right now — want to turn it into a 25-minute push on {goal}? "
            "What would the first step be?"
            if goal
            else "You've got momentum — what's the one thing you'd most like to move forward while it lasts?"
        )
    elif guidance.question:
        parts.append(
            "One way in: shrink it to the smallest version you could start in ten minutes, and do just that. "
            "What would that first step look like for you?"
        )
    elif goal:
        parts.append(f"What's one small step toward {goal} that would fit in the next 30 minutes?")
    elif emotion.emotion in ("joy", "calm"):
        parts.append(pick(("What made it feel that way?", "What's next for you today?"), seed))
    else:
        parts.append(
            pick(
                (
                    "What feels most important to focus on next?",
                    "What would help most right now?",
                    "Where would you like to start?",
                ),
                seed,
            )
        )
    return " ".join(parts)


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


def _clarify(emotion: EmotionReading, seed: str) -> str:
    if emotion.is_negative:
        return (
            "I want to make sure I understand — what's weighing on you most right now: work, family, "
            "health, money, or something else?"
        )
    return pick(
        (
            "Could you tell me a bit more about what you mean?",
            "Can you say a little more, so I can actually help?",
        ),
        seed,
    )


def _memory_reference(ctx: TurnContext) -> str | None:
    """Mention the most relevant personal/project memory, or else the last exchange recalled."""
    lasting = [m for m in ctx.memories if m.tier in ("personal", "project") and m.kind != "stressor"]
    lasting.sort(key=lambda m: -m.score)
    for memory in lasting:
        text = strip_end(memory.content)
        if text.lower() in ctx.message.lower():
            continue
        return _as_recollection(memory, text)
    for memory in ctx.memories:
        if memory.tier == "task" and memory.kind == "exchange":
            topic = strip_end(memory.content.split("\n", 1)[0].removeprefix("User: "))
            if topic and topic.lower() not in ctx.message.lower():
                return f"Last time we talked, you said: “{_short(topic)}”."
    return None


def _as_recollection(memory: MemoryNote, text: str) -> str:
    first = text.split(" ", 1)[0].lower()
    if first in ("i", "i'm", "i've", "i'd", "my", "i'll", "im"):
        if memory.kind in ("goal", "plan"):
            rest, is_verb = goal_object(text)
            if is_verb:
                return f"I remember you want to {rest}."
        mirrored = second_person(text[:1].lower() + text[1:] if first != "i" else text)
        return f"You mentioned before that {mirrored}."
    return f"I remember this from before: “{_short(text)}”."


def _short(text: str, limit: int = 16) -> str:
    parts = text.split()
    return text if len(parts) <= limit else " ".join(parts[:limit]) + "…"


def _greeting(ctx: TurnContext) -> str:
    name = f", {ctx.display_name.split()[0]}" if ctx.display_name else ""
    previous = ctx.previous
    if previous is not None and previous.is_negative and previous.intensity >= 0.4:
        return (
            f"Hi{name}! Last time we spoke you were feeling {_FEELING_WORD[previous.emotion]}. "
            "How are you doing now?"
        )
    if ctx.goals:
        return f"Hi{name}! Good to see you. How is it going with {goal_phrase(ctx.goals[0])}?"
    if ctx.plan and ctx.plan.goals:
        return f"Hi{name}! Good to see you. How is it going with your goal “{ctx.plan.goals[0].title}”?"
    if ctx.turn_index == 0:
        return f"Hi{name}! I'm Eliza. What's on your mind today?"
    return f"Hi again{name}! What's on your mind?"


def _thanks(ctx: TurnContext) -> str:
    if ctx.emotion.is_negative:
        return (
            "You're welcome. I'm here whenever you want to talk it through — what would help most right now?"
        )
    return "You're welcome! I'm glad that helped. What's next for you today?"


def _circuit_breaker(ctx: TurnContext) -> str:
    feeling = _FEELING_WORD[ctx.emotion.emotion]
    clock = ctx.local_time.strftime("%H:%M")
    parts = [
        f"I can hear how {feeling} you are, and it makes sense: there's a lot open on your plate "
        f"({ctx.open_stressors} worries, by my count) and it's {clock}. Late evening makes everything look "
        "bigger, and this isn't the hour to solve all of it.",
    ]
    activity = next((a for a in map(restorative_activity, ctx.restorative) if a), None)
    if activity:
        parts.append(f"Let's press pause: how about {activity} for a little while? You told me that helps.")
    else:
        parts.append(
            "Let's press pause: how about ten minutes of something restful — a short walk, a warm drink, "
            "or a few slow breaths? (Tell me what usually recharges you and I'll remember it.)"
        )
    micro_task = ctx.plan.micro_task if ctx.plan else None
    if micro_task:
        micro = f"open “{micro_task.title}” and do just its first two minutes — nothing more"
    elif ctx.goals:
        micro = f"jot down the very next step for {goal_phrase(ctx.goals[0])} — just one line, two minutes"
    else:
        micro = "write down the one thing that can't wait until tomorrow — just the title, two minutes"
    parts.append(f"Then only one micro-task: {micro}. Everything else can wait until tomorrow.")
    return " ".join(upper_first(p) for p in parts)
