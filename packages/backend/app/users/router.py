"""/api/v1/users: the signed-in user's profile, preferences, data export and erasure."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse

from app.core.deps import RedisDep, ResourcesDep, SessionDep
from app.users import repository, service
from app.users.deps import CurrentUser
from app.users.schemas import PreferencesOut, PreferencesUpdate, UserOut, UserUpdate

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserOut)
async def get_me(user: CurrentUser) -> Any:
    return user


@router.patch("/me", response_model=UserOut)
async def patch_me(changes: UserUpdate, user: CurrentUser, session: SessionDep) -> Any:
    return await service.update_profile(session, user, changes)


@router.get("/me/preferences", response_model=PreferencesOut)
async def get_preferences(user: CurrentUser, session: SessionDep) -> Any:
    return await repository.get_preferences(session, user.id)


@router.patch("/me/preferences", response_model=PreferencesOut)
async def patch_preferences(changes: PreferencesUpdate, user: CurrentUser, session: SessionDep) -> Any:
    return await service.update_preferences(session, user, changes)


@router.get(
    "/me/export",
    summary="Everything the service stores about the user, as JSON",
    description="Streamed: one JSON object (format_version, exported_at, then one key per section), "
    "written section by section and, for memories and conversations, page by page.",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}}},
)
async def export_me(user: CurrentUser, resources: ResourcesDep) -> StreamingResponse:
    return StreamingResponse(service.export_user(resources.sessions, user), media_type="application/json")


@router.delete(
    "/me",
    status_code=204,
    summary="Erase the user and all their data",
    description="Every row of the user's data is deleted in one transaction. The Clerk account is "
    "not touched: a later request with a valid session token provisions a new, empty account.",
)
async def delete_me(user: CurrentUser, session: SessionDep, redis: RedisDep) -> Response:
    await service.erase_user(session, redis, user)
    return Response(status_code=204)
