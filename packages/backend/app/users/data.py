"""Where each domain declares the user data it holds, for export and erasure.

Database rows need no erasure hook: every table holding user data has ``user_id`` referencing
``users.id`` with ``ON DELETE CASCADE`` (a test checks this for every table). Data kept outside
PostgreSQL (Redis buffers, counters) registers an ``erase_hook``.

The export is streamed (``stream_export``): a small section is one value (``export_section``); a
section that grows with use (memories, conversations) is a JSON list written page by page
(``export_pages``), each page read in its own short transaction, so neither the whole export nor a
database connection is held while the client downloads.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

ExportSection = Callable[[AsyncSession, uuid.UUID], Awaitable[Any]]
# ``fn(session, user_id, after, limit)`` → (up to ``limit`` items after the cursor ``after``, the
# cursor of the next page or ``None`` when this was the last one). ``after`` is ``None`` at first.
ExportPage = Callable[[AsyncSession, uuid.UUID, Any, int], Awaitable[tuple[Sequence[Any], Any]]]
_SECTIONS: dict[str, ExportSection | tuple[ExportPage, int]] = {}


def _register(name: str, entry: ExportSection | tuple[ExportPage, int]) -> None:
    if name in _SECTIONS and _SECTIONS[name] != entry:
        raise RuntimeError(f"export section {name!r} registered twice")
    _SECTIONS[name] = entry


def export_section(name: str) -> Callable[[ExportSection], ExportSection]:
    """Register ``fn(session, user_id)`` as the export's ``name`` section (JSON-serialisable)."""

    def register(fn: ExportSection) -> ExportSection:
        _register(name, fn)
        return fn

    return register


def export_pages(name: str, page_size: int = 200) -> Callable[[ExportPage], ExportPage]:
    """Register a keyset-paged query as the export's ``name`` section: a JSON list of its items."""

    def register(fn: ExportPage) -> ExportPage:
        _register(name, (fn, page_size))
        return fn

    return register


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


async def stream_export(
    sessions: async_sessionmaker[AsyncSession], user_id: uuid.UUID, head: dict[str, Any]
) -> AsyncIterator[str]:
    """The export as JSON text, piece by piece: ``head``'s keys, then every section by name."""
    yield _dump(head)[:-1]  # the object stays open for the sections
    for name, entry in sorted(_SECTIONS.items()):
        yield f",{_dump(name)}:"
        if not isinstance(entry, tuple):
            async with sessions() as session:
                value = await entry(session, user_id)
            yield _dump(value)
            continue
        page, size = entry
        after: Any = None
        separator = "["
        while True:
            async with sessions() as session:  # released before the page goes to the client
                items, after = await page(session, user_id, after, size)
            if items:
                yield separator + ",".join(_dump(item) for item in items)
                separator = ","
            if after is None:
                break
        yield "[]" if separator == "[" else "]"
    yield "}"


EraseHook = Callable[[Any, uuid.UUID, str], Awaitable[None]]
_ERASE_HOOKS: list[EraseHook] = []


def erase_hook(fn: EraseHook) -> EraseHook:
    """Register ``fn(redis, user_id, clerk_user_id)``, run after the user's rows are deleted."""
    _ERASE_HOOKS.append(fn)
    return fn


async def run_erase_hooks(redis: Any, user_id: uuid.UUID, clerk_user_id: str) -> None:
    for hook in _ERASE_HOOKS:
        await hook(redis, user_id, clerk_user_id)
