"""Every query of the nudges domain. The sweep reads users and their preferences in bulk here
(one join per batch instead of a call per user); everything else is the domain's own tables."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Select, Table, and_, bindparam, func, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Notification, NudgeState, User, UserPreferences
from app.models.enums import NotificationChannel, NotificationKind, NotificationState
from app.nudges.rules import DROPOFF

# The notification centre: what the in-app and push channels delivered.
CENTRE_CHANNELS = (NotificationChannel.in_app, NotificationChannel.push)
RESPONSE_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Recipient:
    """A user as the sweep sees them: profile, stored preferences and sequence state."""

    user_id: uuid.UUID
    clerk_user_id: str
    email: str | None
    display_name: str | None
    timezone: str
    communication: dict[str, Any]
    custom_hours: dict[str, Any]
    last_active_at: datetime
    sequence_step: int
    next_check_at: datetime | None


def _recipients() -> Select[Any]:
    return (
        select(
            NudgeState.user_id,
            User.clerk_user_id,
            User.email,
            User.display_name,
            User.timezone,
            UserPreferences.communication_preferences,
            UserPreferences.custom_hours,
            NudgeState.last_active_at,
            NudgeState.sequence_step,
            NudgeState.next_check_at,
        )
        .join(User, User.id == NudgeState.user_id)
        .outerjoin(UserPreferences, UserPreferences.user_id == NudgeState.user_id)
    )


def _recipient(row: Any) -> Recipient:
    return Recipient(
        user_id=row.user_id,
        clerk_user_id=row.clerk_user_id,
        email=row.email,
        display_name=row.display_name,
        timezone=row.timezone,
        communication=row.communication_preferences or {},
        custom_hours=row.custom_hours or {},
        last_active_at=row.last_active_at,
        sequence_step=row.sequence_step,
        next_check_at=row.next_check_at,
    )


# --- activity ---------------------------------------------------------------------------------


async def touch(session: AsyncSession, user_id: uuid.UUID, now: datetime) -> None:
    """Record activity at ``now``: a new anchor (the sequence starts over, the next check is 48 h
    away), and every note sent in the last 24 h counts as followed. Never moves time backwards."""
    statement = insert(NudgeState).values(
        user_id=user_id, last_active_at=now, sequence_step=0, next_check_at=now + DROPOFF
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[NudgeState.user_id],
            set_={
                "last_active_at": statement.excluded.last_active_at,
                "sequence_step": 0,
                "next_check_at": statement.excluded.next_check_at,
                "updated_at": func.now(),
            },
            where=NudgeState.last_active_at < statement.excluded.last_active_at,
        )
    )
    await session.execute(
        update(Notification)
        .where(
            Notification.user_id == user_id,
            Notification.state == NotificationState.sent,
            Notification.responded_at.is_(None),
            Notification.sent_at <= now,
            Notification.sent_at > now - RESPONSE_WINDOW,
        )
        .values(responded_at=now)
    )


async def ensure_states(session: AsyncSession, user_id: uuid.UUID | None = None) -> int:
    """A state row for every user who has none yet (signed up, never active): anchored at sign-up."""
    only = "AND u.id = :user_id" if user_id is not None else ""
    result = await session.execute(
        text(
            f"""
            INSERT INTO nudge_states (user_id, last_active_at, sequence_step, next_check_at)
            SELECT u.id, u.created_at, 0, u.created_at + interval '48 hours' FROM users u
            WHERE NOT EXISTS (SELECT 1 FROM nudge_states s WHERE s.user_id = u.id) {only}
            ON CONFLICT (user_id) DO NOTHING
            """  # noqa: S608 - a fixed fragment, the value is a bound parameter
        ),
        {"user_id": user_id} if user_id is not None else {},
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def get_state(session: AsyncSession, user_id: uuid.UUID) -> NudgeState | None:
    return await session.get(NudgeState, user_id)


# --- the sweep ----------------------------------------------------------------------------------


async def due_recipients(
    session: AsyncSession,
    now: datetime,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
    *,
    user_id: uuid.UUID | None = None,
    lock: bool = True,
) -> list[Recipient]:
    """Users whose sequence needs a look (``next_check_at`` has come), in (next_check_at, user)
    order after ``after``; a named user always (to say where their sequence stands). Locked rows
    (another sweep's) are skipped; ``lock=False`` for dry runs."""
    query = _recipients()
    if user_id is not None:
        query = query.where(NudgeState.user_id == user_id)
    else:
        query = query.where(NudgeState.next_check_at <= now)
    if after is not None:
        query = query.where(tuple_(NudgeState.next_check_at, NudgeState.user_id) > tuple_(*after))
    query = query.order_by(NudgeState.next_check_at, NudgeState.user_id).limit(limit)
    if lock:
        query = query.with_for_update(of=NudgeState, skip_locked=True)
    return [_recipient(row) for row in await session.execute(query)]


async def recipients(
    session: AsyncSession, user_ids: Sequence[uuid.UUID], *, lock: bool = False
) -> list[Recipient]:
    """These users (those with a state row), optionally locked (skipping rows another sweep holds)."""
    if not user_ids:
        return []
    query = _recipients().where(NudgeState.user_id.in_(user_ids)).order_by(NudgeState.user_id)
    if lock:
        query = query.with_for_update(of=NudgeState, skip_locked=True)
    return [_recipient(row) for row in await session.execute(query)]


async def triad_note_users(
    session: AsyncSession, active_since: datetime, user_id: uuid.UUID | None = None
) -> list[uuid.UUID]:
    """Users who asked for the triad note and were active recently (dropped-off users get only the
    sequence)."""
    query = (
        select(NudgeState.user_id)
        .join(UserPreferences, UserPreferences.user_id == NudgeState.user_id)
        .where(
            UserPreferences.communication_preferences["triad_ready"].as_boolean().is_(True),
            NudgeState.last_active_at >= active_since,
        )
    )
    if user_id is not None:
        query = query.where(NudgeState.user_id == user_id)
    return list((await session.execute(query)).scalars())


async def recent_notes(
    session: AsyncSession, user_ids: Sequence[uuid.UUID], first: date, last: date
) -> list[tuple[uuid.UUID, NotificationKind, int, date, NotificationState]]:
    """(user, kind, step, local date, state) of these users' notes dated first..last (for caps and
    for notes already handled today)."""
    if not user_ids:
        return []
    rows = await session.execute(
        select(
            Notification.user_id,
            Notification.kind,
            Notification.step,
            Notification.local_date,
            Notification.state,
        ).where(Notification.user_id.in_(user_ids), Notification.local_date.between(first, last))
    )
    return [(row[0], row[1], row[2], row[3], row[4]) for row in rows]


async def insert_notes(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert outbox rows; a row whose (user, kind, step, local date) exists is skipped. Returns the
    rows inserted. One cached statement, sent as batched multi-row INSERTs (insertmanyvalues)."""
    if not rows:
        return []
    result = await session.execute(
        insert(Notification)
        .on_conflict_do_nothing(constraint="uq_notifications_user_id")
        .returning(
            Notification.id,
            Notification.user_id,
            Notification.kind,
            Notification.step,
            Notification.local_date,
            Notification.state,
            Notification.reason,
        ),
        list(rows),
    )
    return [dict(row._mapping) for row in result]


async def update_states(session: AsyncSession, updates: Sequence[dict[str, Any]]) -> None:
    """``[{"user_id", "sequence_step", "next_check_at"}, ...]`` (by primary key, one round trip)."""
    if updates:
        await session.execute(update(NudgeState), [dict(item) for item in updates])


# --- delivery -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    user_id: uuid.UUID
    kind: NotificationKind
    step: int
    channel: NotificationChannel
    title: str
    body: str
    context: dict[str, Any]
    sequence_anchor: datetime | None
    attempts: int


async def claim_due(
    session: AsyncSession, now: datetime, limit: int, lease_until: datetime, user_id: uuid.UUID | None = None
) -> list[Claimed]:
    """Take up to ``limit`` pending notes that are due: each gets one more attempt and is leased
    (``next_attempt_at`` = ``lease_until``) so no other sweep takes it while it is being sent; a
    crash mid-send leaves it to be retried when the lease ends."""
    due = (
        select(Notification.id)
        .where(Notification.state == NotificationState.pending, Notification.next_attempt_at <= now)
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if user_id is not None:
        due = due.where(Notification.user_id == user_id)
    result = await session.execute(
        update(Notification)
        .where(Notification.id.in_(due.scalar_subquery()))
        .values(attempts=Notification.attempts + 1, next_attempt_at=lease_until, updated_at=func.now())
        .returning(
            Notification.id,
            Notification.user_id,
            Notification.kind,
            Notification.step,
            Notification.channel,
            Notification.title,
            Notification.body,
            Notification.context,
            Notification.sequence_anchor,
            Notification.attempts,
        )
    )
    return [Claimed(**row._mapping) for row in result]


async def pending_due(
    session: AsyncSession, now: datetime, limit: int, user_id: uuid.UUID | None = None
) -> list[Notification]:
    """Pending notes due at ``now`` (read only: what a dry run would deliver)."""
    query = (
        select(Notification)
        .where(Notification.state == NotificationState.pending, Notification.next_attempt_at <= now)
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(limit)
    )
    if user_id is not None:
        query = query.where(Notification.user_id == user_id)
    return list((await session.execute(query)).scalars())


async def record(session: AsyncSession, changes: Sequence[dict[str, Any]]) -> int:
    """Apply delivery outcomes ``[{"id", "claimed_attempts", ...columns}]``, each only if the note is
    still under that claim (no other sweep has claimed it since); returns how many were applied."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for change in changes:
        columns = tuple(sorted(set(change) - {"id", "claimed_attempts"}))
        groups.setdefault(columns, []).append(change)
    applied = 0
    for columns, group in groups.items():
        table = cast(Table, Notification.__table__)  # Core: one statement for many rows (executemany)
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.attempts == bindparam("b_claimed"))
            .values({**{column: bindparam(f"b_{column}") for column in columns}, "updated_at": func.now()})
        )
        params = [
            {"b_id": c["id"], "b_claimed": c["claimed_attempts"], **{f"b_{k}": c[k] for k in columns}}
            for c in group
        ]
        result = await session.execute(statement, params)
        applied += cast(CursorResult[Any], result).rowcount or 0
    return applied


