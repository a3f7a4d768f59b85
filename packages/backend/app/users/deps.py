"""``CurrentUser``: the verified Clerk session's user, provisioned just in time.

The hot path touches no database: the verified token and the user come from per-process caches
(``Resources.verified_tokens``, ``Resources.user_cache``). The user cache is keyed by the Clerk
``sub``, short-lived, and dropped in every process when the user changes (``user_changed``, called
by profile updates, Clerk webhooks and erasure; see app/core/cache.py). It is bypassed while this
process cannot hear those invalidations (Redis down): then every request reads the database.

The cached ``User`` is detached and shared by concurrent requests: treat it as read-only. Code
that changes the user loads it in its own session (``users.service.update_profile``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import metrics
from app.core.cache import invalidate_after_commit
from app.core.deps import resources_of
from app.core.errors import Unauthorized
from app.core.jobs import transaction
from app.core.logging import user_id_var
from app.core.resources import Resources
from app.core.security import SessionClaims, bearer_token
from app.models import User
from app.users import repository
from app.users.repository import USER_CACHE as CACHE

_HIT = metrics.CACHE_LOOKUPS.labels(CACHE, "hit")
_MISS = metrics.CACHE_LOOKUPS.labels(CACHE, "miss")
_BYPASS = metrics.CACHE_LOOKUPS.labels(CACHE, "bypass")

# Declared for the OpenAPI security scheme only; the raw header is parsed below so that every
# failure gets our 401 body and reason code.
_bearer_scheme = HTTPBearer(auto_error=False, description="Clerk session token")


async def session_claims(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)],
) -> SessionClaims:
    # resources_of is called, not declared as a dependency: FastAPI runs sync dependencies in
    # its thread pool, a hand-off that cost every authenticated request more than RSA verification.
    resources = resources_of(request)
    token = bearer_token(request.headers.get("authorization"))
    claims = resources.verified_tokens.get(token)
    if claims is None:
        claims = await resources.verifier.verify(token)
        resources.verified_tokens.put(token, claims)
    user_id_var.set(claims.user_id)
    return claims


async def current_user(request: Request, claims: Annotated[SessionClaims, Depends(session_claims)]) -> User:
    resources = resources_of(request)
    cache = resources.user_cache
    if not cache.trusted:
        _BYPASS.inc()
        return await load_or_provision(resources, claims.user_id)
    user: User | None = cache.get(claims.user_id)
    if user is not None:
        _HIT.inc()
        return user
    _MISS.inc()
    version = cache.version()  # before the read: an invalidation meanwhile keeps it out of the cache
    user = await load_or_provision(resources, claims.user_id)
    cache.put(claims.user_id, user, version)
    return user


async def load_or_provision(resources: Resources, clerk_user_id: str) -> User:
    """The user from the database, in short sessions of its own (never the request's), created
    if missing. The object is detached from every session when returned."""
    async with resources.read_sessions() as session:
        user = await repository.get_by_clerk_id(session, clerk_user_id)
        # A still-valid token of a user Clerk deleted (user.deleted erased the account) must not
        # bring the account back.
        deleted = user is None and await repository.deleted_in_clerk(session, clerk_user_id)
    if deleted:
        raise Unauthorized("user_deleted", "This account was deleted")
    if user is None:
        # Webhooks are eventually consistent: the first request may arrive before user.created.
        async with transaction(resources.sessions, resources.redis) as session:
            user = await repository.provision(session, clerk_user_id)
    return user


def user_changed(session: AsyncSession, clerk_user_id: str) -> None:
    """Drop the user from every process's cache once ``session`` commits."""
    invalidate_after_commit(session, CACHE, clerk_user_id)


Claims = Annotated[SessionClaims, Depends(session_claims)]
CurrentUser = Annotated[User, Depends(current_user)]
