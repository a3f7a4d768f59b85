"""Jobs of the planning domain: thin shims over ``planning/nightly.py``.

``nightly_sweep`` runs every 15 minutes and enqueues ``nightly_user`` for each user whose local
day has turned since their last snapshot (their local "yesterday" has none), so each user's
nightly run happens shortly after their own midnight. Both take an optional ISO-8601 ``now``
(tests pass a fixed time; cron passes nothing).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

from app.core.jobs import JobContext, Schedule, job, transaction
from app.core.logging import get_logger
from app.kit.clock import parse_now
from app.planning.nightly import run_nightly
from app.planning.repository import progress as repository

log = get_logger(__name__)
SWEEP_BATCH = 1000


@job()
async def nightly_user(ctx: JobContext, user_id: str, now: str | None = None) -> dict[str, Any] | None:
    """Streak check, DCI snapshots, deferred missions back, pending missions topped up."""
    async with transaction(ctx.sessions, ctx.redis) as session:
        result = await run_nightly(
            session,
            uuid.UUID(user_id),
            parse_now(now),
            ctx.settings.missions_pending_target,
            ctx.settings.max_missions_per_goal,
        )
    if result is None:
        return None
    data = asdict(result)
    data["today"] = result.today.isoformat()
    return data


# Every user's nightly run happens shortly after their own midnight: swept four times an hour.
@job(schedule=Schedule(minute={5, 20, 35, 50}, second=15))
async def nightly_sweep(ctx: JobContext, now: str | None = None) -> int:
    """Enqueue the nightly run of every user who is due; returns how many were enqueued."""
    moment = parse_now(now)
    async with ctx.sessions() as session:
        due = await repository.users_due(session, moment, SWEEP_BATCH)
    enqueued = 0
    for user_id, yesterday in due:
        # One job id per user and day: ARQ drops a second enqueue while the first is queued or kept.
        job = await nightly_user.enqueue(
            ctx.redis, str(user_id), moment.isoformat(), job_id=f"nightly:{user_id}:{yesterday.isoformat()}"
        )
        enqueued += job is not None
    if due:
        log.info("nightly_sweep", due=len(due), enqueued=enqueued)
    return enqueued


JOBS = (nightly_sweep, nightly_user)
