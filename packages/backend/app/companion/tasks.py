"""ARQ jobs of the companion (registered in app/workers/main.py): thin shims over formation."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from app.companion import formation
from app.companion.llm import chat_model_for
from app.core.config import Settings
from app.memory.embeddings import get_embedder


async def companion_form_memories(ctx: dict[str, Any], message_id: str) -> dict[str, Any]:
    """After a reply: store the exchange as a task memory and the user's stated facts."""
    resources = ctx["resources"]
    done = await formation.form_memories(
        ctx["sessions"],
        lambda: get_embedder(resources),
        chat_model_for(resources),
        ctx["redis"],
        uuid.UUID(message_id),
    )
    return {"formed": done}


async def companion_sweep(ctx: dict[str, Any]) -> dict[str, int]:
    """Cron: settle replies whose generator died; queue memory formation that was missed."""
    settings: Settings = ctx["settings"]
    return await formation.sweep(
        ctx["sessions"],
        ctx["redis"],
        stale_after=timedelta(seconds=settings.companion_reply_timeout_seconds + 60),
        unformed_after=timedelta(minutes=2),
        stream_ttl_seconds=settings.companion_stream_ttl_seconds,
    )
