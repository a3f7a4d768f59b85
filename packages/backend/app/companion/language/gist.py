"""Saying back what the user said in the companion's own words.

Eliza never parrots: greetings and her own name are not part of what the user said, a message is
never quoted whole, and what the user is carrying is restated briefly, in the second person
("My thesis is due in three weeks" → "your thesis, due in three weeks"; "I'm worried about rent" →
"worrying about rent"). Every area of life the user names as a worry (work, family, health, money,
relationships) becomes one ``Topic`` so the reply can acknowledge each of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.companion.language.emotion import NEGATIVE, detect_emotion
from app.companion.language.text import clauses, second_person, strip_end
from app.companion.language.topics import CATEGORIES, STRESS, Category
from app.kit.text import normalise, words

COMPANION_NAME = "Eliza"
MAX_PHRASE_WORDS = 7  # counting "mother-in-law" as three: a restatement never runs long

_GREETING = r"(?:hi+|hello|hey+|hiya|heya|yo|howdy|good (?:morning|afternoon|evening|night)|morning|evening)"
# "Hi Eliza,", "Hey there!", "Good morning, Eliza." at the start; "Eliza," as a vocative anywhere.
_ADDRESS = re.compile(
    rf"^\s*(?:{_GREETING}\b(?:\s*,?\s*(?:{COMPANION_NAME}|there|again|you))?|{COMPANION_NAME})\s*[,.!:;—–-]*\s*",
    re.I,
)
_VOCATIVE = re.compile(rf"(?:,\s*{COMPANION_NAME}\b|\b{COMPANION_NAME}\s*,\s*)", re.I)
_NAMED = re.compile(rf"\b{COMPANION_NAME}\b", re.I)


def greets(message: str) -> bool:
    """Whether the message opens with a greeting ("Hi Eliza, ...")."""
    return bool(re.match(rf"^\s*{_GREETING}\b", normalise(message), re.I))


def names_companion(message: str) -> bool:
    return bool(_NAMED.search(message))


def without_address(message: str) -> str:
    """The message without its opening greeting and without Eliza's name."""
    text = normalise(message)
    previous = None
    while text != previous:
        previous = text
        text = _ADDRESS.sub("", text, count=1)
    text = _VOCATIVE.sub(" ", text)
    return re.sub(r"\s{2,}", " ", text).strip()


# --- phrasing ---------------------------------------------------------------------------------

