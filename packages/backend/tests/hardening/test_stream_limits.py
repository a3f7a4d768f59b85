"""Concurrent reply streams per user (MAX_STREAMS_PER_USER) over a real server: 429 beyond the
limit, the slot freed when a client goes away, other users unaffected."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from tests.companion.openai_server import OpenAIServer, Script
from tests.companion.support import send
from tests.companion.test_live_stream import LiveServer


@pytest.fixture
def stalled_model(settings_factory: Any) -> Iterator[Settings]:
    """Replies that start and then hang: their streams stay open as long as the client wants."""
    with OpenAIServer() as server:
        server.script = Script(mode="stall_mid", tokens_before_failure=1)
        yield settings_factory(
            openai_api_key="sk-test-local",
            openai_base_url=server.url,
            companion_model="test-model",
            companion_timeout_seconds=30,
            companion_max_retries=0,
            companion_reply_timeout_seconds=30,
            companion_emotion_detection="offline",
            max_streams_per_user=2,
            shutdown_grace_seconds=0.5,
        )


async def open_stream(
    stack: contextlib.AsyncExitStack, http: httpx.AsyncClient, url: str, headers: Any
) -> AsyncIterator[str]:
    """Open a stream and read its first line. Keep the returned iterator: dropping it closes the
    response (and so the stream)."""
    response = await stack.enter_async_context(http.stream("GET", url, headers=headers))
    assert response.status_code == 200
    lines = response.aiter_lines()
    assert (await anext(lines)).startswith("retry:")  # the stream is open and being served
    return lines


async def test_a_user_holds_at_most_max_streams_at_once(stalled_model: Settings, auth_headers: Any) -> None:
    with LiveServer(stalled_model) as url:
        async with httpx.AsyncClient(base_url=url, timeout=20) as http:
            headers = auth_headers("user_streams")
            replies = [await send(http, headers, f"message {n}") for n in range(3)]
            async with contextlib.AsyncExitStack() as first_two:
                held = [await open_stream(first_two, http, a["stream_url"], headers) for a in replies[:2]]
                refused = await http.get(replies[2]["stream_url"], headers=headers)
                assert refused.status_code == 429, refused.text
                assert refused.headers["retry-after"] == "5"
                assert refused.json()["error"]["message"] == "Too many open reply streams: at most 2 at once"
                # Another user is not affected.
                other = auth_headers("user_other")
                theirs = await send(http, other, "hi")
                async with contextlib.AsyncExitStack() as stack:
                    assert await open_stream(stack, http, theirs["stream_url"], other)
                assert len(held) == 2
            # Both clients went away: their slots are released, the third stream opens.
            for _ in range(50):
                async with http.stream("GET", replies[2]["stream_url"], headers=headers) as response:
                    if response.status_code == 200:
                        break
                await asyncio.sleep(0.1)
            assert response.status_code == 200
