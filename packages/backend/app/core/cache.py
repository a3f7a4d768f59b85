"""A per-process cache kept coherent across processes through Redis pub/sub.

Each process keeps a bounded map with a short TTL. A change commits first, then every process is
told to drop the key (``invalidate_after_commit``: the committing process drops it at once and
publishes it on the cache's channel; every process's listener drops what it hears).

Correctness without Redis: the cache is only trusted while this process's listener is subscribed.
When the subscription drops (Redis down, network), the cache is bypassed (reads go to the
database) and emptied; once subscribed again, it starts empty, so nothing published meanwhile is
missed. A value read from the database is stored only if no invalidation arrived since the read
began (``version``), so a read racing a change never re-caches the old value. The TTL bounds what
remains: a change another process could not publish (its Redis unreachable while ours was fine).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from app.core import metrics
from app.core.logging import get_logger

log = get_logger(__name__)
V = TypeVar("V")
_CHANGED = "delight.cache_changed"  # session.info: {cache name: {keys}} to invalidate after commit
PING_SECONDS = 5.0  # the listener pings Redis when idle this long, and reconnects if no answer comes


def invalidate_after_commit(session: AsyncSession, cache: str, key: str) -> None:
    """Drop ``key`` from cache ``cache`` in every process once ``session`` commits (not on rollback)."""
    session.info.setdefault(_CHANGED, {}).setdefault(cache, set()).add(key)


class CoherentCache(Generic[V]):
    def __init__(self, name: str, redis: Redis | None, *, ttl_seconds: float, max_entries: int) -> None:
        self.name = name
        self.channel = f"delight:cache:{name}"
        self._redis = redis
        self._ttl = ttl_seconds
        self._max = max_entries
        self._entries: dict[str, tuple[float, V]] = {}
        self._version = 0
        self._trusted = False
        self._listener: asyncio.Task[None] | None = None
        self._pubsub: PubSub | None = None
        self._stopping = False
        self._publishing: set[asyncio.Task[None]] = set()

    @property
    def enabled(self) -> bool:
        return self._redis is not None and self._ttl > 0

    @property
    def trusted(self) -> bool:
        """Whether values may be served: enabled and the invalidation channel is live."""
        return self._trusted

    # --- reads and writes -------------------------------------------------------------------

    def get(self, key: str) -> V | None:
        if not self._trusted:
            return None
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry[1]

    def version(self) -> int:
        """Take before reading a value from the source of truth; pass to ``put``."""
        return self._version

    def put(self, key: str, value: V, version: int) -> bool:
        """Store ``value`` unless something was invalidated since ``version`` (or the cache is not
        trusted): then the value may already be stale, and the next read goes to the source."""
        if not self._trusted or version != self._version:
            return False
        if key not in self._entries and len(self._entries) >= self._max:
            self._entries.pop(next(iter(self._entries)))  # the oldest entry
        self._entries[key] = (time.monotonic() + self._ttl, value)
        return True

    def invalidate(self, keys: Iterable[str], *, origin: str = "local") -> None:
        self._version += 1
        for key in keys:
            self._entries.pop(key, None)
            metrics.CACHE_INVALIDATIONS.labels(self.name, origin).inc()

    def clear(self) -> None:
        self._version += 1
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    # --- across processes -------------------------------------------------------------------

    def attach(self, *factories: async_sessionmaker[AsyncSession]) -> None:
        """Invalidate what sessions of ``factories`` mark (``invalidate_after_commit``) on commit."""
        for factory in factories:
            # Session events attach to a (sync) Session class: give the factory its own subclass.
            base = factory.kw.get("sync_session_class", Session)
            session_class = type(f"{base.__name__}With{self.name.title()}Cache", (base,), {})
            factory.configure(sync_session_class=session_class)
            event.listen(session_class, "after_commit", self._after_commit)
            event.listen(session_class, "after_rollback", self._after_rollback)

    def _after_commit(self, session: Any) -> None:
        keys = session.info.get(_CHANGED, {}).pop(self.name, None)
        if not keys:
            return
        self.invalidate(keys)
        if self._redis is not None:
            task = asyncio.get_running_loop().create_task(self.publish(keys))
            self._publishing.add(task)
            task.add_done_callback(self._publishing.discard)

    def _after_rollback(self, session: Any) -> None:
        session.info.get(_CHANGED, {}).pop(self.name, None)

    async def publish(self, keys: Iterable[str]) -> None:
        """Tell every process (this one included) to drop ``keys``. A failure is logged: the
        other processes either lost Redis too (and bypass their caches) or expire it by TTL."""
        assert self._redis is not None
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.publish(self.channel, key)
                await pipe.execute()
        except Exception as exc:  # noqa: BLE001 - see docstring
            log.warning("cache_invalidation_not_published", cache=self.name, error=type(exc).__name__)

    async def start(self) -> None:
        if self.enabled and self._listener is None:
            self._stopping = False
            self._listener = asyncio.get_running_loop().create_task(
                self._listen(), name=f"cache-listener-{self.name}"
            )

    async def aclose(self) -> None:
        if self._publishing:
            await asyncio.gather(*self._publishing, return_exceptions=True)
        listener, self._listener = self._listener, None
        if listener is not None:
            # redis-py can swallow a cancellation that lands inside a read with a timeout: close
            # the subscription's connection too, so the read fails and the loop sees _stopping.
            self._stopping = True
            listener.cancel()
            pubsub = self._pubsub
            if pubsub is not None and pubsub.connection is not None:
                with contextlib.suppress(Exception):
                    await pubsub.connection.disconnect()
            _, pending = await asyncio.wait({listener}, timeout=PING_SECONDS)
            if pending:
                log.warning("cache_listener_not_stopped", cache=self.name)
        self._trusted = False

    async def _listen(self) -> None:
        backoff = 0.2
        while not self._stopping:
            try:
                await self._subscribed()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis gone: bypass the cache, retry
                if self._stopping:
                    return
                if self._trusted:
                    log.warning("cache_listener_lost", cache=self.name, error=type(exc).__name__)
                self._trusted = False
                self.clear()
            if self._stopping:
                return
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _subscribed(self) -> None:
        assert self._redis is not None
        pubsub = self._pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(self.channel)
            # Trusted only once Redis confirmed the subscription: nothing published after it is missed.
            confirmed = await pubsub.get_message(timeout=PING_SECONDS)
            if confirmed is None or confirmed["type"] != "subscribe":
                raise TimeoutError("Redis did not confirm the subscription")
            # Anything cached before this point may have missed an invalidation.
            self.clear()
            self._trusted = not self._stopping
            log.info("cache_listener_subscribed", cache=self.name)
            heard = time.monotonic()
            while not self._stopping:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=PING_SECONDS)
                now = time.monotonic()
                if message is not None:
                    heard = now
                    if message["type"] == "message":
                        data = message["data"]
                        key = data.decode() if isinstance(data, bytes) else str(data)
                        self.invalidate([key], origin="remote")
                    continue
                if now - heard > 2 * PING_SECONDS + 1:
                    raise TimeoutError("no answer from Redis to the listener's pings")
                await pubsub.ping()  # answered with a "pong" message
        finally:
            self._trusted = False
            self._pubsub = None
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