_FILLER = re.compile(
    r"\b(?:really|so|very|super|totally|completely|extremely|incredibly|kind of|kinda|sort of|pretty"
    r"|literally|basically|honestly|just|actually)\s+",
    re.I,
)
_LEAD = re.compile(
    r"^(?:and|also|plus|but|so|then|on top of (?:that|this|it all)|oh and|and also|i think|i guess"
    r"|i feel like|honestly|to be honest)\b[ ,]*",
    re.I,
)
_NOUN_SUBJECT = (
    r"(?:(?:my|our|the|his|her|their)\s+(?:[\w'-]+\s+){0,2}?[\w'-]+"
    r"|money|work|rent|school|uni|college|everything at work|things at (?:work|home)|the bills|bills)"
)
_SUBJECT = rf"(?P<s>{_NOUN_SUBJECT})"
_LOSS = re.compile(rf"^{_SUBJECT}\s+(?:has\s+|just\s+)?(?:passed away|died|passed)\b.*$", re.I)
_DUE = re.compile(rf"^{_SUBJECT}\s+(?:is|are|'s|was)\s+(?P<due>(?:over)?due\s+\S.*)$", re.I)
_BREAKUP = re.compile(
    r"^(?:(?:my|our) [\w'-]+ (?:broke up with me|left me|dumped me|ended it|ended things)|we broke up"
    r"|i broke up with\b|i got dumped)\b",
    re.I,
)
_FIGHT = re.compile(
    r"^i (?:had|got into|just had) (?:a|an) (?:[\w-]+ )?(?P<what>fight|argument|row|falling out|blow-up)"
    r" with (?P<x>.+)$",
    re.I,
)
_TO_DO = re.compile(
    r"\b(?:everything|all the (?:things|stuff)|so much|a million things) (?:that )?(?:i|i've)"
    r" (?:have|got|need)(?: got)? to do(?P<when> tomorrow| today| tonight| this week)?",
    re.I,
)
_WORRIED_ABOUT = re.compile(
    r"^(?:i(?:'m| am)|i(?:'ve| have) been|i feel|i keep)\s+(?:getting\s+)?"
    r"(?P<feeling>worried|worrying|anxious|nervous|scared|afraid|terrified|panicking|freaking out|stressed"
    r"|stressing|upset|frustrated|angry|mad|sad|heartbroken)\s+(?:about|over|because of|with|by|at|for)\s+"
    r"(?P<x>.+)$",
    re.I,
)
_CANT_AFFORD = re.compile(r"^i (?:can'?t|cannot|couldn'?t) afford (?P<x>.+)$", re.I)
_LOST_JOB = re.compile(
    r"^i (?:just )?(?:lost my job|got (?:laid off|fired|let go)|was (?:laid off|fired|let go))\b"
    r"(?P<rest>.*)$",
    re.I,
)
_BEHIND = re.compile(r"^i(?:'m| am) (?:falling )?behind (?:on|with) (?P<x>.+)$", re.I)
_PUTTING_OFF = re.compile(
    r"^i (?:keep |have been |'ve been |am |'m )?(?:procrastinating on|putting off|avoiding) (?P<x>.+)$", re.I
)
_FEEL = re.compile(r"^i(?:'m| am|'ve been| have been)? (?:feel|feeling)\s+(?P<x>(?!like\b).+)$", re.I)
_KEEP_DOING = re.compile(
    rf"^(?P<s>(?:my|our)\s+[\w'-]+\s+and\s+i|we|{_NOUN_SUBJECT})\s+keeps?\s+(?:on\s+)?(?P<g>\w+ing)\b(?P<rest>.*)$",
    re.I,
)
_HAVE = re.compile(r"^i(?: have|'ve got| have got| got) (?P<x>.+)$", re.I)
_CANT = re.compile(
    r"^i (?:can'?t|cannot) (?P<x>sleep|focus|cope|concentrate|relax|switch off|keep up)\b(?P<rest>.*)$", re.I
)
_SUBJECT_VERB = re.compile(
    rf"^{_SUBJECT}\s+(?P<v>(?:is|are|was|were|'s|has been|have been|keeps?|won'?t|doesn'?t|don'?t|isn'?t"
    r"|aren'?t|can'?t|got|went|needs?|seems?|feels?|hurts?|lost|left|broke|yelled|cancell?ed|moved|passed"
    r"|fell|failed|wants?|refuses?|expects?)\b.*)$",
    re.I,
)
_WORRY_NOUN = {
    "stressed": "the stress of",
    "stressing": "the stress of",
    "upset": "being upset about",
    "frustrated": "frustration with",
    "angry": "frustration with",
    "mad": "frustration with",
    "sad": "sadness about",
    "heartbroken": "heartbreak over",
}


def _clean(clause: str) -> str:
    text = strip_end(normalise(clause))
    previous = None
    while text != previous:
        previous = text
        text = _LEAD.sub("", text).strip(" ,")
    return _FILLER.sub("", text).strip()


_TRAILING_TIME = re.compile(
    r"\s+(?:(?:next|last|this) (?:week|month|year|night|weekend|morning)|again|anymore|tomorrow|today"
    r"|tonight|yesterday|lately|recently|(?:by|on|before|until) [\w' ]{1,20}|in days|all (?:week|day))$",
    re.I,
)


def _count(text: str) -> int:
    return len(re.findall(r"[a-z0-9']+", text.lower()))


def brief(text: str, limit: int = MAX_PHRASE_WORDS) -> str | None:
    """``text`` if it is brief, else without its trailing time phrase if that makes it brief."""
    text = strip_end(text)
    while text and _count(text) > limit:
        shorter = _TRAILING_TIME.sub("", text)
        if shorter == text:
            return None
        text = shorter
    return text or None


def _yours(text: str) -> str:
    mirrored = second_person(text[:1].lower() + text[1:] if not re.match(r"^I\b", text) else text)
    return re.sub(r"^(your [\w'-]+) and you\b", r"you and \1", mirrored)


