"""Fixtures of the memory tests: the real local model, an OpenAI-protocol server, a burst worker."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from tests.memory.openai_server import OpenAIEmbeddingsServer


@pytest.fixture
def openai_server() -> Iterator[OpenAIEmbeddingsServer]:
    with OpenAIEmbeddingsServer() as server:
        yield server


@pytest.fixture
def openai_settings(settings_factory: Any, openai_server: OpenAIEmbeddingsServer) -> Settings:
    return settings_factory(  # type: ignore[no-any-return]
        embedding_provider="openai",
        openai_api_key=openai_server.api_key,
        openai_base_url=openai_server.url,
        embedding_model="text-embedding-3-small",
        embedding_timeout_seconds=5,
    )


@pytest.fixture
async def openai_client(app_factory: Any, openai_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = await app_factory(openai_settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        yield http


@pytest.fixture
def unused_port() -> int:
    """A local port nothing listens on (a provider that is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
