"""The reply buffer: a Redis stream per reply, written by the generator and read by SSE clients.

Event ids are the Redis stream ids, so a client reconnecting with ``Last-Event-ID`` continues with
exactly the events after it (XREAD is exclusive of the id given). The generator holds a short lease
key while it runs; a reader that finds neither new events nor the lease knows the generation died
(e.g. the process was killed) and reports an error instead of waiting forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

LEASE_SECONDS = 30
LEASE_REFRESH_SECONDS = 10
# Far more events than a reply has tokens (COMPANION_MAX_TOKENS); bounds a runaway writer.
MAX_EVENTS = 20_000
_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
TERMINAL = ("complete", "error")
# What an error event tells the user (and what a failed reply keeps in its metadata).
REPLY_FAILED = "Eliza could not finish this reply. Please try again."
INTERRUPTED = "The reply was interrupted. Please send your message again."
TIMED_OUT = "Eliza took too long to answer. Please try again."


def user_prefix(user_id: uuid.UUID) -> str:
    """Every Redis key the companion keeps for a user starts with this (erasure scans it)."""
    return f"companion:{user_id}:"


def stream_key(user_id: uuid.UUID, reply_id: uuid.UUID) -> str:
    return f"{user_prefix(user_id)}stream:{reply_id}"


def lease_key(user_id: uuid.UUID, reply_id: uuid.UUID) -> str:
    return f"{user_prefix(user_id)}lease:{reply_id}"


def parse_event_id(value: str | None) -> str | None:
    """A ``Last-Event-ID`` we issued (a Redis stream id), or ``None`` for anything else."""
    if value and _STREAM_ID.match(value.strip()):
        return value.strip()
    return None


def format_event(event_id: str, data: dict[str, Any]) -> str:
    return f"id: {event_id}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


KEEPALIVE = ": keep-alive\n\n"
RECONNECT = "The server is restarting; reconnect to continue where you left off."


def format_reconnect(last_event_id: str | None) -> str:
    """The last event of a stream cut short by a shutdown: it repeats the id the client already has
    (so an EventSource resumes from it, on another process) and asks for a quick reconnect."""
    data = json.dumps({"type": "reconnect", "message": RECONNECT}, separators=(",", ":"))
    id_line = f"id: {last_event_id}\n" if last_event_id else ""
    return f"retry: 500\n{id_line}data: {data}\n\n"


# Appends each ARGV[2..] as its own event (the stream stays bounded by MAX_EVENTS), and sets the
# buffer's expiry when ARGV[1] > 0.
_APPEND = f"""
for i = 2, #ARGV do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', {MAX_EVENTS}, '*', 'data', ARGV[i])
end
local ttl = tonumber(ARGV[1])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
return #ARGV - 1
"""


class StreamWriter:
    """Appends a reply's events to its Redis stream.

    Tokens are sent by a background flusher: whatever arrived while the previous write was in flight
    goes out in one pipeline (one round trip), each token still its own event. ``complete`` and
    ``error`` wait for the tokens before them."""

    def __init__(self, redis: Redis, user_id: uuid.UUID, reply_id: uuid.UUID, ttl_seconds: int) -> None:
        self.redis = redis
        self.key = stream_key(user_id, reply_id)
        self.lease = lease_key(user_id, reply_id)
        self.ttl = ttl_seconds
        self._expiry_set = False
        self._parts: list[str] = []
        self._pending: list[str] = []
        self._flusher: asyncio.Task[None] | None = None
        self._append_script = redis.register_script(_APPEND)

    @property
    def text(self) -> str:
        """Everything streamed so far."""
        return "".join(self._parts)

    async def token(self, content: str) -> None:
        if not content:
            return
        self._parts.append(content)
        self._pending.append(json.dumps({"type": "token", "content": content}, separators=(",", ":")))
        if self._flusher is None or self._flusher.done():
            if self._flusher is not None:
                self._flusher.result()  # a failed write fails the reply
            self._flusher = asyncio.create_task(self._flush())

    async def drain(self) -> None:
        """Wait until every token is in Redis (re-raising a write failure)."""
        if self._flusher is not None:
            await self._flusher

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            # One command for the batch (a pipeline of XADDs cost ≈ 50 µs of CPU per token to encode).
            await self._append_script(keys=[self.key], args=[0 if self._expiry_set else self.ttl, *batch])
            self._expiry_set = True

    async def complete(self, conversation_id: uuid.UUID, message_id: uuid.UUID) -> None:
        await self.drain()
        await self._append(
            {"type": "complete", "conversation_id": str(conversation_id), "message_id": str(message_id)}
        )

    async def error(self, message: str) -> None:
        with contextlib.suppress(Exception):  # the error is reported even if a token write failed
            await self.drain()
        await self._append({"type": "error", "message": message})

    async def hold_lease(self) -> None:
        await self.redis.set(self.lease, "1", ex=LEASE_SECONDS)

    async def release_lease(self) -> None:
        await self.redis.delete(self.lease)

    async def _append(self, event: dict[str, Any]) -> None:
        """A terminal event; the buffer's expiry restarts from the end of the reply."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xadd(
                self.key,
                {"data": json.dumps(event, separators=(",", ":"))},
                maxlen=MAX_EVENTS,
                approximate=True,
            )
            pipe.expire(self.key, self.ttl)
            await pipe.execute()
        self._expiry_set = True


@dataclass(frozen=True)
class Fallback:
    """What to tell a reader when the buffer cannot finish the story."""

    events: list[tuple[str, dict[str, Any]]]


async def read_events(
    redis: Redis,
    key: str,
    lease: str,
    *,
    after: str | None,
    block_seconds: float,
    keepalive_seconds: float,
    when_dead: Callable[[], Awaitable[Fallback]],
    max_seconds: float,
    stop: asyncio.Event | None = None,
) -> AsyncIterator[str]:
    """SSE text for the events after ``after``, keep-alive comments while waiting, until the
    terminal event. ``when_dead`` decides what to send when the generator is gone. Once ``stop``
    is set (the process is shutting down) the stream ends with a ``reconnect`` event."""
    last = after or "0-0"
    block_ms = max(1, int(min(block_seconds, keepalive_seconds) * 1000))
    started = last_sent = time.monotonic()
    while time.monotonic() - started < max_seconds:
        if stop is not None and stop.is_set():
            yield format_reconnect(last if last != "0-0" else None)
            return
        response = await redis.xread({key: last}, count=256, block=block_ms)
        if response:
            # Everything one read returned goes out as one chunk (one write to the client).
            events = []
            for raw_id, fields in response[0][1]:
                last = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
                data = json.loads(fields[b"data"] if b"data" in fields else fields["data"])
                events.append(format_event(last, data))
                if data.get("type") in TERMINAL:
                    yield "".join(events)
                    return
            yield "".join(events)
            last_sent = time.monotonic()
            continue
        if not await redis.exists(lease):
            # The generator writes its terminal event before dropping the lease: look once more.
            response = await redis.xread({key: last}, count=256)
            if not response:
                for event_id, data in (await when_dead()).events:
                    yield format_event(event_id, data)
                return
            continue
        if time.monotonic() - last_sent >= keepalive_seconds:
            last_sent = time.monotonic()
            yield KEEPALIVE
    yield format_event(last, {"type": "error", "message": "The stream timed out; fetch the conversation."})
