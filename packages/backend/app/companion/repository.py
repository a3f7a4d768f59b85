"""Queries of the companion domain. Every read of user data is scoped by ``user_id``."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Integer,
    Table,
    Text,
    and_,
    bindparam,
    exists,
    func,
    literal,
    select,
    text,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.kit.locking import advisory_xact_lock
from app.models import Conversation, EmotionalState, Memory, MemoryTier, Message, ModelUsage
from app.models.enums import MessageRole, MessageStatus

IN_FLIGHT = (MessageStatus.pending,)
# The source of the memories formed from the user's own words (formation/service.py).
COMPANION_SOURCE = "companion"


# --- conversations ----------------------------------------------------------------------------


async def get_conversation(
    session: AsyncSession, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> Conversation | None:
    result = await session.execute(
        select(Conversation).where(Conversation.id == conversation_id, Conversation.user_id == user_id)
    )
    return result.scalar_one_or_none()


async def create_conversation(session: AsyncSession, user_id: uuid.UUID, title: str) -> Conversation:
    result = await session.scalars(
        insert(Conversation).values(user_id=user_id, title=title).returning(Conversation)
    )
    return result.one()


async def touch_conversation(session: AsyncSession, conversation_id: uuid.UUID) -> None:
    await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(last_message_at=func.clock_timestamp(), updated_at=func.clock_timestamp())
    )


async def list_conversations(
    session: AsyncSession, user_id: uuid.UUID, limit: int, offset: int
) -> tuple[list[Conversation], int]:
    rows = await session.scalars(
        select(Conversation)
        .where(Conversation.user_id == user_id)
        .order_by(Conversation.last_message_at.desc(), Conversation.id)
        .limit(limit)
        .offset(offset)
    )
    total = await session.scalar(select(func.count()).where(Conversation.user_id == user_id))
    return list(rows), int(total or 0)


# --- messages ---------------------------------------------------------------------------------


async def add_message(session: AsyncSession, **values: Any) -> Message:
    result = await session.scalars(insert(Message).values(**values).returning(Message))
    return result.one()


async def add_user_message(
    session: AsyncSession,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    text: str,
    idempotency_key: str | None = None,
) -> Message:
    return await add_message(
        session,
        conversation_id=conversation_id,
        user_id=user_id,
        role=MessageRole.user,
        content=text,
        status=MessageStatus.complete,
        idempotency_key=idempotency_key,
    )


async def add_pending_reply(session: AsyncSession, user_message: Message) -> Message | None:
    """The pending reply to ``user_message``, or ``None`` when its conversation already has a reply
    in flight. Decided by the unique index: a concurrent transaction's uncommitted pending reply
    makes this insert wait for that transaction's outcome, so two requests can never both win."""
    result = await session.scalars(
        insert(Message)
        .values(
            conversation_id=user_message.conversation_id,
            user_id=user_message.user_id,
            role=MessageRole.assistant,
            content="",
            status=MessageStatus.pending,
            reply_to_id=user_message.id,
        )
        # The partial unique index of the one-reply-in-flight rule (models/companion.py).
        .on_conflict_do_nothing(
            index_elements=[Message.conversation_id],
            # Literal, not bound: PostgreSQL infers a partial index only from a predicate it can
            # prove, and a generic plan's parameters prove nothing.
            index_where=text("role = 'assistant' AND status = 'pending'"),
        )
        .returning(Message)
    )
    return result.one_or_none()


async def in_flight_reply(session: AsyncSession, conversation_id: uuid.UUID) -> Message | None:
    result = await session.scalars(
        select(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.role == MessageRole.assistant,
            Message.status.in_(IN_FLIGHT),
        )
        .order_by(Message.seq.desc())
        .limit(1)
    )
    return result.first()


async def lock_idempotency_key(session: AsyncSession, user_id: uuid.UUID, key: str) -> None:
    """Serialise the requests carrying the same Idempotency-Key for the rest of the transaction."""
    await advisory_xact_lock(session, f"companion-idempotency:{user_id}:{key}")


