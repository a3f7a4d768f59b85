"""Every /api/v1 router, in one place, with the per-user rate limit on every authenticated one."""

from fastapi import APIRouter, Depends

from app import companion, health, memory, nudges, planning, users, webhooks
from app.core.openapi import AUTHENTICATED_ERRORS, COMMON_ERRORS, STATEFUL_ERRORS

API_PREFIX = "/api/v1"
# The Clerk webhook reads its own body, with its own cap (the Svix signature covers the raw bytes).
WEBHOOK_PATH = API_PREFIX + "/webhooks/clerk"

# Writes that show intent (chat, missions, goals, memories): a POST/PUT/PATCH/DELETE that succeeds
# records the user's activity (app/nudges/activity.py); reads record nothing.
INTENT = nudges.RecordsActivity
RATE_LIMITED = Depends(users.per_user_rate_limit)

api_router = APIRouter()
api_router.include_router(health.router, responses=COMMON_ERRORS)
api_router.include_router(webhooks.router, responses=COMMON_ERRORS)
api_router.include_router(nudges.public_router, responses=COMMON_ERRORS)
for router, errors, intent in (
    (users.router, AUTHENTICATED_ERRORS, False),
    (memory.router, STATEFUL_ERRORS, True),
    (companion.router, STATEFUL_ERRORS, True),
    (companion.sse_router, STATEFUL_ERRORS, False),
    (planning.goals_router, STATEFUL_ERRORS, True),
    (planning.missions_router, STATEFUL_ERRORS, True),
    (planning.progress_router, AUTHENTICATED_ERRORS, False),
    (nudges.router, STATEFUL_ERRORS, False),
):
    dependencies = [RATE_LIMITED, INTENT] if intent else [RATE_LIMITED]
    api_router.include_router(router, dependencies=dependencies, responses=errors)
