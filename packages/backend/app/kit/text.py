"""Words: one normalisation, one tokenizer and one list of English function words.

Domains extend ``STOP_WORDS`` with words that carry no meaning *for them* (the planner adds "goal",
"week", months; extraction adds "feel", "want"), rather than keeping lists of their own.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9']+")
_SPACES = re.compile(r"\s+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})

# Function words: they do not change what a sentence is about ("every" vs "each", "I'm" vs "I am").
STOP_WORDS = frozenset(
    """a an the i i'm im am is are was were be been being me my mine myself we our you your he him his
    she her it its they them their this that these those to of in on at by for with about as from into
    over under than then so and or but if not no do does did doing have has had having will would can
    could should shall may might must just very really also too each every any some all both again
    up down out off s m t d ll re ve don't dont""".split()  # noqa: SIM905 - a word list reads better
)


def normalise(text: str) -> str:
    """Curly apostrophes straightened and whitespace collapsed."""
    return _SPACES.sub(" ", text.translate(_APOSTROPHES)).strip()


def words(text: str) -> list[str]:
    """Lower-case words (letters, digits and apostrophes) of ``text``."""
    return _WORD.findall(normalise(text).lower())


def clip(text: str, limit: int, *, whole_words: bool = False) -> str:
    """``text`` cut to at most ``limit`` characters, ending in "…" when cut (at a word boundary
    with ``whole_words``, for text a person reads as a sentence)."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    if whole_words and " " in head:
        head = head.rsplit(" ", 1)[0]
    return head.rstrip() + "…"
