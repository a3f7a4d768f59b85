"""Every /api/v1 router, in one place."""

from fastapi import APIRouter

from app import companion, health, memory, nudges, planning, users, webhooks

# Routers whose writes show intent (chat, missions, goals, memories): a POST/PUT/PATCH/DELETE that
# succeeds records the user's activity (app/nudges/activity.py); their reads record nothing.
INTENT = [nudges.RecordsActivity]

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(users.router)
api_router.include_router(webhooks.router)
api_router.include_router(memory.router, dependencies=INTENT)
api_router.include_router(companion.router, dependencies=INTENT)
api_router.include_router(companion.sse_router)
api_router.include_router(planning.goals_router, dependencies=INTENT)
api_router.include_router(planning.missions_router, dependencies=INTENT)
api_router.include_router(planning.progress_router)
api_router.include_router(nudges.router)
