"""Hand-made tokens for the attacks a library would refuse to produce."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from tests.support.auth import AZP


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def claims(sub: str = "user_attacker", **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": sub,
        "sid": "sess_" + sub,
        "azp": AZP,
        "iss": "https://clerk.test",
        "iat": now,
        "nbf": now - 1,
        "exp": now + 60,
    }
    values.update(overrides)
    return values


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    head = b64url(json.dumps(header).encode())
    body = b64url(json.dumps(payload).encode())
    return f"{head}.{body}.{b64url(signature)}"


def hs256(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    head = b64url(json.dumps(header).encode())
    body = b64url(json.dumps(payload).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(signature)}"


def with_payload(token: str, **changes: Any) -> str:
    """The same header and signature over a modified payload."""
    head, body, signature = token.split(".")
    payload = json.loads(b64url_decode(body))
    payload.update(changes)
    return f"{head}.{b64url(json.dumps(payload).encode())}.{signature}"


def with_header(token: str, **changes: Any) -> str:
    head, body, signature = token.split(".")
    header = json.loads(b64url_decode(head))
    header.update(changes)
    return f"{b64url(json.dumps(header).encode())}.{body}.{signature}"
