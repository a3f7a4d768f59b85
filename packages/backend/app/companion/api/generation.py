"""Running one reply in the background of the API process.

``POST /chat`` commits the user's message and a ``pending`` reply, then (after the commit) spawns
``run_reply`` on the process's task registry. The reply's tokens go to its Redis stream, so any
number of SSE readers (and reconnects) follow it, and the reply is persisted whether or not anyone
is listening. Failures end in a ``failed`` reply and an ``error`` event, never in silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from app.companion import repository
from app.companion.reply.graph import TURN_GRAPH, TurnDeps, TurnState
from app.companion.stream import (
    INTERRUPTED,
    LEASE_REFRESH_SECONDS,
    REPLY_FAILED,
    TIMED_OUT,
    Fallback,
    StreamWriter,
)
from app.core.logging import get_logger
from app.core.resources import Resources
from app.models import Message
from app.models.enums import MessageStatus

log = get_logger(__name__)


@dataclass(frozen=True)
class ReplyJob:
    user_id: uuid.UUID
    conversation_id: uuid.UUID
    user_message_id: uuid.UUID
    user_seq: int
    reply_id: uuid.UUID
    message: str
    timezone: str | None = None  # the user's, as the request saw it (saves reading it again)
    display_name: str | None = None


def deps_for(resources: Resources, writer: StreamWriter) -> TurnDeps:
    settings = resources.settings
    return TurnDeps(
        settings=settings,
        sessions=resources.sessions,
        read_sessions=resources.read_sessions,
        embedder=lambda: resources.embedder,
        chat_model=resources.chat.client(),
        writer=writer,
        jobs=resources.redis,
        emotion_by_model=settings.companion_emotion_detection != "offline",
        db_slots=resources.db_slots,
    )


def writer_for(resources: Resources, user_id: uuid.UUID, reply_id: uuid.UUID) -> StreamWriter:
    assert resources.redis is not None
    return StreamWriter(resources.redis, user_id, reply_id, resources.settings.companion_stream_ttl_seconds)


def start_after_commit(session: AsyncSession, resources: Resources, job: ReplyJob) -> None:
    """Spawn the reply once ``session`` commits (never if it rolls back)."""

    def spawn(_: Any) -> None:
        resources.tasks.spawn(run_reply(resources, job), name=f"companion-reply-{job.reply_id}")

    event.listen(session.sync_session, "after_commit", spawn, once=True)


async def _keep_lease(writer: StreamWriter) -> None:
    while True:
        await asyncio.sleep(LEASE_REFRESH_SECONDS)
        with contextlib.suppress(Exception):
            await writer.hold_lease()


async def run_reply(resources: Resources, job: ReplyJob) -> None:
    """Generate, stream and persist one reply; always ends the stream with complete or error."""
    writer = writer_for(resources, job.user_id, job.reply_id)
    lease = asyncio.create_task(_keep_lease(writer))
    try:
        state: TurnState = {
            "user_id": job.user_id,
            "conversation_id": job.conversation_id,
            "user_message_id": job.user_message_id,
            "user_seq": job.user_seq,
            "reply_id": job.reply_id,
            "message": job.message,
        }
        if job.timezone is not None:
            state["timezone"], state["display_name"] = job.timezone, job.display_name
        async with asyncio.timeout(resources.settings.companion_reply_timeout_seconds):
            final = await TURN_GRAPH.ainvoke(state, context=deps_for(resources, writer))
        if not final.get("stored"):
            await writer.error("This conversation no longer exists.")
        elif final.get("error"):
            await writer.error(REPLY_FAILED)
        else:
            await writer.complete(job.conversation_id, job.reply_id)
    except asyncio.CancelledError:
        await asyncio.shield(_fail(resources, writer, job, INTERRUPTED))
        raise
    except TimeoutError:
        log.warning("reply_timed_out", reply_id=str(job.reply_id))
        await _fail(resources, writer, job, TIMED_OUT)
    except Exception:
        log.exception("reply_failed", reply_id=str(job.reply_id))
        await _fail(resources, writer, job, REPLY_FAILED)
    finally:
        lease.cancel()
        with contextlib.suppress(BaseException):
            await lease
        with contextlib.suppress(Exception):
            await writer.release_lease()


async def _fail(resources: Resources, writer: StreamWriter, job: ReplyJob, message: str) -> None:
    """Best effort: persist what was produced as a failed reply and tell the readers."""
    try:
        async with resources.sessions() as session:
            await repository.finish_reply(
                session,
                job.reply_id,
                content=writer.text,
                status=MessageStatus.failed,
                meta={"error": message},
            )
            await session.commit()
    except Exception as exc:  # noqa: BLE001 - the error event below still goes out
        log.warning("reply_failure_not_saved", error=type(exc).__name__)
    with contextlib.suppress(Exception):
        await writer.error(message)


async def fallback_for_dead_reply(
    resources: Resources, user_id: uuid.UUID, reply_id: uuid.UUID, *, resumed: bool
) -> Fallback:
    """A reader found no generator for this reply (and no terminal event): answer from the database.

    ``resumed``: the client already has some of the reply (it sent Last-Event-ID), so a persisted
    reply is only announced as complete, never replayed in full."""
    async with resources.sessions() as session:
        reply = await session.get(Message, reply_id)
        if reply is None or reply.user_id != user_id:
            return Fallback([("0-1", {"type": "error", "message": "This reply no longer exists."})])
        if reply.status in repository.IN_FLIGHT:
            # Its generator died (process killed): settle it so nobody waits for it again.
            await repository.finish_reply(
                session,
                reply_id,
                content=reply.content,
                status=MessageStatus.failed,
                meta={"error": INTERRUPTED},
            )
            await session.commit()
            return await _announce(resources, user_id, reply_id, {"type": "error", "message": INTERRUPTED})
        if reply.status == MessageStatus.failed:
            return Fallback([("0-2", {"type": "error", "message": reply.meta.get("error", REPLY_FAILED)})])
        done = {
            "type": "complete",
            "conversation_id": str(reply.conversation_id),
            "message_id": str(reply_id),
        }
        if resumed:
            return Fallback([("0-2", done)])
        # The buffer expired: the whole persisted reply, then complete.
        return Fallback([("0-1", {"type": "token", "content": reply.content}), ("0-2", done)])


async def _announce(
    resources: Resources, user_id: uuid.UUID, reply_id: uuid.UUID, data: dict[str, Any]
) -> Fallback:
    """Append the terminal event to the buffer so every reader sees the same id."""
    assert resources.redis is not None
    writer = writer_for(resources, user_id, reply_id)
    await writer.error(str(data["message"]))
    last = await resources.redis.xrevrange(writer.key, count=1)
    event_id = last[0][0].decode() if last else "0-2"
    return Fallback([(event_id, data)])