async def by_idempotency_key(
    session: AsyncSession, user_id: uuid.UUID, key: str
) -> tuple[Message, Message | None] | None:
    """The user message sent with ``key`` and its reply."""
    reply = aliased(Message)
    result = await session.execute(
        select(Message, reply)
        .outerjoin(reply, reply.reply_to_id == Message.id)
        .where(Message.user_id == user_id, Message.idempotency_key == key)
    )
    row = result.first()
    return (row[0], row[1]) if row else None


async def get_reply(
    session: AsyncSession, user_id: uuid.UUID, conversation_id: uuid.UUID, message_id: uuid.UUID | None
) -> Message | None:
    """The given assistant message of the conversation, or its latest one."""
    query = select(Message).where(
        Message.user_id == user_id,
        Message.conversation_id == conversation_id,
        Message.role == MessageRole.assistant,
    )
    if message_id is not None:
        query = query.where(Message.id == message_id)
    result = await session.scalars(query.order_by(Message.seq.desc()).limit(1))
    return result.first()


async def get_message(session: AsyncSession, message_id: uuid.UUID) -> Message | None:
    """By id alone: for jobs, which receive ids they enqueued themselves."""
    return await session.get(Message, message_id)


async def context_messages(
    session: AsyncSession, conversation_id: uuid.UUID, before_seq: int, limit: int
) -> list[Message]:
    """The conversation's latest turns before ``before_seq``, oldest first (unfinished replies out)."""
    rows = await session.scalars(
        select(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.seq < before_seq,
            Message.status == MessageStatus.complete,
        )
        .order_by(Message.seq.desc())
        .limit(limit)
    )
    return list(reversed(list(rows)))


async def list_messages(
    session: AsyncSession, user_id: uuid.UUID, conversation_id: uuid.UUID, limit: int, offset: int
) -> tuple[list[Message], int]:
    scope = and_(Message.user_id == user_id, Message.conversation_id == conversation_id)
    rows = await session.scalars(
        select(Message).where(scope).order_by(Message.seq).limit(limit).offset(offset)
    )
    total = await session.scalar(select(func.count()).where(scope))
    return list(rows), int(total or 0)


async def history(
    session: AsyncSession, user_id: uuid.UUID, limit: int, conversation_id: uuid.UUID | None = None
) -> list[Message]:
    query = select(Message).where(Message.user_id == user_id)
    if conversation_id is not None:
        query = query.where(Message.conversation_id == conversation_id)
    rows = await session.scalars(query.order_by(Message.seq.desc()).limit(limit))
    return list(reversed(list(rows)))


async def finish_reply(
    session: AsyncSession, reply_id: uuid.UUID, *, content: str, status: MessageStatus, meta: dict[str, Any]
) -> bool:
    """Store the outcome of an unfinished reply; False if it was finished already (or erased)."""
    result = await session.execute(
        update(Message)
        .where(Message.id == reply_id, Message.status.in_(IN_FLIGHT))
        .values(content=content, status=status, meta=Message.meta.op("||")(literal(meta, JSONB)))
        .returning(Message.id)
    )
    return result.scalar_one_or_none() is not None


async def finish_turn(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    reply_id: uuid.UUID,
    user_message_id: uuid.UUID,
    content: str,
    status: str,
    meta: dict[str, Any],
    user_meta: dict[str, Any],
    emotional_state: dict[str, Any],
    usage: Sequence[dict[str, Any]],
) -> bool:
    """Everything a finished turn writes, in ONE statement (data-modifying CTEs): the reply's
    outcome, the user message's metadata, the emotional state, the model usage and the
    conversation's time. One statement is atomic on its own, so it needs no BEGIN/COMMIT round
    trips. Nothing is written unless the reply was still unfinished (False: finished elsewhere, by
    the sweeper, or erased)."""
    usage_keys = tuple(usage[0]) if usage else ()
    statement = _finish_turn_statement(tuple(emotional_state), usage_keys, len(usage))
    # Parameter names must not be column names: SQLAlchemy would add those to the UPDATEs' SET.
    params: dict[str, Any] = {
        "p_user": user_id,
        "p_conversation": conversation_id,
        "p_reply": reply_id,
        "p_user_message": user_message_id,
        "p_content": content,
        "p_status": status,
        "p_meta": meta,
        "p_user_meta": user_meta,
        **{f"p_state_{name}": value for name, value in emotional_state.items()},
    }
    for index, row in enumerate(usage):
        params.update({f"p_usage{index}_{name}": value for name, value in row.items()})
    finished = (await session.execute(statement, params)).one()
    return bool(finished[0])


