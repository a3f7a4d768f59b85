"""More than one process: two API processes (``uvicorn main:app``) and two workers (``delight
worker``), started as the runbook starts them, against one PostgreSQL and one Redis.

- a reply stream started on one API process resumes on the other with ``Last-Event-ID``;
- the per-user rate limit is shared;
- each job runs once (two workers, one queue) and its effect happens once;
- the user cache stays coherent after ``PATCH /users/me`` on the other process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Memory, Message
from tests.companion.support import parse_sse
from tests.conftest import SIGNING_KEY, WEBHOOK_SECRET

BACKEND = Path(__file__).resolve().parents[2]
ME = "/api/v1/users/me"
CHAT = "/api/v1/companion/chat"
RATE_LIMIT = 3

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def deployment(services: Any, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two API processes and two workers; yields the two API base URLs."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "CLERK_SECRET_KEY": "sk_test_delight_tests",
        "CLERK_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "CLERK_JWT_KEY": SIGNING_KEY.public_pem,
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "WARNING",
        "COMPANION_CHAT_RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT),
    }
    ports = [free_port(), free_port()]
    commands = [
        *(
            [sys.executable, "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port", str(p)]
            for p in ports
        ),
        *([sys.executable, "-m", "app.cli", "worker"] for _ in range(2)),
    ]
    processes = []
    logs = []
    try:
        for n, command in enumerate(commands):
            log = (tmp_path / f"process-{n}.log").open("wb")
            logs.append(log)
            processes.append(
                subprocess.Popen(command, cwd=BACKEND, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
            )
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        deadline = time.monotonic() + 90
        for url in urls:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url + "/api/v1/health/live", timeout=1).status_code == 200:
                        break
                if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
                    output = "\n".join(f.read_text()[-1500:] for f in sorted(tmp_path.glob("process-*.log")))
                    raise RuntimeError(f"a process did not start:\n{output}")
                time.sleep(0.2)
        yield urls[0], urls[1]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in logs:
            log.close()


async def eventually(check: Any, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {seconds} s")
        await asyncio.sleep(0.05)


async def test_two_api_processes_and_two_workers(
    deployment: tuple[str, str], auth_headers: Any, db: AsyncSession, pool: ArqRedis
) -> None:
    url_a, url_b = deployment
    async with (
        httpx.AsyncClient(base_url=url_a, timeout=30) as a,
        httpx.AsyncClient(base_url=url_b, timeout=30) as b,
    ):
        # A reply started on A, read on A, resumed on B from the middle: the rest, no duplicates.
        headers = auth_headers("user_mp_stream")
        accepted = (await a.post(CHAT, json={"message": "I'm anxious about my exam"}, headers=headers)).json()
        full = parse_sse((await a.get(accepted["stream_url"], headers=headers)).text)
        assert full.last["type"] == "complete" and len(full.events) >= 3
        middle = len(full.events) // 2
        resumed = parse_sse(
            (
                await b.get(
                    accepted["stream_url"], headers={**headers, "Last-Event-ID": full.ids[middle - 1]}
                )
            ).text
        )
        assert resumed.events == full.events[middle:]

        # One rate limit for both processes.
        limited = auth_headers("user_mp_rate")
        statuses = []
        for n, client in enumerate((a, b, a, b)):
            response = await client.post(CHAT, json={"message": f"Message number {n + 1}"}, headers=limited)
            statuses.append(response.status_code)
        assert statuses == [202] * RATE_LIMIT + [429]

        # The user cache of A hears about a change made through B.
        cached = auth_headers("user_mp_cache")
        assert (await a.get(ME, headers=cached)).json()["display_name"] is None
        assert (await a.get(ME, headers=cached)).json()["display_name"] is None  # served from A's cache
        assert (await b.patch(ME, json={"display_name": "Katherine"}, headers=cached)).status_code == 200

        async def renamed() -> bool:
            return bool((await a.get(ME, headers=cached)).json()["display_name"] == "Katherine")

        await eventually(renamed, seconds=2)

    # Each formation job ran once, on one of the two workers, and formed its message once.
    users_messages = list(
        (await db.scalars(select(Message).where(Message.role == "user").order_by(Message.seq))).all()
    )
    assert len(users_messages) == 1 + RATE_LIMIT

    async def formation_results() -> list[Any]:
        return [r for r in await pool.all_job_results() if r.function == "companion_form_memories"]

    async def formed() -> bool:
        db.expire_all()
        rows = (await db.scalars(select(Message).where(Message.role == "user"))).all()
        done = all(row.memories_formed_at is not None for row in rows)
        return done and len(await formation_results()) == len(users_messages)

    await eventually(formed)
    results = await formation_results()
    assert sorted(r.job_id for r in results) == sorted(f"companion-form:{m.id}" for m in users_messages)
    assert all(r.success and r.job_try == 1 for r in results)
    exchanges = (
        await db.scalars(
            select(Memory).where(Memory.tier == "task", Memory.meta["kind"].astext == "exchange")
        )
    ).all()
    assert sorted(str(m.meta["message_id"]) for m in exchanges) == sorted(str(m.id) for m in users_messages)
