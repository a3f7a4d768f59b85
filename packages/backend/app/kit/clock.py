"""Time: one injectable "now" and the user's local calendar.

Routes take ``now: Now`` and pass it down; service functions and jobs take ``now`` as an argument.
Nothing below reads the system clock except ``utcnow``, so tests choose the time by overriding
``get_now`` (``app.dependency_overrides``) or by passing ``now`` to a job.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Depends


def utcnow() -> datetime:
    return datetime.now(UTC)


async def get_now() -> datetime:
    """The request's "now" (a dependency, so tests can set the time; ``async``: no thread hop)."""
    return utcnow()


Now = Annotated[datetime, Depends(get_now)]


def zone(name: str) -> ZoneInfo:
    """The user's zone; an unknown name (never stored by the API) falls back to UTC."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_date(moment: datetime, tz: str) -> date:
    """The calendar date at ``moment`` in zone ``tz``."""
    return moment.astimezone(zone(tz)).date()


def parse_now(value: str | datetime | None) -> datetime:
    """A job's ``now`` argument (ISO 8601, aware) or the current time."""
    if value is None:
        return utcnow()
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("now must carry a time zone offset")
    return moment.astimezone(UTC)
