"""The rules of when a note may go out, as pure functions of the user's preferences and the time
(docs/nudges.md): the drop-off sequence, send times, quiet hours, caps and channel opt-outs.

Nothing here reads the clock or the database: the sweep passes ``now`` and what it loaded, and
``delight nudges run --dry-run`` shows the same decisions without writing them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from app.core.config import Settings
from app.kit.clock import zone
from app.models.enums import NotificationChannel, NudgeFrequency

# Drop-off: no activity for 48 h. Step n of the sequence is due this many days after the last
# activity, on this channel; after step 3 the sequence stops until the user returns.
DROPOFF: Final = timedelta(hours=48)
STEP_DAYS: Final = {1: 2, 2: 4, 3: 7}
STEP_CHANNEL: Final = {
    1: NotificationChannel.in_app,
    2: NotificationChannel.email,
    3: NotificationChannel.sms,
}
LAST_STEP: Final = 3
# A streak this long (or longer) gets a note late in a day without a completion.
STREAK_AT_RISK: Final = 3
# The opt-in defaults of each channel (CommunicationPreferences in app/users/schemas.py).
CHANNEL_DEFAULTS: Final = {
    NotificationChannel.in_app: True,
    NotificationChannel.email: True,
    NotificationChannel.sms: False,
    NotificationChannel.push: False,
}


def parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class QuietHours:
    """A daily local window; ``end`` before ``start`` wraps past midnight (22:00–08:00)."""

    start: time
    end: time

    @classmethod
    def parse(cls, value: str) -> QuietHours:
        start, end = value.split("-")
        return cls(parse_hhmm(start), parse_hhmm(end))

    def contains(self, moment: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def end_after(self, local: datetime) -> datetime:
        """The end of the quiet window ``local`` is in (the same or the next local day)."""
        end = datetime.combine(local.date(), self.end, local.tzinfo)
        return (
            end if end > local else datetime.combine(local.date() + timedelta(days=1), self.end, local.tzinfo)
        )

    def __str__(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


@dataclass(frozen=True)
class NudgePrefs:
    """What one user chose (or the defaults), read from their stored preferences."""

    timezone: str
    frequency: NudgeFrequency
    send_time: time
    quiet: QuietHours
    channels: dict[NotificationChannel, bool]
    triad_ready: bool

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz)

    def today(self, moment: datetime) -> date:
        return self.local(moment).date()

    def wants(self, channel: NotificationChannel) -> bool:
        return self.channels[channel]

    def note_channel(self) -> NotificationChannel | None:
        """Where the daily notes (streak, triad) go: web push if enabled, else in-app, else nowhere."""
        if self.wants(NotificationChannel.push):
            return NotificationChannel.push
        return NotificationChannel.in_app if self.wants(NotificationChannel.in_app) else None


def read_prefs(
    settings: Settings,
    timezone: str,
    communication: dict[str, Any] | None,
    custom_hours: dict[str, Any] | None,
) -> NudgePrefs:
    """The user's stored preferences with the defaults filled in. Stored values went through the
    API's validation; anything else (a hand-edited row) falls back to the default, never raises."""
    communication = communication or {}
    quiet_stored = (custom_hours or {}).get("quiet_hours")
    quiet = QuietHours.parse(settings.nudge_quiet_hours)
    if isinstance(quiet_stored, dict):
        with contextlib.suppress(KeyError, ValueError):
            quiet = QuietHours(parse_hhmm(str(quiet_stored["start"])), parse_hhmm(str(quiet_stored["end"])))
    try:
        send_time = parse_hhmm(str(communication.get("preferred_send_time") or settings.nudge_send_time))
    except ValueError:
        send_time = parse_hhmm(settings.nudge_send_time)
    try:
        frequency = NudgeFrequency(communication.get("nudge_frequency") or NudgeFrequency.gentle)
    except ValueError:
        frequency = NudgeFrequency.gentle
    channels = {
        channel: bool(communication.get(channel.value, default))
        for channel, default in CHANNEL_DEFAULTS.items()
    }
    return NudgePrefs(
        timezone=timezone,
        frequency=frequency,
        send_time=send_time,
        quiet=quiet,
        channels=channels,
        triad_ready=bool(communication.get("triad_ready", False)),
    )


def caps(settings: Settings, frequency: NudgeFrequency) -> tuple[int, int]:
    """(per local day, per 7 local days) for every channel together: ``regular`` gets the configured
    caps, ``gentle`` half of them (at least one), ``off`` none."""
    if frequency is NudgeFrequency.off:
        return 0, 0
    daily, weekly = settings.nudge_daily_cap, settings.nudge_weekly_cap
    if frequency is NudgeFrequency.gentle:
        return min(daily, max(1, daily // 2)), min(weekly, max(1, weekly // 2))
    return daily, weekly


def moment_on(day: date, target: time, prefs: NudgePrefs) -> datetime:
    """``target`` o'clock on local ``day``, moved to the end of quiet hours if it falls inside them
    (which may be the next morning). Always outside quiet hours."""
    local = datetime.combine(day, target, prefs.tz)
    # Normalise through UTC: a wall time that does not exist (a DST gap) becomes a real instant.
    local = prefs.local(local.astimezone(ZoneInfo("UTC")))
    if prefs.quiet.contains(local.time()):
        local = prefs.quiet.end_after(local)
    return local


def daily_moment(day: date, target: time, prefs: NudgePrefs) -> datetime | None:
    """When a note meant for local ``day`` at ``target`` may go: the target, or the end of quiet
    hours that day; ``None`` when quiet hours last until the day is over."""
    moment = moment_on(day, target, prefs)
    return moment if moment.date() == day else None


def dropoff_slot(due: datetime, prefs: NudgePrefs) -> datetime:
    """The first send slot (the send time, moved out of quiet hours) at or after ``due``."""
    day = prefs.today(due)
    for offset in range(3):
        slot = moment_on(day + timedelta(days=offset), prefs.send_time, prefs)
        if slot >= due:
            return slot
    raise AssertionError("a send slot exists within three days")  # pragma: no cover - by construction


def step_due_at(anchor: datetime, step: int) -> datetime:
    return anchor + timedelta(days=STEP_DAYS[step])


def latest_due_step(anchor: datetime, handled: int, now: datetime) -> int | None:
    """The last step after ``handled`` that is due at ``now`` (earlier ones it supersedes)."""
    due = [step for step in range(handled + 1, LAST_STEP + 1) if step_due_at(anchor, step) <= now]
    return due[-1] if due else None


def in_quiet_hours(moment: datetime, prefs: NudgePrefs) -> bool:
    return prefs.quiet.contains(prefs.local(moment).time())


def retry_delay(settings: Settings, attempts: int) -> timedelta:
    """Backoff after the ``attempts``-th failed delivery: base, 2·base, 4·base, ..."""
    return timedelta(seconds=settings.notify_retry_base_seconds * 2 ** max(0, attempts - 1))
