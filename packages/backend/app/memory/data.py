"""The memory domain's section of the user export (erasure cascades from ``users``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.memory import repository
from app.memory.schemas import MemoryOut
from app.users import export_pages


@export_pages("memories")
async def export_memories(
    session: AsyncSession, user_id: uuid.UUID, after: Any, limit: int
) -> tuple[Sequence[dict[str, Any]], Any]:
    """Every memory of the user, oldest first (embeddings are derived data and left out)."""
    rows = await repository.export_page(session, user_id, after, limit)
    items = [MemoryOut.of(m).model_dump(mode="json") for m in rows]
    return items, (rows[-1].created_at, rows[-1].id) if len(rows) == limit else None
