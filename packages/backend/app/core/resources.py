"""Process-wide resources built in the lifespan and reached through dependencies."""

from __future__ import annotations

from dataclasses import dataclass

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.security import KeyProvider, TokenVerifier, create_key_provider
from app.db.engine import create_engine, create_session_factory


@dataclass
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: ArqRedis | None
    keys: KeyProvider
    verifier: TokenVerifier

    async def close(self) -> None:
        await self.keys.aclose()
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
