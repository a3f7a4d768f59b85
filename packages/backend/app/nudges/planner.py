"""Deciding, for one user at one moment, which notes to write and how their sequence moves on.

Pure: the sweep loads the users, their recent notes and what the notes may name, and writes what
this returns; ``--dry-run`` prints it instead. Every decision carries a line saying why.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from app.core.config import Settings
from app.models.enums import (
    NotificationChannel,
    NotificationKind,
    NotificationState,
    NudgeFrequency,
    SuppressionReason,
)
from app.nudges.channels import Providers
from app.nudges.content import NoteContext, render
from app.nudges.repository import Recipient
from app.nudges.rules import (
    DROPOFF,
    LAST_STEP,
    STEP_CHANNEL,
    STREAK_AT_RISK,
    NudgePrefs,
    caps,
    daily_moment,
    dropoff_slot,
    in_quiet_hours,
    latest_due_step,
    parse_hhmm,
    step_due_at,
)

# A user whose planning raised is looked at again after this long.
RETRY_PLANNING: timedelta = timedelta(minutes=15)
# With nudge_frequency=off, the sequence is looked at once a day (in case it is turned back on).
OFF_RECHECK: timedelta = timedelta(days=1)


@dataclass
class Note:
    """An outbox row to insert."""

    user_id: uuid.UUID
    kind: NotificationKind
    step: int
    channel: NotificationChannel
    local_date: date
    state: NotificationState
    reason: SuppressionReason | None
    title: str
    body: str
    context: dict[str, Any]
    sequence_anchor: datetime | None
    next_attempt_at: datetime | None

    def row(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "kind": self.kind,
            "step": self.step,
            "channel": self.channel,
            "local_date": self.local_date,
            "state": self.state,
            "reason": self.reason,
            "title": self.title,
            "body": self.body,
            "context": self.context,
            "sequence_anchor": self.sequence_anchor,
            "next_attempt_at": self.next_attempt_at,
        }

    def describe(self) -> str:
        what = (
            f"{self.kind.value}" + (f" step {self.step}" if self.step else "") + f" via {self.channel.value}"
        )
        if self.state is NotificationState.pending:
            return f"send {what}: “{self.title}”"
        return f"suppress {what} ({self.reason.value if self.reason else '?'})"


@dataclass
class Plan:
    user: Recipient
    notes: list[Note] = field(default_factory=list)
    # New (sequence_step, next_check_at) for the user's state row; None leaves it as it is.
    state: dict[str, Any] | None = None
    lines: list[str] = field(default_factory=list)
    failed: bool = False

    def why(self, text: str) -> None:
        self.lines.append(text)


@dataclass
class Tally:
    """A user's notes counted against the caps: pending or sent, per local date."""

    by_date: Counter[date] = field(default_factory=Counter)

    def day(self, day: date) -> int:
        return self.by_date[day]

    def week(self, day: date) -> int:
        return sum(self.by_date[day - timedelta(days=offset)] for offset in range(7))


