"""Fixtures of the companion tests: an OpenAI-protocol chat server, model settings, a burst worker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from app.memory.embeddings import LocalEmbedder
from tests.companion.openai_server import OpenAIServer


@pytest.fixture
def embedder(local_embedder: LocalEmbedder) -> LocalEmbedder:
    return local_embedder


@pytest.fixture
def model_server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def model_settings(settings_factory: Any, model_server: OpenAIServer) -> Settings:
    """The app configured for the local OpenAI-compatible server (fast timeouts, no retries)."""
    return settings_factory(  # type: ignore[no-any-return]
        openai_api_key="sk-test-local",
        openai_base_url=model_server.url,
        companion_model="test-model",
        companion_timeout_seconds=1.0,
        companion_max_retries=0,
        companion_reply_timeout_seconds=10,
    )


@pytest.fixture
async def model_client(app_factory: Any, model_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = await app_factory(model_settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        yield http
