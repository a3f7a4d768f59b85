"""The process's chat model: any OpenAI-compatible endpoint, or none (the offline paths).

``Resources`` owns one ``ChatModels``. It offers the model two ways, over one HTTP connection pool
(closed with the resources at shutdown):

- ``client()``: ``ChatClient``, a lean chat.completions client (streaming with usage) for the
  companion's reply path, where the API process spends its CPU: LangChain's ``ChatOpenAI`` costs
  ≈ 12 ms of CPU to stream a 40-token reply and ≈ 8 ms per small JSON call, this ≈ 1.5 ms;
- ``get()``: LangChain's ``ChatOpenAI``, for the worker's extraction and goal decomposition.

Both record tokens and estimated cost in the metrics (``delight_model_*``).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import orjson
from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from app.core.config import Settings
from app.core.metrics import ModelMeter

OFFLINE_MODEL = "offline"
# Local servers (Ollama, vLLM, LM Studio) ignore the key, but the client insists on one.
_NO_KEY = "not-needed"
OPENAI_BASE_URL = "https://api.openai.com/v1"
# Retried before the first token, as OpenAI's SDK does: timeouts, conflicts, rate limits, 5xx.
_RETRY_STATUSES = frozenset({408, 409, 429})
_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


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
        self._http: httpx.AsyncClient | None = None
        self._model: BaseChatModel | None = None
        self._client: ChatClient | None = None
        self.meter = ModelMeter(
            settings.model_input_cost_per_million_tokens, settings.model_output_cost_per_million_tokens
        )

    @property
    def configured(self) -> bool:
        return model_configured(self._settings)

    @property
    def name(self) -> str:
        """The model's name as recorded with what it produced (``offline`` without one)."""
        return self._settings.companion_model if self.configured else OFFLINE_MODEL

    def _pool(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=self._settings.companion_timeout_seconds,
                limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200),
            )
        return self._http

    def get(self) -> BaseChatModel | None:
        """LangChain's chat model (the worker's extraction, goal decomposition)."""
        if not self.configured:
            return None
        if self._model is None:
            self._model = build_chat_model(self._settings, self._pool(), self.meter)
        return self._model

    def client(self) -> ChatClient | None:
        """The lean streaming client (the companion's replies in the API process)."""
        if not self.configured:
            return None
        if self._client is None:
            self._client = ChatClient(self._settings, self._pool(), self.meter)
        return self._client

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        self._http = self._model = self._client = None


class ModelError(Exception):
    """The model endpoint answered with an error status (after any retries)."""


