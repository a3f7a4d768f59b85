"""Svix signature verification of Clerk webhooks, over the raw request body."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from svix.webhooks import Webhook, WebhookVerificationError

from app.core.errors import BadRequest

# Svix's own tolerance; checked here too so that a stale or future timestamp gets its own code.
TOLERANCE = timedelta(minutes=5)
_MESSAGE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,255}$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_MAX_SIGNATURE_HEADER = 4096  # a few space-separated "v1,<base64>" entries during secret rotation


@dataclass(frozen=True)
class SvixDelivery:
    message_id: str  # svix-id: the same for every retry and re-send of one message
    sent_at: datetime  # svix-timestamp


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: datetime | None = None) -> SvixDelivery:
    """The delivery described by verified Svix headers, or ``BadRequest`` (nothing else happens)."""
    message_id = headers.get("svix-id", "")
    timestamp = headers.get("svix-timestamp", "")
    signature = headers.get("svix-signature", "")
    if not (message_id and timestamp and signature):
        raise BadRequest("Missing Svix signature headers", code="missing_signature_headers")
    if (
        not _MESSAGE_ID.match(message_id)
        or not _TIMESTAMP.match(timestamp)
        or len(signature) > _MAX_SIGNATURE_HEADER
    ):
        raise BadRequest("Malformed Svix signature headers", code="malformed_signature_headers")
    # Compared as integers first: a far-off value (999999999999) is outside the tolerance, and never
    # reaches datetime, which cannot represent it.
    current = now or datetime.now(UTC)
    if abs(int(timestamp) - current.timestamp()) > TOLERANCE.total_seconds():
        raise BadRequest("Webhook timestamp outside the 5-minute tolerance", code="invalid_timestamp")
    sent_at = datetime.fromtimestamp(int(timestamp), UTC)
    try:
        Webhook(secret).verify(
            body, {"svix-id": message_id, "svix-timestamp": timestamp, "svix-signature": signature}
        )
    except (WebhookVerificationError, ValueError):
        # ValueError: a signature entry without "v1,", bad base64, or a body that is not UTF-8.
        raise BadRequest("Invalid webhook signature", code="invalid_signature") from None
    return SvixDelivery(message_id, sent_at)
