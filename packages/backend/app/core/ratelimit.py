"""Per-user limits in Redis, shared by every process: sliding-window request rates (a sorted set of
request times, checked and recorded atomically by one Lua script) and concurrent-stream slots.

Keys are named after the Clerk user id (``sub``), never the internal id, so erasing and
re-provisioning an account does not reset them; they expire on their own within a window.

When Redis is down, a limit either **fails open** (the request goes on unlimited: the default
per-user limit, whose routes do not otherwise need Redis) or **fails closed** (503
``dependency_unavailable``: chat, its stream and decomposition, which need Redis anyway or may
call a paid model). ``RedisGuard`` remembers a failure for a few seconds so that while Redis is
unreachable requests neither wait for a connect timeout nor pile up behind one.

A busy user's requests need not each cost a Redis round trip: with ``RateLeases`` (the default
per-user limit uses them) a process takes a few of the user's slots at once and spends them locally
for up to a second. Taken slots are recorded in Redis before they are spent, stamped at the end of
their second, so the limit is never exceeded across processes; a slot taken and not spent still
counts, so a user whose pace drops may be refused a few requests early (at most ``LEASE_MAX - 1``
per process). Leases start at one slot and double only while each is spent within its second, and
limits below ``LEASE_SHARE * 2`` per window are never leased. With ``RateBatch`` the checks of one
turn of the event loop (many users' requests at once) share one Redis call.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.core.errors import DependencyUnavailable, RateLimited
from app.core.logging import get_logger

log = get_logger(__name__)

# For each key (several users' checks go in one call): drop entries older than the window, then
# record up to ``wanted`` requests (stamped ``stamp``: ``now`` or, for a lease, the end of its
# second) if there is room and answer how many; otherwise answer minus the milliseconds until the
# oldest entry leaves the window. ARGV: now, then five values per key.
_WINDOW = """
local now = tonumber(ARGV[1])
local answers = {}
for i, key in ipairs(KEYS) do
  local at = 2 + (i - 1) * 5
  local window = tonumber(ARGV[at])
  local limit = tonumber(ARGV[at + 1])
  local member = ARGV[at + 2]
  local wanted = tonumber(ARGV[at + 3])
  local stamp = tonumber(ARGV[at + 4])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local free = limit - redis.call('ZCARD', key)
  if free <= 0 then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    answers[i] = -math.max(1, tonumber(oldest[2]) + window - now)
  else
    local granted = math.min(wanted, free)
    for n = 1, granted do
      redis.call('ZADD', key, stamp, member .. ':' .. n)
    end
    redis.call('PEXPIRE', key, window + stamp - now)
    answers[i] = granted
  end
end
return answers
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


LEASE_SECONDS = 1.0
LEASE_MAX = 5  # slots a process takes ahead at most...
LEASE_SHARE = 20  # ...and never more than 1/20 of the limit
LEASE_KEYS = 10_000  # users with a lease per process (a dropped lease only wastes its slots)


@dataclass
class _Lease:
    size: int  # slots taken
    left: int  # not spent yet
    until: float  # monotonic end of its second


