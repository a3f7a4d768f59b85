"""One nudges sweep at scale: ``python -m bench nudges`` (``./scripts/bench nudges``).

Seeds NUDGES_USERS users (default 100,000) into a fresh embedded PostgreSQL under /tmp
(NUDGES_PG_DIR), NUDGES_DROPPED (default 10%) of them dropped off: most at day 2 of the sequence
(in-app), a tenth of those at day 4 (email, to an in-process SMTP server speaking the real protocol)
and a twentieth at day 7 (SMS, opted in). The others were active in the last 40 hours; a fifth of
them have a streak of 5 days (the streak note is due only where it is already 19:00) and 2% asked for
the triad note. A third of all users have a goal with three missions, a fifth of the dropped-off ones
a remembered preference. Users are spread over six time zones where the sweep's moment is between
10:00 and 22:00 local, and every step came due before that day's send time: every dropped-off user is
due at once (the worst case: a real tick finds the users whose send time fell in the last 15
minutes; this is the backlog after an outage).

Then one sweep, as the worker runs it (production settings, one process, the default pool), timed
by phase: planning the sequences, planning the daily notes, delivery. Reported: sweep time, rows
written, sends per second; a second sweep at the same moment (idempotent: it finds nothing to do),
and the database floor: copying the rows the sweep wrote, in one statement, into an identical table.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from app.core.config import Settings
from app.core.database_url import to_async_url
from app.core.logging import configure_logging
from app.db.migrate import run_migrations
from app.devtools.embedded import start_postgres, start_redis
from app.nudges.sweep import Sweep
from app.runtime import create_resources
from bench import report

USERS = int(os.environ.get("NUDGES_USERS", "100000"))
DROPPED = float(os.environ.get("NUDGES_DROPPED", "0.10"))
PG_DIR = Path(os.environ.get("NUDGES_PG_DIR", "/tmp/delight-bench-nudges"))  # noqa: S108 - bench scratch
# 14:00 UTC: between 10:00 and 22:00 in every zone below.
AT = datetime(2026, 3, 4, 14, 0, tzinfo=UTC)
ZONES = ["UTC", "Europe/London", "Europe/Paris", "Africa/Lagos", "Asia/Dubai", "Asia/Kolkata"]


class CountingSMTP:
    """An SMTP server that accepts and counts (aiosmtpd, in-process: the real protocol)."""

    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received += 1
        return "250 OK"


SEED = """
INSERT INTO users (id, clerk_user_id, email, display_name, timezone, created_at)
SELECT md5('u' || n)::uuid, 'user_bench_' || n, 'u' || n || '@example.com',
       CASE WHEN n % 3 = 0 THEN 'Sam ' || n END, (ARRAY{zones})[1 + n % {zone_count}],
       $1::timestamptz - interval '60 days'
FROM generate_series(1, {users}) AS n;

CREATE TEMP TABLE seed AS
SELECT n, md5('u' || n)::uuid AS user_id,
       CASE WHEN n % {dropped_every} <> 0 THEN 0
            WHEN (n / {dropped_every}) % 20 = 1 THEN 3
            WHEN (n / {dropped_every}) % 10 = 2 THEN 2
            ELSE 1 END AS d
FROM generate_series(1, {users}) AS n;

INSERT INTO user_preferences (user_id, communication_preferences)
SELECT user_id, CASE WHEN d = 3 THEN '{{"sms": true}}'::jsonb
                     WHEN d = 0 AND n % 50 = 7 THEN '{{"triad_ready": true}}'::jsonb
                     ELSE '{{}}'::jsonb END
FROM seed;

INSERT INTO nudge_states (user_id, last_active_at, sequence_step, next_check_at)
SELECT user_id, last_active, CASE d WHEN 0 THEN 0 ELSE d - 1 END,
       last_active + CASE d WHEN 0 THEN interval '48 hours' WHEN 1 THEN interval '2 days'
                            WHEN 2 THEN interval '4 days' ELSE interval '7 days' END
