"""Every /api/v1 router, in one place."""

from fastapi import APIRouter

from app.companion.router import router as companion_router
from app.companion.router import sse_router as companion_sse_router
from app.health.router import router as health_router
from app.memory.router import router as memory_router
from app.planning import goals_router, missions_router, progress_router
from app.users.router import router as users_router
from app.webhooks.router import router as webhooks_router

api_router = APIRouter()
api_router.include_router(health_router)
api_router.include_router(users_router)
api_router.include_router(webhooks_router)
api_router.include_router(memory_router)
api_router.include_router(companion_router)
api_router.include_router(companion_sse_router)
api_router.include_router(goals_router)
api_router.include_router(missions_router)
api_router.include_router(progress_router)
