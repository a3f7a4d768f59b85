"""Clerk webhook payloads (only the fields the service uses) and the endpoint's answer."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DISPLAY_NAME_MAX = 200  # users.display_name


class ClerkEvent(BaseModel):
    """The envelope every Clerk event shares; ``data`` is validated per event type."""

    model_config = ConfigDict(extra="ignore", strict=True)

    type: str = Field(min_length=1, max_length=100)
    data: Any = None


class ClerkEmailAddress(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    id: str
    email_address: str = Field(max_length=320)


class ClerkUser(BaseModel):
    """``data`` of ``user.created`` / ``user.updated``."""

    model_config = ConfigDict(extra="ignore", strict=True)

    id: str = Field(min_length=1, max_length=255)
    email_addresses: list[ClerkEmailAddress] = Field(default_factory=list)
    primary_email_address_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    updated_at: int = Field(ge=0)  # milliseconds since the epoch
    created_at: int | None = None

    @property
    def primary_email(self) -> str | None:
        for address in self.email_addresses:
            if address.id == self.primary_email_address_id:
                return address.email_address
        return None

    @property
    def display_name(self) -> str | None:
        """First and last name, else the username, else nothing."""
        full = " ".join(part.strip() for part in (self.first_name, self.last_name) if part and part.strip())
        name = full or (self.username or "").strip()
        return name[:DISPLAY_NAME_MAX] or None


class ClerkDeletedUser(BaseModel):
    """``data`` of ``user.deleted``: ``{"id", "deleted": true, "object": "user"}``."""

    model_config = ConfigDict(extra="ignore", strict=True)

    id: str = Field(min_length=1, max_length=255)
    deleted: Literal[True]
    object: Literal["user"] = "user"


class WebhookAck(BaseModel):
    received: bool = True
    outcome: str = Field(description="What was done: processed, skipped_stale, deleted, ignored, ...")
    duplicate: bool = Field(description="True when this svix-id was already processed (no second effect)")
