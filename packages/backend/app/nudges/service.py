"""The notification centre (list, read, dismiss, read all) and one-click unsubscribe."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.errors import BadRequest, NotFound, invalid_field
from app.kit.pagination import decode_cursor, encode_cursor
from app.models import Notification, User
from app.models.enums import NotificationChannel
from app.nudges import repository, tokens
from app.nudges.schemas import NotificationOut, NotificationPage, UnsubscribeOut
from app.users import CommunicationPreferences, PreferencesUpdate, update_preferences

CHANNEL_NAMES = {
    NotificationChannel.in_app: "in-app notes",
    NotificationChannel.email: "emails",
    NotificationChannel.sms: "text messages",
    NotificationChannel.push: "push notifications",
}


async def list_notifications(
    session: AsyncSession, user_id: uuid.UUID, *, unread: bool | None, cursor: str | None, limit: int
) -> NotificationPage:
    after = None
    if cursor:
        try:
            after = decode_cursor(cursor)
        except ValueError:
            raise invalid_field("cursor", "not a cursor this API returned", location="query") from None
    rows = await repository.centre_page(session, user_id, unread=unread, after=after, limit=limit + 1)
    page = rows[:limit]
    last = page[-1] if page else None
    next_cursor = (
        encode_cursor(last.sent_at, last.id)
        if last is not None and len(rows) > limit and last.sent_at
        else None
    )
    return NotificationPage(
        items=[NotificationOut.model_validate(row) for row in page],
        next_cursor=next_cursor,
        unread_count=await repository.unread_count(session, user_id),
    )


async def mark(
    session: AsyncSession, user_id: uuid.UUID, notification_id: uuid.UUID, now: datetime, *, dismiss: bool
) -> Notification:
    found = await repository.mark(session, user_id, notification_id, now, dismiss=dismiss)
    if found is None:
        raise NotFound("Notification not found")
    return found


async def read_all(session: AsyncSession, user_id: uuid.UUID, now: datetime) -> int:
    return await repository.read_all(session, user_id, now)


async def unsubscribe(session: AsyncSession, settings: Settings, token: str, now: datetime) -> UnsubscribeOut:
    """Turn off the token's channel for its user (idempotent; an erased user has nothing to turn off)."""
    try:
        found = tokens.verify(settings, token, now)
    except tokens.TokenError as exc:
        message = (
            "This unsubscribe link has expired: turn notifications off in the app's settings instead."
            if exc.reason == "expired"
            else "This is not a valid unsubscribe link."
        )
        raise BadRequest(message, code=f"{exc.reason}_token") from None
    user = await session.get(User, found.user_id)
    if user is not None:
        change = CommunicationPreferences.model_validate({found.channel.value: False})
        await update_preferences(session, user, PreferencesUpdate(communication_preferences=change))
    name = CHANNEL_NAMES[found.channel]
    return UnsubscribeOut(
        channel=found.channel,
        message=f"You will get no more {name} from Delight. You can turn them back on in the app's settings.",
    )