class RateLeases:
    """Per process: slots of busy users' windows, taken from Redis ahead and spent locally."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._leases: dict[str, _Lease] = {}

    def spend(self, key: str) -> bool:
        """Admit one request from the key's lease, if it has a slot left within its second."""
        lease = self._leases.get(key)
        if lease is None or lease.left <= 0 or self._clock() >= lease.until:
            return False
        lease.left -= 1
        return True

    def wanted(self, key: str, limit: int) -> int:
        """How many slots to take now: one, or twice the last lease if it was spent in its second."""
        ceiling = min(LEASE_MAX, limit // LEASE_SHARE)
        lease = self._leases.get(key)
        if ceiling <= 1 or lease is None:
            return 1
        return min(ceiling, lease.size * 2) if lease.left <= 0 else max(1, lease.size - lease.left)

    def taken(self, key: str, granted: int) -> None:
        """``granted`` slots were recorded in Redis; this request spends the first. Slots still
        left of a lease taken meanwhile (a concurrent request of the same user) are kept."""
        now = self._clock()
        if len(self._leases) >= LEASE_KEYS and key not in self._leases:
            self._leases = {k: v for k, v in self._leases.items() if v.until > now}
            if len(self._leases) >= LEASE_KEYS:
                self._leases.clear()
        current = self._leases.get(key)
        kept = current.left if current is not None and current.until > now else 0
        self._leases[key] = _Lease(granted, granted - 1 + kept, now + LEASE_SECONDS)


@dataclass(frozen=True)
class _Check:
    key: str
    window_ms: int
    limit: int
    wanted: int
    stamp_ms: int

    def args(self) -> list[str]:
        return [str(self.window_ms), str(self.limit), uuid.uuid4().hex, str(self.wanted), str(self.stamp_ms)]


async def _run(redis: Redis, checks: list[_Check], now_ms: int) -> list[int]:
    """One script call for all ``checks``; Redis errors propagate."""
    args = [str(now_ms)] + [arg for check in checks for arg in check.args()]
    answers = await redis.eval(_WINDOW, len(checks), *[c.key for c in checks], *args)  # type: ignore[misc]
    return [int(answer) for answer in answers]


class RateBatch:
    """Per process: the checks that reach ``hit`` in one turn of the event loop go to Redis in one
    call, so that many users' requests share a round trip (its client CPU is most of what a
    limit costs). A check waits at most for the call already in flight."""

    def __init__(self) -> None:
        self._pending: list[tuple[_Check, asyncio.Future[int]]] = []
        self._redis: Redis | None = None
        self._flushing: set[asyncio.Task[None]] = set()

    async def check(self, redis: Redis, check: _Check) -> int:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((check, future))
        if len(self._pending) == 1:
            self._redis = redis
            asyncio.get_running_loop().call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.ensure_future(self._send(self._redis, batch))
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    @staticmethod
    async def _send(redis: Redis | None, batch: list[tuple[_Check, asyncio.Future[int]]]) -> None:
        try:
            assert redis is not None
            answers = await _run(redis, [check for check, _ in batch], int(time.time() * 1000))
        except BaseException as exc:  # every waiting check gets the failure, cancellation included
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else RedisError(repr(exc)))
            if not isinstance(exc, Exception):
                raise  # cancelled (shutdown): the waiters were told above
            return
        for (_, future), answer in zip(batch, answers, strict=True):
            if not future.done():
                future.set_result(answer)


async def hit(
    redis: Redis,
    key: str,
    *,
    limit: int,
    window_seconds: int = 60,
    what: str = "requests",
    leases: RateLeases | None = None,
    batch: RateBatch | None = None,
) -> None:
    """Count one request against ``key`` (taking a lease's worth of slots when ``leases`` says so,
    in a shared call when ``batch`` is given); raise ``RateLimited`` (with Retry-After = seconds
    until the oldest counted request leaves the window) when over. ``what`` names them in the
    message. Redis errors propagate (the caller decides whether to fail open)."""
    wanted = leases.wanted(key, limit) if leases is not None else 1
    now_ms = int(time.time() * 1000)
    stamp_ms = now_ms if wanted == 1 else now_ms + int(LEASE_SECONDS * 1000)
    check = _Check(key, window_seconds * 1000, limit, wanted, stamp_ms)
    if batch is not None:
        answer = await batch.check(redis, check)
    else:
        [answer] = await _run(redis, [check], now_ms)
    if answer < 0:
        raise RateLimited(
            math.ceil(-answer / 1000),
            f"Too many {what}: at most {limit} per {window_seconds} seconds",
        )
    if leases is not None:
        leases.taken(key, answer)


async def limit(
    redis: Redis | None,
    guard: RedisGuard,
    key: str,
    *,
    limit: int,
    fail_open: bool,
    what: str = "requests",
    window_seconds: int = 60,
    leases: RateLeases | None = None,
    batch: RateBatch | None = None,
) -> None:
    """``hit`` with the failure policy: without a reachable Redis, go on (``fail_open``) or 503."""
    if leases is not None and leases.spend(key):
        return
    if redis is None:
        if fail_open:
            return
        raise DependencyUnavailable("redis", "This needs Redis (REDIS_URL), which is not configured")
    if guard.down:
        if fail_open:
            return
        guard.check()
    try:
        await hit(
            redis, key, limit=limit, window_seconds=window_seconds, what=what, leases=leases, batch=batch
        )
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
