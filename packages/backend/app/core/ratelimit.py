"""Per-user limits in Redis, shared by every process: sliding-window request rates (a sorted set of
request times, checked and recorded atomically by one Lua script) and concurrent-stream slots.

Keys are named after the Clerk user id (``sub``), never the internal id, so erasing and
re-provisioning an account does not reset them; they expire on their own within a window.

When Redis is down, a limit either **fails open** (the request goes on unlimited: the default
per-user limit, whose routes do not otherwise need Redis) or **fails closed** (503
``dependency_unavailable``: chat, its stream and decomposition, which need Redis anyway or may
call a paid model). ``RedisGuard`` remembers a failure for a few seconds so that while Redis is
unreachable requests neither wait for a connect timeout nor pile up behind one.
"""

from __future__ import annotations

import math
import time
import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.core.errors import DependencyUnavailable, RateLimited
from app.core.logging import get_logger

log = get_logger(__name__)

# Drop entries older than the window, then admit (and record) the request if there is room;
# otherwise answer how many milliseconds until the oldest entry leaves the window.
_WINDOW = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', key, now, ARGV[4])
redis.call('PEXPIRE', key, window)
return 0
"""

# Slots scored by their expiry time: expired ones (a process that died holding one) are dropped,
# then the slot is taken if fewer than ``limit`` are held. Returns 1 when taken, 0 when full.
_SLOT = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local expires = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if redis.call('ZCARD', key) >= limit then
  return 0
end
redis.call('ZADD', key, expires, ARGV[4])
local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', key, tonumber(last[2]))
return 1
"""
STREAM_RETRY_AFTER = 5


def key_for(clerk_user_id: str, scope: str) -> str:
    return f"ratelimit:{clerk_user_id}:{scope}"


class RedisGuard:
    """Remembers, per process, that Redis just failed, for ``cooldown`` seconds."""

    def __init__(self, cooldown: float = 2.0) -> None:
        self.cooldown = cooldown
        self._down_until = 0.0

    @property
    def down(self) -> bool:
        return time.monotonic() < self._down_until

    def failed(self, exc: BaseException) -> None:
        if not self.down:
            log.warning("redis_unavailable", error=type(exc).__name__, cooldown_seconds=self.cooldown)
        self._down_until = time.monotonic() + self.cooldown

    def check(self) -> None:
        """Fail fast (503) while Redis is known to be down."""
        if self.down:
            raise DependencyUnavailable("redis")


async def hit(
    redis: Redis,
    key: str,
    *,
    limit: int,
    window_seconds: int = 60,
    what: str = "requests",
) -> None:
    """Count one request against ``key``; raise ``RateLimited`` (with Retry-After = seconds until
    the oldest counted request leaves the window) when over. ``what`` names them in the message.
    Redis errors propagate (the caller decides whether to fail open)."""
    now_ms = int(time.time() * 1000)
    wait_ms = await redis.eval(  # type: ignore[misc]
        _WINDOW, 1, key, str(now_ms), str(window_seconds * 1000), str(limit), uuid.uuid4().hex
    )
    if int(wait_ms) > 0:
        raise RateLimited(
            math.ceil(int(wait_ms) / 1000),
            f"Too many {what}: at most {limit} per {window_seconds} seconds",
        )


async def limit(
    redis: Redis | None,
    guard: RedisGuard,
    key: str,
    *,
    limit: int,
    fail_open: bool,
    what: str = "requests",
    window_seconds: int = 60,
) -> None:
    """``hit`` with the failure policy: without a reachable Redis, go on (``fail_open``) or 503."""
    if redis is None:
        if fail_open:
            return
        raise DependencyUnavailable("redis", "This needs Redis (REDIS_URL), which is not configured")
    if guard.down:
        if fail_open:
            return
        guard.check()
    try:
        await hit(redis, key, limit=limit, window_seconds=window_seconds, what=what)
    except RedisError as exc:
        guard.failed(exc)
        if fail_open:
            return
        raise DependencyUnavailable("redis") from exc


async def acquire_slot(
    redis: Redis, guard: RedisGuard, key: str, *, limit: int, hold_seconds: float, what: str
) -> str:
    """Take one of ``limit`` concurrent slots for at most ``hold_seconds``; its token releases it.
    Full: ``RateLimited``. Redis down: 503 (fails closed)."""
    guard.check()
    token = uuid.uuid4().hex
    now_ms = int(time.time() * 1000)
    try:
        taken = await redis.eval(  # type: ignore[misc]
            _SLOT, 1, key, str(now_ms), str(limit), str(now_ms + int(hold_seconds * 1000)), token
        )
    except RedisError as exc:
        guard.failed(exc)
        raise DependencyUnavailable("redis") from exc
    if not int(taken):
        raise RateLimited(STREAM_RETRY_AFTER, f"Too many open {what}: at most {limit} at once")
    return token


async def release_slot(redis: Redis, key: str, token: str) -> None:
    await redis.zrem(key, token)
