"""The companion's sections of the user export, and erasure of what it keeps in Redis."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.companion import repository
from app.companion.schemas import ConversationOut, EmotionalStateOut, MessageOut
from app.companion.stream import user_prefix
from app.users import erase_hook, export_pages, export_section


@export_pages("conversations", page_size=20)
async def export_conversations(
    session: AsyncSession, user_id: uuid.UUID, after: Any, limit: int
) -> tuple[Sequence[dict[str, Any]], Any]:
    """Every conversation with all its messages, oldest first (a page of conversations at a time)."""
    conversations = await repository.conversations_page(session, user_id, after, limit)
    by_conversation: dict[uuid.UUID, list[dict[str, Any]]] = {c.id: [] for c in conversations}
    for message in await repository.messages_of(session, user_id, list(by_conversation)):
        by_conversation[message.conversation_id].append(
            MessageOut.model_validate(message).model_dump(mode="json")
        )
    items = [
        {
            **ConversationOut.model_validate(conversation).model_dump(mode="json"),
            "messages": by_conversation[conversation.id],
        }
        for conversation in conversations
    ]
    last = conversations[-1] if len(conversations) == limit else None
    return items, (last.created_at, last.id) if last is not None else None


@export_section("companion")
async def export_companion(session: AsyncSession, user_id: uuid.UUID) -> dict[str, Any]:
    """The latest emotional state and every recorded language-model call."""
    state = await repository.get_emotional_state(session, user_id)
    return {
        "emotional_state": EmotionalStateOut.model_validate(state).model_dump(mode="json") if state else None,
        "model_usage": [
            {
                "created_at": row.created_at.isoformat(),
                "conversation_id": str(row.conversation_id) if row.conversation_id else None,
                "message_id": str(row.message_id) if row.message_id else None,
                "purpose": row.purpose,
                "model": row.model,
                "prompt_tokens": row.prompt_tokens,
                "completion_tokens": row.completion_tokens,
                "latency_ms": row.latency_ms,
                "ok": row.ok,
            }
            for row in await repository.all_usage(session, user_id)
        ],
    }


@erase_hook
async def erase_companion_keys(redis: Any, user_id: uuid.UUID, clerk_user_id: str) -> None:
    """Reply buffers, leases and the rate-limit window: every key under the user's prefix."""
    batch: list[Any] = []
    async for key in redis.scan_iter(match=f"{user_prefix(user_id)}*", count=500):
        batch.append(key)
        if len(batch) >= 500:
            await redis.delete(*batch)
            batch.clear()
    if batch:
        await redis.delete(*batch)
