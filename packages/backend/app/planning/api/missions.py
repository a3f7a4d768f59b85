"""/api/v1/missions: missions, their status machine and sessions, and the daily triad."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from app.core.deps import SessionDep, SettingsDep
from app.core.openapi import ErrorOut
from app.kit.clock import Now
from app.kit.pagination import Offset
from app.models.enums import EnergyLevel, MissionStatus
from app.planning import missions as service
from app.planning import triad
from app.planning.memory import GoalMemoryDep
from app.planning.repository import missions as repository
from app.planning.schemas.missions import (
    AbandonIn,
    ActionOut,
    CompleteIn,
    CompletionOut,
    DeferIn,
    MissionCreate,
    MissionDetailOut,
    MissionOut,
    MissionPage,
    MissionUpdate,
    StartOut,
    TriadOut,
)
from app.users import CurrentUser

router = APIRouter(prefix="/missions", tags=["missions"])


@router.get(
    "/triad",
    response_model=TriadOut,
    summary="Today's three missions (high / medium / low priority), stable for the local day",
)
async def get_triad(
    user: CurrentUser,
    session: SessionDep,
    now: Now,
    energy: Annotated[
        EnergyLevel | None, Query(description="Your energy now; used when the triad is computed")
    ] = None,
) -> Any:
    return await triad.get_triad(session, user, now, energy)


@router.get("", response_model=MissionPage)
async def list_missions(
    user: CurrentUser,
    session: SessionDep,
    goal_id: uuid.UUID | None = None,
    status: MissionStatus | None = None,
    on: Annotated[
        date | None,
        Query(alias="date", description="Missions completed on, or deferred to, this local date"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> Any:
    items, total = await repository.list_missions(
        session, user.id, goal_id=goal_id, status=status, on_date=on, limit=limit, offset=offset
    )
    return MissionPage(
        items=[MissionOut.model_validate(item) for item in items], total=total, limit=limit, offset=offset
    )


@router.post(
    "",
    status_code=201,
    response_model=MissionOut,
    responses={
        409: {"model": ErrorOut, "description": "MAX_MISSIONS_PER_GOAL reached, or the goal is closed"}
    },
)
async def create_mission(
    data: MissionCreate, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> Any:
    return await service.create_mission(session, user, data, settings.max_missions_per_goal)


@router.get("/{mission_id}", response_model=MissionDetailOut)
async def get_mission(mission_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Any:
    return await service.detail(session, user, await service.get_mission(session, user, mission_id))


@router.patch("/{mission_id}", response_model=MissionOut)
async def update_mission(
    mission_id: uuid.UUID, changes: MissionUpdate, user: CurrentUser, session: SessionDep, now: Now
) -> Any:
    return await service.update_mission(session, user, mission_id, changes, now)


@router.post("/{mission_id}/start", response_model=StartOut, summary="pending | deferred → in_progress")
async def start(mission_id: uuid.UUID, user: CurrentUser, session: SessionDep, now: Now) -> Any:
    mission, row = await service.start(session, user, mission_id, now)
    return {"mission": mission, "session": row}


@router.post(
    "/{mission_id}/complete",
    response_model=CompletionOut,
    summary="in_progress → completed: Essence, streaks and milestones reached",
)
async def complete(
    mission_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    now: Now,
    memory: GoalMemoryDep,
    body: Annotated[CompleteIn | None, Body()] = None,
) -> Any:
    return await service.complete(session, user, mission_id, body or CompleteIn(), now, memory)


@router.post("/{mission_id}/defer", response_model=ActionOut, summary="pending | in_progress → deferred")
async def defer(
    mission_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    now: Now,
    memory: GoalMemoryDep,
    body: Annotated[DeferIn | None, Body()] = None,
) -> Any:
    return await service.defer(session, user, mission_id, body or DeferIn(), now, memory)


@router.post(
    "/{mission_id}/abandon", response_model=ActionOut, summary="pending | in_progress | deferred → archived"
)
async def abandon(
    mission_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    now: Now,
    memory: GoalMemoryDep,
    body: Annotated[AbandonIn | None, Body()] = None,
) -> Any:
    return await service.abandon(session, user, mission_id, body or AbandonIn(), now, memory)
