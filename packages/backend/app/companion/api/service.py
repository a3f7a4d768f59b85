"""Chat with Eliza: accepting a message, following a reply's stream, conversations and history."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NamedTuple

import anyio
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from app.companion import repository
from app.companion.api.generation import ReplyJob, fallback_for_dead_reply, start_after_commit, writer_for
from app.companion.schemas import ChatAccepted, ChatRequest
from app.companion.stream import (
    INTERRUPTED,
    Fallback,
    format_event,
    lease_key,
    read_events,
    stream_key,
)
from app.core import ratelimit
from app.core.config import Settings
from app.core.errors import Conflict, DependencyUnavailable, NotFound
from app.core.logging import get_logger
from app.core.resources import Resources
from app.models import Conversation, Message, User
from app.models.enums import MessageStatus

log = get_logger(__name__)

TITLE_CHARS = 80
STREAM_PATH = "/api/v1/companion/stream/{conversation_id}"


def _redis(resources: Resources) -> Redis:
    if resources.redis is None:
        raise DependencyUnavailable("redis", "Chat needs Redis (REDIS_URL) to stream replies")
    resources.redis_guard.check()  # fail fast while Redis is known to be down
    return resources.redis


def title_for(message: str) -> str:
    first_line = message.strip().splitlines()[0] if message.strip() else "Conversation"
    return first_line if len(first_line) <= TITLE_CHARS else first_line[: TITLE_CHARS - 1].rstrip() + "…"


async def start_chat(
    session: AsyncSession,
    resources: Resources,
    user: User,
    request: ChatRequest,
    idempotency_key: str | None = None,
) -> Started:
    """Store the user's message and a pending reply; the reply is generated after the commit.

    With an ``idempotency_key`` this user already sent with the same message, the earlier
    acceptance is answered again (``replayed``) and nothing new is stored."""
    redis = _redis(resources)
    settings = resources.settings
    conversation: Conversation | None = None
    if request.conversation_id is not None:
        conversation = await repository.get_conversation(session, user.id, request.conversation_id)
        if conversation is None:
            raise NotFound("Conversation not found")
    if idempotency_key is not None:
        earlier = await _earlier_acceptance(session, user, request, idempotency_key)
        if earlier is not None:
            return earlier
    if conversation is not None:
        await _refuse_if_answering(session, redis, user, conversation.id)
    if conversation is None:
        conversation = await repository.create_conversation(session, user.id, title_for(request.message))
    else:
        await repository.touch_conversation(session, conversation.id)
    user_message = await repository.add_user_message(
        session, user.id, conversation.id, request.message, idempotency_key
    )
    reply = await _claim_reply(session, redis, user, user_message)
    # Only accepted messages count (a refused one has raised above, and this raising rolls back).
    await ratelimit.limit(
        redis,
        resources.redis_guard,
        ratelimit.key_for(user.clerk_user_id, "chat"),
        limit=settings.companion_chat_rate_limit_per_minute,
        fail_open=False,
        what="messages",
    )
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
    return Started(_accepted(user_message, reply), replayed=False)


class Started(NamedTuple):
    accepted: ChatAccepted
    replayed: bool  # the answer to an earlier request with the same Idempotency-Key


def _accepted(user_message: Message, reply: Message) -> ChatAccepted:
    conversation_id = user_message.conversation_id
    return ChatAccepted(
        conversation_id=conversation_id,
        message_id=reply.id,
        user_message_id=user_message.id,
        stream_url=STREAM_PATH.format(conversation_id=conversation_id) + f"?message_id={reply.id}",
    )


async def _earlier_acceptance(
    session: AsyncSession, user: User, request: ChatRequest, key: str
) -> Started | None:
    """A retried or doubled POST (same Idempotency-Key): the message it already created. Requests
    with the same key wait for each other (an advisory lock until the commit), so sent twice at
    once they store one message, in one conversation."""
    await repository.lock_idempotency_key(session, user.id, key)
    found = await repository.by_idempotency_key(session, user.id, key)
    if found is None:
        return None
    user_message, reply = found
    same_conversation = request.conversation_id in (None, user_message.conversation_id)
    if user_message.content != request.message or not same_conversation or reply is None:
        raise Conflict(
            "This Idempotency-Key was already used for a different message",
            code="idempotency_key_reused",
            details={"conversation_id": str(user_message.conversation_id)},
        )
    return Started(_accepted(user_message, reply), replayed=True)


# --- one reply in flight per conversation -------------------------------------------------------
# The rule is held by a partial unique index on pending replies (models/companion.py): inserting a
# second pending reply in a conversation waits for the transaction holding the first and then does
# nothing. The check before the insert answers early and settles replies whose generator died.


def _answering(reply: Message) -> Conflict:
    return Conflict(
        "Eliza is still answering the previous message in this conversation",
        details={"message_id": str(reply.id)},
    )


async def _live(session: AsyncSession, redis: Redis, user: User, reply: Message) -> bool:
    """Whether the pending ``reply`` is still being generated; a dead one (no lease: its process
    died) is settled as interrupted, as its readers and the sweeper would settle it."""
    if await redis.exists(lease_key(user.id, reply.id)):
        return True
    await repository.finish_reply(
        session, reply.id, content=reply.content, status=MessageStatus.failed, meta={"error": INTERRUPTED}
    )
    return False


async def _refuse_if_answering(
    session: AsyncSession, redis: Redis, user: User, conversation_id: uuid.UUID
) -> None:
    in_flight = await repository.in_flight_reply(session, conversation_id)
    if in_flight is not None and await _live(session, redis, user, in_flight):
        raise _answering(in_flight)


async def _claim_reply(session: AsyncSession, redis: Redis, user: User, user_message: Message) -> Message:
    for _ in range(3):
        reply = await repository.add_pending_reply(session, user_message)
        if reply is not None:
            return reply
        # Another request won the race (its transaction has committed): refuse, unless that reply
        # is already finished or dead, in which case the slot is free again.
        in_flight = await repository.in_flight_reply(session, user_message.conversation_id)
        if in_flight is not None and await _live(session, redis, user, in_flight):
            raise _answering(in_flight)
    raise Conflict("Eliza is still answering the previous message in this conversation")


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
        max_seconds=stream_seconds(settings),
        stop=resources.draining,
    ):
        yield chunk


def stream_seconds(settings: Settings) -> float:
    """The longest a reply stream stays open."""
    return settings.companion_reply_timeout_seconds + 60


async def open_stream(resources: Resources, user: User) -> Callable[[], Awaitable[None]]:
    """Take one of the user's MAX_STREAMS_PER_USER concurrent stream slots (429 when all are held,
    503 without Redis); returns the release. A slot a dead process held expires on its own once the
    longest stream would have ended."""
    redis = _redis(resources)
    key = ratelimit.key_for(user.clerk_user_id, "streams")
    token = await ratelimit.acquire_slot(
        redis,
        resources.redis_guard,
        key,
        limit=resources.settings.max_streams_per_user,
        hold_seconds=stream_seconds(resources.settings) + 60,
        what="reply streams",
    )

    async def release() -> None:
        await ratelimit.release_slot(redis, key, token)

    return release


async def holding(events: AsyncIterator[str], release: Callable[[], Awaitable[None]]) -> AsyncIterator[str]:
    """``events``, releasing the stream slot however the stream ends (finished, client gone,
    cancelled): shielded from the cancellation, bounded in time, best effort (it also expires)."""
    try:
        async for chunk in events:
            yield chunk
    finally:
        with anyio.CancelScope(shield=True), anyio.move_on_after(2), contextlib.suppress(RedisError):
            await release()


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
