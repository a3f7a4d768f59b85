"""Nudges and notifications (docs/nudges.md): each user's activity and sequence position, and the
outbox that is also the notification centre."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, StrEnumType, TimestampMixin, one_of, owner_id, uuid_pk
from app.models.enums import (
    ContentSource,
    NotificationChannel,
    NotificationKind,
    NotificationState,
    SuppressionReason,
)


class NudgeState(Base):
    """One row per user: when they last showed intent, and how far the drop-off sequence that
    started then has gone. The sweep reads only rows whose ``next_check_at`` has come."""

    __tablename__ = "nudge_states"

    user_id: Mapped[uuid.UUID] = owner_id(primary_key=True)
    last_active_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # Steps of the sequence counted from last_active_at already handled (sent or suppressed).
    sequence_step: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="0")
    # When the sweep should look at this user's sequence again; NULL once it has ended.
    next_check_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )

    __table_args__ = (
        CheckConstraint("sequence_step BETWEEN 0 AND 3", name="sequence_step"),
        Index(
            "ix_nudge_states_next_check_at",
            "next_check_at",
            postgresql_where=text("next_check_at IS NOT NULL"),
        ),
    )


class Notification(TimestampMixin, Base):
    """One note to one user on one channel: the outbox row (pending → sent | failed | suppressed)
    and, for the in-app and push channels once sent, an entry of the notification centre.

    (user, kind, step, local date) is unique: a sweep that runs twice, or two workers at once,
    insert the same key and only one row (one send) can exist.
    """

    __tablename__ = "notifications"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_id()
    kind: Mapped[NotificationKind] = mapped_column(StrEnumType(NotificationKind, 16), nullable=False)
    step: Mapped[int] = mapped_column(SmallInteger, nullable=False)  # 1-3 for dropoff, else 0
    local_date: Mapped[date] = mapped_column(Date, nullable=False)  # the user's date at planning time
    channel: Mapped[NotificationChannel] = mapped_column(StrEnumType(NotificationChannel, 8), nullable=False)
    state: Mapped[NotificationState] = mapped_column(
        StrEnumType(NotificationState, 16), nullable=False, server_default=NotificationState.pending.value
    )
    reason: Mapped[SuppressionReason | None] = mapped_column(StrEnumType(SuppressionReason, 24))
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    content_source: Mapped[ContentSource] = mapped_column(
        StrEnumType(ContentSource, 16), nullable=False, server_default=ContentSource.template.value
    )
    # What the content names (goal, mission, memory ids), for the client's links and the export.
    context: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    # Dropoff notes: the last activity the sequence counts from (activity after it → user_returned).
    sequence_anchor: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(200))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dismissed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The first activity within 24 h of sent_at (DCI's nudge_response).
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("user_id", "kind", "step", "local_date"),
        CheckConstraint(one_of("kind", NotificationKind), name="kind"),
        CheckConstraint(one_of("channel", NotificationChannel), name="channel"),
        CheckConstraint(one_of("state", NotificationState), name="state"),
        CheckConstraint(one_of("reason", SuppressionReason), name="reason"),
        CheckConstraint(one_of("content_source", ContentSource), name="content_source"),
        CheckConstraint("(state = 'suppressed') = (reason IS NOT NULL)", name="suppressed_reason"),
        CheckConstraint("step BETWEEN 0 AND 3", name="step"),
        # The deliverer's queue.
        Index(
            "ix_notifications_next_attempt_at",
            "next_attempt_at",
            postgresql_where=text("state = 'pending'"),
        ),
        # The notification centre (newest first) and the DCI's sent notes.
        Index(
            "ix_notifications_user_id_sent_at",
            "user_id",
            "sent_at",
            "id",
            postgresql_where=text("state = 'sent'"),
        ),
        # Caps: a user's notes by local date.
        Index("ix_notifications_user_id_local_date", "user_id", "local_date"),
    )
