"""Per-user sliding-window rate limits in Redis (a sorted set of request times, checked and recorded
atomically by one Lua script). Used by the companion's chat and by goal decomposition."""

from __future__ import annotations

import math
import time
import uuid

from redis.asyncio import Redis

from app.core.errors import RateLimited

# Drop entries older than the window, then admit (and record) the request if there is room;
# otherwise answer how many milliseconds until the oldest entry leaves the window.
_SCRIPT = """
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


async def hit(
    redis: Redis, key: str, *, limit: int, window_seconds: int = 60, what: str = "requests"
) -> None:
    """Count one request against ``key``; raise ``RateLimited`` (with Retry-After = seconds until
    the oldest counted request leaves the window) when over. ``what`` names them in the message."""
    now_ms = int(time.time() * 1000)
    wait_ms = await redis.eval(  # type: ignore[misc]
        _SCRIPT, 1, key, str(now_ms), str(window_seconds * 1000), str(limit), uuid.uuid4().hex
    )
    if int(wait_ms) > 0:
        raise RateLimited(
            math.ceil(int(wait_ms) / 1000),
            f"Too many {what}: at most {limit} per {window_seconds} seconds",
        )
