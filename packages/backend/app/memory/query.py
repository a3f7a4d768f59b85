"""What a recall query asks for, lexically: its search terms, each with a weight.

Pure text handling (no database, no knowledge of any data set); PostgreSQL turns each term into a
``tsquery`` with the same English configuration as ``memories.content_tsv`` (repository).

- **Quoted phrases** ("...", '...', “...”): the phrase itself must match in order (a phrase term,
  weighted up), and its words count on their own as well.
- **Dates**: "12 April", "April 12th", "the 3rd of March", "2026-04-12", "12/04": the month (full
  name, whatever the spelling) and the day in both forms PostgreSQL indexes ("12" and "12th").
- **Names**: capitalised words that do not start a sentence are weighted up: a name is what a
  keyword search is best at (a sentence's first word may be anything, so it counts as a word).
- **Stop words**: function and question words are dropped (here, and PostgreSQL's English list
  drops what remains of its own); so are the conversational words a question is wrapped in
  ("remember", "tell me", "mention", "happen", ...): they say nothing about the memory looked for.
- **Focus words**: the word right after a question word ("which *instrument*", "what *food*",
  "how *old*") names the kind of answer, which the answer itself rarely contains ("cello", "shellfish",
  "seven"): it is weighted down, and the semantic side carries it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from app.kit.text import STOP_WORDS

# Weights of the kinds of term (BM25 sums idf x weight; 1 is a plain word).
NAME_WEIGHT = 1.5
DATE_WEIGHT = 1.5
PHRASE_WEIGHT = 2.0
ANSWER_TYPE_WEIGHT = 0.3
MAX_TERMS = 32

MONTHS = {
    "jan": "january",
    "feb": "february",
    "mar": "march",
    "apr": "april",
    "may": "may",
    "jun": "june",
    "jul": "july",
    "aug": "august",
    "sep": "september",
    "sept": "september",
    "oct": "october",
    "nov": "november",
    "dec": "december",
}
MONTH_NAMES = frozenset(MONTHS.values())
WEEKDAYS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday".split()  # noqa: SIM905
)
QUESTION_WORDS = frozenset("what which who whom whose when where why how".split())  # noqa: SIM905
# Words a question is wrapped in that describe the asking, not the memory asked about.
CONVERSATIONAL = frozenset(
    """remember remembered recall recalled tell telling told say said saying mention mentioned
    talk talked talking know knew think thought happen happens happened happening thing things
    anything something stuff ever again please eliza you""".split()  # noqa: SIM905
)
_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”|‘([^’]+)’|(?<![\w])'([^']+)'(?![\w])")
_ORDINAL = r"(\d{1,2})(?:st|nd|rd|th)?"
_MONTH = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY_MONTH = re.compile(rf"\b{_ORDINAL}\s+(?:of\s+)?{_MONTH}\b", re.IGNORECASE)
_MONTH_DAY = re.compile(rf"\b{_MONTH}\s+(?:the\s+)?{_ORDINAL}\b(?!\s*:)", re.IGNORECASE)
_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_NUMERIC = re.compile(r"\b(\d{1,2})/(\d{1,2})(?:/\d{2,4})?\b")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
_MONTH_LIST = list(dict.fromkeys(MONTHS.values()))


class TermKind(StrEnum):
    word = "word"  # plainto_tsquery('english', text): stemmed, stop words dropped
    phrase = "phrase"  # phraseto_tsquery('english', text): the words in this order
    raw = "raw"  # to_tsquery('simple', text): already in tsquery syntax (date days)


@dataclass(frozen=True)
class Term:
    text: str
    kind: TermKind
    weight: float


@dataclass(frozen=True)
class QueryPlan:
    terms: tuple[Term, ...]

    @property
    def any_words(self) -> str:
        """``to_tsquery('english', ...)`` text matching a memory with any term (the candidate scan)."""
        words: list[str] = []
        for term in self.terms:
            if term.kind is TermKind.raw:
                words.extend(w for w in re.findall(r"\w+", term.text) if w)
            else:
                words.extend(_WORD.findall(term.text))
        cleaned = [re.sub(r"\W", "", w) for w in words]
        return " | ".join(dict.fromkeys(w for w in cleaned if w))


def _month(token: str) -> str:
    return MONTHS[token.lower()[:3]]


def _day_term(day: str) -> Term | None:
    number = int(day)
    if not 1 <= number <= 31:
        return None
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return Term(f"{number} | {number}{suffix}", TermKind.raw, DATE_WEIGHT)


def _dates(text: str) -> tuple[list[Term], str]:
    """Date terms, and the text with the dates taken out (so their parts are not counted twice)."""
    terms: list[Term] = []

    def add(day: str, month: str) -> str:
        day_term = _day_term(day)
        if day_term is not None:
            terms.append(day_term)
        terms.append(Term(month, TermKind.word, DATE_WEIGHT))
        return " "

    def numeric(day: str, month: str, original: str) -> str:
        return add(day, _MONTH_LIST[int(month) - 1]) if 1 <= int(month) <= 12 else original

    text = _ISO.sub(lambda m: numeric(m.group(3), m.group(2), m.group(0)), text)
    text = _NUMERIC.sub(lambda m: numeric(m.group(1), m.group(2), m.group(0)), text)
    text = _DAY_MONTH.sub(lambda m: add(m.group(1), _month(m.group(2))), text)
    text = _MONTH_DAY.sub(lambda m: add(m.group(2), _month(m.group(1))), text)
    return terms, text


def analyse(query: str) -> QueryPlan:
    """The weighted search terms of ``query`` (see the module docstring)."""
    terms: list[Term] = []
    rest = query
    for match in _QUOTED.finditer(query):
        phrase = next(g for g in match.groups() if g)
        if len(_WORD.findall(phrase)) > 1:
            terms.append(Term(phrase, TermKind.phrase, PHRASE_WEIGHT))
    rest = _QUOTED.sub(lambda m: " " + next(g for g in m.groups() if g) + " ", rest)
    date_terms, rest = _dates(rest)
    terms.extend(date_terms)
    # Sentence starts: the first word of the query and of every sentence in it.
    starts = {0} | {m.end() for m in re.finditer(r"[.!?]\s+", rest)}
    previous: str | None = None
    for match in _WORD.finditer(rest):
        word = match.group(0)
        lower = word.lower().replace("’", "'")
        if lower.endswith("'s"):
            lower = lower[:-2]
            word = word[:-2]
        if not lower or lower in CONVERSATIONAL or lower in STOP_WORDS or lower in QUESTION_WORDS:
            previous = lower
            continue
        weight = 1.0
        starts_sentence = match.start() in starts or previous is None
        if word[0].isupper() and not starts_sentence and lower not in MONTH_NAMES | WEEKDAYS:
            weight = NAME_WEIGHT
        elif previous in QUESTION_WORDS:
            weight = ANSWER_TYPE_WEIGHT
        terms.append(Term(word, TermKind.word, weight))
        previous = lower
    merged: dict[tuple[str, TermKind], Term] = {}
    for term in terms:
        key = (term.text.lower(), term.kind)
        if key not in merged or merged[key].weight < term.weight:
            merged[key] = term
    return QueryPlan(tuple(list(merged.values())[:MAX_TERMS]))
