"""Bodies of the notifications API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.models.enums import NotificationChannel, NotificationKind


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: NotificationKind
    channel: NotificationChannel = Field(description="in_app or push (both are listed here)")
    title: str
    body: str
    context: dict[str, Any] = Field(
        description="What the note names, for links in the app: goal_id, mission_id, memory_id (optional)"
    )
    sent_at: datetime
    read_at: datetime | None
    dismissed_at: datetime | None


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page; null at the end")
    unread_count: int = Field(description="Unread, undismissed notifications in the centre")


class ReadAllOut(BaseModel):
    updated: int


class UnsubscribeOut(BaseModel):
    channel: NotificationChannel
    subscribed: bool = False
    message: str
