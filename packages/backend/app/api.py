"""Every /api/v1 router, in one place."""

from fastapi import APIRouter

from app import companion, health, memory, planning, users, webhooks

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(users.router)
api_router.include_router(webhooks.router)
api_router.include_router(memory.router)
api_router.include_router(companion.router)
api_router.include_router(companion.sse_router)
api_router.include_router(planning.goals_router)
api_router.include_router(planning.missions_router)
api_router.include_router(planning.progress_router)
