"""Unsubscribe tokens: signed, expiring, one user and one channel each, usable without signing in.

``base64url(user id (16 bytes) | channel (1 byte) | expiry, unix seconds (4 bytes))`` followed by
``.`` and ``base64url(HMAC-SHA256(key, "unsubscribe" | payload))`` cut to 16 bytes. The key is
``NOTIFY_SIGNING_SECRET``, or one derived from ``CLERK_SECRET_KEY`` when that is unset.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from app.core.config import Settings
from app.models.enums import NotificationChannel

_CHANNELS: Final = tuple(NotificationChannel)
_PURPOSE: Final = b"unsubscribe"
_SIGNATURE_BYTES: Final = 16


class TokenError(ValueError):
    """Not a token this service issued (``reason`` = invalid), or one past its expiry (expired)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Unsubscribe:
    user_id: uuid.UUID
    channel: NotificationChannel
    expires_at: datetime


def signing_key(settings: Settings) -> bytes:
    if settings.notify_signing_secret is not None:
        return settings.notify_signing_secret.get_secret_value().encode()
    base = settings.clerk_secret_key.get_secret_value().encode()
    return hmac.new(base, b"delight.notify.unsubscribe.v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, _PURPOSE + payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def issue(settings: Settings, user_id: uuid.UUID, channel: NotificationChannel, now: datetime) -> str:
    expires = now + timedelta(days=settings.notify_unsubscribe_ttl_days)
    payload = user_id.bytes + bytes([_CHANNELS.index(channel)]) + struct.pack(">I", int(expires.timestamp()))
    return f"{_b64(payload)}.{_b64(_sign(signing_key(settings), payload))}"


def verify(settings: Settings, token: str, now: datetime) -> Unsubscribe:
    try:
        encoded, signature = token.split(".")
        payload, given = _unb64(encoded), _unb64(signature)
    except (ValueError, binascii.Error):
        raise TokenError("invalid") from None
    if len(payload) != 21 or not hmac.compare_digest(given, _sign(signing_key(settings), payload)):
        raise TokenError("invalid")
    if payload[16] >= len(_CHANNELS):
        raise TokenError("invalid")
    expires = datetime.fromtimestamp(struct.unpack(">I", payload[17:])[0], UTC)
    if expires <= now:
        raise TokenError("expired")
    return Unsubscribe(uuid.UUID(bytes=payload[:16]), _CHANNELS[payload[16]], expires)


def unsubscribe_url(
    settings: Settings, user_id: uuid.UUID, channel: NotificationChannel, now: datetime
) -> str:
    """The one-click link of an email or SMS: the API's unsubscribe endpoint under PUBLIC_BASE_URL."""
    token = issue(settings, user_id, channel, now)
    return f"{settings.public_base_url}/api/v1/notifications/unsubscribe?token={token}"
