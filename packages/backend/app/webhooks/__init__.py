"""Clerk webhooks: Svix-verified, idempotent user lifecycle events."""

from app.webhooks.router import router
from app.webhooks.service import ReplayReport, replay_deletions

__all__ = ["ReplayReport", "replay_deletions", "router"]
