"""Every /api/v1 router, in one place."""

from fastapi import APIRouter

from app.health.router import router as health_router
from app.users.router import router as users_router

api_router = APIRouter()
api_router.include_router(health_router)
api_router.include_router(users_router)