FROM (SELECT user_id, d,
             $1::timestamptz - CASE d WHEN 0 THEN (n % 40) * interval '1 hour'
                                      WHEN 1 THEN interval '60 hours' + (n % 7) * interval '1 hour'
                                      WHEN 2 THEN interval '108 hours'
                                      ELSE interval '180 hours' END AS last_active
      FROM seed) AS s;

INSERT INTO goals (id, user_id, title, goal_type, value_category, importance)
SELECT md5('g' || n)::uuid, user_id, 'Goal number ' || n, 'concrete', 'craft', 3
FROM seed WHERE n % 3 = 0;

INSERT INTO missions (user_id, goal_id, title, estimated_minutes, energy_level, value_category,
                      essence_reward, position)
SELECT s.user_id, md5('g' || s.n)::uuid, 'Step ' || k || ' of goal ' || s.n, 10 + 5 * k, 'low', 'craft', 10, k
FROM seed s CROSS JOIN generate_series(1, 3) AS k WHERE s.n % 3 = 0;

INSERT INTO streaks (user_id, category, current_length, longest_length, last_active_on)
SELECT user_id, 'overall', 5, 5, ($1::timestamptz - interval '1 day')::date
FROM seed WHERE d = 0 AND n % 5 = 1;

INSERT INTO memories (user_id, tier, content, content_hash, metadata, source)
SELECT user_id, 'personal', 'I love long walks by the river',
       encode(sha256(('walks' || n)::bytea), 'hex'),
       '{{"kind": "preference", "polarity": "positive"}}', 'chat'
FROM seed WHERE d > 0 AND n % 5 = 0;
"""


async def seed(url: str) -> None:
    db = to_async_url(url)
    conn = await asyncpg.connect(db.url.replace("postgresql+asyncpg", "postgresql"), **db.connect_args)
    try:
        zones = "[" + ", ".join(f"'{zone}'" for zone in ZONES) + "]"
        sql = SEED.format(
            zones=zones, zone_count=len(ZONES), users=USERS, dropped_every=max(1, round(1 / DROPPED))
        )
        # seed.d: 0 active, 1/2/3 at day 2/4/7 of the sequence.
        async with conn.transaction():
            for statement in filter(None, (part.strip() for part in sql.split(";"))):
                if "$1" in statement:
                    await conn.execute(statement, AT)
                else:
                    await conn.execute(statement)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def floor_seconds(url: str) -> tuple[float, int]:
    """The database floor: the rows the sweep wrote, copied in one statement into an identical table."""
    db = to_async_url(url)
    conn = await asyncpg.connect(db.url.replace("postgresql+asyncpg", "postgresql"), **db.connect_args)
    try:
        await conn.execute("CREATE TABLE floor_notes (LIKE notifications INCLUDING ALL)")
        started = time.perf_counter()
        status = await conn.execute("INSERT INTO floor_notes SELECT * FROM notifications")
        seconds = time.perf_counter() - started
        return seconds, int(status.split()[-1])
    finally:
        await conn.close()


def settings_for(database_url: str, redis_url: str, smtp_port: int) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        redis_url=redis_url,
        clerk_secret_key="sk_live_bench_0123456789abcdef",  # noqa: S106 - a scratch database's
        clerk_webhook_secret="whsec_YmVuY2hiZW5jaGJlbmNoYmVuY2hiZW5jaA==",  # noqa: S106
        environment="production",
        log_level="WARNING",
        notify_smtp_url=f"smtp://127.0.0.1:{smtp_port}",
        notify_email_from="Eliza at Delight <eliza@example.com>",
        public_base_url="https://api.example.com",
    )


async def timed_sweep(settings: Settings) -> dict[str, Any]:
    configure_logging(settings.log_level, json=settings.json_logs)
    resources = create_resources(settings)
    try:
        sweep = Sweep(resources, AT)
        phases: dict[str, float] = {}
        started = time.perf_counter()
        async with sweep._transaction() as session:
            from app.nudges import repository  # noqa: PLC0415

            sweep.report.rows_written += await repository.ensure_states(session)
        phases["new users"] = time.perf_counter() - started
        for name, step in (
            ("plan sequences", sweep.plan_dropoffs),
            ("plan daily notes", sweep.plan_daily_notes),
            ("deliver", sweep.deliver),
        ):
            begun = time.perf_counter()
            await step()
            phases[name] = time.perf_counter() - begun
        total = time.perf_counter() - started
    finally:
        await resources.close()
    return {"total": total, "phases": phases, "report": sweep.report}


async def run() -> None:
    from aiosmtpd.controller import Controller  # noqa: PLC0415 - embedded group, like pgserver

    shutil.rmtree(PG_DIR, ignore_errors=True)
    postgres = start_postgres(PG_DIR / "pg", database="nudges")
    redis = start_redis(PG_DIR / "redis")
    smtp = CountingSMTP()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(smtp, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        await asyncio.to_thread(run_migrations, postgres.url)
        started = time.perf_counter()
        await seed(postgres.url)
        seeded = time.perf_counter() - started
        print(f"  seeded {USERS:,} users in {seeded:.0f} s", flush=True)
        settings = settings_for(postgres.url, redis.url, port)
        load_before = os.getloadavg()[0]
        first = await timed_sweep(settings)
        load_after = os.getloadavg()[0]
        print(f"  sweep: {first['total']:.1f} s {first['report'].summary()}", flush=True)
        second = await timed_sweep(settings)
        floor, floor_rows = await floor_seconds(postgres.url)
    finally:
        controller.stop()
        redis.stop()
        postgres.stop()
    body = _body(first, second, floor, floor_rows, seeded, smtp.received, load_before, load_after)
    report.append("Nudges sweep (`nudges`)", body)


def _body(
    first: dict[str, Any],
    second: dict[str, Any],
    floor: float,
    floor_rows: int,
    seeded: float,
    emails: int,
    load_before: float,
    load_after: float,
) -> str:
    sweep = first["report"]
    sends = sum(count for key, count in sweep.delivered.items() if key.startswith("sent:"))
    dropped = round(USERS * DROPPED)
    phases = "\n".join(f"| {name} | {seconds:.2f} |" for name, seconds in first["phases"].items())
    notes = ", ".join(f"{key} {count:,}" for key, count in sorted(sweep.notes.items()))
    delivered = ", ".join(f"{key} {count:,}" for key, count in sorted(sweep.delivered.items()))
    return f"""
