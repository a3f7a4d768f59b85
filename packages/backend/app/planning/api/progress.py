"""/api/v1/progress: the day's progress, streaks, Essence and the Daily Consistency Index."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from app.core.deps import SessionDep
from app.kit.clock import Now
from app.planning import progress as service
from app.planning.schemas.progress import DailyOut, DciOut
from app.users import CurrentUser

router = APIRouter(prefix="/progress", tags=["progress"])


@router.get("/daily", response_model=DailyOut)
async def daily(
    user: CurrentUser,
    session: SessionDep,
    now: Now,
    day: Annotated[date | None, Query(alias="date", description="A local date; default today")] = None,
) -> Any:
    return await service.daily(session, user, now, day)


@router.get(
    "/dci",
    response_model=DciOut,
    description="Shown after 7 days with mission activity; before that, `available` is false and "
    "`message` says so.",
)
async def dci(
    user: CurrentUser,
    session: SessionDep,
    now: Now,
    days: Annotated[Literal["7", "30", "90"], Query(description="Window: 7, 30 or 90 days")] = "7",
) -> Any:
    return await service.dci_report(session, user, now, int(days))
