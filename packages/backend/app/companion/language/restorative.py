"""Restorative activities: what a user may say recharges them (walks, music, a bath, ...)."""

from __future__ import annotations

import re

_RESTORATIVE = re.compile(
    r"\b(?:walk\w*|hik\w*|read\w*|books?|music|bath\w*|yoga|meditat\w*|tea|naps?|napping|run\w*|jog\w*"
    r"|swim\w*|stretch\w*|journal\w*|draw\w*|paint\w*|garden\w*|cook\w*|bak\w*|games?|gaming|friends?"
    r"|podcasts?|nature|dogs?|cats?|guitar|piano|knit\w*|sauna|cycling|bike|dance|dancing|movies?|films?)\b",
    re.I,
)


def is_restorative(text: str) -> bool:
    """Whether ``text`` names a restorative activity."""
    return bool(_RESTORATIVE.search(text))