class Planner:
    def __init__(self, settings: Settings, providers: Providers, now: datetime) -> None:
        self.settings = settings
        self.providers = providers
        self.now = now
        self.streak_time = parse_hhmm(settings.nudge_streak_note_time)

    # --- the drop-off sequence ------------------------------------------------------------------

    def dropoff(self, user: Recipient, prefs: NudgePrefs, ctx: NoteContext, tally: Tally) -> Plan:
        plan = Plan(user)
        now, anchor, handled = self.now, user.last_active_at, user.sequence_step
        if prefs.frequency is NudgeFrequency.off:
            plan.state = {"next_check_at": now + OFF_RECHECK}
            plan.why("nudge_frequency is off: nothing is sent")
            return plan
        if handled >= LAST_STEP:
            plan.state = {"next_check_at": None}
            plan.why("the sequence has ended; it starts again after the user's next activity")
            return plan
        step = latest_due_step(anchor, handled, now)
        if step is None:
            due = step_due_at(anchor, handled + 1)
            slot = dropoff_slot(due, prefs)
            plan.state = {"next_check_at": slot}
            plan.why(
                f"last active {_ago(now - anchor)} ago: step {handled + 1} is due "
                f"{_local(slot, prefs)} (after {_span(due - anchor)} without activity)"
            )
            return plan
        slot = dropoff_slot(step_due_at(anchor, step), prefs)
        if slot > now:
            plan.state = {"next_check_at": slot}
            plan.why(f"step {step} waits for the send time: {_local(slot, prefs)}")
            return plan
        if in_quiet_hours(now, prefs):
            later = dropoff_slot(now, prefs)
            plan.state = {"next_check_at": later}
            plan.why(f"quiet hours ({prefs.quiet}) now: step {step} waits until {_local(later, prefs)}")
            return plan
        today = prefs.today(now)
        for skipped in range(handled + 1, step):
            plan.notes.append(
                self._record(
                    user,
                    prefs,
                    NotificationKind.dropoff,
                    skipped,
                    STEP_CHANNEL[skipped],
                    today,
                    ctx,
                    SuppressionReason.superseded,
                    anchor,
                )
            )
        plan.notes.append(
            self._note(
                user, prefs, NotificationKind.dropoff, step, STEP_CHANNEL[step], today, ctx, tally, anchor
            )
        )
        following = None if step >= LAST_STEP else dropoff_slot(step_due_at(anchor, step + 1), prefs)
        plan.state = {"sequence_step": step, "next_check_at": following}
        plan.lines.extend(note.describe() for note in plan.notes)
        return plan

    # --- the daily notes ------------------------------------------------------------------------

    def daily(
        self,
        user: Recipient,
        prefs: NudgePrefs,
        contexts: dict[NotificationKind, NoteContext],
        tally: Tally,
        streak: tuple[int, date] | None,
        handled: set[tuple[NotificationKind, date]],
    ) -> Plan:
        """The streak-at-risk and triad notes due for ``user`` now (none for a dropped-off user)."""
        plan = Plan(user)
        now = self.now
        if prefs.frequency is NudgeFrequency.off:
            plan.why("nudge_frequency is off: nothing is sent")
            return plan
        if user.last_active_at <= now - DROPOFF:
            plan.why("no activity for 48 h: only the drop-off sequence applies")
            return plan
        today = prefs.today(now)
        wanted: list[tuple[NotificationKind, time]] = []
        if streak is not None:
            length, last_active_on = streak
            if length >= STREAK_AT_RISK and last_active_on == today - timedelta(days=1):
                wanted.append((NotificationKind.streak_risk, self.streak_time))
            else:
                plan.why(f"streak of {length} not at risk today")
        if prefs.triad_ready:
            wanted.append((NotificationKind.triad_ready, prefs.send_time))
        for kind, target in wanted:
            if (kind, today) in handled:
                plan.why(f"{kind.value}: already handled today")
                continue
            local_now = prefs.local(now)
            moment = daily_moment(today, target, prefs)
            if moment is None or now >= moment:
                # Due (or no time left today outside quiet hours): send now unless it is quiet.
                quiet_now = in_quiet_hours(now, prefs)
                if moment is None and local_now.time() < target:
                    plan.why(f"{kind.value}: {target:%H:%M} falls in quiet hours ({prefs.quiet}) today")
                    continue
                if moment is None or (quiet_now and prefs.quiet.end_after(local_now).date() > today):
                    plan.notes.append(
                        self._record(user, prefs, kind, 0, prefs.note_channel() or NotificationChannel.in_app,
                                     today, contexts[kind], SuppressionReason.quiet_hours, None)
                    )  # fmt: skip
                    continue
                if quiet_now:
                    plan.why(f"{kind.value}: quiet hours ({prefs.quiet}) now")
                    continue
            else:
                plan.why(f"{kind.value}: due {_local(moment, prefs)}")
                continue
            channel = prefs.note_channel()
            plan.notes.append(
                self._note(
                    user,
                    prefs,
                    kind,
                    0,
                    channel or NotificationChannel.in_app,
                    today,
                    contexts[kind],
                    tally,
                    None,
                    opted_out=channel is None,
                )
            )
        plan.lines.extend(note.describe() for note in plan.notes)
        return plan

    # --- one note -------------------------------------------------------------------------------

    def _note(
        self,
        user: Recipient,
        prefs: NudgePrefs,
        kind: NotificationKind,
        step: int,
        channel: NotificationChannel,
        day: date,
        ctx: NoteContext,
        tally: Tally,
        anchor: datetime | None,
        *,
        opted_out: bool = False,
    ) -> Note:
        """A note to send, unless the channel is off or unusable or the caps are reached."""
        reason: SuppressionReason | None = None
        daily_cap, weekly_cap = caps(self.settings, prefs.frequency)
        if opted_out or not prefs.wants(channel):
            reason = SuppressionReason.opted_out
        elif not self.providers.available(channel):
            reason = SuppressionReason.channel_unavailable
        elif channel is NotificationChannel.email and not user.email:
            reason = SuppressionReason.no_address
        elif tally.day(day) >= daily_cap or tally.week(day) >= weekly_cap:
            reason = SuppressionReason.cap
        if reason is not None:
            return self._record(user, prefs, kind, step, channel, day, ctx, reason, anchor)
        tally.by_date[day] += 1
        content = render(kind, step, channel, ctx, seed=f"{user.user_id}:{kind.value}:{step}:{day}")
        return Note(
            user.user_id, kind, step, channel, day, NotificationState.pending, None,
            content.title, content.body, content.context, anchor, self.now,
        )  # fmt: skip

    def _record(
        self,
        user: Recipient,
        prefs: NudgePrefs,
        kind: NotificationKind,
        step: int,
        channel: NotificationChannel,
        day: date,
        ctx: NoteContext,
        reason: SuppressionReason,
        anchor: datetime | None,
    ) -> Note:
        """A note kept as suppressed, with its reason (and the text it would have had)."""
        content = render(kind, step, channel, ctx, seed=f"{user.user_id}:{kind.value}:{step}:{day}")
        return Note(
            user.user_id, kind, step, channel, day, NotificationState.suppressed, reason,
            content.title, content.body, content.context, anchor, None,
        )  # fmt: skip


def _local(moment: datetime, prefs: NudgePrefs) -> str:
    return f"{prefs.local(moment):%Y-%m-%d %H:%M} {prefs.timezone}"


def _ago(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.1f} days"


def _span(delta: timedelta) -> str:
    return f"{delta.days} days" if delta.days else f"{delta.total_seconds() / 3600:.0f} h"
