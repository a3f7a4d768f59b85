"""Process-wide resources built in the lifespan and reached through dependencies."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from arq.connections import ArqRedis
from redis.asyncio import BlockingConnectionPool
from redis.asyncio.connection import AbstractConnection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core import metrics
from app.core.cache import CoherentCache
from app.core.config import Settings
from app.core.database import create_engine, create_read_session_factory, create_session_factory
from app.core.embedding import Embedder
from app.core.llm import ChatModels
from app.core.ratelimit import RateBatch, RateLeases, RedisGuard
from app.core.security import KeyProvider, TokenVerifier, create_key_provider
from app.core.tokencache import VerifiedTokens


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
    """Everything a process shares across requests and jobs: built once (``app.runtime``), reached
    through dependencies or the job context, closed at shutdown. Nothing here connects until used."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]  # transactions (writes)
    read_sessions: async_sessionmaker[AsyncSession]  # autocommit (reads): no BEGIN/COMMIT
    redis: ArqRedis | None
    keys: KeyProvider
    verifier: TokenVerifier
    embedder: Embedder
    chat: ChatModels
    # Verified Clerk sub → user (the users domain fills it), coherent across processes via Redis.
    user_cache: CoherentCache[Any]
    verified_tokens: VerifiedTokens
    tasks: TaskRegistry = field(default_factory=TaskRegistry)
    # Background work in the API process (streamed replies) uses at most this many database
    # connections at once, so that requests always find one in the pool.
    db_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))
    # Set for a few seconds after Redis failed, so requests fail (or pass) fast meanwhile.
    redis_guard: RedisGuard = field(default_factory=RedisGuard)
    # Slots of busy users' request limits taken ahead, so not every request asks Redis.
    rate_leases: RateLeases = field(default_factory=RateLeases)
    # ...and the other checks of one event-loop turn share one Redis call.
    rate_batch: RateBatch = field(default_factory=RateBatch)
    # Set when the process starts shutting down (SIGTERM): open reply streams end with a
    # ``reconnect`` event so their clients resume on another process.
    draining: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        """Background listeners (cache invalidation); they connect lazily and retry on their own."""
        await self.user_cache.start()

    async def close(self) -> None:
        await self.tasks.drain(self.settings.shutdown_grace_seconds)  # they still use what follows
        await self.user_cache.aclose()
        await self.chat.aclose()
        await self.keys.aclose()
        await self.embedder.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()


def create_redis(settings: Settings) -> ArqRedis | None:
    """A lazy client: nothing connects until the first command, so start-up never blocks on Redis.

    At most REDIS_MAX_CONNECTIONS connections; a command finding none free waits for one (as long
    as a command may take), then fails, so a burst cannot open connections without bound.
    """
    if not settings.redis_url:
        return None
    timeout = settings.health_timeout_seconds
    # Bounded: at most REDIS_MAX_CONNECTIONS per process; a command waits up to ``timeout`` for a
    # free connection, then fails like an unreachable Redis (503), instead of opening more.
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=timeout,
        socket_timeout=timeout * 2,
        socket_connect_timeout=timeout,
        health_check_interval=30,
    )
    pool.connection_class = _metered(pool.connection_class)
    client = ArqRedis(connection_pool=pool)
    client.auto_close_connection_pool = True  # closed with the client
    return client


def _metered(base: type[AbstractConnection]) -> type[AbstractConnection]:
    """``base`` (TCP, TLS or unix socket, per the URL) counting failures in delight_redis_errors."""

    class Metered(base):  # type: ignore[valid-type,misc]
        async def connect(self) -> None:
            try:
                await super().connect()
            except Exception as exc:
                metrics.REDIS_ERRORS.labels(type(exc).__name__).inc()
                raise

        async def send_packed_command(self, *args: Any, **kwargs: Any) -> None:
            try:
                await super().send_packed_command(*args, **kwargs)
            except Exception as exc:
                metrics.REDIS_ERRORS.labels(type(exc).__name__).inc()
                raise

        async def read_response(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return await super().read_response(*args, **kwargs)
            except Exception as exc:
                metrics.REDIS_ERRORS.labels(type(exc).__name__).inc()
                raise

    Metered.__name__ = Metered.__qualname__ = f"Metered{base.__name__}"
    return Metered


def create_resources(settings: Settings, *, embedder: Embedder) -> Resources:
    """The process's resources around ``embedder`` (the memory domain builds it: ``app.runtime``)."""
    engine = create_engine(settings)
    keys = create_key_provider(settings)
    sessions, read_sessions = create_session_factory(engine), create_read_session_factory(engine)
    redis = create_redis(settings)
    user_cache: CoherentCache[Any] = CoherentCache(
        "users",
        redis,
        ttl_seconds=settings.user_cache_ttl_seconds,
        max_entries=settings.user_cache_max_entries,
    )
    user_cache.attach(sessions, read_sessions)
    return Resources(
        settings=settings,
        engine=engine,
        sessions=sessions,
        read_sessions=read_sessions,
        redis=redis,
        keys=keys,
        verifier=TokenVerifier(settings, keys),
        embedder=embedder,
        chat=ChatModels(settings),
        user_cache=user_cache,
        verified_tokens=VerifiedTokens(leeway=settings.clerk_jwt_leeway_seconds),
        # Half of what the pool may open: replies get plenty, requests always find a connection.
        db_slots=asyncio.Semaphore(
            max(2, (settings.database_pool_size + settings.database_max_overflow) // 2)
        ),
    )
