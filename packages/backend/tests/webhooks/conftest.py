from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

import httpx
from svix.webhooks import Webhook

from tests.auth.conftest import api as api
from tests.conftest import WEBHOOK_SECRET

URL = "/api/v1/webhooks/clerk"
_ids = itertools.count(1)


def new_svix_id() -> str:
    return f"msg_test{next(_ids):06d}"


def sign(
    body: bytes | str,
    *,
    svix_id: str | None = None,
    at: datetime | None = None,
    secret: str = WEBHOOK_SECRET,
) -> dict[str, str]:
    """Headers exactly as Svix sends them, signed by the svix library's own signer."""
    text = body.decode() if isinstance(body, bytes) else body
    svix_id = svix_id or new_svix_id()
    at = at or datetime.now(UTC)
    return {
        "svix-id": svix_id,
        "svix-timestamp": str(int(at.timestamp())),
        "svix-signature": Webhook(secret).sign(svix_id, at, text),
        "content-type": "application/json",
    }


def user_data(
    clerk_id: str = "user_hook",
    *,
    updated_at: int = 1_700_000_000_000,
    email: str | None = "ada@example.com",
    first_name: str | None = "Ada",
    last_name: str | None = "Lovelace",
    username: str | None = "ada",
    other_emails: tuple[str, ...] = ("ada.old@example.com",),
) -> dict[str, Any]:
    """``data`` of a Clerk user.created/user.updated event (trimmed to realistic fields)."""
    addresses = [
        {"id": f"idn_other{i}", "object": "email_address", "email_address": e, "verification": None}
        for i, e in enumerate(other_emails)
    ]
    primary = None
    if email is not None:
        primary = "idn_primary"
        addresses.append({"id": primary, "object": "email_address", "email_address": email})
    return {
        "id": clerk_id,
        "object": "user",
        "email_addresses": addresses,
        "primary_email_address_id": primary,
        "first_name": first_name,
        "last_name": last_name,
        "username": username,
        "image_url": "https://img.clerk.com/x",
        "phone_numbers": [],
        "public_metadata": {},
        "private_metadata": {},
        "unsafe_metadata": {},
        "created_at": 1_690_000_000_000,
        "updated_at": updated_at,
    }


def event(event_type: str, data: Any) -> dict[str, Any]:
    return {
        "data": data,
        "object": "event",
        "type": event_type,
        "timestamp": 1_700_000_000_123,
        "instance_id": "ins_test",
        "event_attributes": {"http_request": {"client_ip": "203.0.113.9", "user_agent": "x"}},
    }


def deleted(clerk_id: str = "user_hook") -> dict[str, Any]:
    return event("user.deleted", {"id": clerk_id, "deleted": True, "object": "user"})


async def post(
    client: httpx.AsyncClient, payload: dict[str, Any] | bytes, **sign_options: Any
) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return await client.post(URL, content=body, headers=sign(body, **sign_options))
