"""Memory formation after a reply: the exchange becomes a task memory, and the personal and project
facts the user stated are extracted and stored (de-duplicated by the memory service).

Per-user ordering: a PostgreSQL advisory lock serialises the writes of formation per user, and
each run works through the user's unformed messages oldest first, so facts are stored in the order
they were said. Idempotent: a message already formed is skipped; a message whose reply is still
being generated stops the run (that reply's own job continues from there).

No database connection waits on the model or the embedding provider: each message is read in a
short session, its facts extracted and its texts embedded with no connection held, then written in
a short transaction (under the lock) that first checks nobody formed it meanwhile.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from arq.connections import ArqRedis
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import memory
from app.companion import repository
from app.companion.formation.extraction import EXTRACTION_PROMPT, Fact, extract_facts, parse_model_facts
from app.companion.stream import INTERRUPTED, StreamWriter, lease_key
from app.core.embedding import Embedder
from app.core.jobs import JobContext, Schedule, job, transaction
from app.core.logging import get_logger
from app.kit.text import clip
from app.models import Message
from app.models.enums import MessageRole, MessageStatus

log = get_logger(__name__)

MAX_MESSAGES_PER_RUN = 50
EXCHANGE_USER_CHARS = 2000
EXCHANGE_REPLY_CHARS = 1800
SOURCE = repository.COMPANION_SOURCE


def exchange_text(user_text: str, reply_text: str) -> str:
    user_part = clip(user_text.strip(), EXCHANGE_USER_CHARS)
    return f"User: {user_part}\nEliza: {clip(reply_text.strip(), EXCHANGE_REPLY_CHARS)}"


async def extract(
    message: str, chat_model: BaseChatModel | None
) -> tuple[list[Fact], str, dict[str, Any] | None]:
    """Facts from the user's message alone: the model's (validated) or the rules'."""
    if chat_model is None:
        return extract_facts(message), "rules", None
    name = str(getattr(chat_model, "model_name", "model"))
    started = time.perf_counter()
    facts: list[Fact] | None = None
    prompt_tokens = completion_tokens = 0
    try:
        answer = await chat_model.ainvoke(
            [SystemMessage(EXTRACTION_PROMPT), HumanMessage(message)], response_format={"type": "json_object"}
        )
        counts: dict[str, Any] = dict(answer.usage_metadata or {})
        prompt_tokens, completion_tokens = (
            int(counts.get("input_tokens", 0)),
            int(counts.get("output_tokens", 0)),
        )
        facts = parse_model_facts(str(answer.content), message)
    except Exception as exc:  # noqa: BLE001 - the rules answer instead
        log.warning("extraction_model_failed", error=type(exc).__name__)
    usage_row = {
        "purpose": "extraction",
        "model": name,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "latency_ms": int((time.perf_counter() - started) * 1000),
        "ok": facts is not None,
    }
    if facts is None:
        return extract_facts(message), "rules", usage_row
    return facts, name, usage_row


async def _store_formed(
    session: AsyncSession,
    embedder: Embedder,
    message: Message,
    reply: Message | None,
    extracted: tuple[list[Fact], str, dict[str, Any] | None],
    embedded: dict[str, memory.Embedding | None],
) -> dict[str, Any]:
    stored: list[dict[str, Any]] = []
    facts, extracted_by, usage = extracted
    exchange = _exchange(message, reply)
    if exchange is not None and reply is not None:
        result = await memory.remember(
            session,
            embedder,
            user_id=message.user_id,
            tier="task",
            content=exchange,
            source=SOURCE,
            metadata={"kind": "exchange", "message_id": str(message.id), "reply_id": str(reply.id)},
            conversation_id=message.conversation_id,
            embedded=embedded,
        )
        stored.append({"kind": "exchange", "memory_id": str(result.memory.id), "created": result.created})
    for fact in facts:
        result = await memory.remember(
            session,
            embedder,
            user_id=message.user_id,
            tier=fact.tier,
            content=fact.content,
            source=SOURCE,
            metadata={**fact.metadata(extracted_by), "message_id": str(message.id)},
            conversation_id=message.conversation_id,
            embedded=embedded,
        )
        stored.append({"kind": fact.kind, "memory_id": str(result.memory.id), "created": result.created})
    if usage is not None:
        await repository.add_usage(
            session,
            [
                {
                    **usage,
                    "user_id": message.user_id,
                    "conversation_id": message.conversation_id,
                    "message_id": message.id,
                }
            ],
        )
    await repository.update_user_message_meta(
        session, message.id, {"memories": stored, "extracted_by": extracted_by}
    )
    return {"message_id": str(message.id), "memories": len(stored)}


