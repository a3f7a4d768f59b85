"""Processed webhook deliveries: idempotency by Svix message id, and an audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class WebhookDelivery(Base):
    """One Clerk webhook delivery, recorded in the transaction that applied its effect.

    Deliberately holds no payload (no email, no name): only the Svix message id, the event type,
    the Clerk user id it was about and what was done. It has no foreign key to ``users`` and
    survives the user's erasure: a processed ``user.deleted`` is the tombstone that stops a late,
    re-ordered ``user.updated`` from re-creating the account.
    """

    __tablename__ = "webhook_deliveries"

    svix_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(100), nullable=False)
    clerk_user_id: Mapped[str | None] = mapped_column(String(255), index=True)
    # processed | skipped_stale | skipped_deleted | deleted | deletion_disabled | ignored
    outcome: Mapped[str] = mapped_column(String(32), nullable=False)
    # The svix-timestamp header: when Svix sent (or last re-sent) the message.
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )
