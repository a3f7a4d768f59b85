"""Queries for users and their preferences."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, exists, func, literal_column, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.cache import invalidate_after_commit
from app.models import User, UserPreferences, WebhookDelivery
from app.models.enums import ERASED_OUTCOMES

# The per-process cache of users by Clerk id (app/users/deps.py), dropped everywhere on a change.
USER_CACHE = "users"


async def get_by_clerk_id(session: AsyncSession, clerk_user_id: str) -> User | None:
    result = await session.execute(select(User).where(User.clerk_user_id == clerk_user_id))
    return result.scalar_one_or_none()


async def provision(session: AsyncSession, clerk_user_id: str) -> User:
    """Create the user (and default preferences) if missing; safe under concurrent first requests.

    ``ON CONFLICT DO NOTHING`` lets exactly one of two racing transactions insert; the other waits
    for it and then reads the committed row.
    """
    inserted = await session.execute(
        insert(User)
        .values(clerk_user_id=clerk_user_id)
        .on_conflict_do_nothing(index_elements=[User.clerk_user_id])
        .returning(User.id)
    )
    user_id = inserted.scalar_one_or_none()
    if user_id is not None:
        await ensure_preferences(session, user_id)
    user = await get_by_clerk_id(session, clerk_user_id)
    assert user is not None  # inserted here or committed by the transaction we waited for
    return user


async def upsert_from_clerk(
    session: AsyncSession,
    clerk_user_id: str,
    *,
    email: str | None,
    display_name: str | None,
    clerk_updated_at: int,
) -> uuid.UUID | None:
    """Create or update the profile Clerk sent, unless the stored one is newer.

    Returns the user's id, or ``None`` when the row holds a newer Clerk ``updated_at`` (a
    re-ordered delivery). One statement, so it is atomic with respect to concurrent upserts and
    just-in-time provisioning (whose rows have no ``clerk_updated_at`` and are always filled in).
    """
    statement = insert(User).values(
        clerk_user_id=clerk_user_id,
        email=email,
        display_name=display_name,
        clerk_updated_at=clerk_updated_at,
    )
    statement = statement.on_conflict_do_update(
        index_elements=[User.clerk_user_id],
        set_={
            "email": statement.excluded.email,
            "display_name": statement.excluded.display_name,
            "clerk_updated_at": statement.excluded.clerk_updated_at,
            "updated_at": func.now(),
        },
        where=or_(
            User.clerk_updated_at.is_(None), User.clerk_updated_at <= statement.excluded.clerk_updated_at
        ),
    )
    user_id = (await session.execute(statement.returning(User.id))).scalar_one_or_none()
    if user_id is not None:
        await ensure_preferences(session, user_id)
        invalidate_after_commit(session, USER_CACHE, clerk_user_id)  # every process's user cache
    return user_id


async def ensure_preferences(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(
        insert(UserPreferences)
        .values(user_id=user_id)
        .on_conflict_do_nothing(index_elements=[UserPreferences.user_id])
    )


async def get_preferences(session: AsyncSession, user_id: uuid.UUID) -> UserPreferences:
    result = await session.execute(select(UserPreferences).where(UserPreferences.user_id == user_id))
    preferences = result.scalar_one_or_none()
    if preferences is None:  # e.g. a row removed by hand: recreate the defaults
        await ensure_preferences(session, user_id)
        result = await session.execute(select(UserPreferences).where(UserPreferences.user_id == user_id))
        preferences = result.scalar_one()
    return preferences


async def delete_user(session: AsyncSession, user_id: uuid.UUID) -> bool:
    """Delete the user row; every table holding user data cascades from ``users.id``."""
    result = await session.execute(delete(User).where(User.id == user_id).returning(User.id))
    return result.scalar_one_or_none() is not None


async def get_by_id(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def deleted_in_clerk(session: AsyncSession, clerk_user_id: str) -> bool:
    """Whether a ``user.deleted`` webhook erased this Clerk user (its delivery is the tombstone)."""
    result = await session.execute(
        select(WebhookDelivery.svix_id)
        .where(
            WebhookDelivery.clerk_user_id == clerk_user_id,
            WebhookDelivery.event_type == "user.deleted",
            WebhookDelivery.outcome.in_(ERASED_OUTCOMES),
        )
        .limit(1)
    )
    return result.first() is not None


async def database_knows_timezone(session: AsyncSession, name: str) -> bool:
    """Whether PostgreSQL's tz database has this zone (``pg_timezone_names``): the nightly queries
    compute local days there, so a zone it does not know is refused up front."""
    known = exists().select_from(text("pg_timezone_names")).where(literal_column("name") == name)
    return bool((await session.execute(select(known))).scalar_one())
