"""Process-wide resources built in the lifespan and reached through dependencies."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.database import create_engine, create_session_factory
from app.core.security import KeyProvider, TokenVerifier, create_key_provider


class TaskRegistry:
    """Work the process runs beyond a request (streamed replies): referenced until done, so the loop
    cannot garbage-collect it, and given a grace period, then cancelled, on shutdown."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, grace_seconds: float) -> None:
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: ArqRedis | None
    keys: KeyProvider
    verifier: TokenVerifier
    # The memory domain's embedder (app.memory.embeddings.get_embedder creates it on first use;
    # typed loosely because core does not import domain packages).
    embedder: Any = None
    tasks: TaskRegistry = field(default_factory=TaskRegistry)
    # Process-wide objects other domains keep here by name (e.g. the companion's model client);
    # closed with their ``aclose()`` at shutdown.
    extensions: dict[str, Any] = field(default_factory=dict)

    async def close(self) -> None:
        await self.tasks.drain(self.settings.shutdown_grace_seconds)  # they still use what follows
        for extension in self.extensions.values():
            if hasattr(extension, "aclose"):
                await extension.aclose()
        await self.keys.aclose()
        if self.embedder is not None and hasattr(self.embedder, "aclose"):
            await self.embedder.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()


def create_redis(settings: Settings) -> ArqRedis | None:
    """A lazy client: nothing connects until the first command, so start-up never blocks on Redis."""
    if not settings.redis_url:
        return None
    timeout = settings.health_timeout_seconds
    return ArqRedis.from_url(  # type: ignore[no-any-return]
        settings.redis_url,
        socket_timeout=timeout * 2,
        socket_connect_timeout=timeout,
        health_check_interval=30,
    )


def create_resources(settings: Settings) -> Resources:
    engine = create_engine(settings)
    keys = create_key_provider(settings)
    return Resources(
        settings,
        engine,
        create_session_factory(engine),
        create_redis(settings),
        keys,
        TokenVerifier(settings, keys),
    )
