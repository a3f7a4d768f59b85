"""Numeric helpers."""

from __future__ import annotations


def clamp(value: float, low: float = 0.0, high: float = 1.0) -> float:
    """``value`` bounded to [low, high]; NaN counts as ``low`` (a score must never be NaN)."""
    if value != value:  # NaN
        return low
    return min(high, max(low, value))
