"""Chat with Eliza: accepting a message, following a reply's stream, conversations and history."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.companion import repository
from app.companion.api.generation import ReplyJob, fallback_for_dead_reply, start_after_commit, writer_for
from app.companion.schemas import ChatAccepted, ChatRequest
from app.companion.stream import Fallback, format_event, lease_key, read_events, stream_key, user_prefix
from app.core import ratelimit
from app.core.errors import Conflict, NotFound, ServiceUnavailable
from app.core.logging import get_logger
from app.core.resources import Resources
from app.models import Conversation, Message, User

log = get_logger(__name__)

TITLE_CHARS = 80
STREAM_PATH = "/api/v1/companion/stream/{conversation_id}"


def _redis(resources: Resources) -> Redis:
    if resources.redis is None:
        raise ServiceUnavailable("Chat needs Redis (REDIS_URL) to stream replies")
    return resources.redis


def title_for(message: str) -> str:
    first_line = message.strip().splitlines()[0] if message.strip() else "Conversation"
    return first_line if len(first_line) <= TITLE_CHARS else first_line[: TITLE_CHARS - 1].rstrip() + "…"


async def start_chat(
    session: AsyncSession, resources: Resources, user: User, request: ChatRequest
) -> ChatAccepted:
    """Store the user's message and a pending reply; the reply is generated after the commit."""
    redis = _redis(resources)
    settings = resources.settings
    conversation: Conversation | None = None
    if request.conversation_id is not None:
        conversation = await repository.get_conversation(session, user.id, request.conversation_id)
        if conversation is None:
            raise NotFound("Conversation not found")
        in_flight = await repository.in_flight_reply(session, conversation.id)
        if in_flight is not None and await redis.exists(lease_key(user.id, in_flight.id)):
            raise Conflict(
                "Eliza is still answering the previous message in this conversation",
                details={"message_id": str(in_flight.id)},
            )
    await ratelimit.hit(
        redis,
        f"{user_prefix(user.id)}chat-rate",
        limit=settings.companion_chat_rate_limit_per_minute,
        what="messages",
    )
    if conversation is None:
        conversation = await repository.create_conversation(session, user.id, title_for(request.message))
    else:
        await repository.touch_conversation(session, conversation.id)
    user_message, reply = await repository.add_turn(session, user.id, conversation.id, request.message)
    # The lease exists before the commit, so a reader never mistakes a reply about to start for a dead one.
    await writer_for(resources, user.id, reply.id).hold_lease()
    start_after_commit(
        session,
        resources,
        ReplyJob(
            user.id,
            conversation.id,
            user_message.id,
            user_message.seq,
            reply.id,
            request.message,
            timezone=user.timezone,
            display_name=user.display_name,
        ),
    )
    return ChatAccepted(
        conversation_id=conversation.id,
        message_id=reply.id,
        user_message_id=user_message.id,
        stream_url=STREAM_PATH.format(conversation_id=conversation.id) + f"?message_id={reply.id}",
    )


async def find_reply(
    session: AsyncSession, user: User, conversation_id: uuid.UUID, message_id: uuid.UUID | None
) -> Message:
    # Scoped by user and conversation: another user's (or an unknown) conversation finds nothing.
    reply = await repository.get_reply(session, user.id, conversation_id, message_id)
    if reply is None:
        raise NotFound("Conversation or message not found")
    return reply


def _id_key(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq or 0)


async def already_delivered(
    resources: Resources, user_id: uuid.UUID, reply: Message, last_event_id: str | None
) -> bool:
    """Whether a reconnecting client has every event of a finished reply (then: 204, which tells
    an EventSource to stop reconnecting)."""
    if last_event_id is None or reply.status in repository.IN_FLIGHT:
        return False
    if last_event_id.startswith("0-"):  # ids of events served from the database
        return True
    last = await _redis(resources).xrevrange(stream_key(user_id, reply.id), count=1)
    if not last:
        return False
    newest = last[0][0].decode() if isinstance(last[0][0], bytes) else str(last[0][0])
    return _id_key(last_event_id) >= _id_key(newest)


async def reply_events(
    resources: Resources, user_id: uuid.UUID, reply: Message, last_event_id: str | None
) -> AsyncIterator[str]:
    """The reply's SSE stream from after ``last_event_id``: buffered events, then live ones."""
    redis = _redis(resources)
    settings = resources.settings
    key = stream_key(user_id, reply.id)
    resumed = last_event_id is not None

    async def when_dead() -> Fallback:
        return await fallback_for_dead_reply(resources, user_id, reply.id, resumed=resumed)

    yield "retry: 2000\n\n"
    if reply.status not in repository.IN_FLIGHT and not await redis.exists(key):
        for event_id, data in (await when_dead()).events:  # finished and no longer buffered
            yield format_event(event_id, data)
        return
    async for chunk in read_events(
        redis,
        key,
        lease_key(user_id, reply.id),
        after=last_event_id,
        block_seconds=min(1.0, settings.health_timeout_seconds),
        keepalive_seconds=settings.companion_sse_keepalive_seconds,
        when_dead=when_dead,
        max_seconds=settings.companion_reply_timeout_seconds + 60,
    ):
        yield chunk


async def list_conversations(
    session: AsyncSession, user: User, limit: int, offset: int
) -> tuple[list[Conversation], int]:
    return await repository.list_conversations(session, user.id, limit, offset)


async def conversation_detail(
    session: AsyncSession, user: User, conversation_id: uuid.UUID, limit: int, offset: int
) -> dict[str, Any]:
    conversation = await repository.get_conversation(session, user.id, conversation_id)
    if conversation is None:
        raise NotFound("Conversation not found")
    messages, total = await repository.list_messages(session, user.id, conversation_id, limit, offset)
    return {
        "id": conversation.id,
        "title": conversation.title,
        "created_at": conversation.created_at,
        "last_message_at": conversation.last_message_at,
        "messages": messages,
        "total_messages": total,
        "limit": limit,
        "offset": offset,
    }


async def history(
    session: AsyncSession, user: User, limit: int, conversation_id: uuid.UUID | None
) -> list[Message]:
    if (
        conversation_id is not None
        and await repository.get_conversation(session, user.id, conversation_id) is None
    ):
        raise NotFound("Conversation not found")
    return await repository.history(session, user.id, limit, conversation_id)
