"""Eliza's turn as a LangGraph state machine:

    receive_input ┐
    recall_context ├→ respond → store_memory
    goal_context  ┘

``receive_input`` loads the turn's context (history, the previous emotional state, the user's
timezone) and detects the emotion; ``recall_context`` asks the memory service for the companion's
tier strategy (a failure there only means no memories); ``goal_context`` reads the user's active
goals, today's missions and streak from the missions domain (likewise optional); ``respond``
applies the behaviour rules and streams the reply (language model or offline responder) into the
reply's Redis stream;
``store_memory`` persists the reply, the emotional state and model usage in one transaction and
enqueues memory formation after the commit.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypedDict

from arq.connections import ArqRedis
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import memory, planning
from app.companion import repository
from app.companion.formation import companion_form_memories, form_job_id
from app.companion.language.emotion import EMOTION_PROMPT, EmotionReading, detect_emotion, parse_model_reading
from app.companion.language.text import tokens_for_stream
from app.companion.reply.offline import RESPONDER as OFFLINE
from app.companion.reply.offline import compose_reply
from app.companion.reply.prompt import HISTORY_MESSAGES, SUMMARY_MESSAGES, HistoryItem, build_messages
from app.companion.reply.rules import MemoryNote, TurnContext, analyse
from app.companion.stream import REPLY_FAILED, StreamWriter
from app.core.config import Settings
from app.core.embedding import Embedder
from app.core.jobs import transaction
from app.core.llm import ChatClient
from app.core.logging import get_logger
from app.kit.clock import zone
from app.models import User
from app.models.enums import MessageStatus
from app.planning import CompanionGoalContext

log = get_logger(__name__)


@dataclass
class TurnDeps:
    """What the nodes use; passed as the graph's runtime context."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    embedder: Callable[[], Embedder]
    chat_model: ChatClient | None
    writer: StreamWriter
    jobs: ArqRedis | None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    emotion_by_model: bool = True
    # Bounds how many turns use the database at once, so that background replies cannot take
    # every pooled connection from the requests (which would then time out waiting for one).
    db_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(64))
    # Autocommit sessions for the turn's reads (no BEGIN/ROLLBACK round trips); default: sessions.
    read_sessions: async_sessionmaker[AsyncSession] | None = None

    def reads(self) -> AsyncSession:
        return (self.read_sessions or self.sessions)()


class TurnState(TypedDict, total=False):
    # input
    user_id: uuid.UUID
    timezone: str  # optional: the user's (from the request); loaded when absent
    display_name: str | None
    conversation_id: uuid.UUID
    user_message_id: uuid.UUID
    user_seq: int
    reply_id: uuid.UUID
    message: str
    # receive_input
    local_time: datetime
    history: list[HistoryItem]
    turn_index: int
    previous: EmotionReading | None
    emotion: EmotionReading
    # recall_context
    memories: list[MemoryNote]
    recall_failed: bool
    open_stressors: int
    goals: list[str]
    restorative: list[str]
    # goal_context
    plan: CompanionGoalContext | None
    plan_failed: bool
    # respond
    reply: str
    responder: str  # offline | model
    model: str
    rules: list[str]
    usage: list[dict[str, Any]]
    error: str | None
    # store_memory
    stored: bool


def _usage(
    purpose: str, model: str, started: float, prompt: int = 0, completion: int = 0, ok: bool = True
) -> dict[str, Any]:
    return {
        "purpose": purpose,
        "model": model,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "latency_ms": int((time.perf_counter() - started) * 1000),
        "ok": ok,
    }


# --- receive_input ------------------------------------------------------------------------------


async def detect_with_model(model: ChatClient, message: str) -> tuple[EmotionReading, dict[str, Any]]:
    """The model's reading (JSON, validated), falling back to the lexicon when it fails."""
    name = model.model_name
    started = time.perf_counter()
    try:
        answer = await model.complete(
            [{"role": "system", "content": EMOTION_PROMPT}, {"role": "user", "content": message}],
            json_object=True,
        )
    except Exception as exc:  # noqa: BLE001 - any provider failure: the lexicon answers instead
        log.warning("emotion_model_failed", error=type(exc).__name__)
        return detect_emotion(message), _usage("emotion", name, started, ok=False)
    reading = parse_model_reading(answer.text, name)
    return reading or detect_emotion(message), _usage(
        "emotion", name, started, answer.prompt_tokens, answer.completion_tokens, reading is not None
    )


