"""Pure mission rules: the status machine and the Essence reward (no I/O; docs/goals.md)."""

from __future__ import annotations

from typing import Final

from app.core.errors import Conflict

ENERGY_RANK: Final = {"low": 0, "medium": 1, "high": 2}
ENERGY_MULTIPLIER: Final = {"low": 1.0, "medium": 1.5, "high": 2.0}

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: Final[dict[str, tuple[frozenset[str], str]]] = {
    "start": (frozenset({"pending", "deferred"}), "in_progress"),
    "complete": (frozenset({"in_progress"}), "completed"),
    "defer": (frozenset({"pending", "in_progress"}), "deferred"),
    "abandon": (frozenset({"pending", "in_progress", "deferred"}), "archived"),
    "reactivate": (frozenset({"deferred"}), "pending"),
}
OPEN_STATUSES: Final = frozenset({"pending", "in_progress", "deferred"})
# Missions the triad may offer.
ELIGIBLE_STATUSES: Final = ("pending", "in_progress")


def next_status(current: str, action: str) -> str:
    """The status ``action`` leads to from ``current``, or ``Conflict`` (409) if it is illegal."""
    sources, target = TRANSITIONS[action]
    if current not in sources:
        raise Conflict(
            f"cannot {action} a mission that is {current}",
            code="illegal_transition",
            details={"action": action, "status": current, "allowed_from": sorted(sources)},
        )
    return target


def essence_reward(estimated_minutes: int, energy_level: str) -> int:
    """Base Essence of a mission: its minutes weighted by energy (low ×1, medium ×1.5, high ×2)."""
    return max(1, round(estimated_minutes * ENERGY_MULTIPLIER[energy_level]))
