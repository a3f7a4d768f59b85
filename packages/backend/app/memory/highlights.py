"""What another domain may quote from many users' memories at once (nudges name something the
user said they care about)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from app.memory import repository

# Longer preferences are not quoted: a note names a short thing, not a paragraph.
MAX_QUOTED_CHARS: Final = 120


@dataclass(frozen=True)
class CaredAbout:
    memory_id: uuid.UUID
    content: str  # first person, as stored ("I love early morning runs")


async def cared_about(session: AsyncSession, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, CaredAbout]:
    """Per user, a positive preference from the personal tier (most recalled, then newest)."""
    rows = await repository.cared_about(session, user_ids, MAX_QUOTED_CHARS)
    return {row.user_id: CaredAbout(row.id, row.content) for row in rows}
