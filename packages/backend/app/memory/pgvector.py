"""The pgvector extension the database has, detected once per process (start-up, or first use).

pgvector 0.8 added iterative index scans (``hnsw.iterative_scan``): a filtered HNSW search keeps
walking the graph until it has found enough rows that pass the filter, instead of returning at
most ``hnsw.ef_search`` rows and filtering afterwards (0.6, the embedded server's version). The
search (``service._search``) takes the iterative path when the server has it, the large
``ef_search`` + exact fallback path otherwise (docs/memory.md, "Dense candidates").
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.core.logging import get_logger

log = get_logger(__name__)

ITERATIVE_SCAN_SINCE = (0, 8, 0)
_detected: dict[str, PgVector] = {}


@dataclass(frozen=True)
class PgVector:
    version: str | None  # None: the extension is not installed

    @property
    def parsed(self) -> tuple[int, ...]:
        if not self.version:
            return ()
        return tuple(int(part) for part in re.findall(r"\d+", self.version)[:3])

    @property
    def iterative_scan(self) -> bool:
        return self.parsed >= ITERATIVE_SCAN_SINCE

    def describe(self) -> dict[str, object]:
        return {"version": self.version, "iterative_scan": self.iterative_scan}


def _key(bind: AsyncEngine | AsyncConnection | AsyncSession) -> str:
    engine = bind.get_bind().engine if isinstance(bind, AsyncSession) else bind.engine
    return str(engine.url)


async def _query(bind: AsyncEngine | AsyncConnection | AsyncSession) -> PgVector:
    sql = text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    if isinstance(bind, AsyncEngine):
        async with bind.connect() as connection:
            version = (await connection.execute(sql)).scalar_one_or_none()
    else:
        version = (await bind.execute(sql)).scalar_one_or_none()
    return PgVector(version)


async def detect(bind: AsyncEngine | AsyncConnection | AsyncSession) -> PgVector:
    """The server's pgvector, asked once per process and database (then remembered)."""
    key = _key(bind)
    found = _detected.get(key)
    if found is None:
        found = await _query(bind)
        _detected[key] = found
        log.info("pgvector_detected", version=found.version, iterative_scan=found.iterative_scan)
    return found


async def detect_at_startup(engine: AsyncEngine, timeout: float) -> PgVector | None:
    """Detect (and log) the version as the service starts; a database not answering yet must not
    stop the start-up: the search then detects it on first use."""
    try:
        async with asyncio.timeout(timeout):
            return await detect(engine)
    except Exception as exc:  # noqa: BLE001 - any failure only postpones the detection
        log.warning("pgvector_not_detected_at_startup", error=type(exc).__name__)
        return None