# --- the notification centre --------------------------------------------------------------------


def _centre(user_id: uuid.UUID) -> list[Any]:
    return [
        Notification.user_id == user_id,
        Notification.state == NotificationState.sent,
        Notification.channel.in_(CENTRE_CHANNELS),
    ]


async def centre_page(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    unread: bool | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Notification]:
    """Newest first; dismissed notes are left out."""
    query = select(Notification).where(*_centre(user_id), Notification.dismissed_at.is_(None))
    if unread is True:
        query = query.where(Notification.read_at.is_(None))
    elif unread is False:
        query = query.where(Notification.read_at.is_not(None))
    if after is not None:
        query = query.where(tuple_(Notification.sent_at, Notification.id) < tuple_(*after))
    query = query.order_by(Notification.sent_at.desc(), Notification.id.desc()).limit(limit)
    return list((await session.execute(query)).scalars())


async def unread_count(session: AsyncSession, user_id: uuid.UUID) -> int:
    query = select(func.count()).where(
        *_centre(user_id), Notification.dismissed_at.is_(None), Notification.read_at.is_(None)
    )
    return int((await session.execute(query)).scalar_one())


async def mark(
    session: AsyncSession, user_id: uuid.UUID, notification_id: uuid.UUID, now: datetime, *, dismiss: bool
) -> Notification | None:
    """Mark one of the user's notes read (and dismissed); ``None`` if it is not theirs."""
    values: dict[str, Any] = {"read_at": func.coalesce(Notification.read_at, now), "updated_at": func.now()}
    if dismiss:
        values["dismissed_at"] = func.coalesce(Notification.dismissed_at, now)
    result = await session.execute(
        update(Notification)
        .where(Notification.id == notification_id, *_centre(user_id))
        .values(**values)
        .returning(Notification)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none()


async def read_all(session: AsyncSession, user_id: uuid.UUID, now: datetime) -> int:
    result = await session.execute(
        update(Notification)
        .where(*_centre(user_id), Notification.read_at.is_(None), Notification.dismissed_at.is_(None))
        .values(read_at=now, updated_at=func.now())
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- measures and export ------------------------------------------------------------------------


async def response_counts(
    session: AsyncSession, user_id: uuid.UUID, first: date, last: date, now: datetime
) -> tuple[int, int]:
    """(followed, decided) of the user's notes sent on local days first..last: followed = activity
    within 24 h; decided = followed, or sent more than 24 h before ``now`` (a note sent less than
    24 h ago without a response yet is not counted either way)."""
    followed = func.count().filter(Notification.responded_at.is_not(None))
    decided = func.count().filter(
        or_(Notification.responded_at.is_not(None), Notification.sent_at <= now - RESPONSE_WINDOW)
    )
    row = (
        await session.execute(
            select(followed, decided).where(
                Notification.user_id == user_id,
                Notification.state == NotificationState.sent,
                and_(Notification.local_date >= first, Notification.local_date <= last),
                Notification.sent_at <= now,
            )
        )
    ).one()
    return int(row[0]), int(row[1])


async def all_notes(session: AsyncSession, user_id: uuid.UUID) -> Sequence[Notification]:
    query = select(Notification).where(Notification.user_id == user_id).order_by(Notification.created_at)
    return (await session.execute(query)).scalars().all()
