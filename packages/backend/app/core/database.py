"""Engine and session factory; created in the lifespan (or worker start-up), never at import."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.core.config import Settings


def create_engine(settings: Settings) -> AsyncEngine:
    db = settings.async_database
    connect_args = dict(db.connect_args)
    # A dead or unreachable server must fail a request quickly, not hang it.
    connect_args.setdefault("timeout", settings.health_timeout_seconds * 2)
    return create_async_engine(
        db.url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=True,  # recover transparently after a database restart
        pool_recycle=1800,
        connect_args=connect_args,
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
