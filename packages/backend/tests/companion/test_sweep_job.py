"""The companion_sweep cron job, run by a real worker on its schedule with its settings."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from arq.connections import ArqRedis
from redis.asyncio import Redis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.companion import repository
from app.companion.stream import lease_key, stream_key
from app.models import Memory, Message
from app.users import repository as users
from app.workers.main import cron_jobs
from tests.support.worker import cron_jobs_due_now

SWEEP = "cron:companion_sweep"


async def pending_exchange(
    db: AsyncSession, clerk_id: str, text: str, age: timedelta
) -> tuple[uuid.UUID, Message]:
    """A user message and its reply still ``pending``, both last touched ``age`` ago."""
    user = await users.provision(db, clerk_id)
    conversation = await repository.create_conversation(db, user.id, "t")
    message = await repository.add_message(
        db, conversation_id=conversation.id, user_id=user.id, role="user", content=text
    )
    reply = await repository.add_message(
        db,
        conversation_id=conversation.id,
        user_id=user.id,
        role="assistant",
        content="Half a rep",
        status="pending",
        reply_to_id=message.id,
    )
    then = datetime.now(UTC) - age
    await db.execute(
        update(Message).where(Message.user_id == user.id).values(created_at=then, updated_at=then)
    )
    await db.commit()
    return user.id, reply


def test_the_sweep_is_scheduled_every_five_minutes_and_unique(settings_factory: Any) -> None:
    [sweep] = [job for job in cron_jobs(settings_factory()) if job.name == SWEEP]
    assert sweep.unique and not sweep.run_at_startup
    probe = dataclasses.replace(sweep)
    runs = []
    moment = datetime(2030, 1, 1, 0, 0, tzinfo=UTC)
    for _ in range(13):
        probe.calculate_next(moment)
        assert probe.next_run is not None
        moment = probe.next_run
        runs.append(moment)
    assert [(run.minute, run.second) for run in runs[:12]] == [(m, 30) for m in range(2, 60, 5)]
    assert (runs[12].hour, runs[12].minute, runs[12].second) == (1, 2, 30)


async def test_the_worker_runs_the_sweep_with_its_settings(
    settings_factory: Any, db: AsyncSession, redis: Redis, pool: ArqRedis, run_worker: Any
) -> None:
    # COMPANION_REPLY_TIMEOUT_SECONDS=30: a reply untouched for 30 + 60 s is dead. With the default
    # (120 s, so 180 s) the 150-second-old replies below would still count as alive.
    settings = settings_factory(companion_reply_timeout_seconds=30)
    dead_user, dead = await pending_exchange(db, "user_dead", "I love opera.", timedelta(seconds=150))
    _, young = await pending_exchange(db, "user_young", "I love jazz.", timedelta(seconds=45))
    leased_user, leased = await pending_exchange(db, "user_leased", "I love chess.", timedelta(seconds=150))
    await redis.set(lease_key(leased_user, leased.id), "1", ex=60)  # its generator is alive elsewhere

    worker = await run_worker(settings, cron_jobs=cron_jobs_due_now(settings, SWEEP))

    # Cron results are not kept (arq's default for cron jobs): what the sweep did is read from its
    # effects. It queued formation for the two users whose message is over two minutes old (the
    # jobs carry the sweep's ids) and the same burst worker ran them.
    formation = {r.job_id: r for r in await pool.all_job_results() if r.function == "companion_form_memories"}
    assert {job_id.split(":")[1] for job_id in formation} == {str(dead.reply_to_id), str(leased.reply_to_id)}
    assert all(":sweep:" in job_id and r.success for job_id, r in formation.items())
    assert worker.jobs_failed == 0 and worker.jobs_complete >= 3
    db.expire_all()  # read what the worker committed, not this session's copies
    statuses = {
        m.id: (m.status, m.content)
        for m in (await db.scalars(select(Message).where(Message.role == "assistant"))).all()
    }
    assert statuses[dead.id] == ("failed", "Half a rep")
    assert statuses[young.id][0] == statuses[leased.id][0] == "pending"
    [(_, fields)] = await redis.xrange(stream_key(dead_user, dead.id))
    assert json.loads(fields[b"data"])["type"] == "error"
    # The formation the sweep queued ran in the same worker: the dead user's stated preference.
    formed = (await db.scalars(select(Memory).where(Memory.user_id == dead_user))).all()
    assert [(str(m.tier), m.meta["kind"]) for m in formed] == [("personal", "preference")]
