"""The process's chat model: any OpenAI-compatible endpoint, or none (the offline paths).

``Resources`` owns one ``ChatModels``; the companion and goal decomposition both ask it for the
model, and its HTTP connection pool is closed with the resources at shutdown.
"""

from __future__ import annotations

import httpx
from langchain_core.language_models import BaseChatModel
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from app.core.config import Settings

OFFLINE_MODEL = "offline"
# Local servers (Ollama, vLLM, LM Studio) ignore the key, but the client insists on one.
_NO_KEY = "not-needed"


def model_configured(settings: Settings) -> bool:
    """Whether replies come from a language model (else from the offline responder)."""
    if settings.companion_provider == "offline":
        return False
    if settings.companion_provider == "openai":
        return True
    return settings.openai_api_key is not None or bool(settings.openai_base_url)


class ChatModels:
    """The configured chat model (streaming, with usage), built on first use, or ``None``."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: httpx.AsyncClient | None = None
        self._model: BaseChatModel | None = None

    @property
    def configured(self) -> bool:
        return model_configured(self._settings)

    @property
    def name(self) -> str:
        """The model's name as recorded with what it produced (``offline`` without one)."""
        return self._settings.companion_model if self.configured else OFFLINE_MODEL

    def get(self) -> BaseChatModel | None:
        if not self.configured:
            return None
        if self._model is None:
            settings = self._settings
            self._client = httpx.AsyncClient(
                timeout=settings.companion_timeout_seconds,
                limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200),
            )
            self._model = build_chat_model(settings, self._client)
        return self._model

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        self._client = self._model = None


def build_chat_model(settings: Settings, client: httpx.AsyncClient | None = None) -> BaseChatModel:
    """A chat model for ``settings`` on ``client`` (the caller closes it; ``None``: the library's)."""
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else _NO_KEY
    return ChatOpenAI(
        model=settings.companion_model,
        base_url=settings.openai_base_url,
        api_key=SecretStr(key),
        temperature=settings.companion_temperature,
        max_tokens=settings.companion_max_tokens,
        timeout=settings.companion_timeout_seconds,
        max_retries=settings.companion_max_retries,
        streaming=True,
        # Ask for the final usage chunk (stream_options.include_usage) on every endpoint.
        stream_usage=True,
        http_async_client=client,
    )
