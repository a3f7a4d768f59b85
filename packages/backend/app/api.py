"""Every /api/v1 route, in one place, and how they are registered on the app: each router with
the errors it documents and the dependencies it runs first (the per-user rate limit on every
authenticated route; activity recording on the routers whose writes show intent)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute

from app import companion, health, memory, nudges, planning, users, webhooks
from app.core.openapi import AUTHENTICATED_ERRORS, COMMON_ERRORS, STATEFUL_ERRORS

API_PREFIX = "/api/v1"
# The Clerk webhook reads its own body, with its own cap (the Svix signature covers the raw bytes).
WEBHOOK_PATH = API_PREFIX + "/webhooks/clerk"

# Writes that show intent (chat, missions, goals, memories): a POST/PUT/PATCH/DELETE that succeeds
# records the user's activity (app/nudges/activity.py); reads record nothing.
INTENT = nudges.RecordsActivity
RATE_LIMITED = Depends(users.per_user_rate_limit)


@dataclass(frozen=True)
class Mount:
    router: APIRouter
    errors: dict[int | str, dict[str, Any]]
    dependencies: tuple[Any, ...] = ()


MOUNTS: tuple[Mount, ...] = (
    Mount(health.router, COMMON_ERRORS),
    Mount(webhooks.router, COMMON_ERRORS),
    Mount(nudges.public_router, COMMON_ERRORS),  # unsubscribe: the signed link is the credential
    Mount(users.router, AUTHENTICATED_ERRORS, (RATE_LIMITED,)),
    Mount(memory.router, STATEFUL_ERRORS, (RATE_LIMITED, INTENT)),
    Mount(companion.router, STATEFUL_ERRORS, (RATE_LIMITED, INTENT)),
    Mount(companion.sse_router, STATEFUL_ERRORS, (RATE_LIMITED,)),
    Mount(planning.goals_router, STATEFUL_ERRORS, (RATE_LIMITED, INTENT)),
    Mount(planning.missions_router, STATEFUL_ERRORS, (RATE_LIMITED, INTENT)),
    Mount(planning.progress_router, AUTHENTICATED_ERRORS, (RATE_LIMITED,)),
    Mount(nudges.router, STATEFUL_ERRORS, (RATE_LIMITED,)),
)

# What an APIRoute was declared with, read back from its attributes of the same names.
_OPTIONS = [
    name
    for name in inspect.signature(APIRoute.__init__).parameters
    if name not in {"self", "path", "endpoint", "dependency_overrides_provider"}
]


def add_api_routes(app: FastAPI, prefix: str = API_PREFIX) -> None:
    """Register every route of ``MOUNTS`` directly on ``app`` under ``prefix``, as
    ``include_router(router, dependencies=..., responses=...)`` would declare it.

    ``app.include_router`` keeps each included router as a nested matcher that FastAPI walks with
    per-candidate bookkeeping on every request: with our ~50 routes that cost up to 100 µs of CPU
    per request before the endpoint ran. Flat routes are plain regex matches (≈ 0.7 µs each); the
    OpenAPI document is the same (a test compares it with the included form).
    """
    for mount in MOUNTS:
        for route in mount.router.routes:
            if not isinstance(route, APIRoute):  # pragma: no cover - our routers hold API routes only
                raise TypeError(f"unexpected route {route!r} in {mount.router.prefix}")
            options = {name: getattr(route, name) for name in _OPTIONS}
            options["dependencies"] = [*mount.dependencies, *route.dependencies]
            options["responses"] = {**mount.errors, **route.responses}
            app.router.add_api_route(prefix + route.path, route.endpoint, **options)