def in_my_words(clause: str) -> str | None:
    """A short restatement of one clause the user wrote, in the second person, or ``None`` when
    it cannot be said briefly (the reply then names the topic instead)."""
    text = _clean(clause)
    if not text:
        return None
    if _BREAKUP.match(text):
        return "the breakup"
    if match := _FIGHT.match(text):
        return brief(f"the {match.group('what').lower()} with {_yours(match.group('x'))}")
    if match := _LOSS.match(text):
        return brief(f"losing {_yours(match.group('s'))}")
    if match := _DUE.match(text):
        return brief(f"{_yours(match.group('s'))}, {match.group('due')}")
    if match := _WORRIED_ABOUT.match(text):
        feeling = match.group("feeling").lower()
        lead = _WORRY_NOUN.get(feeling, "worrying about")
        return brief(f"{lead} {_yours(match.group('x'))}")
    if match := _CANT_AFFORD.match(text):
        return brief(f"not being able to afford {_yours(match.group('x'))}")
    if match := _LOST_JOB.match(text):
        return brief("losing your job" + _yours(match.group("rest")))
    if match := _BEHIND.match(text):
        return brief(f"being behind on {_yours(match.group('x'))}")
    if match := _CANT.match(text):
        return brief(f"not being able to {match.group('x').lower()}{_yours(match.group('rest'))}")
    if match := _PUTTING_OFF.match(text):
        return brief(f"putting off {_yours(match.group('x'))}")
    if match := _FEEL.match(text):
        return brief(f"feeling {_yours(match.group('x'))}")
    if match := _KEEP_DOING.match(text):
        who, doing, rest = match.group("s"), match.group("g").lower(), _yours(match.group("rest"))
        together = re.match(r"^(my [\w'-]+) and i$", who, re.I)
        if together:
            return brief(f"{doing} with {_yours(together.group(1))}{rest}")
        return brief(f"{_yours(who)} {doing}{rest}")
    if match := _HAVE.match(text):
        return brief(f"you have {_yours(match.group('x'))}")
    if match := _SUBJECT_VERB.match(text):
        return brief(f"{_yours(match.group('s'))} {_yours(match.group('v'))}")
    if re.match(r"^(?:i|i'm|i've|i'd|my)\b", text, re.I):
        return brief(_yours(text))
    return None


# --- topics -----------------------------------------------------------------------------------

# Words that say a clause is trouble even without a feeling word ("my boss is a nightmare").
_TROUBLE = re.compile(
    r"\b(?:nightmare|tight|behind|sick|ill|worse|pain|hurts?|broke|broken|fight\w*|argu\w*|crazy|mess"
    r"|lost|late|overdue|piling|struggl\w*|hard|difficult|tough|awful|terrible|horrible|falling apart"
    r"|cancel\w*|hospital|diagnos\w*|surgery|won'?t stop|keeps? \w+ing|yell\w*|ignor\w*|cheat\w*"
    r"|drinking|toxic|unfair|rejected|failed|failing|no money|out of money|can'?t pay|owe|debt\w*"
    r"|leaving me|left me|moved out|passed away|died|dying|cancer|fired|laid off|let go|pressure"
    r"|too much|too many|so much|breaking down|exhausting|draining|scary|frightening|brutal|rough"
    r"|(?:haven'?t|hardly|barely|not) (?:slept|sleeping|eaten|eating)|can'?t (?:focus|concentrate|think)"
    r"|moved away|moving away|procrastinat\w*|putting (?:it|this|that) off|avoiding"
    r"|(?:isn'?t|is not|aren'?t|not|won'?t|stopped) (?:talking|speaking|replying|answering)|ignor\w+|ghost\w*"
    r"|(?:mad|angry|upset) (?:at|with) me|hates? me|injur\w*|headaches?|migraines?|symptoms?|loans?|owe|debt"
    r"|can'?t \w+ anymore|running out|run out|out of (?:money|cash|time|runway)|rejected|burn(?:ing|ed|t) out"
    r"|by (?:mon|tues|wednes|thurs|fri|satur|sun)day|by tomorrow|by tonight|by the end of|disaster)\b",
    re.I,
)
_NEGATED = re.compile(r"\b(?:not|no longer|never|isn'?t|aren'?t|wasn'?t)\s+(?:\w+\s+){0,1}$", re.I)
_PARTS = re.compile(r",?\s+and\s+(?!i\b)|,\s+", re.I)
# The person or thing a category keyword names, as the companion says it.
_PEOPLE = re.compile(
    r"\b(?:my|our)\s+(?P<who>mom|mum|dad|mother|father|parents|kids?|children|son|daughter|sister|brother"
    r"|family|grandm\w+|grandp\w+|grandparents|baby|in-laws|toddler|siblings?|partner|girlfriend|boyfriend"
    r"|wife|husband|friends?|best friend|roommates?|ex|boss|manager|team|clients?|colleagues?|co-?workers?"
    r"|landlord|doctor)\b",
    re.I,
)


