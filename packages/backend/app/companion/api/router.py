"""/api/v1/companion: chat with Eliza, the reply stream (SSE), conversations, history, state, usage."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import StreamingResponse

from app.companion import repository
from app.companion.api import service
from app.companion.schemas import (
    ChatAccepted,
    ChatRequest,
    ConversationDetail,
    ConversationPage,
    EmotionalStateOut,
    HistoryOut,
    UsageOut,
)
from app.companion.stream import parse_event_id
from app.core.deps import ResourcesDep, SessionDep
from app.core.errors import NotFound
from app.kit.pagination import Offset
from app.users import CurrentUser

router = APIRouter(prefix="/companion", tags=["companion"])
# The original documents also used this path for the stream.
sse_router = APIRouter(prefix="/sse/companion", tags=["companion"])

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.post(
    "/chat",
    status_code=202,
    response_model=ChatAccepted,
    summary="Send a message to Eliza; the reply streams from stream_url",
    responses={
        404: {"description": "Unknown conversation"},
        409: {"description": "A reply is in progress, or the Idempotency-Key was used for another message"},
    },
)
async def chat(
    body: ChatRequest,
    user: CurrentUser,
    session: SessionDep,
    resources: ResourcesDep,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            description="Optional: a retried or doubled request with the same key stores nothing new "
            "and gets the first one's answer (header Idempotent-Replayed: true)",
        ),
    ] = None,
) -> Any:
    started = await service.start_chat(session, resources, user, body, idempotency_key)
    if started.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return started.accepted


async def _stream(
    conversation_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    resources: ResourcesDep,
    message_id: Annotated[
        uuid.UUID | None, Query(description="The reply to follow (default: the latest)")
    ] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> Response:
    reply = await service.find_reply(session, user, conversation_id, message_id)
    after = parse_event_id(last_event_id)
    if await service.already_delivered(resources, user.id, reply, after):
        return Response(status_code=204, headers=SSE_HEADERS)
    release = await service.open_stream(resources, user)
    events = service.holding(service.reply_events(resources, user.id, reply, after), release)
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)


router.add_api_route(
    "/stream/{conversation_id}",
    _stream,
    methods=["GET"],
    summary="The reply as Server-Sent Events (token…, then complete or error)",
    description="Events carry ids; reconnect with `Last-Event-ID` to resume without duplicates. "
    "Keep-alive comments are sent while waiting. Generation does not depend on this connection. "
    "A user may hold MAX_STREAMS_PER_USER streams at once (429 beyond). When the server shuts down, "
    "the stream ends with a `reconnect` event carrying the last id: reconnect to resume.",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}},
        204: {"description": "The client already has every event of this finished reply"},
        404: {"description": "Unknown conversation"},
    },
)
sse_router.add_api_route("/stream/{conversation_id}", _stream, methods=["GET"], include_in_schema=False)


@router.get(
    "/conversations", response_model=ConversationPage, summary="The user's conversations, latest first"
)
async def list_conversations(
    user: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Offset = 0,
) -> Any:
    items, total = await service.list_conversations(session, user, limit, offset)
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationDetail,
    summary="A conversation with its messages (oldest first, paginated)",
)
async def get_conversation(
    conversation_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> Any:
    return await service.conversation_detail(session, user, conversation_id, limit, offset)


@router.get("/history", response_model=HistoryOut, summary="The user's latest messages (oldest first)")
async def get_history(
    user: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    conversation_id: uuid.UUID | None = None,
) -> Any:
    return {"messages": await service.history(session, user, limit, conversation_id)}


@router.get("/state", response_model=EmotionalStateOut, summary="The user's latest detected emotional state")
async def get_state(user: CurrentUser, session: SessionDep) -> Any:
    state = await repository.get_emotional_state(session, user.id)
    if state is None:
        raise NotFound("No emotional state recorded yet")
    return state


@router.get("/usage", response_model=UsageOut, summary="Language-model usage of the user, per model")
async def get_usage(user: CurrentUser, session: SessionDep) -> Any:
    return {"models": await repository.usage_by_model(session, user.id)}
