"""/api/v1/goals: goals, and their decomposition into milestones and missions."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response

from app.core.deps import ResourcesDep, SessionDep, SettingsDep
from app.core.openapi import ErrorOut
from app.kit.clock import Now
from app.kit.pagination import Offset
from app.models.enums import GoalStatus
from app.planning import decomposition
from app.planning import goals as service
from app.planning.memory import GoalMemoryDep
from app.planning.repository import goals as repository
from app.planning.schemas.goals import (
    ApprovalIn,
    GoalCreate,
    GoalDetailOut,
    GoalOut,
    GoalPage,
    GoalUpdate,
    ProposalOut,
)
from app.planning.schemas.missions import ApprovalOut
from app.users import CurrentUser

router = APIRouter(prefix="/goals", tags=["goals"])


@router.post(
    "",
    status_code=201,
    response_model=GoalOut,
    responses={409: {"model": ErrorOut, "description": "MAX_GOALS_PER_USER reached (limit_reached)"}},
)
async def create_goal(
    data: GoalCreate,
    user: CurrentUser,
    session: SessionDep,
    now: Now,
    memory: GoalMemoryDep,
    settings: SettingsDep,
) -> Any:
    return await service.create_goal(session, user, data, now, memory, settings.max_goals_per_user)


@router.get("", response_model=GoalPage, description="Archived goals are left out unless asked for.")
async def list_goals(
    user: CurrentUser,
    session: SessionDep,
    status: GoalStatus | None = None,
    include_archived: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> Any:
    items, total = await repository.list_goals(
        session, user.id, status=status, include_archived=include_archived, limit=limit, offset=offset
    )
    return GoalPage(
        items=[GoalOut.model_validate(goal) for goal in items], total=total, limit=limit, offset=offset
    )


@router.get("/{goal_id}", response_model=GoalDetailOut)
async def get_goal(goal_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Any:
    return await service.detail(session, user, await service.get_goal(session, user, goal_id))


@router.patch("/{goal_id}", response_model=GoalOut)
async def update_goal(
    goal_id: uuid.UUID,
    changes: GoalUpdate,
    user: CurrentUser,
    session: SessionDep,
    now: Now,
    memory: GoalMemoryDep,
) -> Any:
    return await service.update_goal(session, user, goal_id, changes, now, memory)


@router.delete("/{goal_id}", status_code=204, summary="Archive the goal (and its open missions)")
async def archive_goal(
    goal_id: uuid.UUID, user: CurrentUser, session: SessionDep, now: Now, memory: GoalMemoryDep
) -> Response:
    await service.archive_goal(session, user, goal_id, now, memory)
    return Response(status_code=204)


@router.post(
    "/{goal_id}/decompose",
    status_code=201,
    response_model=ProposalOut,
    summary="Propose milestones and missions for the goal (saved only when approved)",
    responses={429: {"description": "Over DECOMPOSE_RATE_LIMIT_PER_MINUTE for this user"}},
)
async def decompose(
    goal_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    resources: ResourcesDep,
    now: Now,
) -> Any:
    return await decomposition.propose(
        session,
        resources.settings,
        resources.chat,
        user,
        goal_id,
        now,
        resources.redis,
        resources.redis_guard,
    )


@router.get("/{goal_id}/decompositions/{proposal_id}", response_model=ProposalOut)
async def get_proposal(
    goal_id: uuid.UUID, proposal_id: uuid.UUID, user: CurrentUser, session: SessionDep, now: Now
) -> Any:
    return await decomposition.get_proposal(session, user, goal_id, proposal_id, now)


@router.post(
    "/{goal_id}/decompositions/{proposal_id}/approve",
    status_code=201,
    response_model=ApprovalOut,
    summary="Save the proposal's milestones and missions, optionally edited; once per proposal",
)
async def approve(
    goal_id: uuid.UUID,
    proposal_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    now: Now,
    settings: SettingsDep,
    edits: Annotated[ApprovalIn | None, Body()] = None,
) -> Any:
    return await decomposition.approve(
        session, user, goal_id, proposal_id, edits or ApprovalIn(), now, settings.max_missions_per_goal
    )


@router.post("/{goal_id}/decompositions/{proposal_id}/reject", response_model=ProposalOut)
async def reject(
    goal_id: uuid.UUID, proposal_id: uuid.UUID, user: CurrentUser, session: SessionDep, now: Now
) -> Any:
    return await decomposition.reject(session, user, goal_id, proposal_id, now)
