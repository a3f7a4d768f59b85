"""Companion API shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.kit.pagination import Page
from app.models.enums import MessageRole, MessageStatus

MAX_MESSAGE_CHARS = 5000


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(
        min_length=1, max_length=MAX_MESSAGE_CHARS, description="What the user says (1–5000 chars)"
    )
    conversation_id: uuid.UUID | None = Field(default=None, description="Continue this conversation")

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class ChatAccepted(BaseModel):
    conversation_id: uuid.UUID
    message_id: uuid.UUID = Field(description="The reply's id (also in the stream's complete event)")
    user_message_id: uuid.UUID
    stream_url: str


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    conversation_id: uuid.UUID
    role: MessageRole
    content: str
    status: MessageStatus
    metadata: dict[str, Any] = Field(validation_alias="meta")
    created_at: datetime


class ConversationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    created_at: datetime
    last_message_at: datetime


class ConversationPage(Page[ConversationOut]):
    pass


class ConversationDetail(ConversationOut):
    messages: list[MessageOut]
    total_messages: int
    limit: int
    offset: int


class HistoryOut(BaseModel):
    messages: list[MessageOut]


class EmotionalStateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    emotion: str
    intensity: float
    energy: str
    source: str
    message_id: uuid.UUID | None
    updated_at: datetime


class UsageByModel(BaseModel):
    model: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    average_latency_ms: float


class UsageOut(BaseModel):
    models: list[UsageByModel]
