"""Activity: intent-showing writes record it (reads do not), coalesced through Redis so a user
costs at most one database write per window; a sent note reopens the window, so the response to
it is counted; the DCI's nudge_response is the share of notes followed by activity within 24 h."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Notification
from app.models.enums import NotificationChannel, NotificationKind, NotificationState
from app.planning import dci
from tests.goals.support import Api, FakeClock
from tests.nudges.conftest import Store

T0 = datetime(2025, 1, 13, 9, tzinfo=UTC)


async def test_writes_record_activity_and_reads_do_not(api: Any, clock: FakeClock, store: Store) -> None:
    me: Api = api("user_intent")
    clock.set(T0)
    await me.get("/users/me")
    await me.get("/goals")
    await me.get("/missions/triad")
    await me.get("/notifications")
    with pytest.raises(Exception, match="No row was found"):
        await store.state("user_intent")  # nothing recorded yet
    goal = await me.goal()
    assert (await store.state("user_intent")).last_active_at == T0
    clock.set(T0 + timedelta(hours=5))
    await me.get(f"/goals/{goal['id']}")
    await me.patch("/users/me/preferences", {"theme": "dark"})  # settings are not intent
    assert (await store.state("user_intent")).last_active_at == T0
    mission = await me.mission(goal["id"])
    assert (await store.state("user_intent")).last_active_at == T0 + timedelta(hours=5)
    clock.set(T0 + timedelta(hours=6))
    await me.post(f"/missions/{mission['id']}/start")
    state = await store.state("user_intent")
    assert state.last_active_at == T0 + timedelta(hours=6)
    assert state.sequence_step == 0 and state.next_check_at == T0 + timedelta(hours=54)


async def test_a_failed_write_records_nothing(api: Any, clock: FakeClock, store: Store) -> None:
    me: Api = api("user_failed_write")
    clock.set(T0)
    await me.post("/goals", {"title": ""}, expect=422)
    await me.post("/missions/00000000-0000-0000-0000-000000000000/start", expect=404)
    with pytest.raises(Exception, match="No row was found"):
        await store.state("user_failed_write")


@pytest.mark.parametrize("nudge_overrides", [{"nudge_activity_coalesce_seconds": 300}])
async def test_activity_is_coalesced_per_user_and_a_sent_note_reopens_the_window(
    api: Any, clock: FakeClock, store: Store, sweep: Any, redis: Redis
) -> None:
    me: Api = api("user_gate")
    clock.set(T0)
    goal = await me.goal()
    user_id = (await store.user("user_gate")).id
    assert 0 < await redis.ttl(f"nudges:active:{user_id}") <= 300
    for minutes in (1, 2, 3):
        clock.set(T0 + timedelta(minutes=minutes))
        await me.mission(goal["id"], title=f"Step {minutes}")
    assert (await store.state("user_gate")).last_active_at == T0  # one write for four requests

    await redis.delete(f"nudges:active:{user_id}")  # the window ends
    clock.set(T0 + timedelta(minutes=10))
    await me.mission(goal["id"], title="Later")
    assert (await store.state("user_gate")).last_active_at == T0 + timedelta(minutes=10)

    # Two days later a note is sent; the user answers an hour after it, well inside a (real) window
    # the previous request opened: the note reopened it, so the answer is recorded.
    await sweep(datetime(2025, 1, 15, 10, tzinfo=UTC))
    assert await redis.exists(f"nudges:active:{user_id}") == 0
    clock.set(datetime(2025, 1, 15, 11, tzinfo=UTC))
    await me.mission(goal["id"], title="Back")
    [note] = await store.notes("user_gate")
    assert note.responded_at == datetime(2025, 1, 15, 11, tzinfo=UTC)


async def seed_sent(db: AsyncSession, user_id: Any, sent: list[tuple[datetime, datetime | None]]) -> None:
    rows = [
        {
            "user_id": user_id,
            "kind": NotificationKind.triad_ready,
            "step": 0,
            "local_date": sent_at.date(),
            "channel": NotificationChannel.in_app,
            "state": NotificationState.sent,
            "title": "Today's three are ready",
            "body": "Pick whichever feels doable.",
            "sent_at": sent_at,
            "responded_at": responded,
        }
        for sent_at, responded in sent
    ]
    await db.execute(insert(Notification).values(rows))
    await db.commit()


async def test_nudge_response_is_the_share_of_notes_followed_within_24_hours(
    api: Any, db: AsyncSession, store: Store
) -> None:
    me: Api = api("user_dci_n")
    await me.get("/users/me")
    user_id = (await store.user("user_dci_n")).id
    now = datetime(2025, 1, 20, 12, tzinfo=UTC)
    end = date(2025, 1, 20)

    terms = await dci.compute(db, user_id, end, 7, live=True, now=now)
    assert terms.nudge_response == 0.0 and terms.counts["nudges"] == 0  # no note, and idle

    day = timedelta(days=1)
    await seed_sent(
        db,
        user_id,
        [
            (now - 5 * day, now - 5 * day + timedelta(hours=3)),  # followed
            (now - 4 * day, None),  # not followed within 24 h
            (now - 3 * day, now - 3 * day + timedelta(hours=20)),  # followed
            (now - 2 * day, None),  # not followed
            (now - timedelta(hours=5), None),  # too recent to tell: not counted either way
            (now - 9 * day, now - 9 * day + timedelta(hours=1)),  # outside the 7-day window
        ],
    )
    terms = await dci.compute(db, user_id, end, 7, live=True, now=now)
    assert (terms.counts["nudges"], terms.counts["nudges_followed"]) == (4, 2)
    assert terms.nudge_response == 0.5
