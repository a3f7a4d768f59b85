"""Activity: a request that shows intent (chat, mission start/complete, goal or memory writes).

One hook, ``RecordsActivity``, added where the intent-showing routers are mounted (app/api.py):
after the endpoint succeeded, a write method (POST, PUT, PATCH, DELETE) records activity in the
request's own transaction. Reads record nothing.

Cheap: a Redis ``SET NX EX`` per intent request lets through at most one database write per user per
``NUDGE_ACTIVITY_COALESCE_SECONDS``; the write is one upsert that never moves time backwards. A sent
note clears the user's key, so the first activity after a note is always written (the DCI counts
notes followed by activity within 24 h). Without Redis, or with Redis failing, every intent request
writes (still correct, just less coalesced).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

from fastapi import Depends, Request
from redis.exceptions import RedisError

from app.core.deps import SessionDep, resources_of
from app.core.logging import get_logger
from app.kit.clock import Now
from app.nudges import repository
from app.users import CurrentUser, erase_hook

log = get_logger(__name__)

INTENT_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _key(user_id: uuid.UUID) -> str:
    return f"nudges:active:{user_id}"


async def record_activity(
    session: Any, redis: Any, user_id: uuid.UUID, now: datetime, coalesce_seconds: int
) -> bool:
    """Record that the user showed intent at ``now``; ``False`` when coalesced away (written recently)."""
    if redis is not None and coalesce_seconds > 0:
        try:
            if not await redis.set(_key(user_id), b"1", nx=True, ex=coalesce_seconds):
                return False
        except (RedisError, OSError) as exc:
            log.warning("activity_gate_unavailable", error=type(exc).__name__)
    await repository.touch(session, user_id, now)
    return True


async def forget_activity(redis: Any, user_ids: Iterable[uuid.UUID]) -> None:
    """Let these users' next activity through to the database (a note was just sent to them)."""
    keys = [_key(user_id) for user_id in user_ids]
    if redis is None or not keys:
        return
    try:
        await redis.delete(*keys)
    except (RedisError, OSError) as exc:
        log.warning("activity_gate_unavailable", error=type(exc).__name__)


async def _records_activity(
    request: Request, user: CurrentUser, session: SessionDep, now: Now
) -> AsyncIterator[None]:
    yield  # the endpoint runs here; if it raises, nothing is recorded
    if request.method in INTENT_METHODS:
        resources = resources_of(request)
        await record_activity(
            session, resources.redis, user.id, now, resources.settings.nudge_activity_coalesce_seconds
        )


# Function scope: the code after ``yield`` runs when the endpoint returns, inside the request's
# transaction (before its commit), not after the response was sent.
RecordsActivity = Depends(_records_activity, scope="function")


@erase_hook
async def _erase_activity_key(redis: Any, user_id: uuid.UUID, clerk_user_id: str) -> None:
    await redis.delete(_key(user_id))
