"""Clerk webhooks: Svix-verified, idempotent user lifecycle events."""

from app.webhooks.router import router

__all__ = ["router"]
