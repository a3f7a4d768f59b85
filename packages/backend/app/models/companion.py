"""Conversations with Eliza, their messages, the user's emotional state and model usage."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, StrEnumType, TimestampMixin, one_of, owner_id, uuid_pk
from app.models.enums import MessageRole, MessageStatus


class Conversation(TimestampMixin, Base):
    __tablename__ = "conversations"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_id()
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    last_message_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )

    __table_args__ = (Index("ix_conversations_user_id_last_message_at", "user_id", "last_message_at"),)


class Message(Base):
    """One turn. Assistant replies are ``pending`` while generated and end ``complete`` or ``failed``
    (keeping what was produced before the failure)."""

    __tablename__ = "conversation_messages"

    id: Mapped[uuid.UUID] = uuid_pk()
    # Insertion order: a user message and its reply are created in one transaction (same now()).
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), nullable=False, unique=True)
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = owner_id()
    role: Mapped[MessageRole] = mapped_column(StrEnumType(MessageRole, 16), nullable=False)
    # Assistant turns: the user message this replies to.
    reply_to_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("conversation_messages.id", ondelete="CASCADE"), unique=True
    )
    content: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    status: Mapped[MessageStatus] = mapped_column(
        StrEnumType(MessageStatus, 16), nullable=False, server_default=MessageStatus.complete.value
    )
    # emotion (user turns); responder, model, rules, recalled memory ids, error (assistant turns).
    meta: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    # User turns: the client's Idempotency-Key, unique per user (a retried POST /chat is answered
    # with the message it already created).
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    # User turns: when memory formation (task memory + fact extraction) has run for the exchange.
    memories_formed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (
        CheckConstraint(one_of("role", MessageRole), name="role"),
        CheckConstraint(one_of("status", MessageStatus), name="status"),
        Index("ix_conversation_messages_conversation_id_seq", "conversation_id", "seq"),
        Index("ix_conversation_messages_user_id_seq", "user_id", "seq"),
        Index(
            "ix_conversation_messages_unformed",
            "seq",
            postgresql_where=text("role = 'user' AND memories_formed_at IS NULL"),
        ),
        Index(
            "ix_conversation_messages_in_flight",
            "seq",
            postgresql_where=text("status = 'pending'"),
        ),
        # The one-reply-in-flight rule, held by the database: a second pending reply in the same
        # conversation cannot be inserted, however many requests race (docs/companion.md).
        Index(
            "uq_conversation_messages_one_in_flight",
            "conversation_id",
            unique=True,
            postgresql_where=text("role = 'assistant' AND status = 'pending'"),
        ),
        Index(
            "uq_conversation_messages_user_id_idempotency_key",
            "user_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
    )


class EmotionalState(Base):
    """The user's latest detected emotional state, read by the next turns."""

    __tablename__ = "emotional_states"

    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    emotion: Mapped[str] = mapped_column(String(32), nullable=False)
    intensity: Mapped[float] = mapped_column(Float, nullable=False)
    energy: Mapped[str] = mapped_column(String(16), nullable=False)
    source: Mapped[str] = mapped_column(String(32), nullable=False)  # offline | <model name>
    message_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now()
    )


class ModelUsage(Base):
    """One row per language-model call (and per offline reply, with model ``offline``)."""

    __tablename__ = "model_usage"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = owner_id()
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("conversations.id", ondelete="SET NULL")
    )
    message_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    purpose: Mapped[str] = mapped_column(String(32), nullable=False)  # reply | emotion | extraction
    model: Mapped[str] = mapped_column(String(200), nullable=False)
    prompt_tokens: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    completion_tokens: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    latency_ms: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    ok: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )

    __table_args__ = (Index("ix_model_usage_user_id_created_at", "user_id", "created_at"),)
