"""Transaction-scoped PostgreSQL advisory locks, keyed by text."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession


async def advisory_xact_lock(session: AsyncSession, key: str) -> None:
    """Wait for and hold the lock named ``key`` until the transaction ends (commit or rollback).

    Keys are namespaced strings (``"clerk_user:user_123"``) hashed to PostgreSQL's 64-bit lock space.
    """
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))
