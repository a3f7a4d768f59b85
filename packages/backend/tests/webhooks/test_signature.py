"""Svix verification: anything not signed with CLERK_WEBHOOK_SECRET, fresh, is a 400 and writes nothing."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import User, UserPreferences, WebhookDelivery
from tests.webhooks.conftest import URL, event, post, sign, user_data

BODY = json.dumps(event("user.created", user_data())).encode()


async def assert_nothing_written(db: AsyncSession) -> None:
    for model in (User, UserPreferences, WebhookDelivery):
        assert await db.scalar(select(func.count()).select_from(model)) == 0, model.__tablename__


def assert_400(response: httpx.Response, code: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert set(error) >= {"code", "message", "request_id"}


async def test_a_correctly_signed_delivery_is_accepted(client: httpx.AsyncClient, db: AsyncSession) -> None:
    response = await client.post(URL, content=BODY, headers=sign(BODY))
    assert response.status_code == 200, response.text
    assert await db.scalar(select(func.count()).select_from(User)) == 1


@pytest.mark.parametrize("missing", ["svix-id", "svix-timestamp", "svix-signature"])
async def test_missing_header(client: httpx.AsyncClient, db: AsyncSession, missing: str) -> None:
    headers = sign(BODY)
    del headers[missing]
    assert_400(await client.post(URL, content=BODY, headers=headers), "missing_signature_headers")
    await assert_nothing_written(db)


async def test_no_headers_at_all(client: httpx.AsyncClient, db: AsyncSession) -> None:
    assert_400(await client.post(URL, content=BODY), "missing_signature_headers")
    await assert_nothing_written(db)


@pytest.mark.parametrize(
    ("header", "value", "code"),
    [
        ("svix-timestamp", "not-a-number", "malformed_signature_headers"),
        ("svix-timestamp", "1.7e9", "malformed_signature_headers"),
        ("svix-timestamp", "-5", "malformed_signature_headers"),
        ("svix-timestamp", "99999999999999999999", "malformed_signature_headers"),
        ("svix-id", "msg with spaces", "malformed_signature_headers"),
        ("svix-id", "m" * 256, "malformed_signature_headers"),
        ("svix-signature", "garbage", "invalid_signature"),
        ("svix-signature", "v1,", "invalid_signature"),
        ("svix-signature", "v1,not_base64!!", "invalid_signature"),
        ("svix-signature", "v2," + base64.b64encode(b"x" * 32).decode(), "invalid_signature"),
        ("svix-signature", "v1," + base64.b64encode(secrets.token_bytes(32)).decode(), "invalid_signature"),
        ("svix-signature", "v1,a " * 2000, "malformed_signature_headers"),
    ],
)
async def test_malformed_or_wrong_header(
    client: httpx.AsyncClient, db: AsyncSession, header: str, value: str, code: str
) -> None:
    headers = sign(BODY)
    headers[header] = value
    assert_400(await client.post(URL, content=BODY, headers=headers), code)
    await assert_nothing_written(db)


async def test_tampered_body(client: httpx.AsyncClient, db: AsyncSession) -> None:
    headers = sign(BODY)
    tampered = BODY.replace(b"ada@example.com", b"eve@example.com")
    assert tampered != BODY
    assert_400(await client.post(URL, content=tampered, headers=headers), "invalid_signature")
    await assert_nothing_written(db)


async def test_reformatted_body_is_not_the_signed_body(client: httpx.AsyncClient, db: AsyncSession) -> None:
    """Verification is over the raw bytes: the same JSON re-serialised does not verify."""
    headers = sign(BODY)
    reformatted = json.dumps(json.loads(BODY), indent=2).encode()
    assert_400(await client.post(URL, content=reformatted, headers=headers), "invalid_signature")
    await assert_nothing_written(db)


async def test_signature_with_another_secret(client: httpx.AsyncClient, db: AsyncSession) -> None:
    other = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    assert_400(await client.post(URL, content=BODY, headers=sign(BODY, secret=other)), "invalid_signature")
    await assert_nothing_written(db)


async def test_signature_bound_to_the_svix_id(client: httpx.AsyncClient, db: AsyncSession) -> None:
    headers = sign(BODY, svix_id="msg_original")
    headers["svix-id"] = "msg_replayed_under_another_id"
    assert_400(await client.post(URL, content=BODY, headers=headers), "invalid_signature")
    await assert_nothing_written(db)


async def test_signature_bound_to_the_timestamp(client: httpx.AsyncClient, db: AsyncSession) -> None:
    headers = sign(BODY, at=datetime.now(UTC) - timedelta(seconds=30))
    headers["svix-timestamp"] = str(int(datetime.now(UTC).timestamp()))
    assert_400(await client.post(URL, content=BODY, headers=headers), "invalid_signature")
    await assert_nothing_written(db)


@pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6), timedelta(days=-365)])
async def test_stale_or_future_timestamp(
    client: httpx.AsyncClient, db: AsyncSession, offset: timedelta
) -> None:
    response = await client.post(URL, content=BODY, headers=sign(BODY, at=datetime.now(UTC) + offset))
    assert_400(response, "invalid_timestamp")
    await assert_nothing_written(db)


@pytest.mark.parametrize("timestamp", ["999999999999", "253402300800", "0", "000000000001"])
async def test_timestamp_far_outside_any_date_is_a_400(
    client: httpx.AsyncClient, db: AsyncSession, timestamp: str
) -> None:
    """Issue 12: ``999999999999`` (year 33658) passed the format check and crashed datetime: a 500.
    Any well-formed value out of the tolerance, however far, is ``invalid_timestamp``."""
    headers = sign(BODY)
    headers["svix-timestamp"] = timestamp
    assert_400(await client.post(URL, content=BODY, headers=headers), "invalid_timestamp")
    await assert_nothing_written(db)


@pytest.mark.parametrize("offset", [timedelta(minutes=-4), timedelta(minutes=4)])
async def test_timestamp_within_tolerance(client: httpx.AsyncClient, offset: timedelta) -> None:
    response = await client.post(URL, content=BODY, headers=sign(BODY, at=datetime.now(UTC) + offset))
    assert response.status_code == 200, response.text


async def test_one_valid_signature_among_several_is_enough(client: httpx.AsyncClient) -> None:
    """During a secret rotation Svix sends one signature per active secret."""
    headers = sign(BODY)
    other = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    stale = sign(BODY, svix_id=headers["svix-id"], secret=other)["svix-signature"]
    headers["svix-signature"] = f"{stale} {headers['svix-signature']}"
    assert (await client.post(URL, content=BODY, headers=headers)).status_code == 200


async def test_body_not_utf8(client: httpx.AsyncClient, db: AsyncSession) -> None:
    body = b"\xff\xfe{}"
    headers = sign(BODY)
    assert_400(await client.post(URL, content=body, headers=headers), "invalid_signature")
    await assert_nothing_written(db)


async def test_oversized_body_is_refused_before_anything_else(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    body = b"{" + b" " * (1024 * 1024) + b"}"
    response = await client.post(URL, content=body, headers=sign(body))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    await assert_nothing_written(db)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (b"not json", None),
        (b"[1, 2]", "body"),
        (json.dumps({"data": {}}).encode(), "type"),
        (json.dumps({"type": "", "data": {}}).encode(), "type"),
        (json.dumps({"type": 5, "data": {}}).encode(), "type"),
        (json.dumps(event("user.created", None)).encode(), "data"),
        (json.dumps(event("user.created", {**user_data(), "id": None})).encode(), "data.id"),
        (
            json.dumps(event("user.created", {k: v for k, v in user_data().items() if k != "id"})).encode(),
            "data.id",
        ),
        (
            json.dumps(event("user.updated", {**user_data(), "updated_at": "yesterday"})).encode(),
            "data.updated_at",
        ),
        (
            json.dumps(
                event("user.updated", {k: v for k, v in user_data().items() if k != "updated_at"})
            ).encode(),
            "data.updated_at",
        ),
        (
            json.dumps(event("user.created", {**user_data(), "email_addresses": [{"id": "x"}]})).encode(),
            "data.email_addresses.0.email_address",
        ),
        (json.dumps(event("user.created", {**user_data(), "id": "u" * 300})).encode(), "data.id"),
        (json.dumps(event("user.deleted", {"id": "user_x", "deleted": False})).encode(), "data.deleted"),
        (json.dumps(event("user.deleted", {"deleted": True, "object": "user"})).encode(), "data.id"),
    ],
)
async def test_invalid_payload(
    client: httpx.AsyncClient, db: AsyncSession, payload: bytes, field: Any
) -> None:
    response = await post(client, payload)
    assert_400(response, "invalid_payload")
    if field is not None:
        assert field in [d["field"] for d in response.json()["error"]["details"]]
    await assert_nothing_written(db)


async def test_a_bearer_token_is_neither_needed_nor_sufficient(
    client: httpx.AsyncClient, auth_headers: Any, db: AsyncSession
) -> None:
    response = await client.post(URL, content=BODY, headers=auth_headers("user_a"))
    assert_400(response, "missing_signature_headers")
    await assert_nothing_written(db)