def _exchange(message: Message, reply: Message | None) -> str | None:
    """The exchange to remember as a task memory (only a completed, non-empty reply makes one)."""
    if reply is not None and reply.status == MessageStatus.complete and reply.content.strip():
        return exchange_text(message.content, reply.content)
    return None


async def form_memories(
    sessions: async_sessionmaker[AsyncSession],
    embedder: Callable[[], Embedder],
    chat_model: BaseChatModel | None,
    jobs: ArqRedis | None,
    message_id: uuid.UUID,
) -> list[dict[str, Any]]:
    """Form the memories of ``message_id``'s user, oldest unformed message first."""
    async with sessions() as session:
        message = await repository.get_message(session, message_id)
    if message is None or message.role != MessageRole.user or message.memories_formed_at is not None:
        return []
    user_id = message.user_id
    done: list[dict[str, Any]] = []
    for _ in range(MAX_MESSAGES_PER_RUN):
        # 1. Read, and give the connection back.
        async with sessions() as session:
            item = await repository.next_unformed(session, user_id, lock=False)
        if item is None or (item[1] is not None and item[1].status in repository.IN_FLIGHT):
            break  # nothing left, or the next reply is still being generated (its job goes on)
        current, reply = item
        # 2. The slow calls, with no connection held: the model's extraction, then one embedding
        #    call for every text this message will store.
        extracted = await extract(current.content, chat_model)
        exchange = _exchange(current, reply)
        texts = [fact.content for fact in extracted[0]] + ([exchange] if exchange is not None else [])
        embedded = await memory.embed_texts(embedder(), texts)
        # 3. Write, briefly, under the user's lock; skip if another run formed it meanwhile.
        async with transaction(sessions, jobs) as session:
            await repository.lock_user_formation(session, user_id)
            again = await repository.next_unformed(session, user_id)
            if again is None or again[0].id != current.id:
                continue
            done.append(await _store_formed(session, embedder(), current, reply, extracted, embedded))
            await repository.mark_formed(session, current.id, datetime.now(UTC))
    return done


async def sweep(
    sessions: async_sessionmaker[AsyncSession],
    redis: ArqRedis,
    *,
    stale_after: timedelta,
    unformed_after: timedelta,
    stream_ttl_seconds: int,
    limit: int = 500,
) -> dict[str, int]:
    """Settle replies whose generator died, and queue memory formation that was missed."""
    now = datetime.now(UTC)
    settled = queued = 0
    async with sessions() as session:
        for reply in await repository.stale_in_flight(session, now - stale_after, limit):
            if await redis.exists(lease_key(reply.user_id, reply.id)):
                continue
            if await repository.finish_reply(
                session,
                reply.id,
                content=reply.content,
                status=MessageStatus.failed,
                meta={"error": INTERRUPTED},
            ):
                settled += 1
                await StreamWriter(redis, reply.user_id, reply.id, stream_ttl_seconds).error(INTERRUPTED)
        await session.commit()
        bucket = int(now.timestamp() // 300)
        for message in await repository.unformed_messages(session, now - unformed_after, limit):
            job = await companion_form_memories.enqueue(
                redis, str(message.id), job_id=f"{form_job_id(message.id)}:sweep:{bucket}"
            )
            queued += job is not None
    if settled or queued:
        log.info("companion_swept", settled=settled, queued=queued)
    return {"settled": settled, "queued": queued}


def form_job_id(user_message_id: uuid.UUID) -> str:
    """One formation job per message: ARQ drops a second enqueue while the first is kept."""
    return f"companion-form:{user_message_id}"


@job()
async def companion_form_memories(ctx: JobContext, message_id: str) -> dict[str, Any]:
    """After a reply: store the exchange as a task memory and the user's stated facts."""
    resources = ctx.resources
    done = await form_memories(
        ctx.sessions, lambda: resources.embedder, resources.chat.get(), ctx.redis, uuid.UUID(message_id)
    )
    return {"formed": done}


# Every five minutes, half a minute past.
@job(schedule=Schedule(minute=set(range(2, 60, 5)), second=30))
async def companion_sweep(ctx: JobContext) -> dict[str, int]:
    """Settle replies whose generator died; queue memory formation that was missed."""
    settings = ctx.settings
    return await sweep(
        ctx.sessions,
        ctx.redis,
        stale_after=timedelta(seconds=settings.companion_reply_timeout_seconds + 60),
        unformed_after=timedelta(minutes=2),
        stream_ttl_seconds=settings.companion_stream_ttl_seconds,
    )
