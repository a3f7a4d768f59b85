"""Send times and quiet hours (wrapping midnight, in UTC−8 and UTC+13), and the rules behind them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.core.config import Settings
from app.models.enums import NudgeFrequency
from app.nudges.rules import QuietHours, caps, daily_moment, dropoff_slot, moment_on, read_prefs
from tests.goals.support import LOS_ANGELES, TONGATAPU, Api, FakeClock
from tests.nudges.conftest import Store


def test_quiet_hours_wrap_midnight() -> None:
    quiet = QuietHours.parse("22:00-08:00")
    assert [
        quiet.contains(time(h, m)) for h, m in ((21, 59), (22, 0), (23, 30), (0, 0), (7, 59), (8, 0))
    ] == [
        False,
        True,
        True,
        True,
        True,
        False,
    ]
    daytime = QuietHours.parse("13:00-15:00")
    assert [daytime.contains(time(h)) for h in (12, 13, 14, 15)] == [False, True, True, False]


def test_a_send_time_inside_quiet_hours_moves_to_their_end(settings: Settings) -> None:
    prefs = read_prefs(settings, LOS_ANGELES, {"preferred_send_time": "07:30"}, {})
    assert moment_on(date(2025, 1, 15), prefs.send_time, prefs) == datetime(
        2025, 1, 15, 8, 0, tzinfo=ZoneInfo(LOS_ANGELES)
    )
    late = read_prefs(settings, LOS_ANGELES, {"preferred_send_time": "23:00"}, {})
    # 23:00 is quiet until 08:00 the next morning: a sequence step goes then; a note for that day cannot.
    assert moment_on(date(2025, 1, 15), late.send_time, late).date() == date(2025, 1, 16)
    assert daily_moment(date(2025, 1, 15), late.send_time, late) is None


def test_dropoff_slot_is_the_first_send_time_at_or_after_the_due_moment(settings: Settings) -> None:
    prefs = read_prefs(settings, TONGATAPU, {}, {})
    due = datetime(2025, 1, 14, 22, 0, tzinfo=UTC)  # 11:00 on the 15th in Tonga
    assert dropoff_slot(due, prefs) == datetime(2025, 1, 16, 10, 0, tzinfo=ZoneInfo(TONGATAPU))
    early = datetime(2025, 1, 14, 19, 0, tzinfo=UTC)  # 08:00 on the 15th in Tonga
    assert dropoff_slot(early, prefs) == datetime(2025, 1, 15, 10, 0, tzinfo=ZoneInfo(TONGATAPU))


def test_stored_preferences_fall_back_to_defaults(settings: Settings) -> None:
    prefs = read_prefs(
        settings,
        "Not/AZone",
        {"nudge_frequency": "loud", "preferred_send_time": "99:99", "email": False},
        {"quiet_hours": {"start": "nope"}},
    )
    assert prefs.frequency is NudgeFrequency.gentle and prefs.send_time == time(10, 0)
    assert str(prefs.quiet) == "22:00–08:00" and prefs.timezone == "Not/AZone" and prefs.tz.key == "UTC"
    assert (
        prefs.channels["email"] is False
        and prefs.channels["in_app"] is True
        and prefs.channels["sms"] is False
    )


@pytest.mark.parametrize(
    ("frequency", "expected"),
    [(NudgeFrequency.off, (0, 0)), (NudgeFrequency.gentle, (1, 5)), (NudgeFrequency.regular, (2, 10))],
)
def test_caps_per_frequency(settings: Settings, frequency: NudgeFrequency, expected: tuple[int, int]) -> None:
    assert caps(settings, frequency) == expected


async def dropped_off_in(api: Any, clock: FakeClock, sub: str, tz: str, **communication: Any) -> Api:
    """A user in ``tz`` last active on 13 January 2025 at 09:00 local time."""
    me: Api = api(sub)
    await me.set_timezone(tz)
    if communication:
        await me.patch("/users/me/preferences", {"communication_preferences": communication})
    clock.set_local(tz, 2025, 1, 13, 9, 0)
    await me.goal(title="Learn to swim")
    return me


def local(tz: str, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 1, day, hour, minute, tzinfo=ZoneInfo(tz)).astimezone(UTC)


async def test_quiet_hours_across_midnight_in_los_angeles(
    api: Any, clock: FakeClock, sweep: Any, store: Store
) -> None:
    """UTC−8, quiet 22:00–08:00, send time 07:30 (inside them): the note waits for 08:00 local."""
    await dropped_off_in(api, clock, "user_la", LOS_ANGELES, preferred_send_time="07:30")
    # Due since 09:00 on the 15th; the first send time after that is 07:30 → 08:00 on the 16th.
    assert (await sweep(local(LOS_ANGELES, 15, 23, 30))).notes == {}
    assert (await sweep(local(LOS_ANGELES, 16, 0, 15))).notes == {}  # past midnight: still quiet
    assert (await sweep(local(LOS_ANGELES, 16, 7, 45))).notes == {}  # 15:45 UTC: 07:45 local, quiet
    sent = await sweep(local(LOS_ANGELES, 16, 8, 0))  # 16:00 UTC
    assert sent.delivered == {"sent:in_app": 1}
    [note] = await store.notes("user_la")
    assert note.local_date == date(2025, 1, 16) and note.sent_at == datetime(2025, 1, 16, 16, 0, tzinfo=UTC)


async def test_send_time_and_local_date_in_tonga(
    api: Any, clock: FakeClock, sweep: Any, store: Store
) -> None:
    """UTC+13: 10:00 local is 21:00 UTC the day before, and the note carries the Tonga date."""
    await dropped_off_in(api, clock, "user_to", TONGATAPU)
    assert (await sweep(datetime(2025, 1, 14, 20, 59, tzinfo=UTC))).notes == {}
    sent = await sweep(datetime(2025, 1, 14, 21, 0, tzinfo=UTC))  # 10:00 on the 15th in Tonga
    assert sent.delivered == {"sent:in_app": 1}
    [note] = await store.notes("user_to")
    assert note.local_date == date(2025, 1, 15)


async def test_user_quiet_hours_are_honoured_when_a_retry_falls_inside_them(
    api: Any, clock: FakeClock, sweep: Any, store: Store, smtp: Any
) -> None:
    """A pending email whose retry comes due at night is postponed to the morning, not sent."""
    me = await dropped_off_in(api, clock, "user_night", "UTC")
    await me.patch(
        "/users/me/preferences", {"custom_hours": {"quiet_hours": {"start": "21:00", "end": "07:00"}}}
    )
    await store.set_email("user_night", "night@example.com")
    await sweep(local("UTC", 15, 10))
    smtp.stop()
    await sweep(local("UTC", 17, 10))  # the email fails: retried later
    smtp.start()
    report = await sweep(local("UTC", 17, 22))  # the retry is due, but 22:00 is quiet
    assert report.delivered == {"postponed": 1} and smtp.received == []
    email = (await store.notes("user_night"))[1]
    assert email.attempts == 1 and email.next_attempt_at == local("UTC", 18, 7)
    assert (await sweep(local("UTC", 18, 7))).delivered == {"sent:email": 1}