Scale: **{USERS:,} users, {dropped:,} dropped off** (day 2, 4 or 7 of the sequence, all due at once:
the backlog after an outage), six time zones where the sweep's moment ({AT:%Y-%m-%d %H:%M} UTC) is
between 10:00 and 22:00; a third with a goal and
three missions, streaks and triad opt-ins among the active users (seeded in {seeded:.0f} s).
Embedded PostgreSQL 16 (pgserver, default settings), embedded Redis, an in-process SMTP server (real
protocol, aiosmtplib client: one connection per email); one process, production settings
(`ENVIRONMENT=production`, the default pool and batch sizes), logging at WARNING. The machine is shared:
1-minute load average {load_before:.1f} before and {load_after:.1f} after the sweep (2 cores).

| | seconds |
| --- | --- |
| **one sweep** (aim: under 60 s on one worker) | **{first["total"]:.1f}** |
| the same sweep again (idempotent: nothing left to do) | {second["total"]:.2f} |
| floor: the {floor_rows:,} notes it wrote, copied into an identical table in one statement | {floor:.2f} |

| phase of the first sweep | seconds |
| --- | --- |
{phases}

Users planned: {sweep.users:,}. Rows written: **{sweep.rows_written:,}** (notes inserted and updated,
sequence states moved on). Notes: {notes}. Delivered: {delivered} ({emails:,} emails received by
the SMTP server). **{sends / first["total"]:.0f} sends/s** over the whole sweep
({sends:,} sends). The second sweep wrote {second["report"].rows_written} rows.
"""


def main() -> None:
    asyncio.run(run())
