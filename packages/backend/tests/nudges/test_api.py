"""The notification centre API: newest first, cursor pages, the unread filter, read, dismiss,
read-all; other users' notifications answer 404; everything is in the export and erased."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Notification, NudgeState
from app.models.enums import NotificationChannel, NotificationKind, NotificationState
from tests.goals.support import Api, FakeClock
from tests.nudges.conftest import Store

T0 = datetime(2025, 1, 20, 10, tzinfo=UTC)


async def seed_notes(
    db: AsyncSession, store: Store, sub: str, count: int, **overrides: Any
) -> list[uuid.UUID]:
    """``count`` sent in-app notes, one a day before T0 (arranged directly: the sweep is tested elsewhere)."""
    user = await store.user(sub)
    rows = [
        {
            "user_id": user.id,
            "kind": NotificationKind.triad_ready,
            "step": 0,
            "local_date": (T0 - timedelta(days=n)).date(),
            "channel": NotificationChannel.in_app,
            "state": NotificationState.sent,
            "title": f"Note {n}",
            "body": "Today's three are ready.",
            "sent_at": T0 - timedelta(days=n),
            **overrides,
        }
        for n in range(count)
    ]
    result = await db.execute(insert(Notification).values(rows).returning(Notification.id))
    ids = list(result.scalars())
    await db.commit()
    return ids


async def test_list_pages_newest_first_with_unread_filter_read_dismiss_and_read_all(
    api: Any, clock: FakeClock, db: AsyncSession, store: Store
) -> None:
    me: Api = api("user_centre")
    await me.get("/users/me")
    ids = await seed_notes(db, store, "user_centre", 5)
    # Neither an email nor an undelivered note is part of the centre.
    await seed_notes(
        db, store, "user_centre", 1, channel=NotificationChannel.email, kind=NotificationKind.dropoff, step=2
    )
    await seed_notes(
        db,
        store,
        "user_centre",
        1,
        state=NotificationState.pending,
        kind=NotificationKind.dropoff,
        step=1,
        sent_at=None,
    )

    first = await me.get("/notifications", params={"limit": 2})
    assert [item["title"] for item in first["items"]] == ["Note 0", "Note 1"]
    assert first["unread_count"] == 5 and first["next_cursor"]
    second = await me.get("/notifications", params={"limit": 2, "cursor": first["next_cursor"]})
    third = await me.get("/notifications", params={"limit": 2, "cursor": second["next_cursor"]})
    assert [i["title"] for i in second["items"] + third["items"]] == ["Note 2", "Note 3", "Note 4"]
    assert third["next_cursor"] is None

    read = await me.post(f"/notifications/{ids[1]}/read")
    assert read["read_at"] is not None and read["dismissed_at"] is None
    again = await me.post(f"/notifications/{ids[1]}/read")
    assert again["read_at"] == read["read_at"]  # idempotent
    unread = await me.get("/notifications", params={"unread": "true"})
    assert [i["title"] for i in unread["items"]] == ["Note 0", "Note 2", "Note 3", "Note 4"]
    assert unread["unread_count"] == 4
    assert [i["title"] for i in (await me.get("/notifications", params={"unread": "false"}))["items"]] == [
        "Note 1"
    ]

    dismissed = await me.post(f"/notifications/{ids[0]}/dismiss")
    assert dismissed["dismissed_at"] is not None and dismissed["read_at"] is not None
    listed = await me.get("/notifications")
    assert [i["title"] for i in listed["items"]] == ["Note 1", "Note 2", "Note 3", "Note 4"]

    assert await me.post("/notifications/read-all") == {"updated": 3}
    assert (await me.get("/notifications"))["unread_count"] == 0
    assert await me.post("/notifications/read-all") == {"updated": 0}


async def test_other_users_notifications_answer_404(api: Any, db: AsyncSession, store: Store) -> None:
    alice: Api = api("user_alice_n")
    bob: Api = api("user_bob_n")
    await alice.get("/users/me")
    await bob.get("/users/me")
    [alices] = await seed_notes(db, store, "user_alice_n", 1)
    [emailed] = await seed_notes(db, store, "user_bob_n", 1, channel=NotificationChannel.email)
    for path in (f"/notifications/{alices}/read", f"/notifications/{alices}/dismiss"):
        error = await bob.post(path, expect=404)
        assert error["error"]["code"] == "not_found"
    await bob.post(f"/notifications/{uuid.uuid4()}/read", expect=404)
    await bob.post(f"/notifications/{emailed}/read", expect=404)  # an email is not in the centre
    assert (await bob.get("/notifications"))["items"] == []
    assert await bob.post("/notifications/read-all") == {"updated": 0}
    [note] = (await alice.get("/notifications"))["items"]
    assert note["read_at"] is None and note["dismissed_at"] is None


async def test_bad_cursor_and_limit_are_422_naming_the_field(api: Any) -> None:
    me: Api = api("user_cursor")
    for params, field in (
        ({"cursor": "bm90LWEtY3Vyc29y"}, "cursor"),
        ({"limit": "0"}, "limit"),
        ({"unread": "maybe"}, "unread"),
    ):
        error = await me.get("/notifications", params=params, expect=422)
        assert error["error"]["details"][0]["field"] == field


async def test_notifications_are_exported_and_erased_with_the_account(
    api: Any, clock: FakeClock, sweep: Any, db: AsyncSession, store: Store, redis: Redis, app: Any
) -> None:
    me: Api = api("user_export_n")
    clock.set(datetime(2025, 1, 13, 9, tzinfo=UTC))
    await me.goal(title="Paint a mural")
    await sweep(datetime(2025, 1, 15, 10, tzinfo=UTC))
    user_id = (await store.user("user_export_n")).id
    await redis.set(f"nudges:active:{user_id}", b"1")

    export = await me.get("/users/me/export")
    section = export["notifications"]
    assert section["activity"]["last_active_at"].startswith("2025-01-13T09:00")
    [note] = section["notifications"]
    assert note["kind"] == "dropoff" and note["state"] == "sent" and note["channel"] == "in_app"
    assert "Paint a mural" in note["body"]

    await me.delete("/users/me")
    assert (await db.execute(select(Notification).where(Notification.user_id == user_id))).first() is None
    assert (await db.execute(select(NudgeState).where(NudgeState.user_id == user_id))).first() is None
    assert await redis.exists(f"nudges:active:{user_id}") == 0


async def test_the_centre_needs_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/notifications")).status_code == 401
