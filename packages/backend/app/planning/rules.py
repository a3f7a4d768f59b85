"""Pure planning rules: the goal and mission status machines and the Essence reward (no I/O;
docs/goals.md)."""

from __future__ import annotations

import uuid
from typing import Any, Final, Literal

from app.core.errors import Conflict
from app.models import Goal
from app.models.enums import EnergyLevel, GoalStatus, MissionSource, MissionStatus, ValueCategory

ENERGY_RANK: Final = {EnergyLevel.low: 0, EnergyLevel.medium: 1, EnergyLevel.high: 2}
ENERGY_MULTIPLIER: Final = {EnergyLevel.low: 1.0, EnergyLevel.medium: 1.5, EnergyLevel.high: 2.0}

# Goal status changes through PATCH (DELETE archives): from -> allowed targets.
GOAL_TRANSITIONS: Final[dict[GoalStatus, frozenset[GoalStatus]]] = {
    GoalStatus.active: frozenset({GoalStatus.paused, GoalStatus.completed, GoalStatus.archived}),
    GoalStatus.paused: frozenset({GoalStatus.active, GoalStatus.completed, GoalStatus.archived}),
    GoalStatus.completed: frozenset({GoalStatus.active, GoalStatus.archived}),
    GoalStatus.archived: frozenset({GoalStatus.active}),
}
# Goals that can still get new missions.
OPEN_GOAL_STATUSES: Final = frozenset({GoalStatus.active, GoalStatus.paused})

MissionAction = Literal["start", "complete", "defer", "abandon", "reactivate"]
# action -> (statuses it may start from, status it leads to)
TRANSITIONS: Final[dict[MissionAction, tuple[frozenset[MissionStatus], MissionStatus]]] = {
    "start": (frozenset({MissionStatus.pending, MissionStatus.deferred}), MissionStatus.in_progress),
    "complete": (frozenset({MissionStatus.in_progress}), MissionStatus.completed),
    "defer": (frozenset({MissionStatus.pending, MissionStatus.in_progress}), MissionStatus.deferred),
    "abandon": (
        frozenset({MissionStatus.pending, MissionStatus.in_progress, MissionStatus.deferred}),
        MissionStatus.archived,
    ),
    "reactivate": (frozenset({MissionStatus.deferred}), MissionStatus.pending),
}
OPEN_STATUSES: Final = frozenset({MissionStatus.pending, MissionStatus.in_progress, MissionStatus.deferred})
CLOSED_STATUSES: Final = frozenset({MissionStatus.completed, MissionStatus.archived})
# Missions the triad may offer.
ELIGIBLE_STATUSES: Final = (MissionStatus.pending, MissionStatus.in_progress)


def next_status(current: MissionStatus, action: MissionAction) -> MissionStatus:
    """The status ``action`` leads to from ``current``, or ``Conflict`` (409) if it is illegal."""
    sources, target = TRANSITIONS[action]
    if current not in sources:
        raise Conflict(
            f"cannot {action} a mission that is {current}",
            code="illegal_transition",
            details={"action": action, "status": current, "allowed_from": sorted(sources)},
        )
    return target


def check_goal_transition(current: GoalStatus, target: GoalStatus) -> None:
    """``Conflict`` (409) unless a goal that is ``current`` may become ``target``."""
    if target not in GOAL_TRANSITIONS[current]:
        raise Conflict(
            f"a goal that is {current} cannot become {target}",
            code="illegal_transition",
            details={"status": current, "target": target, "allowed": sorted(GOAL_TRANSITIONS[current])},
        )


def essence_reward(estimated_minutes: int, energy_level: EnergyLevel) -> int:
    """Base Essence of a mission: its minutes weighted by energy (low ×1, medium ×1.5, high ×2)."""
    return max(1, round(estimated_minutes * ENERGY_MULTIPLIER[energy_level]))


def mission_row(
    goal: Goal,
    *,
    title: str,
    description: str,
    estimated_minutes: int,
    energy_level: EnergyLevel,
    position: int,
    source: MissionSource,
    milestone_id: uuid.UUID | None = None,
    value_category: ValueCategory | None = None,
    generation_key: str | None = None,
) -> dict[str, Any]:
    """The values of a new mission of ``goal`` (its category unless another is given; Essence from
    its size), for ``repository.missions.insert_missions``."""
    return {
        "user_id": goal.user_id,
        "goal_id": goal.id,
        "milestone_id": milestone_id,
        "title": title,
        "description": description,
        "estimated_minutes": estimated_minutes,
        "energy_level": energy_level,
        "value_category": value_category or goal.value_category,
        "essence_reward": essence_reward(estimated_minutes, energy_level),
        "position": position,
        "source": source,
        "generation_key": generation_key,
    }
