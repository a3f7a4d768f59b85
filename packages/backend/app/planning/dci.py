"""The Daily Consistency Index over a window of local days ending at ``end``.

``DCI = 0.35·min(streak/30, 1) + 0.35·completion_rate + 0.20·engagement_depth + 0.10·nudge_response``,
every term clamped to [0, 1] and every empty denominator giving 0:

- streak: the overall streak at the end of the window (a live view counts a streak still alive
  from yesterday; a closed day counts only a run that includes it);
- completion_rate: completions ÷ (completions + deferrals + abandonments) in the window;
- engagement_depth: share of the window's completing sessions with notes or a reflection, or with
  actual minutes ≥ the estimate;
- nudge_response: share of the window's days with a triad on which a mission the triad offered
  was completed. Delight has no nudge system yet; the daily triad is the nudge the user gets, so
  this measures answering it. Nudges (spec §6) can replace or join this when they exist.

The DCI is shown only after ``MIN_ACTIVE_DAYS`` distinct days with mission activity (a start,
completion, deferral or abandonment).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import date, timedelta
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


async def compute(session: AsyncSession, user_id: uuid.UUID, end: date, days: int, *, live: bool) -> DciTerms:
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

    triads = await repository.triads_between(session, user_id, first, end)
    completed = await repository.completed_missions_by_day(session, user_id, first, end)
    answered = sum(
        1
        for triad in triads
        if any((triad.local_date, mission) in completed for mission in triad.offered_mission_ids)
    )
    nudge_response = ratio(answered, len(triads))

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
            "triad_days": len(triads),
            "triad_days_answered": answered,
        },
    )
