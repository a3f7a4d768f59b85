"""The Daily Consistency Index over a window of local days ending at ``end``.

``DCI = 0.35·min(streak/30, 1) + 0.35·completion_rate + 0.20·engagement_depth + 0.10·nudge_response``,
every term clamped to [0, 1] and every empty denominator giving 0:

- streak: the overall streak at the end of the window (a live view counts a streak still alive
  from yesterday; a closed day counts only a run that includes it);
- completion_rate: completions ÷ (completions + deferrals + abandonments) in the window;
- engagement_depth: share of the window's completing sessions with notes or a reflection, or with
  actual minutes ≥ the estimate;
- nudge_response: share of the notes Delight sent in the window (nudges, streak and triad notes,
  every channel) that were followed by activity within 24 h. A note sent less than 24 h before
  ``now`` and not yet followed is not counted either way; with no note to answer the term is 1
  (a user who needed no nudge is not marked down for it). The nudges domain keeps the notes and
  registers the count (``nudge_response_source``), so planning never imports it.

The DCI is shown only after ``MIN_ACTIVE_DAYS`` distinct days with mission activity (a start,
completion, deferral or abandonment).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.numbers import clamp
from app.planning.repository import progress as repository
from app.planning.streaks import run_length

WEIGHTS: Final = {"streak": 0.35, "completion_rate": 0.35, "engagement_depth": 0.20, "nudge_response": 0.10}
STREAK_TARGET_DAYS: Final = 30
MIN_ACTIVE_DAYS: Final = 7
SNAPSHOT_WINDOW_DAYS: Final = 7
STREAK_LOOKBACK_DAYS: Final = 400


def ratio(part: int, whole: int) -> float:
    return clamp(part / whole) if whole > 0 else 0.0


# (session, user_id, first day, last day, now) -> (notes followed by activity within 24 h, notes decided)
NudgeResponseSource = Callable[[AsyncSession, uuid.UUID, date, date, datetime], Awaitable[tuple[int, int]]]
_NUDGE_RESPONSES: list[NudgeResponseSource] = []


def nudge_response_source(source: NudgeResponseSource) -> NudgeResponseSource:
    """Register where the notes sent to a user and their responses are counted (the nudges domain)."""
    if _NUDGE_RESPONSES and _NUDGE_RESPONSES[0] is not source:
        raise RuntimeError("a nudge response source is already registered")
    _NUDGE_RESPONSES[:] = [source]
    return source


async def nudge_responses(
    session: AsyncSession, user_id: uuid.UUID, first: date, end: date, now: datetime
) -> tuple[int, int]:
    if not _NUDGE_RESPONSES:
        raise RuntimeError("no nudge response source registered (app.nudges is not loaded)")
    return await _NUDGE_RESPONSES[0](session, user_id, first, end, now)


@dataclass(frozen=True)
class DciTerms:
    streak: int
    streak_term: float
    completion_rate: float
    engagement_depth: float
    nudge_response: float
    dci: float
    counts: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def combine(streak: int, completion_rate: float, engagement_depth: float, nudge_response: float) -> float:
    streak_term = clamp(streak / STREAK_TARGET_DAYS)
    value = (
        WEIGHTS["streak"] * streak_term
        + WEIGHTS["completion_rate"] * clamp(completion_rate)
        + WEIGHTS["engagement_depth"] * clamp(engagement_depth)
        + WEIGHTS["nudge_response"] * clamp(nudge_response)
    )
    return round(clamp(value), 4)


async def compute(
    session: AsyncSession, user_id: uuid.UUID, end: date, days: int, *, live: bool, now: datetime
) -> DciTerms:
    first = end - timedelta(days=days - 1)
    completion_days = await repository.completion_dates(
        session, user_id, end - timedelta(days=STREAK_LOOKBACK_DAYS), end
    )
    streak = run_length(completion_days, end, alive_from_yesterday=live)

    events = await repository.event_counts(session, user_id, first, end)
    finished = events["completed"] + events["deferred"] + events["abandoned"]
    completion_rate = ratio(events["completed"], finished)

    sessions = await repository.completed_sessions(session, user_id, first, end)
    deep = sum(
        1
        for notes, reflection, actual, estimate in sessions
        if (notes and notes.strip()) or (reflection and reflection.strip()) or (actual or 0) >= estimate
    )
    engagement_depth = ratio(deep, len(sessions))

    followed, decided = await nudge_responses(session, user_id, first, end, now)
    # No note to answer: full marks if the user kept going on their own, nothing if idle.
    kept_going = 1.0 if finished or sessions else 0.0
    nudge_response = ratio(followed, decided) if decided else kept_going

    return DciTerms(
        streak=streak,
        streak_term=round(clamp(streak / STREAK_TARGET_DAYS), 4),
        completion_rate=round(completion_rate, 4),
        engagement_depth=round(engagement_depth, 4),
        nudge_response=round(nudge_response, 4),
        dci=combine(streak, completion_rate, engagement_depth, nudge_response),
        counts={
            "completed": events["completed"],
            "deferred": events["deferred"],
            "abandoned": events["abandoned"],
            "completed_sessions": len(sessions),
            "deep_sessions": deep,
            "nudges": decided,
            "nudges_followed": followed,
        },
    )
