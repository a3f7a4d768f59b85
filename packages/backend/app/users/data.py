"""Where each domain declares the user data it holds, for export and erasure.

Database rows need no erasure hook: every table holding user data has ``user_id`` referencing
``users.id`` with ``ON DELETE CASCADE`` (a test checks this for every table). Data kept outside
PostgreSQL (Redis buffers, counters) registers an ``erase_hook``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

ExportSection = Callable[[AsyncSession, uuid.UUID], Awaitable[Any]]
_SECTIONS: dict[str, ExportSection] = {}


def export_section(name: str) -> Callable[[ExportSection], ExportSection]:
    """Register ``fn(session, user_id)`` as the export's ``name`` section (JSON-serialisable)."""

    def register(fn: ExportSection) -> ExportSection:
        if name in _SECTIONS and _SECTIONS[name] is not fn:
            raise RuntimeError(f"export section {name!r} registered twice")
        _SECTIONS[name] = fn
        return fn

    return register


async def build_export(session: AsyncSession, user_id: uuid.UUID) -> dict[str, Any]:
    return {name: await section(session, user_id) for name, section in sorted(_SECTIONS.items())}


EraseHook = Callable[[Any, uuid.UUID, str], Awaitable[None]]
_ERASE_HOOKS: list[EraseHook] = []


def erase_hook(fn: EraseHook) -> EraseHook:
    """Register ``fn(redis, user_id, clerk_user_id)``, run after the user's rows are deleted."""
    _ERASE_HOOKS.append(fn)
    return fn


async def run_erase_hooks(redis: Any, user_id: uuid.UUID, clerk_user_id: str) -> None:
    for hook in _ERASE_HOOKS:
        await hook(redis, user_id, clerk_user_id)