@functools.cache
def _finish_turn_statement(state_keys: tuple[str, ...], usage_keys: tuple[str, ...], usage_rows: int) -> Any:
    """``finish_turn``'s statement, built once per shape (building it per turn cost ≈ 1 ms of CPU).
    Core tables, not ORM entities: the ORM adds nothing here and would re-process the statement."""
    messages, states = cast(Table, Message.__table__), cast(Table, EmotionalState.__table__)
    usages, conversations = cast(Table, ModelUsage.__table__), cast(Table, Conversation.__table__)

    def param(name: str, column: Any) -> Any:
        return bindparam(name, type_=column.type)

    reply = (
        update(messages)
        .where(messages.c.id == param("p_reply", messages.c.id), messages.c.status.in_(IN_FLIGHT))
        .values(
            content=param("p_content", messages.c.content),
            status=param("p_status", messages.c.status),
            metadata=messages.c.metadata.op("||")(bindparam("p_meta", type_=JSONB)),
            updated_at=func.now(),
        )
        .returning(messages.c.id)
        .cte("reply")
    )
    done = exists(select(reply.c.id))
    user_message = (
        update(messages)
        .where(messages.c.id == param("p_user_message", messages.c.id), done)
        .values(
            metadata=messages.c.metadata.op("||")(bindparam("p_user_meta", type_=JSONB)),
            updated_at=func.now(),
        )
        .returning(messages.c.id)
        .cte("user_message")
    )
    state_row = select(
        param("p_user", states.c.user_id), *(param(f"p_state_{name}", states.c[name]) for name in state_keys)
    ).where(done)
    state_insert = insert(states).from_select(["user_id", *state_keys], state_row)
    state = (
        state_insert.on_conflict_do_update(
            index_elements=[states.c.user_id],
            set_={**{name: state_insert.excluded[name] for name in state_keys}, "updated_at": func.now()},
        )
        .returning(states.c.user_id)
        .cte("state")
    )
    ctes = [reply, user_message, state]
    if usage_rows:
        rows = [
            select(
                param("p_user", usages.c.user_id),
                param("p_conversation", usages.c.conversation_id),
                param("p_reply", usages.c.message_id),
                *(param(f"p_usage{index}_{name}", usages.c[name]) for name in usage_keys),
            ).where(done)
            for index in range(usage_rows)
        ]
        ctes.append(
            insert(usages)
            .from_select(
                ["user_id", "conversation_id", "message_id", *usage_keys],
                union_all(*rows) if len(rows) > 1 else rows[0],
            )
            .returning(usages.c.id)
            .cte("usage")
        )
    ctes.append(
        update(conversations)
        .where(conversations.c.id == param("p_conversation", conversations.c.id), done)
        .values(last_message_at=func.clock_timestamp(), updated_at=func.clock_timestamp())
        .returning(conversations.c.id)
        .cte("conversation")
    )
    # PostgreSQL runs every data-modifying CTE; SQLAlchemy renders only those the query names.
    return select(*(select(func.count()).select_from(cte).scalar_subquery() for cte in ctes))


async def update_user_message_meta(
    session: AsyncSession, message_id: uuid.UUID, meta: dict[str, Any]
) -> None:
    await session.execute(
        update(Message)
        .where(Message.id == message_id)
        .values(meta=Message.meta.op("||")(literal(meta, JSONB)))
    )


