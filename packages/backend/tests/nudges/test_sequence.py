"""The drop-off sequence: day 2 in-app, day 4 email, day 7 SMS (opt-in), then silence; returning
ends it; a sweep run twice, or by two workers at once, sends once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.models.enums import NotificationState
from app.nudges import run_sweep
from app.runtime import create_resources
from tests.goals.support import Api, FakeClock
from tests.nudges.conftest import EMAIL_FROM, Store
from tests.support.smtp import SMTPServer

MONDAY_9 = datetime(2025, 1, 13, 9, 0, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """January 2025, UTC."""
    return datetime(2025, 1, day, hour, minute, tzinfo=UTC)


async def active_user(api: Any, clock: FakeClock, sub: str, **communication: Any) -> Api:
    """A user with a goal and a 10-minute mission, last active on Monday 13 January 09:00 UTC."""
    me: Api = api(sub)
    clock.set(MONDAY_9)
    if communication:
        await me.patch("/users/me/preferences", {"communication_preferences": communication})
    goal = await me.goal(title="Finish my thesis")
    await me.mission(goal["id"], title="Outline chapter two", estimated_minutes=10, energy_level="low")
    return me


async def test_day_2_in_app_day_4_email_day_7_sms_then_silence(
    api: Any, clock: FakeClock, sweep: Any, store: Store, smtp: SMTPServer
) -> None:
    me = await active_user(api, clock, "user_seq", sms=True)
    await store.set_email("user_seq", "seq@example.com")

    assert (await sweep(at(15, 8))).notes == {}  # 47 h: not dropped off yet
    assert (await sweep(at(15, 9, 30))).notes == {}  # 48.5 h, but the send time is 10:00
    assert await store.summary("user_seq") == []

    first = await sweep(at(15, 10))
    assert first.notes == {"pending": 1} and first.delivered == {"sent:in_app": 1}
    centre = await me.get("/notifications")
    assert [item["kind"] for item in centre["items"]] == ["dropoff"]
    note = centre["items"][0]
    assert "Finish my thesis" in note["title"] and "Outline chapter two" in note["body"]
    assert note["context"]["mission_id"] and note["context"]["goal_id"]

    await sweep(at(16, 10))
    assert smtp.received == [] and len(await store.notes("user_seq")) == 1  # day 3: nothing

    second = await sweep(at(17, 10))
    assert second.delivered == {"sent:email": 1}
    [mail] = smtp.received
    assert mail.recipients == ["seq@example.com"] and mail.message["From"] == EMAIL_FROM
    assert "Finish my thesis" in mail.message["Subject"]

    third = await sweep(at(20, 10))
    assert third.delivered == {"sent:sms": 1}
    assert await store.summary("user_seq") == [
        ("dropoff", 1, "in_app", "sent", None),
        ("dropoff", 2, "email", "sent", None),
        ("dropoff", 3, "sms", "sent", None),
    ]
    state = await store.state("user_seq")
    assert state.sequence_step == 3 and state.next_check_at is None  # stopped until the user returns

    for day in (21, 24, 28, 31):
        assert (await sweep(at(day, 10))).rows_written == 0
    assert len(await store.notes("user_seq")) == 3 and len(smtp.received) == 1


async def test_without_sms_opt_in_day_7_is_suppressed(
    api: Any, clock: FakeClock, sweep: Any, store: Store
) -> None:
    await active_user(api, clock, "user_nosms")
    for day in (15, 17, 20):
        await sweep(at(day, 10))
    assert await store.summary("user_nosms") == [
        ("dropoff", 1, "in_app", "sent", None),
        ("dropoff", 2, "email", "suppressed", "no_address"),  # Clerk never sent an address
        ("dropoff", 3, "sms", "suppressed", "opted_out"),
    ]


async def test_returning_ends_the_sequence_and_the_next_drop_off_starts_a_new_one(
    api: Any, clock: FakeClock, sweep: Any, store: Store, smtp: SMTPServer
) -> None:
    me = await active_user(api, clock, "user_back")
    await store.set_email("user_back", "back@example.com")
    await sweep(at(15, 10))  # step 1 sent
    clock.set(at(16, 12))
    await me.post(
        "/goals", {"title": "Back again", "goal_type": "abstract", "value_category": "growth"}, expect=201
    )

    for day in (17, 18):
        await sweep(at(day, 10))  # day 4 of the old sequence comes and goes: no email
    assert smtp.received == []
    assert [(n.step, n.local_date.day) for n in await store.notes("user_back")] == [(1, 15)]

    # The new sequence counts from Thursday 12:00: step 1 is due Saturday 12:00, sent at the next
    # send time, Sunday 10:00.
    await sweep(at(19, 10))
    assert [(n.step, n.local_date.day, n.state.value) for n in await store.notes("user_back")] == [
        (1, 15, "sent"),
        (1, 19, "sent"),
    ]


async def test_a_note_planned_before_the_user_returned_is_suppressed_not_sent(
    api: Any, clock: FakeClock, sweep: Any, store: Store, smtp: SMTPServer
) -> None:
    me = await active_user(api, clock, "user_race")
    await store.set_email("user_race", "race@example.com")
    await sweep(at(15, 10))
    smtp.stop()  # the relay is down: the day-4 email stays pending, to be retried
    await sweep(at(17, 10))
    assert [n.state for n in await store.notes("user_race")] == [
        NotificationState.sent,
        NotificationState.pending,
    ]
    clock.set(at(17, 10, 5))
    await me.post(
        "/goals", {"title": "Here", "goal_type": "abstract", "value_category": "growth"}, expect=201
    )
    smtp.start()
    report = await sweep(at(17, 10, 30))
    assert report.delivered == {"suppressed:user_returned": 1}
    assert (await store.summary("user_race"))[1] == ("dropoff", 2, "email", "suppressed", "user_returned")
    assert smtp.received == []


async def test_after_a_long_silence_only_the_latest_due_step_is_sent(
    api: Any, clock: FakeClock, sweep: Any, store: Store, smtp: SMTPServer
) -> None:
    """A sweep that first sees a user on day 5 (the worker was down) sends the day-4 email, not the
    day-2 note as well: two notes at once would be more than the sequence means."""
    await active_user(api, clock, "user_late")
    await store.set_email("user_late", "late@example.com")
    report = await sweep(at(18, 10))
    assert report.delivered == {"sent:email": 1}
    assert await store.summary("user_late") == [
        ("dropoff", 1, "in_app", "suppressed", "superseded"),
        ("dropoff", 2, "email", "sent", None),
    ]


async def test_double_sweeps_and_two_concurrent_workers_send_once(
    api: Any, clock: FakeClock, app: Any, nudge_settings: Any, store: Store, smtp: SMTPServer
) -> None:
    subs = [f"user_pair_{n}" for n in range(12)]
    for sub in subs:
        await active_user(api, clock, sub)
        await store.set_email(sub, f"{sub}@example.com")
    await run_sweep(app.state.resources, at(15, 10))  # step 1 for everyone
    other = create_resources(nudge_settings)  # a second worker process: its own pool and Redis client
    try:
        moment = at(17, 10)
        first, second = await asyncio.gather(run_sweep(app.state.resources, moment), run_sweep(other, moment))
        again = await run_sweep(other, moment + timedelta(minutes=15))
    finally:
        await other.close()
    assert first.delivered["sent:email"] + second.delivered["sent:email"] == len(subs)
    assert again.rows_written == 0
    assert sorted(r for mail in smtp.received for r in mail.recipients) == sorted(
        f"{s}@example.com" for s in subs
    )
    for sub in subs:
        assert [n.step for n in await store.notes(sub)] == [1, 2]


async def test_channel_opt_outs_suppress_their_steps(
    api: Any, clock: FakeClock, sweep: Any, store: Store
) -> None:
    await active_user(api, clock, "user_optout", in_app=False, email=False, sms=True)
    await store.set_email("user_optout", "optout@example.com")
    for day in (15, 17, 20):
        await sweep(at(day, 10))
    assert await store.summary("user_optout") == [
        ("dropoff", 1, "in_app", "suppressed", "opted_out"),
        ("dropoff", 2, "email", "suppressed", "opted_out"),
        ("dropoff", 3, "sms", "sent", None),
    ]


@pytest.mark.parametrize("nudge_overrides", [{"notify_smtp_url": None}])
async def test_without_an_smtp_relay_the_email_step_is_suppressed(
    api: Any, clock: FakeClock, sweep: Any, store: Store
) -> None:
    await active_user(api, clock, "user_no_relay")
    await store.set_email("user_no_relay", "relay@example.com")
    await sweep(at(17, 10))
    assert (await store.summary("user_no_relay"))[-1] == (
        "dropoff",
        2,
        "email",
        "suppressed",
        "channel_unavailable",
    )
