"""Real PostgreSQL (+pgvector) and Redis for the test session: TEST_DATABASE_URL/TEST_REDIS_URL when
set, otherwise embedded servers in a temporary folder that is removed afterwards."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServiceURLs:
    database_url: str
    redis_url: str


@contextmanager
def service_urls() -> Iterator[ServiceURLs]:
    database_url = os.environ.get("TEST_DATABASE_URL")
    redis_url = os.environ.get("TEST_REDIS_URL")
    # Short path: PostgreSQL's socket lives in its data folder and socket paths are length-limited.
    root = Path(tempfile.mkdtemp(prefix="dlt-"))
    stops = []
    try:
        from app.devtools.embedded import start_postgres, start_redis

        if not database_url:
            postgres = start_postgres(root / "pg", database="delight_test")
            stops.append(postgres.stop)
            database_url = postgres.url
        if not redis_url:
            redis = start_redis(root / "redis")
            stops.append(redis.stop)
            redis_url = redis.url
        yield ServiceURLs(database_url, redis_url)
    finally:
        for stop in reversed(stops):
            stop()
        shutil.rmtree(root, ignore_errors=True)
