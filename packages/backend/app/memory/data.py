"""The memory domain's section of the user export (erasure cascades from ``users``)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.memory import repository
from app.memory.schemas import MemoryOut
from app.users import export_section


@export_section("memories")
async def export_memories(session: AsyncSession, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every memory of the user, oldest first (embeddings are derived data and left out)."""
    return [MemoryOut.of(m).model_dump(mode="json") for m in await repository.all_for_user(session, user_id)]
