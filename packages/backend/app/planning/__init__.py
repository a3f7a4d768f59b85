"""Planning: goals and their decomposition, missions and their sessions, the daily triad, Essence,
streaks, the Daily Consistency Index and the nightly run (docs/goals.md).

One domain because they share tables, statuses (``app.models.enums``) and one lock order
(``planning/locks.py``). Layout: ``api/`` (routes), ``schemas/`` (bodies), ``repository/`` (every
query), and one module per capability. What other domains may use is exported here; nothing
outside this package imports its modules.
"""

from app.planning.api import goals_router, missions_router, progress_router
from app.planning.companion_view import CompanionGoalContext, GoalSummary, MissionSummary, companion_context
from app.planning.dci import nudge_response_source
from app.planning.nudge_view import (
    MissionBrief,
    PlanHighlights,
    StreakStanding,
    plan_highlights,
    streak_standings,
)
from app.planning.tasks import JOBS

__all__ = [
    "JOBS",
    "CompanionGoalContext",
    "GoalSummary",
    "MissionBrief",
    "MissionSummary",
    "PlanHighlights",
    "StreakStanding",
    "companion_context",
    "goals_router",
    "missions_router",
    "nudge_response_source",
    "plan_highlights",
    "progress_router",
    "streak_standings",
]
