"""The worker sweeps every 15 minutes; a sweep is an ordinary ARQ job a real worker runs; a user
whose planning fails is isolated from the others; ``delight nudges run`` (dry run, per user)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from arq.connections import ArqRedis
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from app.cli import cli
from app.core.config import Settings
from app.models import UserPreferences
from app.models.nudges import NudgeState
from app.nudges import JOBS
from app.workers.main import cron_jobs
from tests.goals.support import Api, FakeClock
from tests.nudges.conftest import Store

MONDAY_9 = datetime(2025, 1, 13, 9, tzinfo=UTC)
DAY_2 = datetime(2025, 1, 15, 10, tzinfo=UTC)


def test_the_sweep_runs_every_15_minutes(settings: Settings) -> None:
    [job] = [job for job in cron_jobs(settings) if job.name == "cron:nudges_sweep"]
    assert sorted(job.minute) == [2, 17, 32, 47] and job.unique  # type: ignore[arg-type]


async def test_a_real_worker_runs_the_sweep(
    api: Any, clock: FakeClock, nudge_settings: Settings, pool: ArqRedis, run_worker: Any, store: Store
) -> None:
    me: Api = api("user_worker")
    clock.set(MONDAY_9)
    await me.goal(title="Write a song")
    [sweep_job] = JOBS
    assert await sweep_job.enqueue(pool, DAY_2.isoformat())
    await run_worker(nudge_settings, cron_jobs=[])
    assert await store.summary("user_worker") == [("dropoff", 1, "in_app", "sent", None)]


async def test_one_users_failure_does_not_stop_the_others(
    api: Any, clock: FakeClock, sweep: Any, store: Store, db: AsyncSession
) -> None:
    for sub in ("user_ok_1", "user_broken", "user_ok_2"):
        me: Api = api(sub)
        clock.set(MONDAY_9)
        await me.goal(title="Read more")
    broken = (await store.user("user_broken")).id
    # A row the API would never write (preferences must be an object): this user's planning fails.
    await db.execute(
        update(UserPreferences)
        .where(UserPreferences.user_id == broken)
        .values(communication_preferences=["x"])
    )
    await db.commit()
    report = await sweep(DAY_2)
    assert report.errors == 1 and report.delivered == {"sent:in_app": 2}
    assert await store.summary("user_broken") == []
    state = await store.state("user_broken")
    assert state.sequence_step == 0 and state.next_check_at == DAY_2 + timedelta(
        minutes=15
    )  # tried again soon

    await db.execute(
        update(UserPreferences).where(UserPreferences.user_id == broken).values(communication_preferences={})
    )
    await db.commit()
    assert (await sweep(DAY_2 + timedelta(minutes=15))).delivered == {"sent:in_app": 1}


@pytest.mark.parametrize("nudge_overrides", [{"nudge_sweep_batch_size": 2}])
async def test_a_failing_user_in_a_full_batch_does_not_end_the_sweep_early(
    api: Any, clock: FakeClock, sweep: Any, store: Store, db: AsyncSession
) -> None:
    """Batches of 2, the failing user first: the batch after it must still be planned."""
    subs = ("user_broken", "user_b_1", "user_b_2", "user_b_3", "user_b_4")
    for sub in subs:
        me: Api = api(sub)
        clock.set(MONDAY_9)
        await me.goal(title="Read more")
    broken = (await store.user("user_broken")).id
    await db.execute(
        update(UserPreferences)
        .where(UserPreferences.user_id == broken)
        .values(communication_preferences=["x"])
    )
    first = (await store.state("user_broken")).next_check_at
    assert first is not None
    await db.execute(  # due first, so it lands in the first batch
        update(NudgeState)
        .where(NudgeState.user_id == broken)
        .values(next_check_at=first - timedelta(minutes=1))
    )
    await db.commit()
    report = await sweep(DAY_2)
    assert report.errors == 1 and report.delivered == {"sent:in_app": 4}
    for sub in subs[1:]:
        assert await store.summary(sub) == [("dropoff", 1, "in_app", "sent", None)]


@pytest.fixture
def cli_env(nudge_settings: Settings, tmp_path: Path) -> dict[str, str]:
    """What an operator's shell has: the service's configuration in the environment."""
    smtp = nudge_settings.notify_smtp_url
    return {
        "DATABASE_URL": nudge_settings.database_url,
        "REDIS_URL": nudge_settings.redis_url or "",
        "CLERK_SECRET_KEY": nudge_settings.clerk_secret_key.get_secret_value(),
        "CLERK_WEBHOOK_SECRET": nudge_settings.clerk_webhook_secret.get_secret_value(),
        "NOTIFY_SMTP_URL": smtp.get_secret_value() if smtp else "",
        "NOTIFY_EMAIL_FROM": nudge_settings.notify_email_from or "",
        "ENVIRONMENT": "test",
        "DELIGHT_DATA_DIR": str(tmp_path),
    }


async def delight(env: dict[str, str], *args: str) -> Any:
    """``delight ARGS`` in-process, in a thread: the command runs its own event loop, as from a shell."""
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env, catch_exceptions=False)
    return result


async def test_delight_nudges_run_dry_run_then_for_real_then_idempotent(
    cli_env: dict[str, str], api: Any, clock: FakeClock, store: Store
) -> None:
    me: Api = api("user_cli")
    clock.set(MONDAY_9)
    await me.goal(title="Plant a garden")

    early = await delight(
        cli_env, "nudges", "run", "--at", "2025-01-14T10:00:00Z", "--user", "user_cli", "--dry-run"
    )
    assert early.exit_code == 0, early.output
    assert "user_cli: last active 25 h ago: step 1 is due 2025-01-15 10:00 UTC" in early.output

    preview = await delight(
        cli_env, "nudges", "run", "--at", DAY_2.isoformat(), "--user", "user_cli", "--dry-run"
    )
    assert "user_cli: send dropoff step 1 via in_app" in preview.output
    assert json.loads(preview.output[preview.output.index("{") :])["dry_run"] is True
    assert await store.summary("user_cli") == []  # a dry run writes nothing

    done = await delight(cli_env, "nudges", "run", "--at", DAY_2.isoformat(), "--user", "user_cli")
    summary = json.loads(done.output[done.output.index("{") :])
    assert done.exit_code == 0 and summary["delivered"] == {"sent:in_app": 1}
    again = await delight(cli_env, "nudges", "run", "--at", DAY_2.isoformat())
    assert json.loads(again.output[again.output.index("{") :])["rows_written"] == 0
    assert await store.summary("user_cli") == [("dropoff", 1, "in_app", "sent", None)]

    link = await delight(cli_env, "nudges", "link", "--user", "user_cli", "--channel", "email")
    assert link.output.startswith("http://127.0.0.1:8000/api/v1/notifications/unsubscribe?token=")
    bad = await delight(cli_env, "nudges", "run", "--at", "yesterday")
    assert bad.exit_code == 2 and "ISO 8601" in bad.output
    unknown = await delight(cli_env, "nudges", "run", "--user", "user_nobody")
    assert unknown.exit_code == 1 and "no user user_nobody" in unknown.output
