"""Health: real checks of PostgreSQL and Redis, liveness and readiness, and the worker heartbeat."""

from app.health.heartbeat import heartbeat
from app.health.router import router

JOBS = (heartbeat,)

__all__ = ["JOBS", "router"]
