"""The chat model: any OpenAI-compatible endpoint, or ``None`` when none is configured (offline paths)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import httpx
from langchain_core.language_models import BaseChatModel
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from app.core.config import Settings

OFFLINE_MODEL = "offline"
# Local servers (Ollama, vLLM, LM Studio) ignore the key, but the client insists on one.
_NO_KEY = "not-needed"
_EXTENSION = "companion.chat_model"


def model_configured(settings: Settings) -> bool:
    """Whether replies come from a language model (else from the offline responder)."""
    if settings.companion_provider == "offline":
        return False
    if settings.companion_provider == "openai":
        return True
    return settings.openai_api_key is not None or bool(settings.openai_base_url)


def model_name(settings: Settings) -> str:
    return settings.companion_model if model_configured(settings) else OFFLINE_MODEL


def get_chat_model(settings: Settings) -> BaseChatModel | None:
    """The configured chat model (streaming, with usage), or ``None`` → use the offline paths.

    One instance per configuration and process (its connection pool is reused); code that has the
    process's ``Resources`` should prefer ``chat_model_for``, whose client is closed at shutdown.
    """
    if not model_configured(settings):
        return None
    return _cached_model(*_config(settings))


def chat_model_for(resources: Any) -> BaseChatModel | None:
    """The chat model owned by ``resources`` (its HTTP client is closed with them)."""
    settings: Settings = resources.settings
    if not model_configured(settings):
        return None
    owned = resources.extensions.get(_EXTENSION)
    if owned is None:
        client = httpx.AsyncClient(
            timeout=settings.companion_timeout_seconds,
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200),
        )
        owned = resources.extensions[_EXTENSION] = _OwnedModel(_build(*_config(settings), client), client)
    model: BaseChatModel = owned.model
    return model


@dataclass
class _OwnedModel:
    model: BaseChatModel
    client: httpx.AsyncClient

    async def aclose(self) -> None:
        await self.client.aclose()


def _config(settings: Settings) -> tuple[str, str | None, str, float, int, float, int]:
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else _NO_KEY
    return (
        settings.companion_model,
        settings.openai_base_url,
        key,
        settings.companion_temperature,
        settings.companion_max_tokens,
        settings.companion_timeout_seconds,
        settings.companion_max_retries,
    )


@lru_cache(maxsize=16)
def _cached_model(
    model: str,
    base_url: str | None,
    api_key: str,
    temperature: float,
    max_tokens: int,
    timeout: float,
    retries: int,
) -> BaseChatModel:
    return _build(model, base_url, api_key, temperature, max_tokens, timeout, retries)


def _build(
    model: str,
    base_url: str | None,
    api_key: str,
    temperature: float,
    max_tokens: int,
    timeout: float,
    max_retries: int,
    http_async_client: httpx.AsyncClient | None = None,
) -> BaseChatModel:
    return ChatOpenAI(
        model=model,
        base_url=base_url,
        api_key=SecretStr(api_key),
        temperature=temperature,
        max_tokens=max_tokens,
        timeout=timeout,
        max_retries=max_retries,
        streaming=True,
        # Ask for the final usage chunk (stream_options.include_usage) on every endpoint.
        stream_usage=True,
        http_async_client=http_async_client,
    )