async def stale_in_flight(session: AsyncSession, older_than: datetime, limit: int) -> list[Message]:
    rows = await session.scalars(
        select(Message)
        .where(Message.status.in_(IN_FLIGHT), Message.updated_at < older_than)
        .order_by(Message.seq)
        .limit(limit)
    )
    return list(rows)


# --- memory formation ---------------------------------------------------------------------------


async def lock_user_formation(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Serialise memory formation per user for the rest of the transaction."""
    await advisory_xact_lock(session, f"companion-form:{user_id}")


async def next_unformed(
    session: AsyncSession, user_id: uuid.UUID, *, lock: bool = True
) -> tuple[Message, Message | None] | None:
    """The user's oldest user message whose memories are not formed yet, with its reply (the
    message row locked FOR UPDATE unless ``lock`` is False)."""
    reply = aliased(Message)
    query = (
        select(Message, reply)
        .outerjoin(reply, reply.reply_to_id == Message.id)
        .where(
            Message.user_id == user_id, Message.role == MessageRole.user, Message.memories_formed_at.is_(None)
        )
        .order_by(Message.seq)
        .limit(1)
    )
    result = await session.execute(query.with_for_update(of=Message) if lock else query)
    row = result.first()
    return (row[0], row[1]) if row else None


async def mark_formed(session: AsyncSession, message_id: uuid.UUID, at: datetime) -> None:
    await session.execute(update(Message).where(Message.id == message_id).values(memories_formed_at=at))


async def unformed_messages(session: AsyncSession, older_than: datetime, limit: int) -> list[Message]:
    """The oldest unformed user message of each user, for the sweeper."""
    rows = await session.scalars(
        select(Message)
        .where(
            Message.role == MessageRole.user,
            Message.memories_formed_at.is_(None),
            Message.created_at < older_than,
        )
        .ext(distinct_on(Message.user_id))
        .order_by(Message.user_id, Message.seq)
        .limit(limit)
    )
    return list(rows)


# --- what the companion reads from memories ----------------------------------------------------
# The memory domain owns the table; these are read-only views over the metadata the companion's
# own extraction writes (kind, status, restorative).


def _open_stressors(user_id: Any) -> Any:
    return and_(
        Memory.user_id == user_id,
        Memory.tier == MemoryTier.personal,
        Memory.archived_at.is_(None),
        Memory.meta["kind"].astext == "stressor",
        func.coalesce(Memory.meta["status"].astext, "open") == "open",
    )


def _restorative(user_id: Any) -> Any:
    return and_(
        Memory.user_id == user_id,
        Memory.tier == MemoryTier.personal,
        Memory.meta["kind"].astext == "preference",
        Memory.meta["restorative"].astext == "true",
        func.coalesce(Memory.meta["polarity"].astext, "positive") == "positive",
    )


def _goals(user_id: Any) -> Any:
    """Goals and plans the user told Eliza (the app's goals reach the companion by title, through
    app.planning; their memories' text is not for saying back)."""
    return and_(
        Memory.user_id == user_id,
        Memory.tier == MemoryTier.project,
        Memory.archived_at.is_(None),
        Memory.source == COMPANION_SOURCE,
        Memory.meta["kind"].astext.in_(("goal", "plan")),
    )


@dataclass(frozen=True)
class MemoryContext:
    open_stressors: int
    goals: list[str]
    restorative: list[str]
    any_memories: bool  # whether recall could find anything (none: no need to embed the message)


async def memory_context(
    session: AsyncSession, user_id: uuid.UUID, goals: int = 3, restorative: int = 5
) -> MemoryContext:
    """In one round trip: the open stressors count, recent goals/plans, liked restorative
    activities, and whether the user has any memory at all."""
    query = _memory_context_query(goals, restorative)
    rows = (await session.execute(query, {"user_id": user_id})).all()
    stressors, found_goals, found_rest, anything = 0, [], [], False
    for kind, content, n in sorted(rows, key=lambda row: (row[0], row[2])):
        if kind == "stressors":
            stressors = int(n)
        elif kind == "any":
            anything = bool(n)
        elif kind == "goal":
            found_goals.append(content)
        else:
            found_rest.append(content)
    return MemoryContext(stressors, found_goals, found_rest, anything)


@functools.cache
def _memory_context_query(goals: int, restorative: int) -> Any:
    # Built once (with the user as a parameter): building it per turn cost ≈ 1 ms of CPU.
    user_id = bindparam("user_id", type_=Memory.__table__.c.user_id.type)
    goal_rows = (
        select(Memory.content, func.row_number().over(order_by=Memory.accessed_at.desc()).label("n"))
        .where(_goals(user_id))
        .order_by(Memory.accessed_at.desc())
        .limit(goals)
        .subquery()
    )
    rest_rows = (
        select(
            Memory.content,
            func.row_number()
            .over(order_by=(Memory.access_count.desc(), Memory.accessed_at.desc()))
            .label("n"),
        )
        .where(_restorative(user_id))
        .order_by(Memory.access_count.desc(), Memory.accessed_at.desc())
        .limit(restorative)
        .subquery()
    )
    return union_all(
        select(
            literal("stressors").label("kind"), literal(None, Text).label("content"), func.count().label("n")
        )
        .select_from(Memory)
        .where(_open_stressors(user_id)),
        select(literal("goal"), goal_rows.c.content, goal_rows.c.n),
        select(literal("restorative"), rest_rows.c.content, rest_rows.c.n),
        select(
            literal("any"),
            literal(None, Text),
            exists().where(Memory.user_id == user_id, Memory.archived_at.is_(None)).cast(Integer),
        ),
    )


# --- emotional state and usage -----------------------------------------------------------------


async def get_emotional_state(session: AsyncSession, user_id: uuid.UUID) -> EmotionalState | None:
    return await session.get(EmotionalState, user_id)


async def save_emotional_state(session: AsyncSession, user_id: uuid.UUID, **values: Any) -> None:
    statement = insert(EmotionalState).values(user_id=user_id, **values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[EmotionalState.user_id], set_={**values, "updated_at": func.now()}
        )
    )


