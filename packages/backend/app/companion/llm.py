"""The chat model: any OpenAI-compatible endpoint, or ``None`` when none is configured (offline paths)."""

from __future__ import annotations

from functools import lru_cache

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


def get_chat_model(settings: Settings) -> BaseChatModel | None:
    """The configured chat model (streaming, with usage), or ``None`` → use the offline paths."""
    if not model_configured(settings):
        return None
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else _NO_KEY
    return _chat_model(
        settings.companion_model,
        settings.openai_base_url,
        key,
        settings.companion_temperature,
        settings.companion_max_tokens,
        settings.companion_timeout_seconds,
        settings.companion_max_retries,
    )


def model_name(settings: Settings) -> str:
    return settings.companion_model if model_configured(settings) else OFFLINE_MODEL


@lru_cache(maxsize=16)
def _chat_model(
    model: str,
    base_url: str | None,
    api_key: str,
    temperature: float,
    max_tokens: int,
    timeout: float,
    max_retries: int,
) -> BaseChatModel:
    # One client per configuration: it owns an HTTP connection pool that is reused across calls.
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
    )
