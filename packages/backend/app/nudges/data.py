"""The user's nudges data in the export, and the count the DCI's nudge_response is made of.

Rows are erased with the user (``ON DELETE CASCADE``); the Redis activity key by an erase hook
(``activity.py``).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.nudges import repository
from app.planning import nudge_response_source
from app.users import export_section


@export_section("notifications")
async def _export_notifications(session: AsyncSession, user_id: uuid.UUID) -> dict[str, Any]:
    state = await repository.get_state(session, user_id)
    return {
        "activity": {
            "last_active_at": state.last_active_at.isoformat(),
            "sequence_step": state.sequence_step,
            "next_check_at": state.next_check_at.isoformat() if state.next_check_at else None,
        }
        if state is not None
        else None,
        "notifications": [
            {
                "id": str(row.id),
                "kind": row.kind.value,
                "step": row.step,
                "channel": row.channel.value,
                "local_date": row.local_date.isoformat(),
                "state": row.state.value,
                "reason": row.reason.value if row.reason else None,
                "title": row.title,
                "body": row.body,
                "content_source": row.content_source.value,
                "context": row.context,
                "attempts": row.attempts,
                "last_error": row.last_error,
                "created_at": row.created_at.isoformat(),
                "sent_at": row.sent_at.isoformat() if row.sent_at else None,
                "read_at": row.read_at.isoformat() if row.read_at else None,
                "dismissed_at": row.dismissed_at.isoformat() if row.dismissed_at else None,
                "responded_at": row.responded_at.isoformat() if row.responded_at else None,
            }
            for row in await repository.all_notes(session, user_id)
        ],
    }


@nudge_response_source
async def _responses(
    session: AsyncSession, user_id: uuid.UUID, first: date, last: date, now: datetime
) -> tuple[int, int]:
    return await repository.response_counts(session, user_id, first, last, now)
