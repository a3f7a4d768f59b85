"""The companion's sections of the user export, and erasure of what it keeps in Redis."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.companion import repository
from app.companion.schemas import ConversationOut, EmotionalStateOut, MessageOut
from app.companion.stream import user_prefix
from app.users import erase_hook, export_section


@export_section("conversations")
async def export_conversations(session: AsyncSession, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every conversation with all its messages, oldest first."""
    by_conversation: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for message in await repository.all_messages(session, user_id):
        by_conversation.setdefault(message.conversation_id, []).append(
            MessageOut.model_validate(message).model_dump(mode="json")
        )
    return [
        {
            **ConversationOut.model_validate(conversation).model_dump(mode="json"),
            "messages": by_conversation.get(conversation.id, []),
        }
        for conversation in await repository.all_conversations(session, user_id)
    ]


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
