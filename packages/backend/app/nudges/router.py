"""/api/v1/notifications: the notification centre, and one-click unsubscribe (no sign-in)."""

from __future__ import annotations

import uuid
from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from app.core.deps import SessionDep, SettingsDep
from app.kit.clock import Now
from app.nudges import service
from app.nudges.schemas import NotificationOut, NotificationPage, ReadAllOut, UnsubscribeOut
from app.users import CurrentUser

router = APIRouter(prefix="/notifications", tags=["notifications"])
# No sign-in: the signed token in the link is the credential (and no per-user rate limit applies).
public_router = APIRouter(prefix="/notifications", tags=["notifications"])


@router.get(
    "",
    response_model=NotificationPage,
    summary="The notification centre, newest first",
    description="In-app and push notes that were sent, without the dismissed ones. `unread=true` lists "
    "only unread ones (`false`: only read ones). Pages continue with `cursor` = the `next_cursor` returned.",
)
async def list_notifications(
    user: CurrentUser,
    session: SessionDep,
    unread: bool | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Any:
    return await service.list_notifications(session, user.id, unread=unread, cursor=cursor, limit=limit)


@router.post("/read-all", response_model=ReadAllOut, summary="Mark every notification read")
async def read_all(user: CurrentUser, session: SessionDep, now: Now) -> Any:
    return ReadAllOut(updated=await service.read_all(session, user.id, now))


@public_router.get(
    "/unsubscribe",
    response_model=UnsubscribeOut,
    summary="One-click unsubscribe from an email or text (no sign-in)",
    description="The link in every email: `token` is signed, expires (NOTIFY_UNSUBSCRIBE_TTL_DAYS) and names "
    "one user and one channel, which this turns off (`communication_preferences`). A browser gets a short "
    "HTML page, other clients JSON. POST does the same (RFC 8058 one-click from mail clients).",
    responses={400: {"description": "invalid_token or expired_token"}},
)
async def unsubscribe(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    now: Now,
    token: Annotated[str, Query(min_length=10, max_length=200)],
) -> Response | Any:
    result = await service.unsubscribe(session, settings, token, now)
    if "text/html" in request.headers.get("accept", ""):
        return HTMLResponse(
            "<!doctype html><html><head><meta charset=utf-8><title>Unsubscribed</title></head>"
            f'<body style="font-family: sans-serif"><p>{escape(result.message)}</p></body></html>'
        )
    return result


public_router.add_api_route(
    "/unsubscribe",
    unsubscribe,
    methods=["POST"],
    response_model=UnsubscribeOut,
    summary="One-click unsubscribe (RFC 8058 List-Unsubscribe-Post)",
    responses={400: {"description": "invalid_token or expired_token"}},
)


@router.post(
    "/{notification_id}/read", response_model=NotificationOut, responses={404: {"description": "Not yours"}}
)
async def read(notification_id: uuid.UUID, user: CurrentUser, session: SessionDep, now: Now) -> Any:
    return await service.mark(session, user.id, notification_id, now, dismiss=False)


@router.post(
    "/{notification_id}/dismiss",
    response_model=NotificationOut,
    summary="Dismiss (and mark read): it leaves the list",
    responses={404: {"description": "Not yours"}},
)
async def dismiss(notification_id: uuid.UUID, user: CurrentUser, session: SessionDep, now: Now) -> Any:
    return await service.mark(session, user.id, notification_id, now, dismiss=True)
