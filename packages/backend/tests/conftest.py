"""Shared fixtures: real, migrated PostgreSQL and real Redis; the real app over ASGI."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.core.config import Settings
from app.core.database_url import to_async_url
from app.db.migrate import run_migrations
from app.main import create_app
from app.models import Base
from tests.support.auth import TestKey, bearer
from tests.support.services import ServiceURLs, service_urls
from tests.support.worker import run_burst_worker

WEBHOOK_SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
# One signing key for the session; its public half is the app's CLERK_JWT_KEY by default.
SIGNING_KEY = TestKey(kid="ins_test_key_1")


@pytest.fixture(scope="session")
def services() -> Iterator[ServiceURLs]:
    with service_urls() as found:
        run_migrations(found.database_url)
        yield found


def make_settings(services: ServiceURLs, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": services.database_url,
        "redis_url": services.redis_url,
        "clerk_secret_key": "sk_test_delight_tests",
        "clerk_webhook_secret": WEBHOOK_SECRET,
        "clerk_jwt_key": SIGNING_KEY.public_pem,
        "environment": "test",
        "log_level": "WARNING",
        # Scenario tests make hundreds of requests as one user; tests of the limit set their own.
        "rate_limit_per_minute": 100_000,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings_factory(services: ServiceURLs) -> Any:
    def factory(**overrides: Any) -> Settings:
        return make_settings(services, **overrides)

    return factory


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory()  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
async def engine(services: ServiceURLs) -> AsyncIterator[AsyncEngine]:
    db = to_async_url(services.database_url)
    engine = create_async_engine(db.url, connect_args=db.connect_args)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def redis(services: ServiceURLs) -> AsyncIterator[Redis]:
    client = Redis.from_url(services.redis_url)
    yield client
    await client.aclose()


@pytest.fixture(autouse=True)
async def _clean_state(engine: AsyncEngine, redis: Redis) -> AsyncIterator[None]:
    """Every test starts from empty tables and an empty Redis database."""
    yield
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await redis.flushdb()


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session for arranging and asserting, separate from the app's own."""
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        yield session


@pytest.fixture
async def app_factory() -> AsyncIterator[Any]:
    """Build the real app for given settings and run its lifespan; closed after the test."""
    stacks: list[Any] = []

    async def factory(settings: Settings) -> Any:
        app = create_app(settings)
        context = app.router.lifespan_context(app)
        await context.__aenter__()
        stacks.append(context)
        return app

    yield factory
    for context in reversed(stacks):
        await context.__aexit__(None, None, None)


@pytest.fixture
async def app(app_factory: Any, settings: Settings) -> Any:
    return await app_factory(settings)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture(scope="session")
def signing_key() -> TestKey:
    return SIGNING_KEY


@pytest.fixture
def auth_headers() -> Any:
    """``auth_headers("user_a")`` → headers with a fresh, valid session token for that Clerk user."""

    def make(sub: str = "user_test", **claims: Any) -> dict[str, str]:
        return bearer(SIGNING_KEY.mint(sub, **claims))

    return make


@pytest.fixture(scope="session")
def local_embedder() -> Any:
    """The bundled local embedding model, loaded once for the whole session."""
    from app.memory.embeddings import LocalEmbedder

    embedder = LocalEmbedder()
    embedder.load()
    return embedder


@pytest.fixture
def run_worker() -> Any:
    """``await run_worker(settings)``: a real ARQ worker in burst mode until the queue is empty."""
    return run_burst_worker


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[ArqRedis]:
    """An ARQ pool on the test Redis, for enqueueing jobs the way the app does."""
    assert settings.redis_url
    arq_pool = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    yield arq_pool
    await arq_pool.aclose()