async def receive_input(state: TurnState, runtime: Runtime[TurnDeps]) -> dict[str, Any]:
    deps = runtime.context

    async def load() -> dict[str, Any]:
        async with deps.db_slots, deps.reads() as session:
            timezone: str | None
            if "timezone" in state:  # the request's user: no need to read it again
                timezone, display_name = state["timezone"], state.get("display_name")
            else:
                user = await session.get(User, state["user_id"])
                timezone, display_name = (user.timezone, user.display_name) if user else (None, None)
            rows = await repository.context_messages(
                session, state["conversation_id"], state["user_seq"], HISTORY_MESSAGES + SUMMARY_MESSAGES
            )
            saved = await repository.get_emotional_state(session, state["user_id"])
        previous = (
            EmotionReading(saved.emotion, saved.intensity, saved.energy, saved.source)  # type: ignore[arg-type]
            if saved is not None
            else None
        )
        return {
            "local_time": deps.clock().astimezone(zone(timezone or "UTC")),
            "display_name": display_name,
            "history": [HistoryItem(m.role, m.content) for m in rows],
            "turn_index": sum(1 for m in rows if m.role == "user"),  # within the loaded window
            "previous": previous,
        }

    usage: list[dict[str, Any]] = []
    if deps.chat_model is not None and deps.emotion_by_model:
        loaded, (emotion, call) = await asyncio.gather(
            load(), detect_with_model(deps.chat_model, state["message"])
        )
        usage.append(call)
    else:
        loaded, emotion = await load(), detect_emotion(state["message"])
    return {**loaded, "emotion": emotion, "usage": usage}


# --- recall_context -----------------------------------------------------------------------------


async def recall_context(state: TurnState, runtime: Runtime[TurnDeps]) -> dict[str, Any]:
    deps = runtime.context
    user_id = state["user_id"]
    notes: list[MemoryNote] = []
    failed = False
    stressors, goals, restorative, anything = 0, list[str](), list[str](), True
    try:
        async with deps.db_slots, deps.reads() as session:
            found = await repository.memory_context(session, user_id)
        stressors, goals, restorative, anything = (
            found.open_stressors,
            found.goals,
            found.restorative,
            found.any_memories,
        )
    except Exception as exc:  # noqa: BLE001 - the conversation continues without them
        log.warning("memory_context_failed", error=type(exc).__name__)
        failed = True
    if anything:  # a user with no memories yet (every new one) costs no embedding
        try:
            # Embedded before taking a connection (or a slot): the provider may be remote.
            embedded = await memory.embed_texts(deps.embedder(), [state["message"]], query=True)
            async with deps.db_slots, deps.reads() as session:
                recalled = await memory.recall_for_companion(
                    session, deps.embedder(), user_id=user_id, message=state["message"], embedded=embedded
                )
            notes = [
                MemoryNote(
                    tier=str(r.memory.tier),
                    content=r.memory.content,
                    kind=(r.memory.meta or {}).get("kind"),
                    score=r.score,
                    id=str(r.memory.id),
                    source=r.memory.source,
                )
                for r in recalled
                # This conversation's own exchanges are already in the history.
                if not (r.memory.tier == "task" and r.memory.conversation_id == state["conversation_id"])
            ]
        except Exception as exc:  # noqa: BLE001 - the conversation continues without memories
            log.warning("memory_recall_failed", error=type(exc).__name__)
            failed = True
    # Goals the user told Eliza, in their words (the app's goals come from goal_context, by title).
    recalled_goals = [
        n.content
        for n in notes
        if n.tier == "project" and n.kind in ("goal", "plan") and n.source == repository.COMPANION_SOURCE
    ]
    goals = list(dict.fromkeys(recalled_goals + goals))
    return {
        "memories": notes,
        "recall_failed": failed,
        "open_stressors": stressors,
        "goals": goals,
        "restorative": restorative,
    }


# --- goal_context -------------------------------------------------------------------------------


async def goal_context(state: TurnState, runtime: Runtime[TurnDeps]) -> dict[str, Any]:
    """The user's active goals, today's missions and streak (read-only). If it fails, the turn
    continues without them, as with memory recall."""
    deps = runtime.context
    try:
        async with deps.db_slots, deps.reads() as session:
            plan = await planning.companion_context(session, state["user_id"], deps.clock())
    except Exception as exc:  # noqa: BLE001 - the conversation continues without the goals
        log.warning("goal_context_failed", error=type(exc).__name__)
        return {"plan": None, "plan_failed": True}
    return {"plan": plan, "plan_failed": False}


# --- respond ------------------------------------------------------------------------------------


