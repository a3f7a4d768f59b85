"""User profile, preferences, export and erasure."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.errors import NotFound, invalid_field
from app.core.logging import get_logger
from app.models import User, UserPreferences
from app.users import repository
from app.users.data import export_section, run_erase_hooks, stream_export
from app.users.deps import user_changed
from app.users.schemas import PreferencesOut, PreferencesUpdate, UserOut, UserUpdate

log = get_logger(__name__)


async def update_profile(session: AsyncSession, user: User, changes: UserUpdate) -> User:
    zone = changes.timezone
    if (
        zone is not None
        and zone != user.timezone
        and not await repository.database_knows_timezone(session, zone)
    ):
        raise invalid_field("timezone", f"time zone {zone!r} is not known to the database")
    # ``user`` may be the shared, cached instance: change a copy loaded in this session.
    row = await repository.get_by_id(session, user.id)
    if row is None:  # erased by a concurrent request
        raise NotFound("User not found")
    for field, value in changes.model_dump(exclude_unset=True).items():
        if value is None:
            continue  # explicit nulls leave required fields untouched
        setattr(row, field, value)
    await session.flush()
    await session.refresh(row)
    user_changed(session, row.clerk_user_id)
    return row


async def update_preferences(
    session: AsyncSession, user: User, changes: PreferencesUpdate
) -> UserPreferences:
    preferences = await repository.get_preferences(session, user.id)
    # Top-level nulls change nothing; inside the nested objects a null removes that key.
    data = {k: v for k, v in changes.model_dump(exclude_unset=True).items() if v is not None}
    if "theme" in data:
        preferences.theme = data["theme"]
    # Nested objects merge into what is stored, so a client can change one key at a time.
    if "custom_hours" in data:
        preferences.custom_hours = _merge(preferences.custom_hours, data["custom_hours"])
    if "communication_preferences" in data:
        preferences.communication_preferences = _merge(
            preferences.communication_preferences, data["communication_preferences"]
        )
    if "onboarding_completed" in data:
        done = data["onboarding_completed"]
        if done and not preferences.onboarding_completed:
            preferences.onboarding_completed_at = datetime.now(UTC)
        if not done:
            preferences.onboarding_completed_at = None
        preferences.onboarding_completed = done
    await session.flush()
    await session.refresh(preferences)
    return preferences


def _merge(stored: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = {**stored, **changes}
    return {key: value for key, value in merged.items() if value is not None}


def export_user(sessions: async_sessionmaker[AsyncSession], user: User) -> AsyncIterator[str]:
    """Everything stored about the user, as JSON text streamed section by section."""
    head = {"exported_at": datetime.now(UTC).isoformat(), "format_version": 1}
    return stream_export(sessions, user.id, head)


async def erase_user(session: AsyncSession, redis: Any, user: User) -> None:
    """Remove every row of the user's data in the caller's transaction (cascades from users),
    then the data other domains keep outside PostgreSQL."""
    await repository.delete_user(session, user.id)
    await session.flush()
    user_changed(session, user.clerk_user_id)
    if redis is not None:
        await run_erase_hooks(redis, user.id, user.clerk_user_id)
    log.info("user_erased", user_id=str(user.id))


@export_section("user")
async def _export_user(session: AsyncSession, user_id: Any) -> dict[str, Any]:
    user = await repository.get_by_id(session, user_id)
    return UserOut.model_validate(user).model_dump(mode="json") if user else {}


@export_section("preferences")
async def _export_preferences(session: AsyncSession, user_id: Any) -> dict[str, Any]:
    preferences = await repository.get_preferences(session, user_id)
    return PreferencesOut.model_validate(preferences).model_dump(mode="json")
