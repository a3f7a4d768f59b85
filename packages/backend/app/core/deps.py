"""One-line dependencies over the lifespan's resources."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from arq.connections import ArqRedis
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.jobs import transaction
from app.core.resources import Resources


def resources_of(request: Request) -> Resources:
    return request.app.state.resources  # type: ignore[no-any-return]


def settings_of(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


# FastAPI runs plain ``def`` dependencies in its thread pool; these only read app state, so they
# are ``async def`` and stay on the event loop.
async def get_resources(request: Request) -> Resources:
    return resources_of(request)


async def get_settings(request: Request) -> Settings:
    return settings_of(request)


async def get_redis(request: Request) -> ArqRedis | None:
    return resources_of(request).redis


_SAFE_METHODS = frozenset({"GET", "HEAD"})


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's transaction: committed when the endpoint returns, rolled back if it raises.

    Function scope makes the commit happen before the response is sent, so a client never sees a
    success whose commit later failed. Jobs deferred with ``Job.defer`` are sent after the commit.
    A connection is taken from the pool at the first statement, not before.

    Safe requests (GET, HEAD) read without a transaction (autocommit): no BEGIN/COMMIT round trips.
    Each statement commits on its own, so a GET may only write what is safe to write alone
    (idempotent single statements, e.g. recreating default preferences).
    """
    resources = resources_of(request)
    factory = resources.read_sessions if request.method in _SAFE_METHODS else resources.sessions
    async with transaction(factory, resources.redis) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
ResourcesDep = Annotated[Resources, Depends(get_resources)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
RedisDep = Annotated[ArqRedis | None, Depends(get_redis)]
