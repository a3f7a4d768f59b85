"""user.created / user.updated: upsert, idempotency by svix-id, ordering by Clerk's updated_at."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import User, UserPreferences, WebhookDelivery
from tests.webhooks.conftest import URL, event, new_svix_id, post, sign, user_data


async def user_row(db: AsyncSession, clerk_id: str = "user_hook") -> User | None:
    db.expire_all()
    return (await db.execute(select(User).where(User.clerk_user_id == clerk_id))).scalar_one_or_none()


async def delivery(db: AsyncSession, svix_id: str) -> WebhookDelivery:
    db.expire_all()
    return (await db.execute(select(WebhookDelivery).where(WebhookDelivery.svix_id == svix_id))).scalar_one()


async def count(db: AsyncSession, model: Any) -> int:
    return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def test_user_created_creates_user_with_primary_email_and_preferences(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    response = await post(client, event("user.created", user_data()), svix_id="msg_created")
    assert response.status_code == 200, response.text
    assert response.json() == {"received": True, "outcome": "processed", "duplicate": False}
    user = await user_row(db)
    assert user is not None
    assert user.email == "ada@example.com"  # the primary one, not the first in the list
    assert user.display_name == "Ada Lovelace"
    assert user.clerk_updated_at == 1_700_000_000_000
    assert await db.scalar(select(func.count()).where(UserPreferences.user_id == user.id)) == 1
    recorded = await delivery(db, "msg_created")
    assert (recorded.event_type, recorded.clerk_user_id, recorded.outcome) == (
        "user.created",
        "user_hook",
        "processed",
    )


async def test_display_name_falls_back_to_username_then_nothing(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    await post(
        client, event("user.created", user_data("user_u", first_name=None, last_name="  ", username="adal"))
    )
    await post(
        client, event("user.created", user_data("user_n", first_name=None, last_name=None, username=None))
    )
    await post(client, event("user.created", user_data("user_f", last_name=None)))
    await post(client, event("user.created", user_data("user_l", first_name="", last_name="Byron")))
    assert (await user_row(db, "user_u")).display_name == "adal"  # type: ignore[union-attr]
    assert (await user_row(db, "user_n")).display_name is None  # type: ignore[union-attr]
    assert (await user_row(db, "user_f")).display_name == "Ada"  # type: ignore[union-attr]
    assert (await user_row(db, "user_l")).display_name == "Byron"  # type: ignore[union-attr]


async def test_very_long_names_are_truncated_not_refused(client: httpx.AsyncClient, db: AsyncSession) -> None:
    response = await post(client, event("user.created", user_data(first_name="A" * 150, last_name="B" * 150)))
    assert response.status_code == 200
    assert len((await user_row(db)).display_name or "") == 200  # type: ignore[union-attr]


async def test_no_primary_email_stores_none(client: httpx.AsyncClient, db: AsyncSession) -> None:
    response = await post(client, event("user.created", user_data(email=None)))
    assert response.status_code == 200
    assert (await user_row(db)).email is None  # type: ignore[union-attr]


async def test_user_updated_changes_the_profile(client: httpx.AsyncClient, db: AsyncSession) -> None:
    await post(client, event("user.created", user_data()))
    created = await user_row(db)
    newer = user_data(updated_at=1_700_000_100_000, email="ada@lovelace.dev", first_name="Augusta")
    response = await post(client, event("user.updated", newer))
    assert response.json()["outcome"] == "processed"
    user = await user_row(db)
    assert user is not None and created is not None
    assert (user.id, user.email, user.display_name) == (created.id, "ada@lovelace.dev", "Augusta Lovelace")
    assert user.clerk_updated_at == 1_700_000_100_000
    assert await count(db, UserPreferences) == 1


async def test_user_updated_for_an_unknown_user_creates_it(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    """Deliveries can arrive in any order; user.updated before user.created still upserts."""
    response = await post(client, event("user.updated", user_data(updated_at=1_700_000_100_000)))
    assert response.json()["outcome"] == "processed"
    assert await count(db, UserPreferences) == 1
    late_created = await post(client, event("user.created", user_data(updated_at=1_700_000_000_000)))
    assert late_created.json()["outcome"] == "skipped_stale"
    assert (await user_row(db)).clerk_updated_at == 1_700_000_100_000  # type: ignore[union-attr]


async def test_webhook_fills_in_a_just_in_time_provisioned_user(
    client: httpx.AsyncClient, auth_headers: Any, db: AsyncSession
) -> None:
    me = (await client.get("/api/v1/users/me", headers=auth_headers("user_hook"))).json()
    assert me["email"] is None
    await post(client, event("user.created", user_data()))
    after = (await client.get("/api/v1/users/me", headers=auth_headers("user_hook"))).json()
    assert (after["id"], after["email"], after["display_name"]) == (
        me["id"],
        "ada@example.com",
        "Ada Lovelace",
    )
    assert await count(db, User) == 1
    assert await count(db, UserPreferences) == 1


async def test_an_older_update_does_not_overwrite_a_newer_one(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    newer = user_data(updated_at=1_700_000_200_000, email="new@example.com", first_name="New")
    older = user_data(updated_at=1_700_000_100_000, email="old@example.com", first_name="Old")
    assert (await post(client, event("user.updated", newer))).json()["outcome"] == "processed"
    response = await post(client, event("user.updated", older), svix_id="msg_older")
    assert response.status_code == 200
    assert response.json() == {"received": True, "outcome": "skipped_stale", "duplicate": False}
    user = await user_row(db)
    assert user is not None
    assert (user.email, user.display_name, user.clerk_updated_at) == (
        "new@example.com",
        "New Lovelace",
        1_700_000_200_000,
    )
    assert (await delivery(db, "msg_older")).outcome == "skipped_stale"


async def test_redelivery_has_no_second_effect(client: httpx.AsyncClient, db: AsyncSession) -> None:
    body = json.dumps(event("user.created", user_data())).encode()
    headers = sign(body, svix_id="msg_once")
    first = await client.post(URL, content=body, headers=headers)
    assert first.json() == {"received": True, "outcome": "processed", "duplicate": False}
    # Change the row behind the webhook's back: a second effect would overwrite this.
    await db.execute(update(User).values(display_name="Changed since"))
    await db.commit()
    again = await client.post(URL, content=body, headers=sign(body, svix_id="msg_once"))  # Svix retry
    assert again.status_code == 200
    assert again.json() == {"received": True, "outcome": "processed", "duplicate": True}
    assert (await user_row(db)).display_name == "Changed since"  # type: ignore[union-attr]
    assert await count(db, WebhookDelivery) == 1


async def test_concurrent_redeliveries_apply_once(client: httpx.AsyncClient, db: AsyncSession) -> None:
    body = json.dumps(event("user.created", user_data())).encode()
    responses = await asyncio.gather(
        *(client.post(URL, content=body, headers=sign(body, svix_id="msg_burst")) for _ in range(6))
    )
    assert [r.status_code for r in responses] == [200] * 6
    assert sorted(r.json()["duplicate"] for r in responses) == [False] + [True] * 5
    assert {r.json()["outcome"] for r in responses} == {"processed"}
    assert await count(db, User) == 1
    assert await count(db, WebhookDelivery) == 1


async def test_concurrent_updates_for_one_user_keep_the_newest(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    payloads = [
        event("user.updated", user_data(updated_at=1_700_000_000_000 + i, first_name=f"V{i}"))
        for i in range(8)
    ]
    responses = await asyncio.gather(*(post(client, p) for p in reversed(payloads)))
    assert all(r.status_code == 200 for r in responses)
    user = await user_row(db)
    assert user is not None and user.display_name == "V7 Lovelace"
    assert await count(db, User) == 1
    assert await count(db, UserPreferences) == 1


async def test_unknown_event_types_are_recorded_as_ignored(
    client: httpx.AsyncClient, db: AsyncSession
) -> None:
    for event_type, data in [
        ("session.created", {"id": "sess_123", "user_id": "user_hook"}),
        ("organization.created", {"id": "org_1"}),
        ("email.created", None),
    ]:
        svix_id = new_svix_id()
        response = await post(client, event(event_type, data), svix_id=svix_id)
        assert response.json() == {"received": True, "outcome": "ignored", "duplicate": False}
        recorded = await delivery(db, svix_id)
        assert (recorded.event_type, recorded.clerk_user_id, recorded.outcome) == (
            event_type,
            None,
            "ignored",
        )
    assert await count(db, User) == 0


async def test_deliveries_hold_no_personal_data(client: httpx.AsyncClient, db: AsyncSession) -> None:
    await post(client, event("user.created", user_data()))
    rows = (await db.execute(select(WebhookDelivery.__table__))).mappings().all()
    assert len(rows) == 1
    text = json.dumps({k: str(v) for k, v in rows[0].items()})
    for personal in ("ada@example.com", "Ada", "Lovelace", "203.0.113.9"):
        assert personal not in text


async def test_export_lists_the_users_deliveries(client: httpx.AsyncClient, auth_headers: Any) -> None:
    await post(client, event("user.created", user_data()), svix_id="msg_mine")
    await post(client, event("user.created", user_data("user_other")), svix_id="msg_theirs")
    export = (await client.get("/api/v1/users/me/export", headers=auth_headers("user_hook"))).json()
    assert [d["svix_id"] for d in export["webhook_deliveries"]] == ["msg_mine"]
    assert export["webhook_deliveries"][0]["outcome"] == "processed"
