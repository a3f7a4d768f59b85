"""Streaming behaviour that needs real connections: a client dropping mid-stream and resuming,
keep-alive comments, and replies in flight when the process shuts down."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.companion.stream import stream_key
from app.core.config import Settings
from app.main import create_app
from app.models import Message
from tests.companion.openai_server import OpenAIServer, Script
from tests.companion.support import parse_sse, send

REPLY = "One two three four five six seven eight nine ten eleven twelve."


class LiveServer:
    """The real app under uvicorn on 127.0.0.1, in a thread with its own event loop."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def live(model_settings: Settings, model_server: OpenAIServer) -> Iterator[str]:
    model_server.script = Script(reply=REPLY, token_delay=0.05)
    with LiveServer(model_settings) as url:
        yield url


async def _wait_for_status(db: AsyncSession, message_id: str, seconds: float = 15) -> Message:
    deadline = time.monotonic() + seconds
    while True:
        db.expire_all()
        message = await db.get(Message, uuid.UUID(message_id))
        assert message is not None
        if message.status in ("complete", "failed") or time.monotonic() > deadline:
            return message
        await asyncio.sleep(0.05)


async def test_a_dropped_client_resumes_with_last_event_id_and_the_reply_is_persisted(
    live: str, auth_headers: Any, db: AsyncSession
) -> None:
    headers = auth_headers("user_a")
    async with httpx.AsyncClient(base_url=live, timeout=20) as http:
        accepted = await send(http, headers, "Count for me")
        seen: list[tuple[str, str]] = []
        async with http.stream("GET", accepted["stream_url"], headers=headers) as response:
            assert response.status_code == 200
            event_id = None
            async for line in response.aiter_lines():
                if line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("data: ") and '"token"' in line:
                    assert event_id is not None
                    seen.append((event_id, parse_sse(f"{line}\n\n").events[0][1]["content"]))
                    if len(seen) == 3:
                        break  # the client goes away mid-reply

        reply = await _wait_for_status(db, accepted["message_id"])
        assert reply.status == "complete" and reply.content == REPLY  # generation went on without a client

        resumed = await http.get(accepted["stream_url"], headers={**headers, "Last-Event-ID": seen[-1][0]})
        rest = parse_sse(resumed.text)
        assert "".join(text for _, text in seen) + rest.text == REPLY
        assert rest.last["type"] == "complete"
        assert not {event_id for event_id, _ in seen} & set(rest.ids)


async def test_keep_alive_comments_while_the_model_is_slow(
    app_factory: Any, model_settings: Settings, model_server: OpenAIServer, auth_headers: Any
) -> None:
    model_server.script = Script(reply="Slow reply.", token_delay=0.7)
    app = await app_factory(model_settings.model_copy(update={"companion_sse_keepalive_seconds": 0.2}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        headers = auth_headers("user_a")
        accepted = await send(http, headers, "hi")
        sse = parse_sse((await http.get(accepted["stream_url"], headers=headers, timeout=20)).text)
    assert "keep-alive" in sse.comments
    assert sse.text == "Slow reply." and sse.last["type"] == "complete"


async def test_shutdown_interrupts_replies_in_flight_cleanly(
    model_settings: Settings, model_server: OpenAIServer, auth_headers: Any, db: AsyncSession, redis: Redis
) -> None:
    model_server.script = Script(mode="stall_mid", tokens_before_failure=2)
    settings = model_settings.model_copy(
        update={
            "shutdown_grace_seconds": 0.2,
            "companion_timeout_seconds": 30,
            "companion_reply_timeout_seconds": 60,
        }
    )
    app = create_app(settings)
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            accepted = await send(http, auth_headers("user_a"), "hi")
        key = stream_key(
            (await db.get(Message, uuid.UUID(accepted["message_id"]))).user_id,  # type: ignore[union-attr]
            uuid.UUID(accepted["message_id"]),
        )
        deadline = time.monotonic() + 10
        while await redis.xlen(key) < 2:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
    finally:
        await lifespan.__aexit__(None, None, None)

    reply = await db.get(Message, uuid.UUID(accepted["message_id"]))
    assert reply is not None and reply.status == "failed" and reply.content == "Hello from "
    last = (await redis.xrevrange(key, count=1))[0][1][b"data"]
    assert b'"type":"error"' in last and b"interrupted" in last