class ChatClient:
    """OpenAI's chat.completions protocol over httpx, always streamed (with the usage chunk).

    ``COMPANION_TIMEOUT_SECONDS`` bounds connecting and each wait between chunks;
    ``COMPANION_MAX_RETRIES`` retries (with backoff, honouring Retry-After) a request that failed
    before its first token: connection errors, timeouts, 408/409/429 and 5xx.
    """

    def __init__(self, settings: Settings, http: httpx.AsyncClient, meter: ModelMeter) -> None:
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else _NO_KEY
        self.model_name = settings.companion_model
        self._url = (settings.openai_base_url or OPENAI_BASE_URL).rstrip("/") + "/chat/completions"
        self._headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self._body: dict[str, Any] = {
            "model": settings.companion_model,
            "temperature": settings.companion_temperature,
            "max_completion_tokens": settings.companion_max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        self._retries = settings.companion_max_retries
        self._http = http
        self._meter = meter

    def stream(
        self, messages: Sequence[BaseMessage | dict[str, str]], *, json_object: bool = False
    ) -> ChatStream:
        body = {**self._body, "messages": [_message(m) for m in messages]}
        if json_object:
            body["response_format"] = {"type": "json_object"}
        return ChatStream(self, orjson.dumps(body))

    async def complete(
        self, messages: Sequence[BaseMessage | dict[str, str]], *, json_object: bool = False
    ) -> ChatStream:
        """The whole answer (streamed, then joined): ``.text``, tokens, ``.finished``."""
        answer = self.stream(messages, json_object=json_object)
        async for _ in answer:
            pass
        return answer


class ChatStream:
    """One streamed answer: iterate for the text pieces; afterwards ``text``, ``prompt_tokens``,
    ``completion_tokens`` and ``finished`` (a finish_reason arrived) describe it."""

    def __init__(self, client: ChatClient, body: bytes) -> None:
        self._client = client
        self._body = body
        self.parts: list[str] = []
        self.prompt_tokens = self.completion_tokens = 0
        self.finished = False

    @property
    def text(self) -> str:
        return "".join(self.parts)

    async def __aiter__(self) -> AsyncIterator[str]:
        client = self._client
        ok = False
        try:
            async for piece in self._attempts():
                yield piece
            ok = self.finished
        finally:
            client._meter.record(client.model_name, self.prompt_tokens, self.completion_tokens, ok=ok)

    async def _attempts(self) -> AsyncIterator[str]:
        client = self._client
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                async with client._http.stream(
                    "POST", client._url, content=self._body, headers=client._headers
                ) as response:
                    if response.status_code >= 400:
                        await response.aread()
                        retryable = response.status_code in _RETRY_STATUSES or response.status_code >= 500
                        if not retryable or attempt >= client._retries:
                            raise ModelError(f"HTTP {response.status_code} from the model endpoint")
                        retry_after = _retry_after(response.headers.get("retry-after"))
                    else:
                        async for piece in self._read(response):
                            yield piece
                        return
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError):
                if self.parts or attempt >= client._retries:
                    raise
            attempt += 1
            await asyncio.sleep(retry_after if retry_after is not None else _backoff(attempt))

    async def _read(self, response: httpx.Response) -> AsyncIterator[str]:
        done = False
        async for line in response.aiter_lines():
            # After [DONE] the body is read to its end, so the connection goes back to the pool.
            if done or not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                done = True
                continue
            chunk = orjson.loads(data)
            usage = chunk.get("usage")
            if usage:
                self.prompt_tokens = int(usage.get("prompt_tokens") or 0)
                self.completion_tokens = int(usage.get("completion_tokens") or 0)
            for choice in chunk.get("choices") or ():
                content = (choice.get("delta") or {}).get("content")
                if content:
                    self.parts.append(content)
                    yield content
                if choice.get("finish_reason"):
                    self.finished = True


def _message(message: BaseMessage | dict[str, str]) -> dict[str, str]:
    if isinstance(message, dict):
        return message
    return {"role": _ROLES.get(message.type, message.type), "content": str(message.content)}


def _retry_after(value: str | None) -> float | None:
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 < seconds <= 60 else None


def _backoff(attempt: int) -> float:
    return float(min(0.5 * 2.0 ** (attempt - 1), 8.0) * (1 - 0.25 * random.random()))  # noqa: S311 - jitter


class _UsageMetrics(AsyncCallbackHandler):
    """Tokens and cost of LangChain calls (the usage chunk arrives with the final message)."""

    def __init__(self, model: str, meter: ModelMeter) -> None:
        self._model = model
        self._meter = meter

    async def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        prompt = completion = 0
        for generations in response.generations:
            for generation in generations:
                usage = getattr(getattr(generation, "message", None), "usage_metadata", None) or {}
                prompt += int(usage.get("input_tokens", 0) or 0)
                completion += int(usage.get("output_tokens", 0) or 0)
        self._meter.record(self._model, prompt, completion)

    async def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
        self._meter.record(self._model, 0, 0, ok=False)


def build_chat_model(
    settings: Settings, client: httpx.AsyncClient | None = None, meter: ModelMeter | None = None
) -> BaseChatModel:
    """A chat model for ``settings`` on ``client`` (the caller closes it; ``None``: the library's)."""
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else _NO_KEY
    meter = meter or ModelMeter(
        settings.model_input_cost_per_million_tokens, settings.model_output_cost_per_million_tokens
    )
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
        callbacks=[_UsageMetrics(settings.companion_model, meter)],
    )