def turn_context(state: TurnState) -> TurnContext:
    return TurnContext(
        message=state["message"],
        emotion=state["emotion"],
        local_time=state["local_time"],
        previous=state.get("previous"),
        memories=tuple(state.get("memories", ())),
        goals=tuple(state.get("goals", ())),
        restorative=tuple(state.get("restorative", ())),
        open_stressors=state.get("open_stressors", 0),
        display_name=state.get("display_name"),
        turn_index=state.get("turn_index", 0),
        plan=state.get("plan"),
        earlier_replies=tuple(h.content for h in state.get("history", []) if h.role == "assistant"),
        earlier_messages=tuple(h.content for h in state.get("history", []) if h.role == "user"),
    )


async def respond(state: TurnState, runtime: Runtime[TurnDeps]) -> dict[str, Any]:
    deps = runtime.context
    ctx = turn_context(state)
    guidance = analyse(ctx)
    usage = list(state.get("usage", []))
    started = time.perf_counter()
    if deps.chat_model is None:
        reply = compose_reply(ctx, guidance)
        for piece in tokens_for_stream(reply):
            await deps.writer.token(piece)
        await deps.writer.drain()
        usage.append(_usage("reply", OFFLINE, started))
        return {
            "reply": reply,
            "responder": OFFLINE,
            "model": OFFLINE,
            "rules": list(guidance.rules),
            "usage": usage,
            "error": None,
        }

    model = deps.chat_model
    name = model.model_name
    answer = model.stream(build_messages(ctx, guidance, state.get("history", [])))
    error: str | None = None
    try:
        async for content in answer:
            await deps.writer.token(content)
        await deps.writer.drain()
        if not answer.finished:
            error = "the model's stream ended without finishing"
    except Exception as exc:  # noqa: BLE001 - reported to the client as an error event
        error = f"{type(exc).__name__}: {exc}"[:300]
    if error:
        log.warning("reply_model_failed", model=name, error=error, tokens=len(answer.parts))
    usage.append(
        _usage("reply", name, started, answer.prompt_tokens, answer.completion_tokens, ok=error is None)
    )
    return {
        "reply": answer.text,
        "responder": "model",
        "model": name,
        "rules": list(guidance.rules),
        "usage": usage,
        "error": error,
    }


# --- store_memory -------------------------------------------------------------------------------


async def store_memory(state: TurnState, runtime: Runtime[TurnDeps]) -> dict[str, Any]:
    deps = runtime.context
    emotion = state["emotion"]
    failed = state.get("error") is not None
    meta: dict[str, Any] = {
        "responder": state["responder"],
        "model": state["model"],
        "emotion": emotion.as_dict(),
        "rules": state.get("rules", []),
        "recalled_memories": [
            {"id": m.id, "tier": m.tier, "score": round(m.score, 4)} for m in state.get("memories", [])
        ],
        "recall_failed": state.get("recall_failed", False),
        "goal_context_failed": state.get("plan_failed", False),
    }
    if failed:
        meta["error"] = REPLY_FAILED
    # One statement, atomic by itself: no transaction round trips (read_sessions autocommit).
    async with deps.db_slots, transaction(deps.read_sessions or deps.sessions, deps.jobs) as session:
        stored = await repository.finish_turn(
            session,
            user_id=state["user_id"],
            conversation_id=state["conversation_id"],
            reply_id=state["reply_id"],
            user_message_id=state["user_message_id"],
            content=state.get("reply", ""),
            status=MessageStatus.failed if failed else MessageStatus.complete,
            meta=meta,
            user_meta={"emotion": emotion.as_dict()},
            emotional_state={
                "emotion": emotion.emotion,
                "intensity": emotion.intensity,
                "energy": emotion.energy,
                "source": emotion.source,
                "message_id": state["user_message_id"],
            },
            usage=state.get("usage", []),
        )
        if not stored:  # finished elsewhere (the sweeper) or the user was erased meanwhile
            return {"stored": False}
        # The exchange becomes a task memory and the user's facts are extracted, in the worker.
        companion_form_memories.defer(
            session, str(state["user_message_id"]), job_id=form_job_id(state["user_message_id"])
        )
    return {"stored": True}


def build_graph() -> Any:
    graph = StateGraph(TurnState, context_schema=TurnDeps)
    graph.add_node("receive_input", receive_input)
    graph.add_node("recall_context", recall_context)
    graph.add_node("goal_context", goal_context)
    graph.add_node("respond", respond)
    graph.add_node("store_memory", store_memory)
    # All three need only the message, so they run as parallel branches; respond joins them.
    graph.add_edge(START, "receive_input")
    graph.add_edge(START, "recall_context")
    graph.add_edge(START, "goal_context")
    graph.add_edge(["receive_input", "recall_context", "goal_context"], "respond")
    graph.add_edge("respond", "store_memory")
    graph.add_edge("store_memory", END)
    return graph.compile(name="eliza")


TURN_GRAPH = build_graph()
