"""Every status and closed vocabulary of the schema, defined once as ``StrEnum``s.

Models store them as short strings with a CHECK constraint (``enum_column``), schemas expose them
as named OpenAPI enums, services compare against the members. Order is the documented order.
"""

from __future__ import annotations

from enum import StrEnum


class GoalType(StrEnum):
    abstract = "abstract"
    concrete = "concrete"


class ValueCategory(StrEnum):
    health = "health"
    craft = "craft"
    growth = "growth"
    connection = "connection"


class GoalStatus(StrEnum):
    active = "active"
    paused = "paused"
    completed = "completed"
    archived = "archived"


class ProposalStatus(StrEnum):
    proposed = "proposed"
    approved = "approved"
    rejected = "rejected"
    expired = "expired"


class ProposalSource(StrEnum):
    model = "model"
    planner = "planner"


class MissionStatus(StrEnum):
    pending = "pending"
    in_progress = "in_progress"
    completed = "completed"
    deferred = "deferred"
    archived = "archived"


class EnergyLevel(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


class Mood(StrEnum):
    happy = "happy"
    calm = "calm"
    energized = "energized"
    thoughtful = "thoughtful"
    mixed = "mixed"


class SessionOutcome(StrEnum):
    completed = "completed"
    deferred = "deferred"
    abandoned = "abandoned"


class MissionSource(StrEnum):
    decomposition = "decomposition"
    manual = "manual"
    orchestrator = "orchestrator"


class MissionEventKind(StrEnum):
    started = "started"
    completed = "completed"
    deferred = "deferred"
    abandoned = "abandoned"
    reactivated = "reactivated"


class TriadSlot(StrEnum):
    high = "high"
    medium = "medium"
    low = "low"


class EssenceReason(StrEnum):
    mission = "mission"
    streak_milestone = "streak_milestone"
    goal_milestone = "goal_milestone"


class MessageRole(StrEnum):
    user = "user"
    assistant = "assistant"


class MessageStatus(StrEnum):
    pending = "pending"  # an assistant reply being generated
    complete = "complete"
    failed = "failed"  # keeps what was produced before the failure


class NudgeFrequency(StrEnum):
    off = "off"  # nothing is sent
    gentle = "gentle"  # the default: half the caps (docs/nudges.md)
    regular = "regular"  # the configured caps


class NotificationKind(StrEnum):
    dropoff = "dropoff"  # the re-engagement sequence after 48 h without activity (steps 1, 2, 3)
    streak_risk = "streak_risk"  # late in the day, a streak of 3+ days would break
    triad_ready = "triad_ready"  # the day's triad, at the send time (opt-in)


class NotificationChannel(StrEnum):
    in_app = "in_app"  # the notification centre
    email = "email"
    sms = "sms"
    push = "push"  # web push; such notes also show in the notification centre


class NotificationState(StrEnum):
    pending = "pending"  # to be delivered (again, after a failed attempt, at next_attempt_at)
    sent = "sent"
    failed = "failed"  # every attempt failed; kept with the last error
    suppressed = "suppressed"  # not sent, for ``reason``


class SuppressionReason(StrEnum):
    quiet_hours = "quiet_hours"
    cap = "cap"
    opted_out = "opted_out"  # the channel is off, or nudge_frequency is off
    user_returned = "user_returned"  # activity since the sequence began
    superseded = "superseded"  # a later step of the sequence was due at the same time
    no_address = "no_address"  # an email with no address on file
    channel_unavailable = "channel_unavailable"  # e.g. email without NOTIFY_SMTP_URL


class ContentSource(StrEnum):
    template = "template"
    model = "model"


class WebhookOutcome(StrEnum):
    """What a Clerk webhook delivery did (``webhook_deliveries.outcome``)."""

    received = "received"  # placeholder until the effect is applied, in the same transaction
    processed = "processed"  # profile created or updated
    skipped_stale = "skipped_stale"  # the stored profile has a newer Clerk updated_at
    skipped_deleted = "skipped_deleted"  # Clerk already deleted this user (a late, re-ordered update)
    deleted = "deleted"  # the user and all their data were erased
    already_absent = "already_absent"  # user.deleted for a user with no row: nothing to erase
    deletion_disabled = "deletion_disabled"  # CLERK_WEBHOOK_DELETE_ENABLED was off: recorded only
    ignored = "ignored"  # an event type this service does not use


# A user.deleted with one of these outcomes is a tombstone: the Clerk user is gone for good (Clerk
# never reuses user ids), so nothing may re-create the account.
ERASED_OUTCOMES = (WebhookOutcome.deleted, WebhookOutcome.already_absent)