@dataclass(frozen=True)
class Topic:
    """One thing the user named as a worry."""

    category: Category  # the first area of life it names
    phrase: str  # in the companion's words, second person ("your thesis, due in three weeks")
    subject: str  # what it is about, as a noun phrase ("your thesis", "money", "your mom")


def _category(text: str) -> tuple[Category, re.Match[str]] | None:
    best: tuple[int, Category, re.Match[str]] | None = None
    for category, pattern in CATEGORIES:
        match = pattern.search(text)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), category, match)
    return (best[1], best[2]) if best else None


def _is_worry(clause: str, message_is_negative: bool) -> bool:
    lowered = clause.lower()
    feeling = detect_emotion(clause)
    if feeling.emotion in ("joy", "calm") and feeling.intensity >= 0.3:
        return False  # "my family has been great"
    for cue in (STRESS, _TROUBLE):
        match = cue.search(lowered)
        if match and not _NEGATED.search(lowered[max(0, match.start() - 20) : match.start()]):
            return True
    return feeling.is_negative or message_is_negative


def _subject(clause: str, keyword: re.Match[str]) -> str:
    person = _PEOPLE.search(clause)
    if person:
        return f"your {person.group('who').lower()}"
    match = re.search(rf"\b(?:my|our|the)\s+(?:[\w'-]+\s+)?{re.escape(keyword.group(0))}\b", clause, re.I)
    if match:
        return _yours(re.sub(r"^our\b", "my", match.group(0), flags=re.I))
    return keyword.group(0).lower()


def _noun_phrase(part: str) -> str | None:
    """A short part without a verb ("the hospital bills") is already a name for the worry."""
    text = _clean(part)
    if _count(text) > 5 or not re.match(r"^(?:my|our|the|his|her|their)\b", text, re.I):
        return None
    return None if _VERB.search(text) else _yours(text)


def _bare_keyword(part: str, keyword: re.Match[str]) -> str | None:
    """A list item that is just the area ("work, money, my marriage")."""
    return keyword.group(0).lower() if _clean(part).lower() == keyword.group(0).lower() else None


_VERB = re.compile(r"\b(?:is|are|was|were|has|have|had|be|been|do|does|did|can|will|keeps?|\w+ed)\b", re.I)


# When restating would repeat the whole message, the worry is named by its area instead.
def _named_by_area(category: Category, subject: str) -> str:
    person = subject if subject.startswith("your ") else None
    if category == "family" or (category == "relationships" and person):
        return f"what's happening with {person}" if person else "what's happening at home"
    return {
        "money": "money stress like this",
        "health": "health worries like this",
        "work": "pressure like this at work",
        "relationships": "feeling this way about the people close to you",
    }.get(category, subject)


_ALSO: dict[Category, str] = {
    "money": " and the money side of it",
    "health": " and your health",
    "work": " and work",
    "family": " and your family",
    "relationships": " and the people close to you",
}


def _also(part: str, category: Category) -> str:
    """The other areas a part names, when it is named by its first area ("… with your dad and the
    money side of it")."""
    others = [c for c, pattern in CATEGORIES if c != category and pattern.search(part)]
    return "".join(_ALSO[c] for c in others[:1])


def stressors(message: str) -> list[Topic]:
    """Every worry the message names, in order (at most four)."""
    text = without_address(message)
    negative = detect_emotion(text).emotion in NEGATIVE
    whole = len(words(text))
    found: list[Topic] = []
    for clause in clauses(text):
        parts = [p for p in _PARTS.split(clause) if words(p)]
        # "I lost my job and the bills keep piling up": each part names its own worry.
        for part in parts:
            hit = _category(part)
            if hit is None or not _is_worry(part, negative):
                continue
            category, keyword = hit
            subject = _subject(part, keyword)
            if any(t.subject == subject for t in found):
                continue
            phrase = (
                in_my_words(part)
                or _noun_phrase(part)
                or _bare_keyword(part, keyword)
                or brief(_yours(_clean(part)))
            )
            if phrase is None or (whole >= 5 and len(words(phrase)) >= whole):  # it would be the message
                phrase = _named_by_area(category, subject) + _also(part, category)
            found.append(Topic(category, phrase, subject))
    to_do = _TO_DO.search(text)
    if to_do and not found:
        when = to_do.group("when") or ""
        found.append(Topic("other", f"everything on your list{' for' + when if when else ''}", "your list"))
    return found[:4]


def listing(phrases: list[str]) -> str:
    """``a``; ``a, plus b``; ``a, b, plus c`` (never the user's own "and", so no long echo)."""
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + ", plus " + phrases[-1]
