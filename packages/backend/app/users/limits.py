"""The default per-user request limit, on every authenticated route (``api.py`` adds it to their
routers): ``RATE_LIMIT_PER_MINUTE`` requests per Clerk user per minute, shared by every process.

It runs after the token is verified (the same, cached, verification ``CurrentUser`` uses) and
before the user is loaded, so a limited caller costs no database work. It fails open: the routes
it guards do not otherwise need Redis, so while Redis is down they keep working, unlimited (see
``app.core.ratelimit``). Busy users' slots are leased a few at a time (``RateLeases``).
"""

from __future__ import annotations

from fastapi import Request

from app.core import ratelimit
from app.core.deps import resources_of
from app.users.deps import Claims


async def per_user_rate_limit(request: Request, claims: Claims) -> None:
    resources = resources_of(request)
    await ratelimit.limit(
        resources.redis,
        resources.redis_guard,
        ratelimit.key_for(claims.user_id, "requests"),
        limit=resources.settings.rate_limit_per_minute,
        fail_open=True,
        leases=resources.rate_leases,
        batch=resources.rate_batch,
    )
