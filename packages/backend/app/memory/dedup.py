"""Near-duplicate detection: embeddings alone cannot tell "allergic to penicillin" from "allergic to
peanuts" (cosine 0.9+), so a near duplicate must also say the same thing word for word, give or
take one content word, with the same numbers, in the same order (docs/memory.md)."""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from app.kit.text import STOP_WORDS

_WORD = re.compile(r"[a-z0-9']+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def _content_words(text: str) -> list[str]:
    return [w.strip("'") for w in _WORD.findall(text.casefold()) if w.strip("'") not in STOP_WORDS]


def _stem(word: str) -> str:
    """A crude plural/tense fold, enough for "night"/"nights", "call"/"calls"."""
    for suffix in ("ies", "es", "s", "ed", "ing"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def says_the_same(a: str, b: str) -> bool:
    """Whether two texts differ only in function words, punctuation, case or one content word."""
    if sorted(_NUMBER.findall(a)) != sorted(_NUMBER.findall(b)):
        return False
    words_a = [_stem(w) for w in _content_words(a)]
    words_b = [_stem(w) for w in _content_words(b)]
    if len(set(words_a) ^ set(words_b)) > 1:
        return False
    if not words_a and not words_b:
        return True
    return SequenceMatcher(a=words_a, b=words_b, autojunk=False).ratio() >= 0.8


def is_near_duplicate(new: str, existing: str, similarity: float, threshold: float) -> bool:
    return similarity >= threshold and says_the_same(new, existing)
