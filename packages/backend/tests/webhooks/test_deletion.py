"""user.deleted: erase everything of that user when CLERK_WEBHOOK_DELETE_ENABLED, else record only."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Base, User, WebhookDelivery
from tests.auth.conftest import ApiFactory
from tests.webhooks.conftest import deleted, event, post, user_data

USER_TABLES = sorted(t.name for t in Base.metadata.sorted_tables if "user_id" in t.c)


async def rows_per_table(db: AsyncSession, user_id: uuid.UUID) -> dict[str, int]:
    counts = {}
    for table in USER_TABLES:
        query = text(f'SELECT count(*) FROM "{table}" WHERE user_id = :id')  # noqa: S608 - names from metadata
        counts[table] = int(await db.scalar(query, {"id": user_id}) or 0)
    counts["users"] = int(await db.scalar(select(func.count()).where(User.id == user_id)) or 0)
    return counts


async def make_user(client: httpx.AsyncClient, auth_headers: Any, clerk_id: str) -> uuid.UUID:
    """A user with a profile from Clerk, changed preferences and a session through the API."""
    assert (
        await post(client, event("user.created", user_data(clerk_id, email=f"{clerk_id}@example.com")))
    ).status_code == 200
    headers = auth_headers(clerk_id)
    patched = await client.patch("/api/v1/users/me/preferences", headers=headers, json={"theme": "dark"})
    assert patched.status_code == 200, patched.text
    return uuid.UUID((await client.get("/api/v1/users/me", headers=headers)).json()["id"])


async def outcome(db: AsyncSession, svix_id: str) -> str:
    db.expire_all()
    return str(await db.scalar(select(WebhookDelivery.outcome).where(WebhookDelivery.svix_id == svix_id)))


@pytest.fixture
async def enabled(api: ApiFactory) -> httpx.AsyncClient:
    return await api(clerk_webhook_delete_enabled=True)


async def test_deletion_enabled_erases_every_row_of_the_user_only(
    enabled: httpx.AsyncClient, auth_headers: Any, db: AsyncSession
) -> None:
    victim = await make_user(enabled, auth_headers, "user_gone")
    bystander = await make_user(enabled, auth_headers, "user_stays")
    before = await rows_per_table(db, bystander)
    assert (await rows_per_table(db, victim))["user_preferences"] == 1

    response = await post(enabled, deleted("user_gone"), svix_id="msg_delete")
    assert response.status_code == 200
    assert response.json() == {"received": True, "outcome": "deleted", "duplicate": False}

    assert set((await rows_per_table(db, victim)).values()) == {0}
    assert await rows_per_table(db, bystander) == before
    db.expire_all()
    email = await db.scalar(select(User.email).where(User.clerk_user_id == "user_stays"))
    assert email == "user_stays@example.com"
    assert await outcome(db, "msg_delete") == "deleted"


async def test_deletion_redelivered_has_no_second_effect(
    enabled: httpx.AsyncClient, auth_headers: Any
) -> None:
    await make_user(enabled, auth_headers, "user_gone")
    assert (await post(enabled, deleted("user_gone"), svix_id="msg_del")).json()["outcome"] == "deleted"
    again = await post(enabled, deleted("user_gone"), svix_id="msg_del")
    assert again.json() == {"received": True, "outcome": "deleted", "duplicate": True}


async def test_deletion_of_an_unknown_user_is_recorded(enabled: httpx.AsyncClient, db: AsyncSession) -> None:
    response = await post(enabled, deleted("user_never_seen"), svix_id="msg_unknown")
    assert response.json()["outcome"] == "already_absent"
    assert await outcome(db, "msg_unknown") == "already_absent"


async def test_a_late_update_after_deletion_does_not_resurrect_the_user(
    enabled: httpx.AsyncClient, auth_headers: Any, db: AsyncSession
) -> None:
    await make_user(enabled, auth_headers, "user_gone")
    await post(enabled, deleted("user_gone"))
    late = await post(enabled, event("user.updated", user_data("user_gone", updated_at=1_800_000_000_000)))
    assert late.json()["outcome"] == "skipped_deleted"
    assert await db.scalar(select(func.count()).where(User.clerk_user_id == "user_gone")) == 0


async def test_created_after_deleted_does_not_create(enabled: httpx.AsyncClient, db: AsyncSession) -> None:
    """A user created and deleted at once: the deliveries may arrive the other way round."""
    assert (await post(enabled, deleted("user_brief"))).json()["outcome"] == "already_absent"
    late = await post(enabled, event("user.created", user_data("user_brief")))
    assert late.json()["outcome"] == "skipped_deleted"
    assert await db.scalar(select(func.count()).select_from(User)) == 0


async def test_deletion_disabled_records_and_warns_but_keeps_the_data(
    client: httpx.AsyncClient, auth_headers: Any, db: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    user_id = await make_user(client, auth_headers, "user_kept")
    before = await rows_per_table(db, user_id)
    caplog.clear()
    response = await post(client, deleted("user_kept"), svix_id="msg_disabled")
    assert response.status_code == 200
    assert response.json() == {"received": True, "outcome": "deletion_disabled", "duplicate": False}
    assert await rows_per_table(db, user_id) == before
    assert await outcome(db, "msg_disabled") == "deletion_disabled"
    warnings = [str(r.msg) for r in caplog.records if r.levelname == "WARNING"]
    assert any("clerk_user_deletion_disabled" in w and "user_kept" in w for w in warnings), warnings
    assert not any("user_kept@example.com" in str(r.msg) for r in caplog.records)
    # Deletion being disabled does not block later profile updates for that user.
    update = await post(client, event("user.updated", user_data("user_kept", updated_at=1_800_000_000_000)))
    assert update.json()["outcome"] == "processed"


async def test_a_disabled_deletion_resent_after_enabling_the_flag_is_applied(
    client: httpx.AsyncClient, enabled: httpx.AsyncClient, auth_headers: Any, db: AsyncSession
) -> None:
    user_id = await make_user(client, auth_headers, "user_later")
    assert (await post(client, deleted("user_later"), svix_id="msg_resend")).json()[
        "outcome"
    ] == "deletion_disabled"
    # Same svix-id, as Clerk's dashboard "Resend" produces, now on a deployment with the flag on.
    response = await post(enabled, deleted("user_later"), svix_id="msg_resend")
    assert response.json() == {"received": True, "outcome": "deleted", "duplicate": False}
    assert set((await rows_per_table(db, user_id)).values()) == {0}
    assert await outcome(db, "msg_resend") == "deleted"
    # ...and only once.
    assert (await post(enabled, deleted("user_later"), svix_id="msg_resend")).json()["duplicate"] is True


async def test_after_deletion_the_old_token_is_refused_as_user_deleted(
    enabled: httpx.AsyncClient, auth_headers: Any, db: AsyncSession
) -> None:
    """Issue 12: a still-valid token of a user Clerk deleted used to re-create the account. The
    tombstone (the applied user.deleted) now answers 401 user_deleted, and nothing is written."""
    await make_user(enabled, auth_headers, "user_gone")
    await post(enabled, deleted("user_gone"))
    for path in ("/api/v1/users/me", "/api/v1/users/me/preferences", "/api/v1/goals"):
        response = await enabled.get(path, headers=auth_headers("user_gone"))
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"
        error = response.json()["error"]
        assert error["code"] == "user_deleted" and error["details"] == {"reason": "user_deleted"}
    db.expire_all()
    assert await db.scalar(select(func.count()).where(User.clerk_user_id == "user_gone")) == 0
    # Other users are unaffected, and a user.deleted for a user who never had a row is a tombstone too.
    assert (await enabled.get("/api/v1/users/me", headers=auth_headers("user_other"))).status_code == 200
    await post(enabled, deleted("user_never_seen"))
    refused = await enabled.get("/api/v1/users/me", headers=auth_headers("user_never_seen"))
    assert refused.json()["error"]["code"] == "user_deleted"


async def test_a_deletion_only_recorded_is_no_tombstone(
    api: ApiFactory, auth_headers: Any, db: AsyncSession
) -> None:
    """With CLERK_WEBHOOK_DELETE_ENABLED off nothing was erased, so the account keeps working."""
    disabled = await api(clerk_webhook_delete_enabled=False)
    await make_user(disabled, auth_headers, "user_kept")
    assert (await post(disabled, deleted("user_kept"))).json()["outcome"] == "deletion_disabled"
    assert (await disabled.get("/api/v1/users/me", headers=auth_headers("user_kept"))).status_code == 200
