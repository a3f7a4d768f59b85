"""Eliza's phrasings for the offline responder, and the memory of what she already said in a
conversation (so that openers and questions vary from turn to turn)."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from app.companion.language.gist import Topic
from app.kit.text import normalise

ACK: dict[str, tuple[str, ...]] = {
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
ACK_SPARE: dict[str, tuple[str, ...]] = {
    "overwhelm": ("It makes sense that this feels like too much at once.",),
    "fear": ("It's understandable to feel on edge about this.",),
    "sadness": ("That's a hard place to be, and I'm glad you said it.",),
    "anger": ("That would wear anyone's patience thin.",),
    "fatigue": ("Being this tired changes how everything feels.",),
    "joy": ("That's lovely — enjoy it.",),
    "calm": ("That steadiness is worth noticing.",),
}
FEELING_WORD = {
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
WORRY_LEAD: dict[str, tuple[str, ...]] = {
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
LOSS = (
    "I'm so sorry about {}.",
    "I'm really sorry about {} — that's a lot to go through.",
    "I'm so sorry about {}; be gentle with yourself.",
)
AVOIDING_NOTE = (
    "Putting something off when it feels this big is very human — it doesn't mean you can't do it.",
    "Getting started is often the hardest part, especially when something matters.",
    "Avoiding it is a really common reaction when something feels heavy.",
)


@dataclass(frozen=True)
class Said:
    """What Eliza already said in this conversation, so that phrasings don't repeat."""

    earlier: str  # every earlier reply, normalised and lower-cased

    @classmethod
    def of(cls, replies: Sequence[str]) -> Said:
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


GOAL_TAIL = (
    "that's a goal worth making room for",
    "I like that",
    "that's a good one to aim for",
)


def worry_step(worries: list[Topic]) -> tuple[str, ...]:
    if len(worries) > 1:
        return (
            "Which of these feels most pressing right now?",
            "Which one would it help most to look at first?",
            "If you could take one of these off your plate first, which would it be?",
        )
    worry = worries[0]
    if worry.category == "work":
        return work_steps(worry.subject, worry.phrase)
    return CATEGORY_STEPS.get(worry.category, CATEGORY_STEPS["other"])


_PEOPLE_AT_WORK = re.compile(r"\b(?:boss|manager|team|clients?|colleagues?|co-?workers?|customers?)\b", re.I)


_EVENT = re.compile(r"\b(?:interview|presentation|exams?|pitch|meeting|talk|review|defen[cs]e)\b", re.I)


def work_steps(subject: str, said_about: str = "") -> tuple[str, ...]:
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


CATEGORY_STEPS: dict[str, tuple[str, ...]] = {
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
