"""What a message is about: the life areas people name when they are stressed (work, family,
health, money, relationships) and the cues that say something is a worry. Shared by memory
formation (a stressor's category) and the reply (acknowledging every stressor named)."""

from __future__ import annotations

import re
from typing import Literal

Category = Literal["work", "family", "health", "money", "relationships", "other"]

STRESS = re.compile(
    r"\b(?:stress\w*|worr(?:y|ied|ying)|anxious|anxiety|overwhelm\w*|struggl\w*|behind on|can'?t afford|"
    r"afraid|scared|terrified|nervous|pressure|deadlines?|debts?|bills|rent|sick|ill|pain|diagnos\w*|"
    r"fight(?:ing)? with|argu\w+|break ?up|divorce|lonely|conflict|laid off|layoffs?|fired|unemployed|"
    r"exams?|burn(?:ed|t)? ?out|panic\w*|dread\w*|freaking out|killing me|too much|swamped|drowning|"
    r"falling behind|can'?t cope|can'?t sleep|insomnia|frustrat\w*|upset|surgery|operation|hospital|"
    r"due (?:in|on|by|tomorrow|next|this)|passed away|died|funeral|griev\w*|grief|crushing|"
    r"lost my (?:job|client|clients|income|home|apartment|flat|house)|"
    r"(?:money|cash|budget) (?:is|has been|'s) (?:\w+ )?tight|short on (?:money|cash))\b",
    re.I,
)
CATEGORIES: list[tuple[Category, re.Pattern[str]]] = [
    (
        "money",
        re.compile(
            r"\b(?:money|rent|bills?|debts?|loans?|mortgage|afford|salary|broke|savings|budget|financ\w*|"
            r"expensive|credit card|tax return|taxes|tax|paycheck)\b",
            re.I,
        ),
    ),
    (
        "health",
        re.compile(
            r"\b(?:health|sick|ill|illness|pain|doctor|diagnos\w*|sleep|slept|sleeping|insomnia|injur\w*|surgery"
            r"|weight|therapy|therapist|hospital|headaches?|migraines?|back|knee|blood|medication|symptoms?"
            r"|panic attacks?)\b",
            re.I,
        ),
    ),
    (
        "family",
        re.compile(
            r"\b(?:mom|mum|dad|mother|father|parents?|kids?|children|son|daughter|sister|brother|family|"
            r"grandm\w+|grandp\w+|grandparents?|baby|in-laws|toddler|siblings?)\b",
            re.I,
        ),
    ),
    (
        "relationships",
        re.compile(
            r"\b(?:partner|girlfriend|boyfriend|wife|husband|friends?|friendship|relationship|break ?up|"
            r"divorce|dating|marriage|lonely|roommates?|ex)\b",
            re.I,
        ),
    ),
    (
        "work",
        re.compile(
            r"\b(?:work|job|boss|manager|deadlines?|projects?|clients?|meetings?|career|office|colleagues?|"
            r"co-?workers?|startup|investors?|launch|promotion|layoffs?|laid off|fired|unemployed|interview|"
            r"thesis|exams?|study|studies|class(?:es)?|school|university|college|grades?|homework|courses?|"
            r"presentation|team|company|business|shifts?|customers?|fundraising|runway|grading|students|"
            r"patients|workload|performance review|promotion)\b",
            re.I,
        ),
    ),
]


def category_of(text: str) -> Category:
    """The stressor's category: from its cause when stated ("... because of the layoffs"), else the
    first topic mentioned."""
    cause = re.search(r"\b(?:because of|because|about|over|due to|with)\b(.+)", text, re.I)
    for part in ((cause.group(1),) if cause else ()) + (text,):
        best: tuple[int, Category] | None = None
        for category, pattern in CATEGORIES:
            match = pattern.search(part)
            if match and (best is None or match.start() < best[0]):
                best = (match.start(), category)
        if best:
            return best[1]
    return "other"
