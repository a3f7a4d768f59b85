"""Every /api/v1 router, in one place, with the per-user rate limit on every authenticated one."""

from fastapi import APIRouter, Depends

from app import companion, health, memory, planning, users, webhooks
from app.core.openapi import AUTHENTICATED_ERRORS, COMMON_ERRORS, STATEFUL_ERRORS

API_PREFIX = "/api/v1"
# The Clerk webhook reads its own body, with its own cap (the Svix signature covers the raw bytes).
WEBHOOK_PATH = API_PREFIX + "/webhooks/clerk"

api_router = APIRouter()
api_router.include_router(health.router, responses=COMMON_ERRORS)
api_router.include_router(webhooks.router, responses=COMMON_ERRORS)
for router, errors in (
    (users.router, AUTHENTICATED_ERRORS),
    (memory.router, STATEFUL_ERRORS),
    (companion.router, STATEFUL_ERRORS),
    (companion.sse_router, STATEFUL_ERRORS),
    (planning.goals_router, STATEFUL_ERRORS),
    (planning.missions_router, STATEFUL_ERRORS),
    (planning.progress_router, AUTHENTICATED_ERRORS),
):
    api_router.include_router(router, dependencies=[Depends(users.per_user_rate_limit)], responses=errors)