async def add_usage(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(ModelUsage), list(rows))


async def usage_by_model(session: AsyncSession, user_id: uuid.UUID) -> list[dict[str, Any]]:
    result = await session.execute(
        select(
            ModelUsage.model,
            func.count(),
            func.coalesce(func.sum(ModelUsage.prompt_tokens), 0),
            func.coalesce(func.sum(ModelUsage.completion_tokens), 0),
            func.coalesce(func.avg(ModelUsage.latency_ms), 0),
        )
        .where(ModelUsage.user_id == user_id)
        .group_by(ModelUsage.model)
        .order_by(ModelUsage.model)
    )
    return [
        {
            "model": model,
            "calls": int(calls),
            "prompt_tokens": int(prompt),
            "completion_tokens": int(completion),
            "average_latency_ms": round(float(latency), 1),
        }
        for model, calls, prompt, completion, latency in result.all()
    ]


# --- export ---------------------------------------------------------------------------------------


async def conversations_page(
    session: AsyncSession, user_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[Conversation]:
    """The user's conversations oldest first, ``limit`` at a time after (created_at, id) ``after``."""
    query = select(Conversation).where(Conversation.user_id == user_id)
    if after is not None:
        query = query.where(tuple_(Conversation.created_at, Conversation.id) > tuple_(*after))
    rows = await session.scalars(query.order_by(Conversation.created_at, Conversation.id).limit(limit))
    return list(rows)


async def messages_of(
    session: AsyncSession, user_id: uuid.UUID, conversation_ids: list[uuid.UUID]
) -> list[Message]:
    """Every message of these conversations of the user, in order."""
    if not conversation_ids:
        return []
    rows = await session.scalars(
        select(Message)
        .where(Message.user_id == user_id, Message.conversation_id.in_(conversation_ids))
        .order_by(Message.seq)
    )
    return list(rows)


async def all_usage(session: AsyncSession, user_id: uuid.UUID) -> list[ModelUsage]:
    rows = await session.scalars(
        select(ModelUsage).where(ModelUsage.user_id == user_id).order_by(ModelUsage.created_at)
    )
    return list(rows)
