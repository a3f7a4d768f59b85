"""`delight webhooks replay-deletions`: user.deleted deliveries recorded while
CLERK_WEBHOOK_DELETE_ENABLED was off are applied later, once each."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.companion.stream import stream_key
from app.models import User, WebhookDelivery
from app.runtime import create_resources
from app.webhooks import replay_deletions
from tests.auth.conftest import ApiFactory
from tests.support.services import ServiceURLs
from tests.webhooks.conftest import WEBHOOK_SECRET, deleted, event, post, user_data


async def outcomes(db: AsyncSession) -> dict[str, str]:
    db.expire_all()
    rows = await db.execute(select(WebhookDelivery.svix_id, WebhookDelivery.outcome))
    return {svix_id: outcome for svix_id, outcome in rows}


async def users(db: AsyncSession) -> set[str]:
    db.expire_all()
    return set((await db.scalars(select(User.clerk_user_id))).all())


async def record_deletions_while_disabled(
    api: ApiFactory, auth_headers: Any, redis: Redis
) -> tuple[httpx.AsyncClient, uuid.UUID]:
    """Two users with data (one also in Redis), deleted in Clerk while the flag was off, and one
    deletion of a user who never had an account; plus a user who stays."""
    disabled = await api(clerk_webhook_delete_enabled=False)
    ids = {}
    for clerk_id in ("user_a", "user_b", "user_stays"):
        await post(disabled, event("user.created", user_data(clerk_id)))
        me = await disabled.get("/api/v1/users/me", headers=auth_headers(clerk_id))
        ids[clerk_id] = uuid.UUID(me.json()["id"])
    await redis.set(stream_key(ids["user_a"], uuid.uuid4()), "buffered reply")
    for clerk_id, svix_id in (("user_a", "msg_del_a"), ("user_b", "msg_del_b"), ("user_never", "msg_del_n")):
        response = await post(disabled, deleted(clerk_id), svix_id=svix_id)
        assert response.json()["outcome"] == "deletion_disabled"
    return disabled, ids["user_a"]


async def test_replay_applies_each_recorded_deletion_once(
    api: ApiFactory, auth_headers: Any, db: AsyncSession, redis: Redis, settings_factory: Any
) -> None:
    client, user_a = await record_deletions_while_disabled(api, auth_headers, redis)
    assert await users(db) == {"user_a", "user_b", "user_stays"}
    # As the CLI runs it: a process of its own, whose erasures reach the API's user cache over Redis.
    cli_resources = create_resources(settings_factory(clerk_webhook_delete_enabled=True))
    await cli_resources.start()
    sessions = cli_resources.sessions

    dry = await replay_deletions(sessions, redis, dry_run=True)
    assert (dry.found, dry.deleted) == (3, 0)
    assert await users(db) == {"user_a", "user_b", "user_stays"}  # a dry run changes nothing

    report = await replay_deletions(sessions, redis)
    assert (report.found, report.deleted, report.already_absent) == (3, 2, 1)
    assert await users(db) == {"user_stays"}
    assert [key async for key in redis.scan_iter(match=f"companion:{user_a}:*")] == []
    recorded = await outcomes(db)
    assert [recorded[s] for s in ("msg_del_a", "msg_del_b", "msg_del_n")] == [
        "deleted",
        "deleted",
        "already_absent",
    ]
    # The tombstones now hold: the old tokens are refused (once the API has heard of the erasure,
    # over Redis), late profile updates are skipped.
    for _ in range(200):
        refused = await client.get("/api/v1/users/me", headers=auth_headers("user_a"))
        if refused.status_code == 401:
            break
        await asyncio.sleep(0.01)
    assert refused.json()["error"]["code"] == "user_deleted"
    late = await post(client, event("user.updated", user_data("user_b")))
    assert late.json()["outcome"] == "skipped_deleted"

    again = await replay_deletions(sessions, redis)  # idempotent: nothing left to apply
    assert (again.found, again.deleted, again.already_absent) == (0, 0, 0)
    assert await users(db) == {"user_stays"}
    await cli_resources.close()


async def test_concurrent_runs_apply_a_deletion_once(
    api: ApiFactory, auth_headers: Any, db: AsyncSession, redis: Redis, engine: Any
) -> None:
    await record_deletions_while_disabled(api, auth_headers, redis)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    first, second = await asyncio.gather(replay_deletions(sessions, redis), replay_deletions(sessions, redis))
    assert first.deleted + second.deleted == 2
    assert first.already_absent + second.already_absent == 1
    assert await users(db) == {"user_stays"}


def run_cli(services: ServiceURLs, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    delight = Path(sys.executable).with_name("delight")
    return subprocess.run(  # noqa: S603 - fixed arguments
        [str(delight), "webhooks", "replay-deletions"],
        cwd=tmp_path,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DATABASE_URL": services.database_url,
            "REDIS_URL": services.redis_url,
            "CLERK_SECRET_KEY": "sk_test_cli",
            "CLERK_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "ENVIRONMENT": "test",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_the_cli_command_needs_the_flag_then_applies_the_deletions(
    api: ApiFactory, auth_headers: Any, db: AsyncSession, redis: Redis, services: ServiceURLs, tmp_path: Path
) -> None:
    await record_deletions_while_disabled(api, auth_headers, redis)
    refused = await asyncio.to_thread(run_cli, services, tmp_path)
    assert refused.returncode == 2
    assert "CLERK_WEBHOOK_DELETE_ENABLED is off" in refused.stderr
    assert await users(db) == {"user_a", "user_b", "user_stays"}

    done = await asyncio.to_thread(run_cli, services, tmp_path, CLERK_WEBHOOK_DELETE_ENABLED="true")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3 deletions found: 2 accounts erased, 1 already absent"
    assert await users(db) == {"user_stays"}
    assert await db.scalar(select(func.count()).select_from(WebhookDelivery)) == 6
