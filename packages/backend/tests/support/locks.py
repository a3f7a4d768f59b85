"""Observe PostgreSQL lock waits, so a race test can prove the race happened instead of sleeping."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession


async def backend_pid(session: AsyncSession | AsyncConnection) -> int:
    """The server process of the session's connection (it starts a transaction if none is open)."""
    return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def blocking_pids(engine: AsyncEngine, pid: int) -> set[int]:
    async with engine.connect() as connection:
        result = await connection.execute(text("SELECT pg_blocking_pids(:pid)"), {"pid": pid})
        return set(result.scalar_one())


async def wait_until_blocked(
    engine: AsyncEngine,
    waiter: int,
    *,
    by: int | None = None,
    task: asyncio.Future[Any] | None = None,
    timeout: float = 10.0,
) -> set[int]:
    """Return once backend ``waiter`` waits on a lock held by ``by`` (any backend if ``None``), as
    PostgreSQL itself reports it. Fail if that does not happen within ``timeout``, or if ``task``
    (the work running on ``waiter``) finishes first: then it never waited."""
    deadline = time.monotonic() + timeout
    while True:
        blockers = await blocking_pids(engine, waiter)
        if blockers and (by is None or by in blockers):
            return blockers
        if task is not None and task.done():
            raise AssertionError(f"finished without waiting on a lock: {task.exception()!r}")
        assert time.monotonic() < deadline, f"backend {waiter} never waited on {by or 'a lock'}"
        await asyncio.sleep(0.01)


async def wait_until_waiting(engine: AsyncEngine, *, on: int, count: int, timeout: float = 10.0) -> set[int]:
    """Return the backends waiting on a lock held by backend ``on``, once there are ``count`` of them."""
    deadline = time.monotonic() + timeout
    while True:
        async with engine.connect() as connection:
            result = await connection.execute(
                text(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE :holder = ANY(pg_blocking_pids(pid)) AND datname = current_database()"
                ),
                {"holder": on},
            )
            waiting = {int(pid) for pid in result.scalars()}
        if len(waiting) >= count:
            return waiting
        assert time.monotonic() < deadline, f"{len(waiting)} backends wait on {on}, expected {count}"
        await asyncio.sleep(0.01)
