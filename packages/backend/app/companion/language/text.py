"""Text helpers of the companion (on top of ``app.kit.text``): sentences, reflection, phrasing."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

from app.kit.text import normalise, words

_SENTENCE = re.compile(r"[^.!?\n;]+[.!?]*")

# First person → second person, for reflecting the user's words back to them.
_SWAP = {
    "i": "you",
    "i'm": "you're",
    "im": "you're",
    "i've": "you've",
    "i'll": "you'll",
    "i'd": "you'd",
    "me": "you",
    "my": "your",
    "mine": "yours",
    "myself": "yourself",
    "am": "are",
    "was": "were",
}
_SWAP_TOKEN = re.compile(
    r"\b(" + "|".join(re.escape(k) for k in sorted(_SWAP, key=len, reverse=True)) + r")\b", re.I
)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(normalise(text)) if s.strip(" .!?")]


def second_person(clause: str) -> str:
    """``"I hate my commute"`` → ``"you hate your commute"`` (only first-person words change)."""

    def swap(match: re.Match[str]) -> str:
        token = match.group(0)
        lowered = token.lower()
        # "was"/"am" only change after "I" ("I was" → "you were"; "it was" stays).
        if lowered in ("am", "was"):
            before = clause[: match.start()].rstrip().lower()
            if not (before.endswith(" i") or before == "i"):
                return token
        return _SWAP[lowered]

    return _SWAP_TOKEN.sub(swap, clause)


def clip_words(text: str, limit: int) -> str:
    parts = text.split()
    if len(parts) <= limit:
        return text
    return " ".join(parts[:limit]).rstrip(",;:") + "…"


def strip_end(text: str) -> str:
    return text.strip().rstrip(".!?;:,").strip()


def lower_first(text: str) -> str:
    if not text:
        return text
    first = text.split(" ", 1)[0]
    if first in ("I", "I'm", "I've", "I'll", "I'd") or (len(first) > 1 and first.isupper()):
        return text
    return text[0].lower() + text[1:]


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def pick(options: Sequence[str], *seed: str) -> str:
    """A deterministic choice: the same input always gets the same phrasing."""
    return options[zlib.crc32("\x1f".join(seed).encode()) % len(options)]


def tokens_for_stream(text: str) -> list[str]:
    """Split a reply into word-sized pieces (whitespace kept) to stream like a model does."""
    return re.findall(r"\S+\s*|\s+", text)


_CLAUSE_LEAD = re.compile(
    r"^(?:and|but|so|also|plus|honestly|basically|well|oh|ok|okay|lately|recently|today|right now|these days"
    r"|tbh|btw|anyway|actually|yeah|yes|no|ugh|hmm|i think|i guess)\b[ ,]*",
    re.I,
)
_CLAUSE_SPLIT = re.compile(
    r"\s*(?:;|:|\s-\s|—|–)\s*|,?\s+(?:but|although|though|whereas)\s+|,?\s+and\s+(?=(?:i|my)\b)|,\s+(?=(?:i|my)\b)",
    re.I,
)


def clauses(message: str) -> list[str]:
    """First-person-or-not clauses, cleaned, in order; questions are dropped."""
    out: list[str] = []
    for sentence in sentences(message):
        if sentence.rstrip().endswith("?"):
            continue
        parts = [strip_end(p) for p in _CLAUSE_SPLIT.split(strip_end(sentence))]
        merged: list[str] = []
        for part in parts:  # "My partner and I keep arguing": a bare noun phrase is a subject, not a clause
            if merged and re.fullmatch(r"(?:my|our|the)\s+[\w'-]+", merged[-1], re.I):
                merged[-1] = f"{merged[-1]} and {part}"
            else:
                merged.append(part)
        for part in merged:
            clause = strip_end(part)
            previous = None
            while clause and clause != previous:
                previous = clause
                clause = _CLAUSE_LEAD.sub("", clause).strip(" ,")
            if len(words(clause)) >= 2:
                out.append(clause)
    return out
