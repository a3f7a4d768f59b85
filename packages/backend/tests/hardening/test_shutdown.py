"""Graceful shutdown of the real server (``uvicorn main:app`` as the Docker image runs it): SIGTERM
during replies. Open streams end at once with a resumable ``reconnect`` event, replies being
generated finish before the process exits, and a client resuming on another process gets exactly
the rest of its reply."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.models import Message
from bench.servers import BACKEND_DIR, free_port
from tests.companion.openai_server import OpenAIServer, Script
from tests.companion.support import parse_sse, send
from tests.conftest import WEBHOOK_SECRET
from tests.support.services import ServiceURLs

REPLY = "One two three four five six seven eight nine ten eleven twelve thirteen fourteen."
DOCKERFILE = (BACKEND_DIR / "Dockerfile").read_text()


def graceful_timeout() -> str:
    """The Docker image's --timeout-graceful-shutdown, so the test runs the deployed command."""
    found = re.search(r"--timeout-graceful-shutdown (\d+)", DOCKERFILE)
    assert found, "the Dockerfile sets uvicorn's graceful shutdown timeout"
    return found.group(1)


@pytest.fixture
def model() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        server.script = Script(reply=REPLY, token_delay=0.15)
        yield server


@contextlib.contextmanager
def api_process(env: dict[str, str], log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    command = [
        *(sys.executable, "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port", str(port)),
        *("--timeout-graceful-shutdown", graceful_timeout()),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=BACKEND_DIR, env=env, stdout=out, stderr=out)  # noqa: S603
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, log.read_text()[-3000:]
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url + "/api/v1/health/live", timeout=1).status_code == 200:
                        break
                assert time.monotonic() < deadline, "the API did not start"
                time.sleep(0.1)
            yield url, process
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


async def follow(http: httpx.AsyncClient, url: str, headers: dict[str, str], seen: list[str]) -> list[Any]:
    """Read a reply stream to its end: the (id, data) events; token texts also go to ``seen``."""
    events: list[Any] = []
    async with http.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200
        block: list[str] = []
        async for line in response.aiter_lines():
            if line:
                block.append(line)
                continue
            parsed = parse_sse("\n".join(block) + "\n\n").events
            block = []
            for event_id, data in parsed:
                events.append((event_id, data))
                if data["type"] == "token":
                    seen.append(data["content"])
    return events


async def test_sigterm_during_replies_every_reply_completes_or_resumes(
    services: ServiceURLs,
    settings: Settings,
    model: OpenAIServer,
    auth_headers: Any,
    db: AsyncSession,
    tmp_path: Path,
) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "CLERK_SECRET_KEY": "sk_test_shutdown",
        "CLERK_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "CLERK_JWT_KEY": settings.clerk_jwt_key or "",
        "ENVIRONMENT": "production",
        "OPENAI_API_KEY": "sk-test-local",
        "OPENAI_BASE_URL": model.url,
        "COMPANION_MODEL": "test-model",
        "COMPANION_EMOTION_DETECTION": "offline",
    }
    users = [f"user_{n}" for n in range(3)]
    with api_process(env, tmp_path / "first.log") as (url, process):
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            accepted = {user: await send(http, auth_headers(user), "count for me") for user in users}
            seen: dict[str, list[str]] = {user: [] for user in users}
            streams = {
                user: asyncio.create_task(
                    follow(http, accepted[user]["stream_url"], auth_headers(user), seen[user])
                )
                for user in users
            }
            for _ in range(200):  # every reply is under way
                if all(len(tokens) >= 2 for tokens in seen.values()):
                    break
                await asyncio.sleep(0.02)
            assert all(len(tokens) >= 2 for tokens in seen.values()), seen
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(5):  # streams end at once, not when the replies end
                first = {user: await task for user, task in streams.items()}
        exit_code = await asyncio.to_thread(process.wait, 60)
    log = (tmp_path / "first.log").read_text()
    # uvicorn re-raises the signal once it has shut down cleanly (so the exit status says SIGTERM).
    assert exit_code in (0, -signal.SIGTERM), log[-3000:]
    assert "Application shutdown complete." in log

    for user in users:
        last_id, last = first[user][-1]
        assert last["type"] == "reconnect", first[user]
        token_ids = [event_id for event_id, data in first[user] if data["type"] == "token"]
        assert last_id == token_ids[-1]  # resume from exactly what the client has
        assert "".join(seen[user]) != REPLY  # the stream was cut short...

    # ...but every reply was finished before the process exited: nothing acknowledged is lost.
    for user in users:
        db.expire_all()
        reply = await db.get(Message, uuid.UUID(accepted[user]["message_id"]))
        assert reply is not None and (reply.status, reply.content) == ("complete", REPLY)

    # The clients reconnect to another process and get exactly the rest.
    with api_process(env, tmp_path / "second.log") as (url, _):
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            for user in users:
                last_id = first[user][-1][0]
                rest: list[str] = []
                headers = {**auth_headers(user), "Last-Event-ID": last_id}
                events = await follow(http, accepted[user]["stream_url"], headers, rest)
                assert events[-1][1]["type"] == "complete"
                assert "".join(seen[user]) + "".join(rest) == REPLY
